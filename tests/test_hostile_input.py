"""Hostile input gets a 4xx in the contract's error shape, never a 5xx.

Besides the cases found by hand, every operation of /openapi.json is sent the same hostile shapes
in each of its path, query and body fields, so that new routes are covered too.
"""

from __future__ import annotations

import json
import re
import unicodedata
from urllib.parse import quote

import pytest

from civility.infra.engagement_cache import EngagementCache
from civility.infra.presence import live_workers
from civility.pagination import encode_cursor
from tests.helpers import ARTICLE, as_client, assert_error, bearer, post, wait_until

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

JSON = {"Content-Type": "application/json"}


def raw_post(client, path: str, text: str, headers: dict | None = None):
    return client.post(path, data=text.encode("utf-8", "surrogatepass"), headers={**JSON, **(headers or {})})


@pytest.mark.parametrize("route", ["/api/v1/articles/a/comments", "/api/v1/moderation/queue", "/api/v1/comments/1"])
@pytest.mark.parametrize("token", ["civ_²_x", "civ_١٢_x", "civ_" + "9" * 40 + "_x", "\u00e9\u0301", "civ__"])
def test_odd_bearer_tokens_are_refused_cleanly(client, route, token):
    r = client.get(route, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code in (200, 401, 404), r.get_data(as_text=True)
    r = client.post("/api/v1/articles/a/comments", json={"body": "hi", "author_name": "x"},
                    headers={"Authorization": f"Bearer {token}"})
    assert_error(r, 401)


@pytest.mark.parametrize("kind,url", [
    ("thread-oldest", "/api/v1/articles/a/comments?sort=oldest&cursor={}"),
    ("thread-top", "/api/v1/articles/a/comments?sort=top&cursor={}"),
    ("replies", "/api/v1/comments/1/replies?cursor={}"),
    ("queue-flagged-oldest-", "/api/v1/moderation/queue?sort=oldest&cursor={}"),
])
@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30])
def test_cursors_with_numbers_beyond_64_bits_are_invalid(client, moderator_token, kind, url, value):
    post(client)
    key = [value, 1] if kind.endswith("top") else [value]
    r = client.get(url.format(encode_cursor(kind, key)), headers=bearer(moderator_token))
    assert r.status_code in (404, 422), r.get_data(as_text=True)
    if r.status_code == 422:
        assert_error(r, 422, "invalid")


@pytest.mark.parametrize("number", ["9" * 5000, "1" + "0" * 4400, "-" + "9" * 5000, "1e400", "9" * 30])
def test_huge_numbers_in_json_bodies_are_4xx(client, moderator_token, number):
    r = raw_post(client, f"/api/v1/articles/{ARTICLE}/comments",
                 f'{{"body": "hi", "author_name": "x", "parent_id": {number}}}')
    assert r.status_code in (400, 422), r.get_data(as_text=True)
    r = raw_post(client, "/api/v1/comments/1/votes", f'{{"value": {number}}}')
    assert r.status_code in (400, 404, 422)
    r = raw_post(client, "/api/v1/moderation/decisions",
                 f'{{"decisions": [{{"comment_id": {number}, "action": "approve"}}]}}', bearer(moderator_token))
    assert r.status_code in (400, 422)


@pytest.mark.parametrize("field_text", ["\\ud800", "a\\udfffb", "\\u0000"])
def test_lone_surrogates_and_nul_in_notes_and_reasons_are_422(client, drain, moderator_token, field_text):
    comment = post(client).json
    drain()
    r = raw_post(client, f"/api/v1/comments/{comment['id']}/reports",
                 f'{{"reason": "abuse", "note": "{field_text}"}}')
    assert_error(r, 422, "invalid")
    r = raw_post(client, f"/api/v1/moderation/comments/{comment['id']}/decision",
                 f'{{"action": "reject", "reason": "{field_text}"}}', bearer(moderator_token))
    assert_error(r, 422, "invalid")


def test_notes_and_reasons_are_normalised_like_bodies(client, drain, moderator_token):
    comment = post(client).json
    drain()
    note = "spam\u202e link \u200b\x07 e\u0301"
    client.post(f"/api/v1/comments/{comment['id']}/reports", json={"reason": "spam", "note": note})
    client.post(f"/api/v1/moderation/comments/{comment['id']}/decision",
                json={"action": "reject", "reason": "rude\u2066 \x01"}, headers=bearer(moderator_token))
    events = client.get(f"/api/v1/moderation/comments/{comment['id']}/history",
                        headers=bearer(moderator_token)).json["events"]
    reported = next(e for e in events if e["action"] == "report")
    assert reported["details"]["note"] == "spam link  \u00e9"
    assert events[-1]["reason"] == "rude"


@pytest.mark.parametrize("url", ["/api/v1/articles/a1%0A/comments", "/api/v1/counts?article_id=a1%0A",
                                 "/api/v1/articles/a1%0A/shares", "/api/v1/moderation/queue?article_id=a1%0A"])
def test_article_ids_with_a_trailing_newline_are_refused(client, moderator_token, url):
    r = client.get(url, headers=bearer(moderator_token))
    assert r.status_code in (404, 422), r.get_data(as_text=True)
    r = client.post("/api/v1/articles/a1%0A/comments", json={"body": "hi", "author_name": "x"})
    assert r.status_code in (404, 422)


@pytest.mark.parametrize("invisible", ["\u3164", "\u200b\u2060", "\u2800\u2800", "\u115f\u1160", "\u0301",
                                       "\u00ad", " \u3000 "])
def test_bodies_and_names_that_are_invisible_after_normalisation_are_422(client, invisible):
    assert_error(post(client, body=invisible), 422, "invalid")
    assert_error(post(client, body="fine", name=invisible), 422, "invalid")


def test_names_are_normalised_before_their_length_is_checked(client):
    decomposed = "e\u0301" * 64  # 128 code points, 64 characters once composed (NFC)
    r = post(client, name=decomposed)
    assert r.status_code == 202, r.get_data(as_text=True)
    assert r.json["author"]["name"] == unicodedata.normalize("NFC", decomposed)
    assert_error(post(client, name="e\u0301" * 65), 422, "invalid")


def test_retry_after_only_with_429_and_503(app_factory):
    client = app_factory(rate_limits={"comment": "1/minute"}).test_client()
    first = post(client, "one")
    assert first.status_code == 202 and "Retry-After" not in first.headers
    second = post(client, "two")
    assert second.status_code == 429 and int(second.headers["Retry-After"]) > 0
    assert "Retry-After" not in client.get("/api/v1/articles/a/comments").headers


def test_counts_for_made_up_articles_cannot_fill_redis(client, redis_client, redis_prefix):
    client.post("/api/v1/articles/real/shares", json={"network": "x"}, **as_client(1))
    ids = [("article_id", f"made-up-{n}") for n in range(100)]
    answer = client.get("/api/v1/counts", query_string=ids)
    assert answer.status_code == 200
    assert all(v == {"comments": 0, "shares": 0} for v in answer.json["counts"].values())
    # Zeros are remembered (a warm /counts asks the database nothing) only up to a cap.
    cache = EngagementCache(redis_client, redis_prefix, max_cached_zeros=150)
    for start in range(100, 400, 100):
        cache.store_counts({f"made-up-{n}": 0 for n in range(start, start + 100)},
                           {f"made-up-{n}": ("0", 0) for n in range(start, start + 100)})
    cache.store_counts({"real": 1, "real-2": 7}, {"real-2": ("0", 3)})
    shares = redis_client.hgetall(f"{redis_prefix}:share-totals")
    comments = redis_client.hgetall(f"{redis_prefix}:comment-totals")
    assert len(shares) <= 150 + 100 + 2 and len(comments) <= 150 + 100 + 1
    assert shares[b"real"] == b"1" and shares[b"real-2"] == b"7" and comments[b"real-2"] == b"0|3"
    assert b"made-up-399" not in shares and b"made-up-399" not in comments


# -- every operation, the same hostile shapes --------------------------------------------------------
HOSTILE_STRINGS = ["\ud800", "a\x00b", "\u202e\u2066", "١٢٣", "²", "x\n", "9" * 5000, "%0A", "' OR 1=1 --",
                   "<script>alert(1)</script>", "\u3164"]
HOSTILE_NUMBERS = [2**63, -(2**63) - 1, 10**100, -1, 0]
HOSTILE_PATH = ["1%0A", "9" * 40, "%C2%B2", "-1", "0", "%00"]


def operations(app) -> list[tuple[str, str, dict]]:
    spec = app.test_client().get("/openapi.json").json
    found = []
    for path, methods in spec["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in methods.items():
            if method in ("get", "post", "patch", "delete", "put"):
                found.append((method, path, operation))
    return found


def body_fields(spec: dict, operation: dict) -> dict:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    schema = content.get("schema", {})
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema.get("properties", {})


def test_every_operation_answers_hostile_shapes_with_4xx(app, moderator_token, drain, worker_process):
    client = app.test_client()
    comment = post(client, "a target").json
    drain()
    # A real worker, so that routes which ask one for scores (the nudge check) answer.
    svc = app.extensions["civility"]
    worker_process(svc.settings)
    wait_until(lambda: live_workers(svc.redis, svc.settings), 60, 0.2, message="the worker to announce itself")
    spec = client.get("/openapi.json").json
    sent = 0
    for method, path, operation in operations(app):
        concrete = re.sub(r"\{comment_id\}", str(comment["id"]), path).replace("{article_id}", ARTICLE)
        fields = body_fields(spec, operation)
        params = [p for p in operation.get("parameters", []) if p["in"] == "query"]
        cases: list[tuple[str, dict, object]] = []
        for bad in HOSTILE_PATH:
            cases.append((re.sub(r"\{\w+\}", bad, path), {}, None))
        for param in params:
            for bad in HOSTILE_STRINGS + [str(n) for n in HOSTILE_NUMBERS]:
                cases.append((concrete, {param["name"]: bad}, None))
        for name, field in fields.items():
            values = HOSTILE_NUMBERS if field.get("type") == "integer" else HOSTILE_STRINGS
            for bad in values:
                cases.append((concrete, {}, {name: bad}))
        for url, query, body in cases:
            # Raw bytes: a lone surrogate arrives as invalid UTF-8, as a hand-made request would send it.
            raw_query = "&".join(f"{k}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in query.items())
            kwargs: dict = {"query_string": raw_query, "headers": bearer(moderator_token)}
            if method in ("post", "patch", "put"):
                kwargs["data"] = json.dumps(body or {}, ensure_ascii=True).encode()
                kwargs["headers"] = {**kwargs["headers"], **JSON}
            r = getattr(client, method)(url, **kwargs)
            sent += 1
            assert r.status_code < 500, f"{method.upper()} {url} {query} {body}: {r.get_data(as_text=True)[:300]}"
            if r.status_code >= 400:
                assert set(r.json["error"]) == {"code", "message", "details"}
            r.close()  # a live event stream holds one of the process's few stream slots until closed
    assert sent > 400  # every operation was reached with every shape
