"""Process-wide handles built once from the settings: the database and Redis."""

from __future__ import annotations

from redis import Redis

from civility.config import Settings
from civility.store.db import Database


def redis_from_url(url: str) -> Redis:
    # Short timeouts: a dead Redis must turn into a fast 503 or a logged retry, never a hang.
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)


def database(settings: Settings) -> Database:
    """The one place the production engine is built from the settings (pool, timeouts, pooler mode)."""
    return Database(settings.database_url, pool_size=settings.db_pool_size,
                    max_overflow=settings.db_max_overflow, pool_timeout=settings.db_pool_timeout,
                    statement_timeout_ms=settings.db_statement_timeout_ms,
                    prepared_statements=settings.db_prepared_statements)


class Runtime:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.db = database(settings)
        self.redis = redis_from_url(settings.require_redis_url())

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
