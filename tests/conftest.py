"""Fixtures on real components: a real Redis server, SQLite and (with TEST_DATABASE_URL) PostgreSQL.

Redis: TEST_REDIS_URL if set, else a private redis-server on a unix socket that the suite starts
and stops by PID. Every test gets its own key prefix and queue, so a shared server is never flushed.
PostgreSQL: the suite creates its own database on the TEST_DATABASE_URL server and drops only that.
"""

from __future__ import annotations

import os
import signal
import uuid

import psycopg
import pytest
from redis import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from civility.config import Settings
from civility.infra import after_commit, runtime
from civility.infra.redis_server import RedisServer
from civility.moderators import create_moderator
from civility.store.db import Database, normalise_url
from civility.store.migrate import upgrade
from tests.helpers import WorkerProcess, make_settings, settings_env

TABLES = ["comment_events", "votes", "reports", "share_events", "article_activity", "article_share_totals", "comments",
          "moderators", "word_list_entries", "word_list_versions", "api_keys", "perspective_feedback", "nudge_counts",
          "audit_events", "webhook_deliveries", "webhook_endpoints"]


# -- Redis ---------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    if os.environ.get("TEST_REDIS_URL"):
        yield os.environ["TEST_REDIS_URL"]
        return
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def session_prefix():
    return f"civtest-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def redis_prefix(session_prefix, redis_url):
    prefix = f"{session_prefix}-{uuid.uuid4().hex[:6]}"
    yield prefix
    # Remove only what this test created.
    client = Redis.from_url(redis_url)
    for pattern in (f"{prefix}*", f"rq:*{prefix}*", f"limits*{prefix}*", f"LIMITS*{prefix}*"):
        keys = list(client.scan_iter(match=pattern, count=500))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start:start + 500])
    client.close()


@pytest.fixture
def redis_client(redis_url):
    client = Redis.from_url(redis_url)
    yield client
    client.close()


# -- Databases -----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def postgres_url():
    """A database of our own on the TEST_DATABASE_URL server, dropped at the end."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("TEST_DATABASE_URL is not set")
    admin_url = make_url(normalise_url(base))
    name = f"civility_test_{uuid.uuid4().hex[:8]}"
    conninfo = admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'civility.db'}"
        upgrade(url)
        return url
    url = request.getfixturevalue("postgres_url")
    db = Database(url)
    with db.transaction() as session:
        session.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    db.dispose()
    return url


@pytest.fixture
def sqlite_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'civility.db'}"
    upgrade(url)
    return url


# -- The service ---------------------------------------------------------------------------------
@pytest.fixture
def settings_factory(database_url, redis_url, redis_prefix):
    def factory(**overrides) -> Settings:
        values = {"database_url": database_url, "redis_url": redis_url, "redis_prefix": redis_prefix, **overrides}
        return make_settings(**values)

    return factory


@pytest.fixture
def settings(settings_factory):
    return settings_factory()


@pytest.fixture
def app_factory(settings_factory):
    from service import create_app

    created = []

    def factory(**overrides):
        app = create_app(settings_factory(**overrides))
        app.config["TESTING"] = True
        created.append(app)
        return app

    yield factory
    for app in created:
        svc = app.extensions["civility"]
        svc.db.dispose()
        svc.redis.close()


@pytest.fixture
def app(app_factory):
    return app_factory()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    return app.extensions["civility"].db


@pytest.fixture
def moderator_token(db):
    return create_moderator(db, "alice", "moderator")


@pytest.fixture
def admin_token(db):
    return create_moderator(db, "root", "admin")


@pytest.fixture
def drain(app):
    """Run queued scoring jobs in this process (an RQ SimpleWorker in burst mode)."""
    from rq import Queue, SimpleWorker

    settings = app.extensions["civility"].settings

    def run() -> None:
        rt = runtime.use(settings)
        # As a worker does: its commits send webhooks and refresh cached thread pages.
        after_commit.install(rt.db, rt.redis, settings)
        queue = Queue(settings.rq_queue_name(), connection=rt.redis)
        SimpleWorker([queue], connection=rt.redis).work(burst=True, logging_level="WARNING")

    return run


# -- Real processes ------------------------------------------------------------------------------
@pytest.fixture
def worker_process(tmp_path):
    started: list[WorkerProcess] = []

    def start(settings: Settings, *args: str, **extra_env: str) -> WorkerProcess:
        worker = WorkerProcess(settings_env(settings, **extra_env), tmp_path / f"worker-{len(started)}.log", args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill(signal.SIGTERM if worker.process.poll() is None else signal.SIGKILL)
        worker.kill()
        worker.log.close()


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    from workers.scorers.synthetic import build_checkpoint

    return build_checkpoint(tmp_path_factory.mktemp("detoxify"))
