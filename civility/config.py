"""Settings read from the environment (prefix ``CIVILITY_``), shared by the API, workers and CLI."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field

from civility.policy import DEFAULT_THRESHOLDS, Thresholds, parse_thresholds

DEFAULT_RATE_LIMITS = {
    "comment": "5/minute",
    "edit": "20/minute",
    "share": "30/minute",
    "vote": "60/minute",
    "report": "10/minute",
}
SCORERS = ("auto", "detoxify", "profanity")
DETOXIFY_MODELS = ("original", "unbiased", "multilingual", "original-small", "unbiased-small")
MODERATION_MODES = ("pre", "post")


class ConfigError(ValueError):
    """A setting has a value the service cannot run with."""


def parse_rate_limits(raw: str | None) -> dict[str, str] | None:
    """``comment=5/minute;share=30/minute`` -> dict; ``off`` -> None (limits disabled)."""
    if raw is None or not raw.strip():
        return dict(DEFAULT_RATE_LIMITS)
    if raw.strip().lower() == "off":
        return None
    limits = dict(DEFAULT_RATE_LIMITS)
    for part in raw.split(";"):
        if not part.strip():
            continue
        action, sep, limit = part.partition("=")
        if not sep or not limit.strip():
            raise ConfigError(f"CIVILITY_RATE_LIMITS: expected action=limit, got {part!r}")
        limits[action.strip()] = limit.strip()
    return limits


def _int(env: dict, name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _choice(env: dict, name: str, default: str, allowed: tuple[str, ...], plugin: bool = False) -> str:
    value = env.get(name) or default
    if plugin and re.fullmatch(r"[\w.]+:\w+", value):
        return value
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/civility.db"
    redis_url: str | None = None
    redis_prefix: str = "civility"
    scorer: str = "auto"
    detoxify_model: str = "original"
    detoxify_checkpoint: str | None = None
    moderation_mode: str = "pre"
    thresholds: Thresholds = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    allowed_origins: tuple[str, ...] = ("*",)
    sso_secret: str | None = None
    edit_window_seconds: int = 900
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
    client_hash_salt: str = "change-me"
    # A repeat share from one client, article and network inside this window is not counted again.
    share_dedup_seconds: int = 600
    # Distinct open reports that put a published comment in the "reported" queue.
    report_threshold: int = 3
    max_content_length: int = 64 * 1024

    @classmethod
    def from_env(cls, env: dict | None = None, **overrides) -> "Settings":
        env = dict(os.environ if env is None else env)
        p = "CIVILITY_"
        origins_raw = env.get(p + "ALLOWED_ORIGINS", "*")
        values = dict(
            database_url=env.get(p + "DATABASE_URL") or cls.database_url,
            redis_url=env.get(p + "REDIS_URL") or None,
            redis_prefix=env.get(p + "REDIS_PREFIX") or cls.redis_prefix,
            scorer=_choice(env, p + "SCORER", "auto", SCORERS, plugin=True),
            detoxify_model=_choice(env, p + "DETOXIFY_MODEL", "original", DETOXIFY_MODELS),
            detoxify_checkpoint=env.get(p + "DETOXIFY_CHECKPOINT") or None,
            moderation_mode=_choice(env, p + "MODERATION_MODE", "pre", MODERATION_MODES),
            thresholds=_thresholds(env.get(p + "THRESHOLDS")),
            allowed_origins=tuple(o.strip() for o in origins_raw.split(",") if o.strip()),
            sso_secret=env.get(p + "SSO_SECRET") or None,
            edit_window_seconds=_int(env, p + "EDIT_WINDOW_SECONDS", 900),
            rate_limits=parse_rate_limits(env.get(p + "RATE_LIMITS")),
            trusted_proxies=_int(env, p + "TRUSTED_PROXIES", 0),
            scoring_deadline_seconds=_int(env, p + "SCORING_DEADLINE_SECONDS", 60),
            sweep_interval_seconds=_int(env, p + "SWEEP_INTERVAL_SECONDS", 15),
            max_scoring_attempts=_int(env, p + "MAX_SCORING_ATTEMPTS", 5),
            batch_size=_int(env, p + "BATCH_SIZE", 16),
            job_timeout_seconds=_int(env, p + "JOB_TIMEOUT_SECONDS", 60),
            retry_intervals=_intervals(env.get(p + "RETRY_INTERVALS")),
            client_hash_salt=env.get(p + "CLIENT_HASH_SALT") or cls.client_hash_salt,
            share_dedup_seconds=_int(env, p + "SHARE_DEDUP_SECONDS", 600),
            report_threshold=_int(env, p + "REPORT_THRESHOLD", 3),
        )
        values.update(overrides)
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", values["redis_prefix"]):
            raise ConfigError("CIVILITY_REDIS_PREFIX may hold only letters, digits, '_' and '-' (1 to 40)")
        return cls(**values)

    def rq_queue_name(self) -> str:
        return f"{self.redis_prefix}-scoring"


def _intervals(raw: str | None) -> tuple[int, ...]:
    if not raw:
        return (5, 20)
    try:
        values = tuple(int(v) for v in raw.split(",") if v.strip())
    except ValueError as exc:
        raise ConfigError(f"CIVILITY_RETRY_INTERVALS: expected seconds like 5,20, got {raw!r}") from exc
    if any(v < 0 for v in values):
        raise ConfigError("CIVILITY_RETRY_INTERVALS: seconds must not be negative")
    return values


def _thresholds(raw: str | None) -> Thresholds:
    if not raw:
        return dict(DEFAULT_THRESHOLDS)
    try:
        return parse_thresholds(json.loads(raw))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"CIVILITY_THRESHOLDS: {exc}") from exc
