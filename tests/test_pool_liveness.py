"""PostgreSQL connections the server closed (a restart, pg_terminate_backend, an idle timeout) are
replaced when they are checked out of the pool, without a round trip per checkout and without a
failed request; healthy ones are kept."""

from contextlib import ExitStack

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from civility.store.db import Database
from civility.store.engagement import add_share
from civility.store.models import utcnow
from tests.helpers import wait_until

POOL = 2


def backend_pids(db: Database) -> set[int]:
    """The backends of the pool's connections, all checked out at once and returned."""
    with ExitStack() as stack:
        connections = [stack.enter_context(db.engine.connect()) for _ in range(POOL)]
        return {c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in connections}


def admin(postgres_url: str) -> psycopg.Connection:
    return psycopg.connect(make_url(postgres_url).set(drivername="postgresql").render_as_string(False),
                           autocommit=True)


def test_a_healthy_pooled_connection_is_kept(postgres_url):
    db = Database(postgres_url, pool_size=POOL, max_overflow=0)
    first = backend_pids(db)
    assert len(first) == POOL
    assert backend_pids(db) == first
    db.dispose()


def test_connections_the_server_closed_are_replaced_before_they_fail_a_request(postgres_url):
    db = Database(postgres_url, pool_size=POOL, max_overflow=0)
    old = backend_pids(db)
    with admin(postgres_url) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (list(old),))
        wait_until(lambda: not conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)",
                                            (list(old),)).fetchone()[0],
                   message="the terminated backends to exit")
    # Each path that checks a connection out: the unit of work, the driver's, a plain read.
    with db.transaction() as session:
        assert session.execute(text("SELECT 1")).scalar_one() == 1
    with db.driver_transaction() as connection:
        assert add_share(connection, "news/liveness", "x", "reader-1", utcnow()).counted
    db.ping()
    new = backend_pids(db)
    assert len(new) == POOL and not new & old
    db.dispose()
