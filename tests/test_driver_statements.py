"""The hottest writes run on the driver's own connection (civility.store.driver): they must store
what the ORM reads back, fail as SQLAlchemy fails, and leave the pooled connection as it was lent."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import DBAPIError

from civility import lifecycle
from civility.policy import ModerationMode
from civility.store.comments import CommentRepository
from civility.store.db import Database
from civility.store.driver import DriverStatement, driver_connection
from civility.store.engagement import EngagementRepository, RecordedShare, add_share
from civility.store.models import ArticleActivity, ArticleShareTotal, Comment, ShareEvent

AT = datetime(2026, 12, 3, 9, 41, 7, 123456, tzinfo=UTC)
NOWHERE = DriverStatement(text("INSERT INTO no_such_table VALUES (1)"))


def new(comment: Comment, mode: ModerationMode = ModerationMode.POST) -> tuple[Comment, lifecycle.Event]:
    return comment, lifecycle.submit(comment, mode, "reader:Ann", AT, 60)


def test_a_share_is_stored_as_the_orm_reads_it_and_counted_once_per_share(database_url):
    db = Database(database_url)
    with db.driver_transaction() as connection:
        assert add_share(connection, "news/a", "x", "reader-1", AT) == RecordedShare(True, 1)
    with db.driver_transaction() as connection:
        assert add_share(connection, "news/a", "x", "reader-2", AT + timedelta(seconds=1)) == RecordedShare(True, 2)
    with db.read() as session:
        stored = session.scalars(select(ShareEvent).order_by(ShareEvent.id)).all()
        assert [(s.article_id, s.network, s.client, s.created_at) for s in stored] == [
            ("news/a", "x", "reader-1", AT), ("news/a", "x", "reader-2", AT + timedelta(seconds=1))]
        assert EngagementRepository(session).share_counts(["news/a"]) == {"news/a": {"x": 2}}
        assert session.get(ArticleShareTotal, "news/a").total == 2


def test_the_database_refuses_a_repeat_inside_the_window_and_counts_nothing(database_url):
    db = Database(database_url)
    with db.driver_transaction() as connection:
        assert add_share(connection, "news/a", "x", "reader-1", AT) == RecordedShare(True, 1)
    with db.driver_transaction() as connection:
        assert add_share(connection, "news/a", "x", "reader-1", AT + timedelta(minutes=5),
                         unless_since=AT - timedelta(minutes=1)) == RecordedShare(False, 1)
        # Another network, or a share older than the window, is not a repeat.
        assert add_share(connection, "news/a", "facebook", "reader-1", AT + timedelta(minutes=5),
                         unless_since=AT - timedelta(minutes=1)) == RecordedShare(True, 2)
    with db.driver_transaction() as connection:
        assert add_share(connection, "news/a", "x", "reader-1", AT + timedelta(hours=2),
                         unless_since=AT + timedelta(minutes=1)) == RecordedShare(True, 3)
        # Each article has its own total.
        assert add_share(connection, "news/b", "x", "reader-1", AT) == RecordedShare(True, 1)
    with db.read() as session:
        assert EngagementRepository(session).share_counts(["news/a"]) == {"news/a": {"x": 2, "facebook": 1}}


def test_a_failing_statement_raises_sqlalchemys_error_and_nothing_of_the_unit_is_kept(database_url):
    db = Database(database_url)
    with pytest.raises(DBAPIError) as raised, db.driver_transaction() as connection:
        if connection.dialect.name == "postgresql":
            connection.run(NOWHERE, {})  # each statement commits by itself there: one statement a unit
        add_share(connection, "news/a", "x", "reader-1", AT)
        connection.run(NOWHERE, {})
    assert "no_such_table" in str(raised.value)
    with db.read() as session:
        assert session.scalars(select(ShareEvent)).all() == []
    # The connection is usable, and transactional, for the next unit of work.
    with pytest.raises(RuntimeError), db.transaction() as session:
        session.add(ShareEvent(article_id="news/b", network="x", client="reader-1", created_at=AT))
        session.flush()
        raise RuntimeError("rolled back")
    with db.driver_transaction() as connection:
        assert add_share(connection, "news/c", "x", "reader-1", AT).counted
    with db.read() as session:
        assert [s.article_id for s in session.scalars(select(ShareEvent))] == ["news/c"]


def test_on_postgresql_the_connection_goes_back_to_the_pool_in_a_transaction_again(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's unit is a transaction of its own")
    db = Database(database_url, pool_size=1, max_overflow=0)  # the same connection every time
    with db.driver_transaction() as connection:
        assert add_share(connection, "news/a", "x", "reader-1", AT).counted
    with pytest.raises(DBAPIError), db.driver_transaction() as connection:
        connection.run(NOWHERE, {})
    with pytest.raises(RuntimeError), db.transaction() as session:
        session.add(ShareEvent(article_id="news/b", network="x", client="reader-1", created_at=AT))
        session.flush()
        raise RuntimeError("rolled back")
    with db.read() as session:
        assert [s.article_id for s in session.scalars(select(ShareEvent))] == ["news/a"]


def test_a_comment_added_on_the_driver_reads_back_with_its_defaults_json_and_times(database_url):
    db = Database(database_url)
    comment = Comment(article_id="news/a", author_name="Ann", body="Hello", html="<p>Hello</p>", status="published",
                      heuristics=["repeated text"], published_at=AT)
    with db.transaction() as session:
        repo = CommentRepository(session)
        repo.add(repo.new_comment(*new(comment)))
    assert comment.id and comment.version == 1 and comment.reasons == [] and comment.votes == 0
    with db.read() as session:
        stored = session.get(Comment, comment.id)
        assert (stored.heuristics, stored.reasons, stored.scores, stored.published_at, stored.votes) == (
            ["repeated text"], [], None, AT, 0)
        assert stored.created_at == comment.created_at and stored.created_at.tzinfo is not None


@pytest.mark.parametrize("mode", list(ModerationMode))
def test_a_new_comment_is_stored_with_its_history_and_counted_once_published(database_url, mode):
    db = Database(database_url)
    for n in range(2):
        comment, event = new(Comment(article_id="news/a", author_name="Ann", body=f"Hello {n}",
                                     html=f"<p>Hello {n}</p>"), mode)
        event = dataclasses.replace(event, details={"heuristics": ["repeated text"]})
        with db.transaction() as session:
            repo = CommentRepository(session)
            repo.add(repo.new_comment(comment, event))
    with db.read() as session:
        repo = CommentRepository(session)
        history = [(e.actor, e.action, e.from_status, e.to_status, e.at, e.details) for e in repo.events(comment.id)]
        assert history == [("reader:Ann", str(event.action), None, str(event.to_status), AT,
                            {"heuristics": ["repeated text"]})]
        counted = session.scalars(select(ArticleActivity.count).where(ArticleActivity.kind == "comment")).all()
        # Post-moderation publishes at once; pre-moderation counts the comment once a score publishes it.
        assert counted == ([2] if mode is ModerationMode.POST else [])


def test_rows_read_on_the_driver_are_converted_as_sqlalchemy_converts_them(database_url):
    db = Database(database_url)
    comment = Comment(article_id="news/a", author_name="Ann", body="Hello", html="<p>Hello</p>", status="published",
                      heuristics=["repeated text"], published_at=AT)
    columns = (Comment.heuristics, Comment.published_at, Comment.votes, Comment.author_name)
    by_id = DriverStatement(select(*columns).where(Comment.id == bindparam("id")))
    with db.transaction() as session:
        repo = CommentRepository(session)
        repo.add(repo.new_comment(*new(comment)))
        on_driver = driver_connection(session).run(by_id, {"id": comment.id})
        through_sqlalchemy = session.execute(select(*columns).where(Comment.id == comment.id)).all()
    assert on_driver == [tuple(row) for row in through_sqlalchemy] == [(["repeated text"], AT, 0, "Ann")]
