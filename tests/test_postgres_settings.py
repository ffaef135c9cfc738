"""The PostgreSQL settings reach the engine: pool, statement timeout, prepared statements."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from civility.infra.runtime import database
from civility.store.db import Database
from tests.helpers import ARTICLE, assert_error, post

# Each test that builds on the settings runs on PostgreSQL only.
on_postgres = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def show_timeout(db: Database) -> str:
    with db.read() as session:
        return session.execute(text("SHOW statement_timeout")).scalar_one()


@on_postgres
@pytest.mark.parametrize("prepared", [True, False])
def test_statement_timeout_is_in_effect(settings_factory, prepared):
    db = database(settings_factory(db_statement_timeout_ms=1500, db_prepared_statements=prepared))
    try:
        for _ in range(3):  # every transaction, on new and reused connections alike
            assert show_timeout(db) == "1500ms"
    finally:
        db.dispose()


@on_postgres
@pytest.mark.parametrize("prepared", [True, False])
def test_a_statement_past_the_timeout_is_cancelled(settings_factory, prepared):
    db = database(settings_factory(db_statement_timeout_ms=100, db_prepared_statements=prepared))
    try:
        with pytest.raises(OperationalError) as caught, db.read() as session:
            session.execute(text("SELECT pg_sleep(2)"))
        assert isinstance(caught.value.orig, psycopg.errors.QueryCanceled)
        assert show_timeout(db) == "100ms"  # the pool's connection is still good
    finally:
        db.dispose()


@on_postgres
def test_a_query_stuck_past_the_timeout_is_a_503(app_factory, database_url):
    client = app_factory(db_statement_timeout_ms=200).test_client()
    post(client)
    conninfo = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as locker:
        locker.execute("LOCK TABLE comments IN ACCESS EXCLUSIVE MODE")
        r = client.get(f"/api/v1/articles/{ARTICLE}/comments")
        assert_error(r, 503, "database_unavailable")
        assert r.headers["Retry-After"] == "5"
        locker.rollback()
    assert client.get(f"/api/v1/articles/{ARTICLE}/comments").status_code == 200


@on_postgres
def test_an_exhausted_pool_is_a_503_after_the_pool_timeout(app_factory):
    app = app_factory(db_pool_size=1, db_max_overflow=0, db_pool_timeout=1)
    client = app.test_client()
    with app.extensions["civility"].db.engine.connect() as held:
        held.exec_driver_sql("SELECT 1")
        assert_error(client.get(f"/api/v1/articles/{ARTICLE}/comments"), 503, "database_unavailable")
    assert client.get(f"/api/v1/articles/{ARTICLE}/comments").status_code == 200


@on_postgres
def test_zero_means_no_statement_timeout(settings_factory):
    db = database(settings_factory(db_statement_timeout_ms=0))
    try:
        assert show_timeout(db) == "0"
    finally:
        db.dispose()


@on_postgres
def test_pool_settings_reach_the_engine(app_factory):
    app = app_factory(db_pool_size=3, db_max_overflow=7, db_pool_timeout=4)
    pool = app.extensions["civility"].db.engine.pool
    assert pool.size() == 3
    assert pool._max_overflow == 7  # type: ignore[attr-defined]
    assert pool.timeout() == 4


@on_postgres
def test_prepared_statements_off_turns_off_psycopg_preparing(settings_factory):
    for prepared, threshold in ((False, None), (True, 5)):
        db = database(settings_factory(db_prepared_statements=prepared))
        try:
            with db.engine.connect() as conn:
                assert conn.connection.dbapi_connection.prepare_threshold == threshold
        finally:
            db.dispose()


@on_postgres
def test_plain_database_keeps_sqlalchemy_defaults(database_url):
    db = Database(database_url)
    try:
        assert db.engine.pool.size() == 5
        assert db.engine.pool._max_overflow == 10  # type: ignore[attr-defined]
        assert db.engine.pool.timeout() == 30
        assert show_timeout(db) == "0"
    finally:
        db.dispose()


def test_sqlite_ignores_the_postgresql_settings(sqlite_url):
    db = Database(sqlite_url, pool_size=2, max_overflow=1, pool_timeout=1, statement_timeout_ms=10,
                  prepared_statements=False)
    try:
        with db.read() as session:
            assert session.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        db.dispose()
