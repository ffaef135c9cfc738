"""Process-wide handles built once from the environment: settings, database, Redis."""

from __future__ import annotations

from redis import Redis

from civility.config import Settings
from civility.store.db import Database


def redis_from_url(url: str) -> Redis:
    # Short timeouts: a dead Redis must turn into a fast 503 or a logged retry, never a hang.
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)


class Runtime:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.db = Database(settings.database_url)
        if not settings.redis_url:
            raise RuntimeError("CIVILITY_REDIS_URL is not set (make dev sets it for the embedded Redis)")
        self.redis = redis_from_url(settings.redis_url)

    def close(self) -> None:
        self.db.dispose()
        self.redis.close()


_current: Runtime | None = None


def current() -> Runtime:
    """The process's runtime, built from the environment on first use."""
    global _current
    if _current is None:
        _current = Runtime(Settings.from_env())
    return _current


def use(settings: Settings) -> Runtime:
    """Replace the process's runtime (tests and embedded workers run with explicit settings)."""
    global _current
    if _current is not None:
        _current.close()
    _current = Runtime(settings)
    return _current
