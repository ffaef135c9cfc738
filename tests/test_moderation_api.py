"""Moderator endpoints: auth, the queue, decisions under concurrency, history and stats."""

from __future__ import annotations

import threading

import pytest

from tests.helpers import ABUSE, ARTICLE, assert_error, bearer, post

ROUTES = [
    ("get", "/api/v1/moderation/queue", None),
    ("post", "/api/v1/moderation/comments/1/decision", {"action": "approve"}),
    ("post", "/api/v1/moderation/decisions", {"decisions": [{"comment_id": 1, "action": "approve"}]}),
    ("get", "/api/v1/moderation/comments/1/history", None),
    ("get", "/api/v1/moderation/stats", None),
]


@pytest.mark.parametrize("method,path,body", ROUTES)
@pytest.mark.parametrize("headers", [{}, bearer("civ_1_wrong"), bearer("garbage"), {"Authorization": "Basic eDp5"}])
def test_every_moderation_route_needs_a_valid_token(client, moderator_token, method, path, body, headers):
    r = getattr(client, method)(path, json=body, headers=headers)
    assert_error(r, 401, "unauthorized")


def test_revoked_tokens_stop_working(client, db, moderator_token):
    from civility.moderators import revoke_moderator

    assert client.get("/api/v1/moderation/queue", headers=bearer(moderator_token)).status_code == 200
    revoke_moderator(db, "alice")
    assert client.get("/api/v1/moderation/queue", headers=bearer(moderator_token)).status_code == 401


def held(client, drain, *bodies, article=ARTICLE):
    ids = [post(client, body, article=article).json["id"] for body in bodies]
    drain()
    return ids


def test_abusive_comment_is_flagged_with_reasons_and_scores(client, drain, moderator_token):
    [comment_id] = held(client, drain, ABUSE)
    queue = client.get("/api/v1/moderation/queue", headers=bearer(moderator_token)).json
    assert queue["counts"]["flagged"] == 1
    [item] = queue["items"]
    assert item["id"] == comment_id and item["status"] == "flagged"
    assert item["scores"]["profanity"] > 0.7
    assert item["reasons"] and item["reasons"][0].startswith("profanity ")
    assert item["scorer"]["name"] == "profanity" and "fallback" in item["scorer"]["version"]
    assert item["version"] >= 1 and item["reports"] == []


def test_queue_filters_and_sorts(client, drain, moderator_token):
    held(client, drain, ABUSE, "shit", article="a-1")
    held(client, drain, "fuck this fucking shit", article="a-2")
    h = bearer(moderator_token)
    items = client.get("/api/v1/moderation/queue?article_id=a-2", headers=h).json["items"]
    assert {i["article_id"] for i in items} == {"a-2"}
    by_score = client.get("/api/v1/moderation/queue?sort=score", headers=h).json["items"]
    scores = [i["scores"]["profanity"] for i in by_score]
    assert scores == sorted(scores, reverse=True)
    oldest = client.get("/api/v1/moderation/queue?sort=oldest", headers=h).json["items"]
    assert [i["id"] for i in oldest] == sorted(i["id"] for i in oldest)
    assert client.get("/api/v1/moderation/queue?label=toxicity", headers=h).json["items"] == []
    assert len(client.get("/api/v1/moderation/queue?label=profanity&min_score=0.5", headers=h).json["items"]) == 3
    page = client.get("/api/v1/moderation/queue?sort=score&limit=2", headers=h).json
    rest = client.get(f"/api/v1/moderation/queue?sort=score&limit=2&cursor={page['next_cursor']}", headers=h).json
    assert len(page["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert {i["id"] for i in page["items"]}.isdisjoint({i["id"] for i in rest["items"]})


def test_approve_publishes_and_history_shows_every_step(client, drain, moderator_token):
    [comment_id] = held(client, drain, ABUSE)
    h = bearer(moderator_token)
    r = client.post(f"/api/v1/moderation/comments/{comment_id}/decision",
                    json={"action": "approve", "reason": "quoting the attacker"}, headers=h)
    assert r.status_code == 200
    assert r.json["status"] == "published" and r.json["decided_by"] == "alice"
    listed = client.get(f"/api/v1/articles/{ARTICLE}/comments").json["items"]
    assert [c["id"] for c in listed] == [comment_id]
    events = client.get(f"/api/v1/moderation/comments/{comment_id}/history", headers=h).json["events"]
    assert [(e["action"], e["from_status"], e["to_status"]) for e in events] == [
        ("create", None, "pending"), ("score", "pending", "flagged"), ("approve", "flagged", "published")]
    assert events[1]["actor"] == "scorer:profanity" and events[1]["scores"]["profanity"] > 0.7
    assert events[2]["actor"] == "moderator:alice" and events[2]["reason"] == "quoting the attacker"


def test_reject_hides_it_from_readers(client, drain, moderator_token):
    [comment_id] = held(client, drain, ABUSE)
    r = client.post(f"/api/v1/moderation/comments/{comment_id}/decision", json={"action": "reject"},
                    headers=bearer(moderator_token))
    assert r.json["status"] == "rejected"
    assert client.get(f"/api/v1/articles/{ARTICLE}/comments").json["items"] == []
    assert client.get(f"/api/v1/comments/{comment_id}").status_code == 404


def test_a_stale_version_is_409(client, drain, moderator_token):
    [comment_id] = held(client, drain, ABUSE)
    r = client.post(f"/api/v1/moderation/comments/{comment_id}/decision", json={"action": "approve", "version": 1},
                    headers=bearer(moderator_token))
    error = assert_error(r, 409, "conflict")
    assert error["details"]["current_version"] > 1


def test_two_moderators_at_once_one_wins_the_other_gets_409(client, app, drain, moderator_token, admin_token):
    """Both load the item (same version) and decide at the same moment, in two threads."""
    [comment_id] = held(client, drain, ABUSE)
    item = client.get("/api/v1/moderation/queue", headers=bearer(moderator_token)).json["items"][0]
    barrier = threading.Barrier(2)
    results = {}

    def decide(name, token, action):
        c = app.test_client()
        barrier.wait()
        results[name] = c.post(f"/api/v1/moderation/comments/{comment_id}/decision",
                               json={"action": action, "version": item["version"]}, headers=bearer(token))

    threads = [threading.Thread(target=decide, args=("alice", moderator_token, "approve")),
               threading.Thread(target=decide, args=("root", admin_token, "reject"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in results.values())
    assert statuses == [200, 409]
    loser = next(r for r in results.values() if r.status_code == 409)
    winner_name = next(n for n, r in results.items() if r.status_code == 200)
    assert f"already decided by {winner_name}" in loser.json["error"]["message"]
    events = client.get(f"/api/v1/moderation/comments/{comment_id}/history", headers=bearer(admin_token)).json
    assert sum(e["action"] in ("approve", "reject") for e in events["events"]) == 1


def test_deciding_again_without_a_version_is_409_and_overriding_needs_admin(client, drain, moderator_token,
                                                                          admin_token, db):
    from civility.moderators import create_moderator

    [comment_id] = held(client, drain, ABUSE)
    url = f"/api/v1/moderation/comments/{comment_id}/decision"
    first = client.post(url, json={"action": "reject"}, headers=bearer(moderator_token)).json
    assert_error(client.post(url, json={"action": "approve"}, headers=bearer(admin_token)), 409)
    bob = create_moderator(db, "bob")
    denied = client.post(url, json={"action": "approve", "version": first["version"]}, headers=bearer(bob))
    assert_error(denied, 403, "forbidden")
    allowed = client.post(url, json={"action": "approve", "version": first["version"]}, headers=bearer(admin_token))
    assert allowed.status_code == 200 and allowed.json["status"] == "published"


def test_bulk_decisions_report_each_result(client, drain, moderator_token):
    ids = held(client, drain, ABUSE, "shit happens, fuck")
    r = client.post("/api/v1/moderation/decisions", headers=bearer(moderator_token), json={"decisions": [
        {"comment_id": ids[0], "action": "reject", "reason": "abuse"},
        {"comment_id": ids[1], "action": "approve"},
        {"comment_id": 987654, "action": "approve"},
        {"comment_id": ids[0], "action": "approve"},
    ]})
    assert r.status_code == 200
    results = r.json["results"]
    assert [x["ok"] for x in results] == [True, True, False, False]
    assert [x["status"] for x in results] == [200, 200, 404, 409]
    assert results[0]["item"]["status"] == "rejected"
    assert results[3]["error"]["code"] == "conflict"


def test_bulk_rejects_more_than_500(client, moderator_token):
    decisions = [{"comment_id": 1, "action": "approve"}] * 501
    error = assert_error(client.post("/api/v1/moderation/decisions", json={"decisions": decisions},
                                     headers=bearer(moderator_token)), 422)
    assert "decisions" in error["details"]


def test_invalid_decisions_are_422(client, moderator_token):
    r = client.post("/api/v1/moderation/comments/1/decision", json={"action": "maybe"},
                    headers=bearer(moderator_token))
    assert "action" in assert_error(r, 422)["details"]
    assert_error(client.post("/api/v1/moderation/comments/424242/decision", json={"action": "approve"},
                             headers=bearer(moderator_token)), 404)
    assert_error(client.get("/api/v1/moderation/queue?status=bogus", headers=bearer(moderator_token)), 422)


def test_stats_show_queues_decisions_backlog_and_scorer(client, drain, moderator_token):
    [comment_id] = held(client, drain, ABUSE)
    post(client, "waiting for its score")
    client.post(f"/api/v1/moderation/comments/{comment_id}/decision", json={"action": "reject"},
                headers=bearer(moderator_token))
    stats = client.get("/api/v1/moderation/stats", headers=bearer(moderator_token)).json
    assert stats["queues"]["pending"] == 1 and stats["queues"]["flagged"] == 0
    assert stats["decisions_24h"] == {"approve": 0, "reject": 1}
    assert stats["scoring"]["backlog"] == 1 and stats["scoring"]["queue_depth"] == 1
    assert stats["scoring"]["latency_seconds_p50"] is not None
    assert stats["scorer"]["name"] == "profanity"


def test_moderation_routes_never_answer_cors(app_factory, moderator_token):
    client = app_factory(allowed_origins=("https://news.example",)).test_client()
    r = client.options("/api/v1/moderation/queue", headers={
        "Origin": "https://news.example", "Access-Control-Request-Method": "GET"})
    assert "Access-Control-Allow-Origin" not in r.headers
    public = client.get(f"/api/v1/articles/{ARTICLE}/comments", headers={"Origin": "https://news.example"})
    assert public.headers["Access-Control-Allow-Origin"] == "https://news.example"
    other = client.get(f"/api/v1/articles/{ARTICLE}/comments", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_stats_name_the_scorer_and_warn_when_it_is_the_fallback(client, drain, moderator_token):
    post(client, "Scored by whatever runs.")
    drain()  # the in-process drain scores with the profanity fallback
    scorer = client.get("/api/v1/moderation/stats", headers=bearer(moderator_token)).json["scorer"]
    assert scorer["name"] == "profanity" and scorer["fallback"] is True
    assert "fallback" in scorer["warning"]
