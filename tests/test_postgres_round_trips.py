"""On PostgreSQL a new comment is written in as few round trips as its statements need: without webhook
subscribers it is one statement, sent without BEGIN and COMMIT; with them, the comment and its
deliveries are one transaction. A thread page is read in three queries, without a transaction. Each
round trip is read from libpq's own trace of the protocol."""

import re
import tempfile
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from civility.comments import CommentService
from civility.identity import Client
from civility.store.db import Database
from civility.store.models import ArticleActivity, Comment, CommentEvent, WebhookDelivery, WebhookEndpoint, utcnow
from civility.webhooks import add_endpoint

_QUERY = re.compile(r'\tF\t\d+\tQuery\t "([^"]*)"')


@pytest.fixture
def db(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite is in the process: no round trips")
    db = Database(database_url, pool_size=1, max_overflow=0)  # one connection, traced
    yield db
    db.dispose()


@contextmanager
def traced(db: Database):
    """What the pooled connection sends and receives meanwhile: (round trips, plain queries sent)."""
    with db.engine.connect() as connection:
        pgconn = connection.connection.driver_connection.pgconn
    seen: dict = {}
    with tempfile.TemporaryFile() as trace:
        pgconn.trace(trace.fileno())
        try:
            yield seen
        finally:
            pgconn.untrace()
        trace.seek(0)
        lines = trace.read().decode().splitlines()
    seen["round_trips"] = sum("\tB\t5\tReadyForQuery" in line for line in lines)
    seen["queries"] = [m.group(1) for line in lines if (m := _QUERY.search(line))]


def _stored(db: Database, comment_id: int) -> tuple:
    with db.read() as session:
        return (session.get(Comment, comment_id).body,
                session.scalars(select(func.count()).where(CommentEvent.comment_id == comment_id)).one(),
                session.scalars(select(func.sum(ArticleActivity.count)).where(ArticleActivity.kind == "comment")).one(),
                session.scalars(select(func.count()).select_from(WebhookDelivery)).one())


def _in_a_transaction_again(db: Database) -> bool:
    with db.engine.connect() as connection:
        return connection.connection.driver_connection.autocommit is False


def test_a_comment_without_webhook_subscribers_is_written_without_begin_or_commit(db, settings_factory):
    service = CommentService(db, settings_factory(moderation_mode="post"))
    service.create("news/a", "warm the pool's statements", "Ann", None, Client.of(None, "10.0.0.1", "salt"))
    with traced(db) as seen:
        comment = service.create("news/a", "Hello there", "Ann", None, Client.of(None, "10.0.0.2", "salt"))
    # One statement writes the comment, its history and its count, unless an endpoint subscribes to
    # new comments (the repeat check waits for scoring).
    assert (seen["round_trips"], seen["queries"]) == (1, [])
    assert _stored(db, comment.id) == ("Hello there", 1, 2, 0)
    assert _in_a_transaction_again(db)


@pytest.mark.parametrize("mode", ["post", "pre"])
def test_endpoints_for_other_events_or_disabled_ones_leave_a_comment_one_round_trip(db, settings_factory, mode):
    settings = settings_factory(moderation_mode=mode, webhook_allow_private=True)
    add_endpoint(db, settings, "http://127.0.0.1:9/flagged", ["comment.flagged", "comment.deleted"])
    disabled = add_endpoint(db, settings, "http://127.0.0.1:9/disabled", ["comment.created"]).endpoint
    with db.transaction() as session:
        session.get(WebhookEndpoint, disabled.id).disabled_at = utcnow()
    service = CommentService(db, settings)
    service.create("news/a", "warm the pool's statements", "Ann", None, Client.of(None, "10.0.0.1", "salt"))
    with traced(db) as seen:
        comment = service.create("news/a", "Hello there", "Ann", None, Client.of(None, "10.0.0.2", "salt"))
    assert (seen["round_trips"], seen["queries"]) == (1, [])
    # Published at once in post mode, and counted for trending then; in pre mode not yet.
    assert _stored(db, comment.id) == ("Hello there", 1, 2 if mode == "post" else None, 0)


def test_a_comment_and_its_webhook_deliveries_are_one_transaction(db, settings_factory):
    settings = settings_factory(moderation_mode="post", webhook_allow_private=True)
    add_endpoint(db, settings, "http://127.0.0.1:9/hook", ["comment.created"])
    service = CommentService(db, settings)
    with traced(db) as seen:
        comment = service.create("news/a", "Hello there", "Ann", None, Client.of(None, "10.0.0.2", "salt"))
    # The statement that writes nothing when an endpoint subscribes, found one: the lookup, then
    # the comment and its delivery in one transaction, each written once.
    assert seen["queries"] == ["BEGIN", "COMMIT"]
    assert _stored(db, comment.id) == ("Hello there", 1, 1, 1)
    assert _in_a_transaction_again(db)


def test_behind_pgbouncer_a_comment_is_one_transaction_under_its_statement_timeout(database_url, settings_factory):
    if not database_url.startswith("postgresql"):
        pytest.skip("PgBouncer is for PostgreSQL")
    # Without prepared statements (PgBouncer's transaction mode) the timeout is set by each transaction.
    db = Database(database_url, pool_size=1, max_overflow=0, statement_timeout_ms=5000, prepared_statements=False)
    try:
        service = CommentService(db, settings_factory(moderation_mode="post"))
        with traced(db) as seen:
            comment = service.create("news/a", "Hello there", "Ann", None, Client.of(None, "10.0.0.2", "salt"))
        assert seen["queries"][0] == "BEGIN" and seen["queries"][-1] == "COMMIT"
        assert _stored(db, comment.id) == ("Hello there", 1, 1, 0)
        assert _in_a_transaction_again(db)
    finally:
        db.dispose()


def test_a_thread_page_is_three_queries_without_a_transaction(db, settings_factory):
    service = CommentService(db, settings_factory(moderation_mode="post"))
    first = service.create("news/a", "A first comment", "Ann", None, Client.of(None, "10.0.0.1", "salt"))
    for n in range(4):
        service.create("news/a", f"Reply {n}", "Bob", first.id, Client.of(None, f"10.0.1.{n}", "salt"))
    service.create("news/a", "A second comment", "Cy", None, Client.of(None, "10.0.0.3", "salt"))
    with traced(db) as seen:
        page = service.thread("news/a", "oldest", 50, None)
    # The page, its replies' previews with their counts, and the thread's total.
    assert (seen["round_trips"], seen["queries"]) == (3, [])
    assert [(c.body, c.reply_count, [r.body for r in c.replies]) for c in page.items] == [
        ("A first comment", 4, ["Reply 0", "Reply 1", "Reply 2"]), ("A second comment", 0, [])]
    assert page.total == 6
    assert _in_a_transaction_again(db)
