"""Public comment endpoints, as a widget uses them (SQLite and PostgreSQL, real Redis)."""

from __future__ import annotations

import time

import jwt
import pytest

from civility.pagination import encode_cursor
from tests.helpers import ARTICLE, assert_error, bearer, post

SSO_SECRET = "a-site-secret-that-is-long-enough-for-hs256"


def test_posting_stores_a_pending_comment_with_an_edit_token(client):
    r = post(client, "Hello <b>world</b>\n\nSecond https://example.org")
    assert r.status_code == 202
    c = r.json
    assert c["status"] == "pending"
    assert c["article_id"] == ARTICLE and c["parent_id"] is None
    assert c["author"] == {"name": "Ann", "id": None}
    assert c["body"] == "Hello <b>world</b>\n\nSecond https://example.org"
    assert "&lt;b&gt;" in c["html"] and 'rel="nofollow ugc noopener"' in c["html"]
    assert c["edit_token"] and len(c["edit_token"]) > 20
    assert c["created_at"].endswith("Z") and c["edited_at"] is None
    assert c["reply_count"] == 0 and c["votes"] == 0


def test_pending_comments_are_hidden_until_scored(client, drain):
    post(client, "Thank you for this careful reporting.")
    assert client.get(f"/api/v1/articles/{ARTICLE}/comments").json["items"] == []
    drain()
    listing = client.get(f"/api/v1/articles/{ARTICLE}/comments").json
    assert [c["body"] for c in listing["items"]] == ["Thank you for this careful reporting."]
    assert listing["items"][0]["status"] == "published"
    assert listing["total"] == 1


def test_post_mode_publishes_at_once(app_factory):
    client = app_factory(moderation_mode="post").test_client()
    r = post(client)
    assert r.status_code == 201
    assert r.json["status"] == "published"
    assert len(client.get(f"/api/v1/articles/{ARTICLE}/comments").json["items"]) == 1


def test_threads_are_one_level_deep(client, drain):
    top = post(client, "Top level").json
    drain()
    reply = post(client, "A reply", parent_id=top["id"]).json
    drain()
    nested = post(client, "A reply to the reply", parent_id=reply["id"]).json
    assert reply["parent_id"] == top["id"]
    assert nested["parent_id"] == top["id"]
    drain()
    items = client.get(f"/api/v1/articles/{ARTICLE}/comments").json["items"]
    assert len(items) == 1
    assert items[0]["reply_count"] == 2
    assert [r["body"] for r in items[0]["replies"]] == ["A reply", "A reply to the reply"]


def test_more_replies_page_with_a_cursor(client, drain):
    top = post(client, "Top").json
    drain()
    for i in range(7):
        post(client, f"reply {i}", parent_id=top["id"])
    drain()
    thread = client.get(f"/api/v1/articles/{ARTICLE}/comments").json["items"][0]
    assert thread["reply_count"] == 7 and len(thread["replies"]) == 3
    seen, cursor = [], None
    while True:
        page = client.get(f"/api/v1/comments/{top['id']}/replies",
                          query_string={"limit": 3, **({"cursor": cursor} if cursor else {})}).json
        seen += [r["body"] for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"reply {i}" for i in range(7)]


def test_reply_to_a_comment_on_another_article_is_invalid(client, drain):
    other = post(client, article="another-article").json
    drain()
    r = post(client, parent_id=other["id"])
    assert r.status_code == 422 and "parent_id" in r.json["error"]["details"]


def test_reply_to_a_comment_the_reader_cannot_see_is_404_like_reading_it(client, drain, moderator_token):
    waiting = post(client, "not scored yet").json
    assert client.get(f"/api/v1/comments/{waiting['id']}").status_code == 404
    assert_error(post(client, parent_id=waiting["id"]), 404, "not_found")
    assert_error(post(client, parent_id=999999), 404, "not_found")
    held = post(client, "you are a fucking idiot").json
    drain()
    assert_error(post(client, parent_id=held["id"]), 404, "not_found")
    client.post(f"/api/v1/moderation/comments/{held['id']}/decision", json={"action": "approve"},
                headers=bearer(moderator_token))
    assert post(client, parent_id=held["id"]).status_code == 202


@pytest.mark.parametrize("sort", ["oldest", "newest"])
def test_cursor_pagination_is_stable_under_concurrent_inserts(client, drain, sort):
    for i in range(5):
        post(client, f"comment {i}")
    drain()
    first = client.get(f"/api/v1/articles/{ARTICLE}/comments", query_string={"limit": 2, "sort": sort}).json
    # New comments arrive between page loads; they must not shift or duplicate what follows.
    for i in range(5, 8):
        post(client, f"comment {i}")
    drain()
    seen = [c["body"] for c in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.get(f"/api/v1/articles/{ARTICLE}/comments",
                          query_string={"limit": 2, "sort": sort, "cursor": cursor}).json
        seen += [c["body"] for c in page["items"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen))
    if sort == "oldest":
        assert seen == [f"comment {i}" for i in range(8)]
    else:
        assert seen == [f"comment {i}" for i in (4, 3, 2, 1, 0)]


def test_edit_with_the_edit_token_rescores(client, drain):
    created = post(client, "First version").json
    drain()
    r = client.patch(f"/api/v1/comments/{created['id']}", json={"body": "Second version"},
                     headers={"X-Edit-Token": created["edit_token"]})
    assert r.status_code == 200
    assert r.json["body"] == "Second version" and r.json["edited_at"]
    assert r.json["status"] == "pending"  # pre mode: others see it again once re-scored
    drain()
    shown = client.get(f"/api/v1/comments/{created['id']}").json
    assert shown["status"] == "published" and shown["body"] == "Second version"


def test_edit_needs_the_right_credentials(client):
    created = post(client).json
    url = f"/api/v1/comments/{created['id']}"
    assert client.patch(url, json={"body": "x"}).status_code == 401
    wrong = client.patch(url, json={"body": "x"}, headers={"X-Edit-Token": "not-the-token"})
    assert wrong.status_code == 403
    assert wrong.json["error"]["code"] == "forbidden"


def test_edit_window_closes(app_factory):
    client = app_factory(edit_window_seconds=0).test_client()
    created = post(client).json
    r = client.patch(f"/api/v1/comments/{created['id']}", json={"body": "late"},
                     headers={"X-Edit-Token": created["edit_token"]})
    assert r.status_code == 403
    assert "edit window" in r.json["error"]["message"]


def test_identity_token_names_the_author_and_allows_editing(app_factory, drain):
    secret = SSO_SECRET
    client = app_factory(sso_secret=secret).test_client()
    token = jwt.encode({"sub": "reader-42", "name": "Reader Forty-Two", "exp": time.time() + 600}, secret,
                       algorithm="HS256")
    created = client.post(f"/api/v1/articles/{ARTICLE}/comments", json={"body": "Signed in"},
                          headers=bearer(token)).json
    assert created["author"] == {"name": "Reader Forty-Two", "id": "reader-42"}
    r = client.patch(f"/api/v1/comments/{created['id']}", json={"body": "Edited while signed in"},
                     headers=bearer(token))
    assert r.status_code == 200
    other = jwt.encode({"sub": "someone-else", "exp": time.time() + 600}, secret, algorithm="HS256")
    assert client.delete(f"/api/v1/comments/{created['id']}", headers=bearer(other)).status_code == 403


@pytest.mark.parametrize("claims,alg", [
    ({"sub": "x"}, "HS256"),  # no exp
    ({"sub": "x", "exp": time.time() - 10}, "HS256"),  # expired
    ({"sub": "x", "exp": time.time() + 600}, "HS512"),  # another algorithm
    ({"sub": "x", "exp": time.time() + 600}, "none"),
])
def test_bad_identity_tokens_are_refused(app_factory, claims, alg):
    client = app_factory(sso_secret=SSO_SECRET).test_client()
    token = jwt.encode(claims, None if alg == "none" else SSO_SECRET, algorithm=alg)
    r = client.post(f"/api/v1/articles/{ARTICLE}/comments", json={"body": "hi", "author_name": "x"},
                    headers=bearer(token))
    assert r.status_code == 401
    assert r.json["error"]["code"] == "unauthorized"


def test_deleted_comment_with_replies_stays_as_a_placeholder(client, drain):
    top = post(client, "Will be deleted").json
    drain()
    post(client, "Reply stays", parent_id=top["id"])
    lonely = post(client, "Deleted without replies").json
    drain()
    for c in (top, lonely):
        r = client.delete(f"/api/v1/comments/{c['id']}", headers={"X-Edit-Token": c["edit_token"]})
        assert r.status_code == 204
    items = client.get(f"/api/v1/articles/{ARTICLE}/comments").json["items"]
    assert len(items) == 1
    placeholder = items[0]
    assert placeholder["status"] == "deleted"
    assert placeholder["body"] == "" and placeholder["html"] == "" and placeholder["author"]["name"] == ""
    assert [r["body"] for r in placeholder["replies"]] == ["Reply stays"]
    assert client.get(f"/api/v1/comments/{lonely['id']}").status_code == 404


def test_a_moderator_can_read_any_status_but_readers_only_published(client, moderator_token):
    created = post(client).json
    assert client.get(f"/api/v1/comments/{created['id']}").status_code == 404
    r = client.get(f"/api/v1/comments/{created['id']}", headers=bearer(moderator_token))
    assert r.status_code == 200 and r.json["status"] == "pending"


# -- errors -------------------------------------------------------------------------------------
def test_malformed_json_is_400(client):
    r = client.post(f"/api/v1/articles/{ARTICLE}/comments", data='{"body": ',
                    headers={"Content-Type": "application/json"})
    assert_error(r, 400, "bad_request")


def test_non_json_is_415(client):
    r = client.post(f"/api/v1/articles/{ARTICLE}/comments", data="body=hi",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(r, 415, "unsupported_media_type")


def test_too_large_is_413(client):
    r = client.post(f"/api/v1/articles/{ARTICLE}/comments",
                    data='{"body": "' + "x" * 200_000 + '"}', headers={"Content-Type": "application/json"})
    assert_error(r, 413, "too_large")


def test_invalid_fields_are_422_and_named(client):
    error = assert_error(client.post(f"/api/v1/articles/{ARTICLE}/comments", json={"body": 5}), 422, "invalid")
    assert "body" in error["details"]
    error = assert_error(client.post(f"/api/v1/articles/{ARTICLE}/comments", json={"body": "hi"}), 422)
    assert "author_name" in error["details"]


def test_body_length_limit_is_exactly_5000_characters(client):
    assert post(client, "é" * 5000).status_code == 202
    error = assert_error(post(client, "é" * 5001), 422)
    assert "body" in error["details"]


def test_whitespace_only_and_nul_bodies_are_invalid(client):
    assert_error(post(client, "   \u200b  "), 422)
    assert_error(post(client, "a\x00b"), 422)


@pytest.mark.parametrize("article", ["a" * 129, "bad article", "semi;colon", "quote'"])
def test_bad_article_ids_are_422(client, article):
    assert_error(client.get(f"/api/v1/articles/{article}/comments"), 422)


def test_unknown_comment_is_404_and_bad_cursor_is_422(client):
    assert_error(client.get("/api/v1/comments/12345"), 404, "not_found")
    assert_error(client.get("/api/v1/comments/99999999999999999999999"), 404)
    assert_error(client.get(f"/api/v1/articles/{ARTICLE}/comments?cursor=garbage"), 422)
    assert_error(client.get(f"/api/v1/articles/{ARTICLE}/comments?limit=500"), 422)


def test_database_down_is_503_with_nothing_half_written(app_factory, tmp_path):
    client = app_factory(database_url="postgresql://nobody@127.0.0.1:1/none").test_client()
    error = assert_error(post(client), 503)
    assert error["code"] == "database_unavailable"


@pytest.mark.parametrize("sort,key", [
    ("oldest", [1.5]), ("newest", [1e300]), ("top", [2.5, 1]), ("top", [-(10**18), 1]), ("top", [2**31, 1]),
])
def test_thread_cursors_that_no_page_hands_out_are_invalid(client, sort, key):
    """A thread's cursor holds a whole id (and a vote total for "top") within its column's range:
    a crafted one is refused, not handed to the database to fail on."""
    post(client)
    r = client.get(f"/api/v1/articles/{ARTICLE}/comments",
                   query_string={"sort": sort, "cursor": encode_cursor(f"thread-{sort}", key)})
    assert_error(r, 422, "invalid")
    r = client.get("/api/v1/comments/1/replies", query_string={"cursor": encode_cursor("replies", [0.5])})
    assert_error(r, 422, "invalid")
