"""Logs cannot be forged and name no client (service/logs.py), on a real gunicorn started as `make dev`
starts it: the same config module, then raw requests over sockets, then the log file read back."""

from __future__ import annotations

import logging
import re
import time
from urllib.parse import quote

import pytest
from flask import request

from service.logs import escape, scrub
from tests.helpers import make_settings, raw_request, running_gunicorn, status_of, wait_until

FORGED = "2026-12-02 12:00:00,000 ERROR forged"
# gunicorn's error log: "[2026-12-02 12:00:00 +0000] [1234] [WARNING] message"
ENTRY = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[([A-Z]+)\] (.*)$")
SERIOUS = {"WARNING", "ERROR", "CRITICAL"}
ANY_IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")


# -- escape and scrub ----------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "escaped"), [
    ("/healthz\n" + FORGED, "/healthz\\n" + FORGED),
    ("/a\r\nb", "/a\\r\\nb"),
    ("\x00\x1b[31mred\x7f", "\\x00\\x1b[31mred\\x7f"),
    ("a\x85b\u2028c\u2029d\x0bE\x0cF\x1cG", "a\\x85b\\u2028c\\u2029d\\x0bE\\x0cF\\x1cG"),
    ("/articles/été/ünïcode and \\n as typed", "/articles/été/ünïcode and \\n as typed"),
])
def test_escape_leaves_one_line(raw, escaped):
    assert escape(raw) == escaped
    assert len(escape(raw).splitlines()) == 1
    assert escape(escape(raw)) == escape(raw)  # the app escapes, the logger again: no harm


@pytest.mark.parametrize(("raw", "scrubbed"), [
    ("Invalid request from ip=127.0.0.1: Invalid HTTP request line: 'GARBAGE'",
     "Invalid request from ip=[address]: Invalid HTTP request line: 'GARBAGE'"),
    ("peer (203.0.113.9, 51234) and 10.0.0.1.", "peer ([address], 51234) and [address]."),
    ("ip=2001:0db8:0000:0000:0000:ff00:0042:8329 left", "ip=[address] left"),
    ("ip=::1: Invalid", "ip=[address]: Invalid"),
    ("ip=2001:db8::1 and fe80::1%eth0 and [2001:db8::]:80", "ip=[address] and [address]%eth0 and [[address]]:80"),
    ("mapped ::ffff:192.0.2.1 and 64:ff9b:0:0:0:0:198.51.100.7", "mapped [address] and [address]"),
    ("new\nline from 192.0.2.1", "new\\nline from [address]"),
])
def test_scrub_replaces_addresses(raw, scrubbed):
    assert scrub(raw) == scrubbed


@pytest.mark.parametrize("kept", [
    "at 12:30:00 on 2026-12-02 12:00:00,000", "gunicorn 1.2.3, schema 1.2.3.4.5", "aa:bb:cc:dd:ee:ff",
    "Class::method", "10.0.0.1234", "a :: b", "worker 12345 took 0.25 s",
])
def test_scrub_keeps_times_versions_and_words(kept):
    assert scrub(kept) == kept


def test_scrub_is_linear_on_long_runs_of_colons_and_dots():
    started = time.perf_counter()
    scrub("1:" * 4000 + "1.2." * 4000 + "a" * 8000)  # a request line is at most 4094 bytes
    assert time.perf_counter() - started < 1.0


def test_the_app_escapes_the_path_of_an_unhandled_error(app, caplog):
    @app.before_request
    def boom():  # before routing, which no path with a newline in it would pass
        if request.path.startswith("/boom/"):
            raise RuntimeError("boom")

    caplog.set_level(logging.ERROR, logger="service.errors")
    response = app.test_client().get("/boom/x%0A" + quote(FORGED))
    assert response.status_code == 500
    messages = [r.getMessage() for r in caplog.records if r.name == "service.errors"]
    assert messages == ["unhandled error on GET /boom/x\\n" + FORGED]


# -- a real gunicorn ---------------------------------------------------------------------------------
@pytest.fixture
def gunicorn(tmp_path, redis_url, redis_prefix):
    # The database file is not a database, so every read of it is the app's "unhandled error";
    # /healthz, unrouted paths and gunicorn's own errors never touch it.
    broken = tmp_path / "not-a-database.db"
    broken.write_bytes(b"this file is not a database\n" * 64)
    settings = make_settings(f"sqlite:///{broken}", redis_url, redis_prefix)
    with running_gunicorn(settings, tmp_path / "gunicorn.log", ipv6=True) as server:
        yield server


def _records(log: str) -> list[tuple[str, list[str]]]:
    """Error-log entries as (level, [the entry's line, its indented traceback lines])."""
    records: list[tuple[str, list[str]]] = []
    for line in log.splitlines():
        entry = ENTRY.match(line)
        if entry:
            records.append((entry.group(1), [line]))
        elif line.startswith(" ") and records:
            records[-1][1].append(line)
    return records


def test_gunicorn_logs_are_escaped_and_name_no_client(gunicorn):
    forged = quote(FORGED)
    for separator in ("%0A", "%0D", "%0D%0A"):
        answer = raw_request(gunicorn.port, f"GET /healthz{separator}{forged} HTTP/1.1\r\nHost: localhost\r\n"
                                            "Connection: close\r\n\r\n".encode())
        assert status_of(answer) == 404
    # gunicorn refuses these itself, with "Invalid request from ip=...".
    assert status_of(raw_request(gunicorn.port, b"GARBAGE\r\n\r\n")) == 400
    bad_header = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nBad\x1bName: x\r\nConnection: close\r\n\r\n"
    assert status_of(raw_request(gunicorn.port, bad_header)) == 400
    if gunicorn.port6:
        assert status_of(raw_request(gunicorn.port6, b"GARBAGE\r\n\r\n", host="::1")) == 400
    # The app's own "unhandled error" (the database file is not a database).
    answer = raw_request(gunicorn.port, b"GET /api/v1/articles/a/comments HTTP/1.1\r\nHost: localhost\r\n"
                                        b"Connection: close\r\n\r\n")
    assert status_of(answer) == 500 and b"Traceback" not in answer

    invalid_warnings = 3 if gunicorn.port6 else 2
    access = [f"GET /healthz{escaped}{FORGED} 404 " for escaped in ("\\n", "\\r", "\\r\\n")]

    def logged():
        log = gunicorn.log()
        done = (all(line in log for line in access) and "unhandled error on GET /api/v1/articles/a/comments" in log
                and log.count("Invalid request from ip=") >= invalid_warnings)
        return log if done else None

    log = wait_until(logged, 20, 0.1, message=lambda: f"every request in the log:\n{gunicorn.log()}")
    lines = log.splitlines()

    # No forged entry: the text after %0A / %0D never starts a line, and no raw CR or ESC got through.
    assert "\r" not in log and "\x1b" not in log
    for line in lines:
        assert not line.lstrip().startswith(FORGED[:10]), line
        if "forged" in line:
            assert any(line.startswith(a) for a in access), line
    # Each forged request is one access line, with its path escaped.
    for start in access:
        assert len([line for line in lines if line.startswith(start)]) == 1, start

    records = _records(log)
    serious = [(level, entry) for level, entry in records if level in SERIOUS]
    # gunicorn's warnings are still there, the client as "[address]", the bad header escaped.
    invalid = [entry[0] for level, entry in serious if "Invalid request from ip=" in entry[0]]
    assert len(invalid) == invalid_warnings
    assert all("Invalid request from ip=[address]: " in line for line in invalid)
    assert any("Bad\\x1bName" in line for line in invalid)
    # The app's error is an entry of gunicorn's error log, its traceback indented below it.
    app_error = [entry for level, entry in serious if "unhandled error on GET /api/v1/articles/a/comments" in entry[0]]
    assert len(app_error) == 1 and len(app_error[0]) > 2, app_error
    assert app_error[0][1].startswith("  Traceback")
    # No line at WARNING or above (tracebacks included) names an address.
    for _level, entry in serious:
        for line in entry:
            assert "127.0.0.1" not in line and "::1" not in line and not ANY_IPV4.search(line), line
