"""Logs that cannot be forged and hold no client address.

gunicorn runs with ``-c python:service.gunicorn_conf`` (``make dev``, the Docker image, the
benchmarks), which makes ``PrivateLogger`` its logger:

- Every record of gunicorn's access and error logs is escaped: control characters (newlines above
  all) become visible escapes, so ``/healthz%0A2026-... ERROR forged`` is logged as one line,
  ``/healthz\\n2026-... ERROR forged``, and never starts a fake entry.
- At WARNING and above, IPv4 and IPv6 addresses become ``[address]``, in gunicorn's own messages
  too (``Invalid request from ip=...``). Server addresses go the same way (a message cannot tell
  them apart); gunicorn names the address it listens on at INFO.
- Tracebacks keep their lines, each indented and escaped, so text in an exception cannot start a
  line that reads as an entry either.
- The app's own records (the root logger, which has no handler under gunicorn) are handed to
  gunicorn's error log, so they get its format (``[time] [pid] [LEVEL] message``), its level and the
  same treatment. A logging configuration of the operator's (gunicorn's ``--log-config``...) that
  gives the root logger a handler is left alone.

The access log format itself (service/gunicorn_conf.py) omits the client address and query string.
"""

from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger

ADDRESS = "[address]"

_HEX = r"[0-9A-Fa-f]{1,4}"
_DOTTED = r"(?:\d{1,3}\.){3}\d{1,3}"
# Not part of a longer run of digits and dots (so 1.2.3.4.5, a version, survives; 1.2.3 never matches).
_IPV4 = re.compile(rf"(?<![\d.]){_DOTTED}(?!\d|\.\d)")
# Eight groups; six and an IPv4 tail; or shortened with "::" (at least one group around it, maybe
# ending in IPv4, as in ::ffff:192.0.2.1). Times such as 12:30:00 have neither eight groups nor
# "::". Repetitions are bounded so that a long run of colons costs linear time.
_TAIL = rf"(?:{_HEX}:){{0,6}}(?:{_DOTTED}|{_HEX})"
_IPV6 = re.compile(
    rf"(?<![0-9A-Fa-f:])"
    rf"(?:(?:{_HEX}:){{7}}{_HEX}|(?:{_HEX}:){{6}}{_DOTTED}|{_HEX}(?::{_HEX}){{0,6}}::(?:{_TAIL})?|::{_TAIL})"
    rf"(?![0-9A-Fa-f]|\.\d)"
)
# Everything str.splitlines() breaks on, the other C0/C1 controls and DEL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escaped(match: re.Match) -> str:
    return match.group(0).encode("unicode_escape").decode("ascii")


def escape(text: str) -> str:
    """Control characters as visible escapes (``\\n``, ``\\x1b``, ``\\u2028``): one event, one line.

    Backslashes are left as they are, so escaping twice changes nothing (the app escapes paths
    itself, and the logger escapes every record again)."""
    return _CONTROL.sub(_escaped, text)


def scrub(text: str) -> str:
    """``escape`` and every IPv4 or IPv6 address replaced with ``[address]``."""
    # IPv6 first, so that an IPv4-mapped address (::ffff:192.0.2.1) becomes one [address].
    return _IPV4.sub(ADDRESS, _IPV6.sub(ADDRESS, escape(text)))


def _indented(block: str, clean) -> str:
    return "\n".join("  " + clean(line) for line in block.split("\n"))


class _Sanitise(logging.Filter):
    """Escapes every record; scrubs addresses at WARNING and above. Set on gunicorn's two loggers."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_civility_sanitised", False):
            return True
        clean = scrub if record.levelno >= logging.WARNING else escape
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):  # arguments that do not fit the format
            message = f"{record.msg!r} % {record.args!r}"
        record.msg, record.args = clean(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _indented(record.exc_text, clean)
        if record.stack_info:
            record.stack_info = _indented(record.stack_info, clean)
        record._civility_sanitised = True
        return True


class _ToErrorLog(logging.Handler):
    """On the root logger: hands the app's records to gunicorn's error log (format, level, filter)."""

    def __init__(self, error_log: logging.Logger):
        super().__init__()
        self.error_log = error_log

    def handle(self, record: logging.LogRecord) -> bool:
        # A propagating error log would hand the record straight back to the root logger.
        if record.levelno >= self.error_log.getEffectiveLevel() and not self.error_log.propagate:
            self.error_log.handle(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self.handle(record)


class PrivateLogger(Logger):
    """gunicorn's logger, with every line escaped and no address at WARNING and above."""

    def setup(self, cfg) -> None:
        super().setup(cfg)  # also run again on a configuration reload: nothing below stacks
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, _Sanitise) for f in log.filters):
                log.addFilter(_Sanitise())
        root = logging.getLogger()
        for handler in [h for h in root.handlers if isinstance(h, _ToErrorLog)]:
            root.removeHandler(handler)
        if not root.handlers:
            root.addHandler(_ToErrorLog(self.error_log))
