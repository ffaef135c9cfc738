"""Process-wide handles built once from the settings: the database and Redis."""

from __future__ import annotations

from redis import Redis
from redis.sentinel import Sentinel, SentinelManagedConnection

from civility.config import Settings
from civility.redis_url import is_sentinel_url, parse_sentinel_url
from civility.store.db import Database

# Short timeouts: a dead Redis must turn into a fast 503 or a logged retry, never a hang.
TIMEOUTS = {"socket_connect_timeout": 2, "socket_timeout": 5}


class SentinelConnection(SentinelManagedConnection):
    """redis-py's Sentinel connection keeps the connection when a read is interrupted (RQ's SIGTERM
    handler, a job timeout), so the next command reads the interrupted one's reply; plain connections
    disconnect, and so does this one."""

    def read_response(self, disable_decoding=False, *, disconnect_on_error=True, push_request=False):
        return super().read_response(disable_decoding=disable_decoding, disconnect_on_error=disconnect_on_error,
                                     push_request=push_request)


def redis_from_url(url: str) -> Redis:
    """The one place a Redis client is built from CIVILITY_REDIS_URL (RQ, caches, counters, presence)."""
    if not is_sentinel_url(url):
        return Redis.from_url(url, health_check_interval=30, **TIMEOUTS)
    target = parse_sentinel_url(url)
    auth = {"username": target.username, "password": target.password}
    # Each new connection asks the Sentinels for the master, so reconnecting after a failover finds
    # the promoted replica; a connection to a demoted master is dropped on its READONLY error.
    sentinel = Sentinel(list(target.sentinels), sentinel_kwargs={**TIMEOUTS, **auth}, **TIMEOUTS, **auth)
    return sentinel.master_for(target.service, db=target.db, health_check_interval=30,
                               connection_class=SentinelConnection)


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
        manager = getattr(self.redis.connection_pool, "sentinel_manager", None)
        for sentinel in manager.sentinels if manager else ():
            sentinel.close()


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
