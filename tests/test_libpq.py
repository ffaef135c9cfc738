"""On PostgreSQL the driver statements run on libpq, through psycopg's wrapper (civility.store.libpq):
they must send and read back what psycopg's cursor would, prepare each statement once per
connection, stay inside the transaction they run in, and fail as psycopg fails."""

from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, bindparam, literal_column, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from civility.store import libpq
from civility.store.db import Database
from civility.store.driver import DriverStatement, driver_connection
from civility.store.engagement import add_share
from civility.store.models import ShareEvent, UTCDateTime
from tests.helpers import wait_until

AT = datetime(2026, 12, 5, 9, 41, 7, 123456, tzinfo=UTC)
# Every kind of value the hot statements send, a percent sign in the SQL (which psycopg's style
# escapes) and a parameter used twice.
ECHO = DriverStatement(select(
    bindparam("word", type_=String()), bindparam("n", type_=Integer()), bindparam("big", type_=BigInteger()),
    bindparam("flag", type_=Boolean()), bindparam("at", type_=UTCDateTime()), bindparam("doc", type_=JSON()),
    bindparam("nothing", type_=String()), (literal_column("'50%'", String()) + bindparam("word")).label("tag")))
VALUES = {"word": "naïve ✓", "n": 7, "big": 2**40, "flag": True, "at": AT, "doc": {"tags": ["a", "b"], "n": 1},
          "nothing": None}
ADD_SHARE = DriverStatement(ShareEvent.__table__.insert().values(
    article_id=bindparam("article_id"), network="x", client=bindparam("client"), created_at=AT))


@pytest.fixture
def db(postgres_url):
    database = Database(postgres_url, pool_size=1, max_overflow=0)  # one connection: the same each time
    with database.transaction() as session:
        session.execute(text("TRUNCATE share_events"))
    yield database
    database.dispose()


def prepared_here(connection: psycopg.Connection) -> int:
    return connection.execute("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'civility%'").fetchone()[0]


def test_values_of_every_kind_come_back_as_they_went_and_as_the_cursor_reads_them(db):
    with db.driver_transaction() as connection:
        sql, arguments = ECHO.arguments(connection.dialect, VALUES)
        on_libpq = libpq.run(connection.dbapi_connection, sql, arguments)
        with connection.dbapi_connection.cursor() as cursor:
            on_the_cursor = cursor.execute(sql, arguments).fetchall()
        assert on_libpq == on_the_cursor
        assert connection.run(ECHO, VALUES) == [(*VALUES.values(), "50%naïve ✓")]
        # A small number first and then a big one: the parameter's type changes, and so does the
        # statement prepared for it.
        assert connection.run(ECHO, {**VALUES, "big": 1})[0][2] == 1
        assert connection.run(ECHO, VALUES)[0][2] == 2**40


def test_a_statement_is_prepared_once_per_connection(db):
    with db.driver_transaction() as connection:
        for n in range(3):
            assert connection.run(ECHO, {**VALUES, "n": n})[0][1] == n
        assert prepared_here(connection.dbapi_connection) == 1


def test_without_prepared_statements_nothing_is_prepared_and_the_answers_are_the_same(postgres_url):
    db = Database(postgres_url, pool_size=1, max_overflow=0, prepared_statements=False)
    with db.driver_transaction() as connection:
        for _ in range(3):
            assert connection.run(ECHO, VALUES) == [(*VALUES.values(), "50%naïve ✓")]
        assert prepared_here(connection.dbapi_connection) == 0
    db.dispose()


def test_a_statement_whose_preparation_psycopg_deallocated_is_prepared_again(db):
    with db.driver_transaction() as connection:
        connection.run(ECHO, VALUES)
        connection.dbapi_connection.execute("DEALLOCATE ALL")
        assert connection.run(ECHO, VALUES)[0][0] == "naïve ✓"
        assert prepared_here(connection.dbapi_connection) == 1
    # What deallocates them in practice: psycopg, after rolling back a transaction in which it
    # prepared statements of its own.
    with pytest.raises(RuntimeError), db.transaction() as session:
        for _ in range(6):
            session.execute(text("SELECT 1")).all()
        raise RuntimeError("rolled back")
    with db.driver_transaction() as connection:
        assert connection.run(ECHO, VALUES)[0][0] == "naïve ✓"


def test_statements_in_a_transaction_are_rolled_back_with_it(db):
    with pytest.raises(RuntimeError), db.transaction() as session:
        connection = driver_connection(session)
        for n in range(3):
            connection.run(ADD_SHARE, {"article_id": f"news/{n}", "client": "reader-1"})
        # In a transaction psycopg's cursor runs them.
        assert session.execute(select(ShareEvent.article_id).order_by(ShareEvent.id)).scalars().all() == [
            "news/0", "news/1", "news/2"]
        raise RuntimeError("rolled back")
    with db.read() as session:
        assert session.execute(select(ShareEvent)).all() == []


def test_a_lost_connection_fails_as_a_lost_connection_and_the_next_unit_gets_another(db, postgres_url):
    admin = psycopg.connect(make_url(postgres_url).set(drivername="postgresql").render_as_string(False),
                            autocommit=True)
    with pytest.raises(OperationalError) as raised, db.driver_transaction() as connection:
        connection.run(ECHO, VALUES)
        pid = connection.dbapi_connection.info.backend_pid
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        wait_until(lambda: not admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                                             (pid,)).fetchone()[0], message="the backend to exit")
        connection.run(ECHO, VALUES)
    assert raised.value.connection_invalidated
    admin.close()
    with db.driver_transaction() as connection:
        assert add_share(connection, "news/after", "x", "reader-1", AT).counted
        assert connection.dbapi_connection.info.backend_pid != pid
