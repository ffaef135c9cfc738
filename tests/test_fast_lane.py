"""The fast lane answers cache hits of thread pages and /counts before Flask, exactly as Flask would.

Each request is sent twice: to the fast lane alone (its Flask behind it replaced by one that records
being asked) and to Flask alone. A hit must be answered by the lane, with Flask's status, body and
headers; anything else must be handed to Flask.
"""

from __future__ import annotations

import gzip
import json
from urllib.parse import urlencode

import pytest

from civility.config import DEFAULT_RATE_LIMITS
from tests.helpers import ARTICLE, Lanes, as_client

THREAD = f"/api/v1/articles/{ARTICLE}/comments"
OTHER = "culture/quiet-article"
ORIGIN = "https://news.example"


@pytest.fixture
def app(app_factory):
    # Two allowed origins: flask-cors then echoes the caller's and adds Vary: Origin. Rate limits as
    # in production: whatever the limiter adds to an answer, the lane's must match.
    return app_factory(allowed_origins=(ORIGIN, "https://other.example"), rate_limits=dict(DEFAULT_RATE_LIMITS))


def same(fast, flask):
    assert fast.status_code == flask.status_code
    assert fast.get_data() == flask.get_data()
    assert sorted(fast.headers.items()) == sorted(flask.headers.items())


@pytest.fixture
def warm_thread(client, drain):
    for who in range(3):
        answer = client.post(THREAD, json={"body": f"Comment number {who}, on topic.", "author_name": "Ann"},
                             **as_client(who))
        assert answer.status_code in (201, 202), answer.json
    drain()
    for query in ({}, {"sort": "newest"}, {"sort": "top", "limit": "2"}):
        assert client.get(THREAD, query_string=query).status_code == 200
    cursor = client.get(THREAD, query_string={"limit": "2"}).json["next_cursor"]
    assert cursor
    client.get(THREAD, query_string={"limit": "2", "cursor": cursor})
    return cursor


def thread_hits(cursor, etag):
    yield THREAD, {}
    yield THREAD, {"headers": {"Accept-Encoding": "gzip, deflate, br"}}
    yield THREAD, {"headers": {"Accept-Encoding": "gzip;q=0, identity"}}
    yield THREAD, {"headers": {"Accept-Encoding": "gzip", "If-None-Match": etag}}
    yield THREAD, {"headers": {"If-None-Match": etag.replace("-gz", "")}}
    yield THREAD, {"headers": {"Origin": ORIGIN, "Accept-Encoding": "gzip"}}
    yield THREAD, {"headers": {"Origin": "https://evil.example"}}
    yield THREAD + "?sort=newest", {}
    yield THREAD + "?limit=2&sort=top", {}
    yield THREAD + "?sort=oldest&limit=50", {}
    yield f"{THREAD}?limit=2&cursor={cursor}", {}


def test_a_warm_thread_page_is_answered_by_the_lane_as_flask_would(app, warm_thread):
    lanes = Lanes(app)
    etag = lanes.flask.get(THREAD, headers={"Accept-Encoding": "gzip"}).headers["ETag"]
    for path, kwargs in thread_hits(warm_thread, etag):
        fast, flask, by_lane = lanes.both(path, **kwargs)
        assert by_lane, (path, kwargs)
        same(fast, flask)
    answer = lanes.lane.get(THREAD, headers={"Accept-Encoding": "gzip", "Origin": ORIGIN})
    assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert len(json.loads(gzip.decompress(answer.get_data()))["items"]) == 3
    assert lanes.lane.get(THREAD, headers={"If-None-Match": etag}).status_code == 304


def test_the_lane_counts_its_answers_in_flasks_metrics(app, warm_thread):
    lanes = Lanes(app)
    registry = app.extensions["civility_metrics"].registry
    labels = {"endpoint": "comments.list_comments", "method": "GET", "status": "200"}
    before = registry.get_sample_value("civility_http_requests_total", labels) or 0
    fast, _, by_lane = lanes.both(THREAD)
    assert by_lane and fast.status_code == 200
    # One from the lane, one from Flask.
    assert registry.get_sample_value("civility_http_requests_total", labels) == before + 2


@pytest.mark.parametrize("path, kwargs", [
    (THREAD, {"headers": {"Authorization": "Bearer something"}}),
    (THREAD, {"headers": {"X-Edit-Token": "something"}}),
    (THREAD + "?sort=loudest", {}),
    (THREAD + "?limit=0", {}),
    (THREAD + "?limit=101", {}),
    (THREAD + "?limit=05", {}),
    (THREAD + "?limit=1.0", {}),
    (THREAD + "?sort=top&sort=newest", {}),
    (THREAD + "?page=2", {}),
    (THREAD + "?limit", {}),
    (THREAD + "?cursor=" + "x" * 513, {}),
    (THREAD + "?cursor=not-a-cursor", {}),
    (THREAD + "?limit=7", {}),  # valid, not cached yet
    (f"/api/v1/articles/{OTHER}/comments", {}),
    ("/api/v1/articles/bad%20id/comments", {}),
    ("/api/v1/articles//comments", {}),
])
def test_anything_but_a_plain_hit_goes_to_flask_unchanged(app, warm_thread, path, kwargs):
    lanes = Lanes(app)
    fast, flask, by_lane = lanes.both(path, **kwargs)
    assert not by_lane
    assert fast.status_code == flask.status_code
    if fast.status_code >= 400:
        assert fast.status_code < 500 and fast.json["error"]["code"] == flask.json["error"]["code"]


def test_a_head_or_a_post_never_takes_the_lane(app, warm_thread):
    lanes = Lanes(app)
    asked = lanes.flask_asked
    assert lanes.lane.head(THREAD).status_code == 200
    assert lanes.lane.post(THREAD, json={}).status_code == 422
    assert lanes.flask_asked == asked + 2


COUNTS = "/api/v1/counts"


def counts_path(*ids: str) -> str:
    return COUNTS + "?" + urlencode([("article_id", a) for a in ids])


def copied_to_redis(app) -> None:
    """What the process's background thread does within milliseconds of a share
    (civility.infra.share_totals): its total copied to Redis."""
    app.extensions["civility"].engagement.totals.flush()


def test_warm_counts_are_answered_by_the_lane_as_flask_would(app, client, warm_thread):
    lanes = Lanes(app)
    ids = (ARTICLE, OTHER)
    cold, _, by_lane = lanes.both(counts_path(*ids))
    assert not by_lane and cold.status_code == 200  # rebuilt by Flask, and kept in Redis
    assert client.post(f"/api/v1/articles/{ARTICLE}/shares", json={"network": "email"}).status_code == 202
    copied_to_redis(app)
    for path, kwargs in [(counts_path(*ids), {}), (counts_path(*ids, ARTICLE), {}),
                         (counts_path(*ids), {"headers": {"Origin": ORIGIN}})]:
        fast, flask, by_lane = lanes.both(path, **kwargs)
        assert by_lane, path
        same(fast, flask)
    assert fast.json["counts"][ARTICLE] == {"comments": 3, "shares": 1}
    assert fast.json["counts"][OTHER] == {"comments": 0, "shares": 0}
    assert "%2F" in counts_path(ARTICLE), "the ids went percent-encoded, as browsers send them"


@pytest.mark.parametrize("query", [
    "", "article_id=", "article_id=bad%20id", "article_id=a&window=1h", "id=a",
    "&".join(f"article_id=a{n}" for n in range(101)), "article_id=never-counted-before",
])
def test_counts_that_are_not_a_plain_warm_hit_go_to_flask(app, warm_thread, query):
    lanes = Lanes(app)
    fast, flask, by_lane = lanes.both(f"{COUNTS}?{query}")
    assert not by_lane
    assert fast.status_code == flask.status_code


def test_a_change_to_a_count_reaches_the_lane_at_once(app, client, warm_thread, drain, redis_client):
    lanes = Lanes(app)
    path = counts_path(ARTICLE, OTHER)

    def counts_by_lane():
        answers = [lanes.both(path) for _ in range(3)]  # a miss goes to Flask at most twice
        assert answers[-1][2], "warm, the lane answers"
        for fast, flask, _ in answers:
            same(fast, flask)
        return answers[0][0].json["counts"]  # the first answer after a change, too, shows it

    assert counts_by_lane()[ARTICLE] == {"comments": 3, "shares": 0}
    answer = client.post(THREAD, json={"body": "One more, on topic.", "author_name": "Bo"}, **as_client(9))
    assert answer.status_code in (201, 202)
    drain()
    assert counts_by_lane() == {ARTICLE: {"comments": 4, "shares": 0}, OTHER: {"comments": 0, "shares": 0}}
    # A share while Redis has lost the share totals (only the database knows them).
    prefix = app.extensions["civility"].settings.redis_prefix
    assert redis_client.delete(f"{prefix}:share-totals") == 1
    assert client.post(f"/api/v1/articles/{OTHER}/shares", json={"network": "email"}).status_code == 202
    copied_to_redis(app)
    assert counts_by_lane()[OTHER] == {"comments": 0, "shares": 1}
    assert client.post(f"/api/v1/articles/{OTHER}/shares", json={"network": "x"}).status_code == 202
    copied_to_redis(app)
    assert counts_by_lane()[OTHER] == {"comments": 0, "shares": 2}
