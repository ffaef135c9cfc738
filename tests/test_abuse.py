"""Abuse and hygiene: spam heuristics, rate limits on every write, headers, and clean logs."""

from __future__ import annotations

import logging
import time

import jwt
import pytest

from civility.store.comments import CommentRepository
from tests.helpers import ARTICLE, as_client, assert_error, bearer, post

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_the_same_text_repeated_by_one_client_is_held_with_a_reason(client, drain, moderator_token):
    first = post(client, "Buy cheap watches now").json
    second = post(client, "Buy cheap watches now").json
    other_client = client.post(f"/api/v1/articles/{ARTICLE}/comments",
                               json={"body": "Buy cheap watches now", "author_name": "x"}, **as_client(3)).json
    drain()
    items = {i["id"]: i for i in client.get("/api/v1/moderation/queue", headers=bearer(moderator_token)).json["items"]}
    assert first["id"] not in items and other_client["id"] not in items
    assert items[second["id"]]["reasons"] == ["repeated text from the same client (x2 in 10 min)"]


def test_a_repeat_counts_the_comments_before_it_whenever_it_is_scored(client, db, drain, moderator_token):
    first = post(client, "Buy cheap watches now").json
    drain()
    later = [post(client, "Buy cheap watches now").json for _ in range(2)]
    drain()
    queue = {i["id"]: i["reasons"] for i in client.get("/api/v1/moderation/queue",
                                                        headers=bearer(moderator_token)).json["items"]}
    assert queue == {later[0]["id"]: ["repeated text from the same client (x2 in 10 min)"],
                     later[1]["id"]: ["repeated text from the same client (x3 in 10 min)"]}
    assert client.get(f"/api/v1/comments/{first['id']}").json["status"] == "published"
    with db.read() as session:  # the finding is kept with the comment, as the link rules' are
        stored = CommentRepository(session).get(later[1]["id"])
        assert stored.heuristics == ["repeated text from the same client (x3 in 10 min)"]


def test_an_edit_to_the_text_of_an_earlier_comment_is_not_a_repeat(client, drain, moderator_token):
    post(client, "Buy cheap watches now")
    edited = post(client, "Something else entirely").json
    drain()
    answer = client.patch(f"/api/v1/comments/{edited['id']}", json={"body": "Buy cheap watches now"},
                          headers={"X-Edit-Token": edited["edit_token"]})
    assert answer.status_code == 200, answer.json
    drain()
    assert client.get(f"/api/v1/comments/{edited['id']}").json["status"] == "published"
    assert client.get("/api/v1/moderation/queue", headers=bearer(moderator_token)).json["items"] == []


def test_only_link_heavy_comments_are_held_for_their_links(client, drain, moderator_token):
    spam = post(client, "https://spam.example/a https://spam.example/b https://spam.example/c").json
    bare = post(client, "https://spam.example/only\n\n(https://spam.example/more)").json
    cited = post(client, "A reply with a source: https://example.org/report").json
    two = post(client, "The ministry's statement https://gov.example/statement and the reply "
                       "https://gov.example/reply are both worth reading before judging.").json
    drain()
    queue = {i["id"]: i["reasons"] for i in client.get("/api/v1/moderation/queue",
                                                        headers=bearer(moderator_token)).json["items"]}
    assert queue == {spam["id"]: ["link-heavy (3 links)"], bare["id"]: ["nothing but links (2 links)"]}
    for ok in (cited, two):
        assert client.get(f"/api/v1/comments/{ok['id']}").json["status"] == "published"


@pytest.mark.parametrize("action", ["comment", "edit", "vote", "report", "share"])
def test_every_write_is_rate_limited_per_client(app_factory, drain, action):
    app = app_factory(rate_limits={action: "2/minute"})
    client = app.test_client()
    target = post(client, "a comment to act on", headers={"User-Agent": "author"}).json
    drain()

    def write(n):
        kwargs = as_client(n)
        if action == "comment":
            return client.post(f"/api/v1/articles/{ARTICLE}/comments", json={"body": f"hi {time.time()}",
                                                                          "author_name": "x"}, **kwargs)
        if action == "edit":
            kwargs["headers"]["X-Edit-Token"] = target["edit_token"]
            return client.patch(f"/api/v1/comments/{target['id']}", json={"body": f"edit {time.time()}"}, **kwargs)
        if action == "vote":
            return client.post(f"/api/v1/comments/{target['id']}/votes", json={"value": 1}, **kwargs)
        if action == "report":
            return client.post(f"/api/v1/comments/{target['id']}/reports", json={"reason": "spam"}, **kwargs)
        return client.post(f"/api/v1/articles/{ARTICLE}/shares", json={"network": "x"}, **kwargs)

    answers = [write(1) for _ in range(4)]
    assert [r.status_code < 400 for r in answers] == [True, True, False, False]
    assert_error(answers[-1], 429, "rate_limited")
    assert int(answers[-1].headers["Retry-After"]) > 0
    assert write(2).status_code < 400  # another client is unaffected


def test_api_and_error_responses_send_nosniff(client):
    for response in (client.get(f"/api/v1/articles/{ARTICLE}/comments"), client.get("/api/v1/comments/424242"),
                     client.get("/healthz")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_no_token_ip_or_comment_text_in_logs(app_factory, drain, caplog, moderator_token):
    secret = "a-site-secret-that-is-long-enough-for-hs256"
    app = app_factory(sso_secret=secret, redis_url="redis://127.0.0.1:1/0")  # Redis down: warnings get logged
    client = app.test_client()
    identity = jwt.encode({"sub": "r1", "name": "R", "exp": time.time() + 60}, secret, algorithm="HS256")
    caplog.set_level(logging.INFO)
    text = "A very particular sentence that must never reach the logs"
    created = client.post(f"/api/v1/articles/{ARTICLE}/comments", json={"body": text}, headers=bearer(identity),
                          environ_base={"REMOTE_ADDR": "203.0.113.9"}).json
    client.patch(f"/api/v1/comments/{created['id']}", json={"body": text + " again"},
                 headers={"X-Edit-Token": created["edit_token"]})
    client.get("/api/v1/moderation/queue", headers=bearer(moderator_token))
    client.get("/api/v1/moderation/queue", headers=bearer("civ_1_wrong"))
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "could not reach Redis" in logged  # the outage itself is logged
    for secret_value in (text, created["edit_token"], identity, moderator_token, "203.0.113.9", "civ_1_wrong"):
        assert secret_value not in logged
