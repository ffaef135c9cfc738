"""Readers' data rights: export, erasure (admin and self-service) and retention."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import func, select, update

from civility.identity import Client, Reader
from civility.infra.jobqueue import ScoringQueue
from civility.readers import apply_retention
from civility.store.models import ArticleActivity, AuditEvent, Base, Comment, ShareEvent, Vote, utcnow
from civility.sweeper import sweep
from tests.helpers import ARTICLE, assert_error, bearer, post

SECRET = "readers-test-secret-of-at-least-32-bytes"
ALICE, ALICE_NAME, ALICE_TEXT = "alice-sub-7781", "Alicezyx Quill", "Alicebody unique wording"
ALICE_NOTE = "alicenote q"
BOB, BOB_NAME, BOB_TEXT = "bob-sub-9932", "Bobqrs Marsh", "Bobbody distinct wording"


def token(sub: str, name: str) -> dict:
    return bearer(jwt.encode({"sub": sub, "name": name, "exp": time.time() + 600}, SECRET, algorithm="HS256"))


@pytest.fixture
def app(app_factory):
    return app_factory(sso_secret=SECRET, moderation_mode="post")


@pytest.fixture
def world(client):
    """Alice and Bob comment, reply, vote, report and share."""
    alice, bob = token(ALICE, ALICE_NAME), token(BOB, BOB_NAME)
    a = post(client, ALICE_TEXT, name=ALICE_NAME, headers=alice).json
    b = post(client, BOB_TEXT, name=BOB_NAME, headers=bob).json
    reply = post(client, "Bob replies here", name=BOB_NAME, headers=bob, parent_id=a["id"]).json
    assert client.post(f"/api/v1/comments/{b['id']}/votes", json={"value": 1}, headers=alice).status_code == 200
    assert client.post(f"/api/v1/comments/{a['id']}/votes", json={"value": -1}, headers=bob).status_code == 200
    assert client.post(f"/api/v1/comments/{b['id']}/reports", json={"reason": "spam", "note": ALICE_NOTE},
                       headers=alice).status_code == 202
    assert client.post(f"/api/v1/articles/{ARTICLE}/shares", json={"network": "x"},
                       headers=alice).status_code == 202
    return {"alice": alice, "bob": bob, "a": a["id"], "b": b["id"], "reply": reply["id"]}


def key_of(app, sub: str) -> str:
    return Client.of(Reader(sub, None), None, app.extensions["civility"].client_hash_salt()).key


def dump(db) -> str:
    """Every row of every table, as text."""
    with db.read() as session:
        return "\n".join(repr(tuple(row)) for table in Base.metadata.sorted_tables
                         for row in session.execute(select(table)))


def votes_consistent(db) -> bool:
    with db.read() as session:
        sums = dict(session.execute(select(Vote.comment_id, func.sum(Vote.value)).group_by(Vote.comment_id)).all())
        return all(c.votes == sums.get(c.id, 0) for c in session.scalars(select(Comment)))


def test_export_holds_one_readers_data_only(app, client, admin_token, world):
    mine = client.get("/api/v1/me/export", headers=world["alice"])
    assert mine.status_code == 200
    doc = mine.json
    assert [c["body"] for c in doc["comments"]] == [ALICE_TEXT]
    assert doc["comments"][0]["history"][0]["by"] == "you"
    assert doc["votes"] == [{"comment_id": world["b"], "value": 1, "at": doc["votes"][0]["at"]}]
    assert [(r["comment_id"], r["note"]) for r in doc["reports"]] == [(world["b"], ALICE_NOTE)]
    assert [(s["article_id"], s["network"]) for s in doc["shares"]] == [(ARTICLE, "x")]
    text = json.dumps(doc)
    assert BOB_TEXT not in text and BOB not in text and "Bob replies" not in text and BOB_NAME not in text

    bobs = client.get(f"/api/v1/moderation/readers/{BOB}/export", headers=bearer(admin_token)).json
    text = json.dumps(bobs)
    assert ALICE not in text and ALICE_NOTE not in text and ALICE_TEXT not in text and ALICE_NAME not in text
    assert key_of(app, ALICE)[:12] not in text
    report = [e for c in bobs["comments"] for e in c["history"] if e["action"] == "report"]
    assert report and report[0]["by"] == "reader"
    assert len(bobs["comments"]) == 2 and bobs["votes"][0]["comment_id"] == world["a"]


def test_admin_only_and_token_required(client, moderator_token, world):
    assert_error(client.get(f"/api/v1/moderation/readers/{ALICE}/export", headers=bearer(moderator_token)), 403)
    assert_error(client.delete(f"/api/v1/moderation/readers/{ALICE}", headers=bearer(moderator_token)), 403)
    assert_error(client.get(f"/api/v1/moderation/readers/{ALICE}/export"), 401)
    assert_error(client.get("/api/v1/me/export"), 401)
    assert_error(client.delete("/api/v1/me"), 401)
    assert_error(client.delete("/api/v1/me", headers=bearer("not-a-token")), 401)


def test_erase_leaves_nothing_and_keeps_counts(app, client, db, admin_token, world):
    key = key_of(app, ALICE)
    counts_before = client.get("/api/v1/counts", query_string={"article_id": ARTICLE}).json["counts"][ARTICLE]
    with db.read() as session:
        activity_before = session.execute(select(ArticleActivity.kind, ArticleActivity.count)).all()
    answer = client.delete(f"/api/v1/moderation/readers/{ALICE}", headers=bearer(admin_token))
    assert answer.status_code == 200
    assert answer.json == {"comments": 1, "votes": 1, "reports": 1, "shares": 1}

    rows = dump(db)
    for secret in (ALICE, ALICE_NAME, ALICE_TEXT, ALICE_NOTE, key, key[:12]):
        assert secret not in rows, secret
    assert BOB_TEXT in rows and "Bob replies here" in rows  # others keep their data
    assert votes_consistent(db)
    with db.read() as session:
        erased = session.get(Comment, world["a"])
        assert erased.status == "deleted" and erased.votes == -1 and erased.edit_token_hash is None
        assert session.get(Comment, world["b"]).votes == 0
        assert session.scalars(select(ShareEvent.client)).all() == ["erased"]
        assert session.execute(select(ArticleActivity.kind, ArticleActivity.count)).all() == activity_before
        audit = session.scalars(select(AuditEvent)).all()
    assert [(e.action, e.details) for e in audit] == [
        ("reader_erased", {"comments": 1, "votes": 1, "reports": 1, "shares": 1})]

    counts = client.get("/api/v1/counts", query_string={"article_id": ARTICLE}).json["counts"][ARTICLE]
    assert counts == {"comments": counts_before["comments"] - 1, "shares": counts_before["shares"]}
    # The thread keeps the reply under a placeholder.
    thread = client.get(f"/api/v1/articles/{ARTICLE}/comments", query_string={"sort": "oldest"}).json["items"]
    placeholder = next(c for c in thread if c["id"] == world["a"])
    assert placeholder["body"] == "" and placeholder["author"] == {"name": "", "id": None}
    assert [r["body"] for r in placeholder["replies"]] == ["Bob replies here"]

    # Idempotent: nothing more to erase, nothing changes but the audit trail.
    again = client.delete(f"/api/v1/moderation/readers/{ALICE}", headers=bearer(admin_token))
    assert again.json == {"comments": 0, "votes": 0, "reports": 0, "shares": 0}
    assert dump(db).count("erased") >= rows.count("erased")
    assert client.get(f"/api/v1/moderation/readers/{ALICE}/export", headers=bearer(admin_token)).json["comments"] == []


def test_self_service_erase(client, db, world):
    answer = client.delete("/api/v1/me", headers=world["bob"])
    assert answer.status_code == 200 and answer.json["comments"] == 2
    rows = dump(db)
    for secret in (BOB, BOB_NAME, BOB_TEXT, "Bob replies here"):
        assert secret not in rows
    assert ALICE_TEXT in rows and votes_consistent(db)
    assert client.get("/api/v1/me/export", headers=world["bob"]).json["comments"] == []


def test_retention_forgets_old_hashes_and_share_rows(app_factory, redis_client):
    app = app_factory(retention_days=30, moderation_mode="post")
    client, svc = app.test_client(), app.extensions["civility"]
    old = post(client, "An old comment").json["id"]
    new = post(client, "A new comment").json["id"]
    client.post(f"/api/v1/articles/{ARTICLE}/shares", json={"network": "x"})
    client.post(f"/api/v1/articles/{ARTICLE}/shares", json={"network": "email"})
    long_ago = utcnow() - timedelta(days=31)
    with svc.db.transaction() as session:
        session.execute(update(Comment).where(Comment.id == old).values(created_at=long_ago))
        session.execute(update(ShareEvent).where(ShareEvent.network == "x").values(created_at=long_ago))
    with svc.db.read() as session:
        activity = session.execute(select(ArticleActivity.kind, ArticleActivity.count)).all()
    result = sweep(svc.db, svc.settings, ScoringQueue(redis_client, svc.settings))
    assert (result.forgotten_client_hashes, result.deleted_share_events) == (1, 1)
    with svc.db.read() as session:
        assert session.get(Comment, old).client_hash is None
        assert session.get(Comment, new).client_hash is not None
        assert session.scalars(select(ShareEvent.network)).all() == ["email"]
        assert session.execute(select(ArticleActivity.kind, ArticleActivity.count)).all() == activity
    assert client.get(f"/api/v1/articles/{ARTICLE}/shares").json["total"] == 2
    assert apply_retention(svc.db, svc.settings).client_hashes == 0  # nothing more to do


def test_cli_export_and_erase(app, client, db, world, monkeypatch):
    from click.testing import CliRunner

    from service.cli import main
    from tests.helpers import settings_env

    for name, value in settings_env(app.extensions["civility"].settings).items():
        if not name.startswith("CIVILITY_"):
            continue
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    exported = runner.invoke(main, ["readers", "export", "--sub", ALICE])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.output)["comments"][0]["body"] == ALICE_TEXT
    assert runner.invoke(main, ["readers", "export"]).exit_code != 0
    erased = runner.invoke(main, ["readers", "erase", "--sub", ALICE, "--yes"])
    assert erased.exit_code == 0 and "erased 1 comments" in erased.output, erased.output
    assert ALICE_TEXT not in dump(db)


def test_cli_export_by_edit_token(app, client, monkeypatch):
    from click.testing import CliRunner

    from service.cli import main
    from tests.helpers import settings_env

    created = post(client, "Anonymous words here", name="Anon").json
    post(client, "Someone else nearby", name="Other")
    for name, value in settings_env(app.extensions["civility"].settings).items():
        if not name.startswith("CIVILITY_"):
            continue
        monkeypatch.setenv(name, value)
    out = CliRunner().invoke(main, ["readers", "export", "--edit-token", created["edit_token"]])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert [c["body"] for c in doc["comments"]] == ["Anonymous words here"] and "Someone else" not in out.output
