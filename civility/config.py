"""Settings read from the environment (prefix ``CIVILITY_``): the only place configuration is parsed.

Every setting is a field of ``Settings``; its default is written there once, and its variable is
``CIVILITY_`` + the field name in capitals. A bad value raises ``ConfigError`` with one line that
names the variable.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from civility.policy import DEFAULT_THRESHOLDS, ModerationMode, Thresholds, parse_thresholds
from civility.redis_url import check_redis_url

PREFIX = "CIVILITY_"
DEFAULT_RATE_LIMITS = {
    "comment": "5/minute",
    "edit": "20/minute",
    "share": "30/minute",
    "vote": "60/minute",
    "report": "10/minute",
    # The nudge before posting (POST .../comments/check): one model call each, so a few per comment.
    "check": "10/minute",
}
SCORERS = ("auto", "detoxify", "profanity")
DETOXIFY_MODELS = ("original", "unbiased", "multilingual", "original-small", "unbiased-small")
# Where ``make dev`` (``civility dev``) keeps its embedded Redis socket, relative to the checkout.
DEV_REDIS_SOCKET = Path("var") / "redis.sock"


class ConfigError(ValueError):
    """A setting has a value the service cannot run with; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/civility.db"
    # Unset: the embedded Redis of a ``make dev`` running in this directory, if there is one.
    redis_url: str | None = None
    redis_prefix: str = "civility"
    scorer: str = "auto"
    detoxify_model: str = "original"
    detoxify_checkpoint: str | None = None
    # Where `civility models pull` and the worker's automatic pull fetch model files: an HTTP(S)
    # base URL or a directory laid out like upstream (docs in README); unset: upstream.
    model_mirror: str | None = None
    # With CIVILITY_SCORER=auto, a worker without cached weights pulls them once at start.
    model_auto_pull: bool = True
    moderation_mode: ModerationMode = ModerationMode.PRE
    thresholds: Thresholds = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    allowed_origins: tuple[str, ...] = ("*",)
    sso_secret: str | None = None
    edit_window_seconds: int = 900
    # None: rate limits are off.
    rate_limits: dict[str, str] | None = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    trusted_proxies: int = 0
    # A comment not scored this long after it was (re)queued is re-enqueued by the sweeper.
    scoring_deadline_seconds: int = 60
    sweep_interval_seconds: int = 15
    # After this many enqueues without a score the comment goes to the queue as "scoring failed".
    max_scoring_attempts: int = 5
    batch_size: int = 16
    job_timeout_seconds: int = 60
    # RQ retries a failed scoring job after these delays (seconds); then it is "scoring failed".
    retry_intervals: tuple[int, ...] = (5, 20)
    # Salts the hashes that tell anonymous readers apart. Unset: a random salt generated on first
    # run and kept in the database (see civility.secrets), so every process agrees on it.
    client_hash_salt: str | None = None
    # A repeat share from one client, article and network inside this window is not counted again.
    share_dedup_seconds: int = 600
    # Distinct open reports that put a published comment in the "reported" queue.
    report_threshold: int = 3
    # Recovery after a worker is SIGKILLed: its heartbeat lapses after worker_ttl, and the next
    # maintenance pass (every maintenance_interval) on a live worker re-queues its started job.
    worker_ttl: int = 35
    maintenance_interval: int = 30
    # Connections per process in the PostgreSQL pool (SQLite opens one per thread as needed).
    db_pool_size: int = 5
    # PostgreSQL: connections beyond the pool in a burst, seconds to wait for one, and the longest a
    # statement may run (milliseconds, 0: no limit).
    db_max_overflow: int = 10
    db_pool_timeout: int = 10
    db_statement_timeout_ms: int = 30000
    # Off behind PgBouncer in transaction mode, which cannot keep server-side prepared statements.
    db_prepared_statements: bool = True
    # Workers: the torch threads each scorer process uses (unset: the cores divided among the
    # processes), and where the model runs.
    torch_threads: int | None = None
    device: str = "auto"
    # Who may read /metrics and the detail of /readyz: a bearer token, or these client networks.
    metrics_token: str | None = None
    metrics_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    # Perspective-compatible API: how long an analyze request waits for a worker, and where it is mounted.
    analyze_timeout: float = 2.0
    perspective_prefix: str = "/v1alpha1"
    # Readers' data: client hashes and share-event rows older than this are removed (0: kept).
    retention_days: int = 0
    # Webhooks may target private and loopback addresses (development and tests only).
    webhook_allow_private: bool = False
    # Webhook deliveries: retried after these delays (seconds, about a day in all; then failed), and
    # how late past its due time a delivery counts as lost, so that the sweeper enqueues it again.
    webhook_retry_intervals: tuple[int, ...] = (30, 120, 600, 3600, 21600, 57600)
    webhook_grace_seconds: int = 120
    # Thread pages and /counts: how long browsers and a CDN may reuse an answer (Cache-Control
    # max-age, seconds), and how much longer a CDN may serve it stale while it fetches a fresh one.
    thread_max_age: int = 5
    counts_max_age: int = 10
    stale_while_revalidate: int = 30
    # How long Redis keeps a serialised thread page that no write has replaced (seconds).
    thread_cache_seconds: int = 600
    # Live thread events served by the API itself: streams one process holds at once, each holding a
    # gunicorn thread; beyond it a 503 and the widget polls. 0: never (route the path to `civility live`).
    live_streams_per_process: int = 2
    # Serve the interactive API documentation at /docs (the OpenAPI document stays at /openapi.json).
    api_docs: bool = True
    # Not read from the environment: the request body limit of the HTTP API.
    max_content_length: int = 64 * 1024
    # Not read from the environment: whether CIVILITY_BATCH_SIZE (or a batch_size override) was given;
    # if not, a worker picks the batch size for its device (workers/scorers/device.py).
    batch_size_explicit: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, parse in _PARSERS.items():
            variable = PREFIX + name.upper()
            raw = env.get(variable)
            if raw is None or raw.strip() == "":
                continue
            try:
                values[name] = parse(raw.strip())
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"{variable}: {exc}") from exc
        if "redis_url" not in values:
            values["redis_url"] = discover_dev_redis()
        values.update(overrides)
        values.setdefault("batch_size_explicit", "batch_size" in values)
        return cls(**values)

    def __post_init__(self) -> None:
        # Callers (tests, embedded workers) may pass the mode as its string.
        object.__setattr__(self, "moderation_mode", ModerationMode(self.moderation_mode))
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", self.redis_prefix):
            raise ConfigError(f"{PREFIX}REDIS_PREFIX may hold only letters, digits, '_' and '-' (1 to 40)")

    @property
    def hides_reported(self) -> bool:
        """Pre-moderation hides a published comment from readers once enough readers reported it."""
        return self.moderation_mode is ModerationMode.PRE

    def require_redis_url(self) -> str:
        if not self.redis_url:
            raise ConfigError(f"{PREFIX}REDIS_URL is not set, and no Redis from `make dev` was found at "
                              f"{DEV_REDIS_SOCKET} (start `make dev`, or set {PREFIX}REDIS_URL=redis://host:6379/0)")
        return self.redis_url

    def rq_queue_name(self) -> str:
        return f"{self.redis_prefix}-scoring"

    def webhook_queue_name(self) -> str:
        """The RQ queue of webhook deliveries; workers take it after the others."""
        return f"{self.redis_prefix}-webhooks"

    def analyze_queue_name(self) -> str:
        """The RQ queue of on-demand analyze jobs; workers take it before the scoring queue."""
        return f"{self.redis_prefix}-analyze"


def discover_dev_redis(directory: Path | None = None) -> str | None:
    """The unix socket of a ``make dev`` running from this directory, so a second terminal needs no setup."""
    socket = (directory or Path.cwd()) / DEV_REDIS_SOCKET
    return f"unix://{socket.resolve()}" if socket.is_socket() else None


def parse_rate_limits(raw: str) -> dict[str, str] | None:
    """``comment=5/minute;share=30/minute`` -> dict (other actions keep their defaults); ``off`` -> None."""
    if raw.lower() == "off":
        return None
    limits = dict(DEFAULT_RATE_LIMITS)
    for part in raw.split(";"):
        if not part.strip():
            continue
        action, sep, limit = part.partition("=")
        if not sep or not limit.strip():
            raise ValueError(f"expected action=limit, got {part!r}")
        limits[action.strip()] = limit.strip()
    return limits


def _integer(minimum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        if not re.fullmatch(r"-?[0-9]+", raw):
            raise ValueError(f"must be an integer, got {raw!r}")
        value = int(raw)
        if value < minimum:
            raise ValueError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _choice(allowed: tuple[str, ...], plugin: bool = False) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if plugin and re.fullmatch(r"[\w.]+:\w+", raw):
            return raw
        if raw not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}, got {raw!r}")
        return raw

    return parse


def _mode(raw: str) -> ModerationMode:
    try:
        return ModerationMode(raw)
    except ValueError:
        raise ValueError(f"must be one of {', '.join(ModerationMode)}, got {raw!r}") from None


def _intervals(raw: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in raw.split(",") if v.strip())
    except ValueError:
        raise ValueError(f"expected seconds like 5,20, got {raw!r}") from None
    if any(v < 0 for v in values):
        raise ValueError("seconds must not be negative")
    return values


def _origins(raw: str) -> tuple[str, ...]:
    return tuple(o.strip() for o in raw.split(",") if o.strip())


def _thresholds(raw: str) -> Thresholds:
    return parse_thresholds(json.loads(raw))


def _text(raw: str) -> str:
    return raw


def _networks(raw: str) -> tuple[str, ...]:
    networks = tuple(n.strip() for n in raw.split(",") if n.strip())
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ValueError(f"expected networks like 10.0.0.0/8,::1/128, got {network!r}") from None
    return networks


def _seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"must be a number of seconds, got {raw!r}") from None
    if not 0 < value <= 60:
        raise ValueError(f"must be more than 0 and at most 60 seconds, got {value}")
    return value


def _url_prefix(raw: str) -> str:
    if not re.fullmatch(r"(/[A-Za-z0-9._-]+)+", raw):
        raise ValueError(f"expected a path such as /v1alpha1, got {raw!r}")
    return raw


def _flag(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected 1 or 0, got {raw!r}")


# How each environment variable is parsed; unset or empty keeps the field's default.
_PARSERS: dict[str, Callable[[str], Any]] = {
    "database_url": _text,
    "redis_url": check_redis_url,
    "redis_prefix": _text,
    "scorer": _choice(SCORERS, plugin=True),
    "detoxify_model": _choice(DETOXIFY_MODELS),
    "detoxify_checkpoint": _text,
    "model_mirror": _text,
    "model_auto_pull": _flag,
    "moderation_mode": _mode,
    "thresholds": _thresholds,
    "allowed_origins": _origins,
    "sso_secret": _text,
    "edit_window_seconds": _integer(0),
    "rate_limits": parse_rate_limits,
    "trusted_proxies": _integer(0),
    "scoring_deadline_seconds": _integer(1),
    "sweep_interval_seconds": _integer(1),
    "max_scoring_attempts": _integer(1),
    "batch_size": _integer(1),
    "job_timeout_seconds": _integer(1),
    "retry_intervals": _intervals,
    "client_hash_salt": _text,
    "share_dedup_seconds": _integer(0),
    "report_threshold": _integer(1),
    "worker_ttl": _integer(1),
    "maintenance_interval": _integer(1),
    "db_pool_size": _integer(1),
    "db_max_overflow": _integer(0),
    "db_pool_timeout": _integer(1),
    "db_statement_timeout_ms": _integer(0),
    "db_prepared_statements": _flag,
    "torch_threads": _integer(1),
    "device": _choice(("auto", "cpu", "cuda")),
    "metrics_token": _text,
    "metrics_networks": _networks,
    "api_docs": _flag,
    "retention_days": _integer(0),
    "webhook_allow_private": _flag,
    "webhook_retry_intervals": _intervals,
    "webhook_grace_seconds": _integer(1),
    "thread_max_age": _integer(0),
    "counts_max_age": _integer(0),
    "stale_while_revalidate": _integer(0),
    "thread_cache_seconds": _integer(1),
    "live_streams_per_process": _integer(0),
    "analyze_timeout": _seconds,
    "perspective_prefix": _url_prefix,
}
assert set(_PARSERS) == {f.name for f in dataclasses.fields(Settings)} - {"max_content_length", "batch_size_explicit"}


def variables() -> list[str]:
    """Every environment variable civility reads."""
    return sorted(PREFIX + name.upper() for name in _PARSERS)
