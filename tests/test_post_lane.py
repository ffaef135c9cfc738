"""The fast lane answers share and comment POSTs before Flask, exactly as Flask would.

A write cannot be sent twice to compare the answers, so two readers send the same writes to two
articles in the same state: one through the lane alone (its Flask behind it replaced by one that
records being asked), the other through Flask alone. The answers must match, but for what names the
article and the comment itself; rate limits are on, with small limits, so that their headers and
their refusals are compared too.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import ARTICLE, Lanes, as_client

OTHER = "culture/quiet-article"
ORIGIN = "https://news.example"
LIMITS = {"share": "3/minute;10/hour", "comment": "2/minute"}
# Values that name the article or the comment itself, and so differ between the two.
OWN = ("article_id", "id", "edit_token", "created_at", "updated_at", "total")


def request(n, body=None, headers=None):
    kwargs = as_client(n)
    kwargs["headers"] = {**kwargs["headers"], "Origin": ORIGIN, **(headers or {})}
    if body is not None:
        kwargs["json"] = body
    return kwargs


def same(fast, flask):
    assert fast.status_code == flask.status_code, (fast.get_data(), flask.get_data())
    fast_json, flask_json = fast.json, flask.json
    for key in OWN:
        fast_json.pop(key, None), flask_json.pop(key, None)
    assert fast_json == flask_json
    # Serialised alike: Flask's JSON (sorted keys, ASCII, a newline) or the service's own bytes.
    assert fast.get_data().endswith(b"\n") == flask.get_data().endswith(b"\n")
    assert (b"\\u" in fast.get_data()) == (b"\\u" in flask.get_data())
    timing = ("X-RateLimit-Reset", "Retry-After", "Content-Length")
    assert sorted((k, v) for k, v in fast.headers.items() if k not in timing) == \
        sorted((k, v) for k, v in flask.headers.items() if k not in timing)
    for name in timing[:2]:
        assert (name in fast.headers) == (name in flask.headers)
        if name in fast.headers:
            assert abs(int(fast.headers[name]) - int(flask.headers[name])) <= 1


@pytest.fixture
def app(app_factory):
    return app_factory(allowed_origins=(ORIGIN, "https://other.example"), rate_limits=dict(LIMITS))


def test_shares_are_answered_by_the_lane_as_flask_would_up_to_the_refusal(app):
    lanes = Lanes(app)
    for network in ("facebook", "facebook", "email", "email"):  # a repeat, then the limit of 3
        fast, by_lane = lanes.post(lanes.lane, f"/api/v1/articles/{ARTICLE}/shares", **request(1, {"network": network}))
        flask, _ = lanes.post(lanes.flask, f"/api/v1/articles/{OTHER}/shares", **request(2, {"network": network}))
        assert by_lane
        same(fast, flask)
        assert fast.json.get("article_id", ARTICLE) == ARTICLE and flask.json.get("article_id", OTHER) == OTHER
    assert [fast.status_code, int(fast.headers["Retry-After"])] >= [429, 50]
    assert fast.json["error"]["code"] == "rate_limited"


def test_comments_are_answered_by_the_lane_as_flask_would_up_to_the_refusal(app):
    lanes = Lanes(app)
    bodies = ["Ein gründlicher Kommentar, mit Umlauten.", "A reply to the news, in plain words.", "A third one."]
    for body in bodies:
        fast, by_lane = lanes.post(lanes.lane, f"/api/v1/articles/{ARTICLE}/comments",
                                   **request(1, {"body": body, "author_name": "Zoë"}))
        flask, _ = lanes.post(lanes.flask, f"/api/v1/articles/{OTHER}/comments",
                              **request(2, {"body": body, "author_name": "Zoë"}))
        assert by_lane
        same(fast, flask)
    assert fast.status_code == 429
    first = lanes.flask.get(f"/api/v1/articles/{ARTICLE}/comments")  # pending: not shown yet
    assert first.status_code == 200


def test_a_comment_published_at_once_is_a_201_from_the_lane_too(app_factory):
    app = app_factory(moderation_mode="post", rate_limits=dict(LIMITS))
    lanes = Lanes(app)
    fast, by_lane = lanes.post(lanes.lane, f"/api/v1/articles/{ARTICLE}/comments",
                               **request(1, {"body": "Published at once, fairly.", "author_name": "Ann"}))
    flask, _ = lanes.post(lanes.flask, f"/api/v1/articles/{OTHER}/comments",
                          **request(2, {"body": "Published at once, fairly.", "author_name": "Ann"}))
    assert by_lane and fast.status_code == 201
    same(fast, flask)
    thread = lanes.flask.get(f"/api/v1/articles/{ARTICLE}/comments").json
    assert [item["body"] for item in thread["items"]] == ["Published at once, fairly."]
    # The edit token the lane handed out works.
    edit = lanes.flask.patch(f"/api/v1/comments/{fast.json['id']}", json={"body": "Edited, fairly."},
                             headers={"X-Edit-Token": fast.json["edit_token"]})
    assert edit.status_code == 200, edit.json


def test_the_lane_and_flask_count_against_the_same_limits(app):
    lanes = Lanes(app)
    for network in ("x", "reddit", "email"):
        assert lanes.post(lanes.lane, f"/api/v1/articles/{ARTICLE}/shares",
                          **request(7, {"network": network}))[0].status_code == 202
    refused = lanes.flask.post(f"/api/v1/articles/{ARTICLE}/shares", **request(7, {"network": "bluesky"}))
    assert refused.status_code == 429
    assert lanes.post(lanes.lane, f"/api/v1/articles/{ARTICLE}/shares",
                      **request(8, {"network": "bluesky"}))[0].status_code == 202


def test_behind_a_proxy_the_lane_reads_the_reader_as_flask_does(app_factory):
    app = app_factory(trusted_proxies=1, rate_limits={"share": "1/minute"})
    lanes = Lanes(app)
    behind = {"environ_base": {"REMOTE_ADDR": "10.0.0.1"}}
    sent = lanes.lane.post(f"/api/v1/articles/{ARTICLE}/shares", json={"network": "x"},
                           headers={"X-Forwarded-For": "198.51.100.7"}, **behind)
    assert sent.status_code == 202 and lanes.flask_asked == 0
    again = lanes.flask.post(f"/api/v1/articles/{ARTICLE}/shares", json={"network": "x"},
                             headers={"X-Forwarded-For": "198.51.100.7"}, **behind)
    assert again.status_code == 429  # the same reader, by its forwarded address
    other = lanes.lane.post(f"/api/v1/articles/{ARTICLE}/shares", json={"network": "x"},
                            headers={"X-Forwarded-For": "198.51.100.99"}, **behind)
    assert other.status_code == 202 and other.json["counted"] is True


def test_the_lane_counts_its_answers_in_flasks_metrics(app):
    lanes = Lanes(app)
    registry = app.extensions["civility_metrics"].registry
    labels = {"endpoint": "engagement.share", "method": "POST", "status": "202"}
    before = registry.get_sample_value("civility_http_requests_total", labels) or 0
    answer, by_lane = lanes.post(lanes.lane, f"/api/v1/articles/{ARTICLE}/shares", **request(3, {"network": "x"}))
    assert by_lane and answer.status_code == 202
    assert registry.get_sample_value("civility_http_requests_total", labels) == before + 1


SHARES, COMMENTS = f"/api/v1/articles/{ARTICLE}/shares", f"/api/v1/articles/{ARTICLE}/comments"


@pytest.mark.parametrize("path, kwargs", [
    (SHARES, {"json": {"network": "myspace"}}),
    (SHARES, {"json": {"network": 7}}),
    (SHARES, {"json": ["facebook"]}),
    (SHARES, {"json": {}}),
    (SHARES, {"data": "{\"network\": \"x\"", "content_type": "application/json"}),
    (SHARES, {"data": b"{\"network\": \"\xff\"}", "content_type": "application/json"}),
    (SHARES, {"data": "network=x", "content_type": "application/x-www-form-urlencoded"}),
    (SHARES, {"data": "{\"network\": \"x\"}", "content_type": "text/plain"}),
    (SHARES, {"json": {"network": "x"}, "headers": {"Authorization": "Bearer not-a-token"}}),
    ("/api/v1/articles/bad%20id/shares", {"json": {"network": "x"}}),
    (SHARES, {"data": "[" * 5000 + "]" * 5000, "content_type": "application/json"}),
    (COMMENTS, {"json": {"body": "", "author_name": "Ann"}}),
    (COMMENTS, {"json": {"body": "x" * 20_001, "author_name": "Ann"}}),
    (COMMENTS, {"json": {"body": "Fine words.", "author_name": "Ann", "parent_id": "7"}}),
    (COMMENTS, {"json": {"body": "Fine words.", "author_name": "Ann", "parent_id": 0}}),
    (COMMENTS, {"json": {"author_name": "Ann"}}),
    (COMMENTS, {"json": {"body": "Fine words.", "author_name": "Ann"}, "headers": {"X-Edit-Token": "t"}}),
    (COMMENTS, {"json": {"body": "Fine words."}, "headers": {"Authorization": "Bearer not-a-token"}}),
    ("/api/v1/comments/999999/votes", {"json": {"value": 1}}),
])
def test_anything_but_a_plainly_valid_write_goes_to_flask_unchanged(app, path, kwargs):
    lanes = Lanes(app)
    fast, by_lane = lanes.post(lanes.lane, path, **kwargs)
    flask = lanes.flask.post(path, **kwargs)
    assert not by_lane
    assert fast.status_code == flask.status_code and fast.status_code < 500
    if fast.status_code >= 400:
        assert fast.json["error"] == flask.json["error"]


def test_an_error_while_storing_is_answered_as_flask_answers_it(app, db):
    lanes = Lanes(app)
    from sqlalchemy import text

    missing_parent = {"body": "A reply to nothing at all.", "author_name": "Ann", "parent_id": 999_999}
    fast, by_lane = lanes.post(lanes.lane, COMMENTS, **request(4, missing_parent))
    flask, _ = lanes.post(lanes.flask, f"/api/v1/articles/{OTHER}/comments", **request(5, missing_parent))
    assert by_lane and fast.status_code >= 400
    same(fast, flask)
    with db.transaction() as session:
        session.execute(text("ALTER TABLE share_events RENAME TO share_events_away"))
    try:
        fast, by_lane = lanes.post(lanes.lane, SHARES, **request(4, {"network": "x"}))
        flask, _ = lanes.post(lanes.flask, f"/api/v1/articles/{OTHER}/shares", **request(5, {"network": "x"}))
    finally:
        with db.transaction() as session:
            session.execute(text("ALTER TABLE share_events_away RENAME TO share_events"))
    # SQLite calls a missing table an operational error (503), PostgreSQL a programming one (500).
    assert by_lane and fast.status_code in (500, 503)
    same(fast, flask)
    assert json.loads(lanes.lane.post(SHARES, **request(4, {"network": "x"})).get_data())["counted"] is True
