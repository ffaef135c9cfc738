"""On SQLite a unit of work that reads first takes the write lock only for its writes: a new
comment's lookups (its parent, the client's repeats, the webhook endpoints) run with the lock free,
and every other writer waits only while it inserts (Database.transaction(reads_first=True))."""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path

import pytest
from sqlalchemy import event, select

from civility.store.db import Database
from civility.store.models import ShareEvent, utcnow
from tests.helpers import ARTICLE

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class LockProbe:
    """Records each statement SQLite runs, and whether the write lock was free meanwhile."""

    def __init__(self, db: Database):
        path = Path(db.engine.url.database or "")
        self.lock_file = os.open(f"{path}.write-lock", os.O_RDWR | os.O_CREAT, 0o600)
        self.statements: list[tuple[str, bool]] = []
        db.engine.dispose()  # every connection from now on is traced
        event.listen(db.engine, "connect",
                     lambda dbapi_connection, _record: dbapi_connection.set_trace_callback(self._traced))

    def _traced(self, sql: str) -> None:
        try:
            fcntl.flock(self.lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.statements.append((sql, False))
            return
        fcntl.flock(self.lock_file, fcntl.LOCK_UN)
        self.statements.append((sql, True))

    def free_while(self, pattern: str) -> list[bool]:
        """For each statement matching ``pattern``: was the write lock free?"""
        return [free for sql, free in self.statements if re.search(pattern, sql, re.IGNORECASE | re.DOTALL)]

    def close(self) -> None:
        os.close(self.lock_file)


@pytest.fixture
def app(app_factory):
    return app_factory(moderation_mode="post")  # published at once: a reply can follow


@pytest.fixture
def probe(app):
    probe = LockProbe(app.extensions["civility"].db)
    yield probe
    probe.close()


def test_a_new_reply_looks_up_with_the_lock_free_and_inserts_under_it(client, probe):
    parent = client.post(f"/api/v1/articles/{ARTICLE}/comments", json={"body": "First!", "author_name": "Ann"})
    probe.statements.clear()
    reply = client.post(f"/api/v1/articles/{ARTICLE}/comments",
                        json={"body": "A reply.", "author_name": "Bob", "parent_id": parent.json["id"]})
    assert reply.status_code in (201, 202), reply.json
    assert probe.free_while(r"^SELECT .*\s+FROM comments\s+WHERE comments.id") == [True]  # the parent
    assert probe.free_while(r"^SELECT count\(\*\)") == []  # the client's repeats: counted when scored
    assert probe.free_while(r"^SELECT .*\s+FROM webhook_endpoints") == [True]
    assert probe.free_while(r"^BEGIN IMMEDIATE") == [False]
    assert probe.free_while(r"^INSERT INTO comments\b") == [False]
    assert probe.free_while(r"^INSERT INTO comment_events") == [False]


def test_a_unit_that_reads_first_writes_nothing_before_begin_writes(probe, db):
    with db.transaction(reads_first=True) as session:
        session.scalars(select(ShareEvent)).all()
        db.begin_writes(session)
        db.begin_writes(session)  # once begun, nothing more
        session.add(ShareEvent(article_id="news/a", network="x", client="reader-1", created_at=utcnow()))
    assert probe.free_while(r"^SELECT .*\s+FROM share_events") == [True]
    assert probe.free_while(r"^BEGIN IMMEDIATE") == [False]
    assert probe.free_while(r"^INSERT INTO share_events") == [False]


def test_changes_left_for_the_flush_are_written_under_the_lock_without_begin_writes(probe, db):
    with db.transaction(reads_first=True) as session:
        session.add(ShareEvent(article_id="news/a", network="x", client="reader-1", created_at=utcnow()))
    assert probe.free_while(r"^INSERT INTO share_events") == [False]
    with db.read() as session:
        assert len(session.scalars(select(ShareEvent)).all()) == 1


def test_a_unit_that_fails_after_begin_writes_leaves_nothing(probe, db):
    with pytest.raises(RuntimeError), db.transaction(reads_first=True) as session:
        db.begin_writes(session)
        session.add(ShareEvent(article_id="news/a", network="x", client="reader-1", created_at=utcnow()))
        session.flush()
        raise RuntimeError("the unit failed")
    assert probe.free_while(r"^ROLLBACK") == [False]
    with db.read() as session:
        assert session.scalars(select(ShareEvent)).all() == []
    with db.transaction() as session:  # and the lock was released
        session.add(ShareEvent(article_id="news/a", network="x", client="reader-2", created_at=utcnow()))


def test_by_default_the_whole_unit_holds_the_lock(probe, db):
    with db.transaction() as session:
        session.scalars(select(ShareEvent)).all()
    assert probe.free_while(r"^SELECT .*\s+FROM share_events") == [False]

