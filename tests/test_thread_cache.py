"""The cached thread page and the cached /counts: every write readers can see shows in the next read.

Each test warms the cache first (and checks that the second read came from it), then makes one
kind of write and reads again: the new state must show, and no page computed before the write may
remain in Redis.
"""

from __future__ import annotations

import concurrent.futures
import gzip
import json
import threading

import pytest
from sqlalchemy import event

from civility.infra.thread_cache import ThreadCache
from civility.thread_changes import ThreadChange
from tests.helpers import ABUSE, ARTICLE, as_client, bearer

THREAD = f"/api/v1/articles/{ARTICLE}/comments"


@pytest.fixture
def queries(db):
    """The SQL statements the app runs, as a list that grows (observation, not a mock)."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


def pages_in_redis(redis_client, redis_prefix) -> dict:
    return redis_client.hgetall(f"{redis_prefix}:tpages:{ARTICLE}")


def read(client, queries, sort="oldest", **kwargs):
    """The thread page, and whether the database was asked for it."""
    before = len(queries)
    answer = client.get(THREAD, query_string={"sort": sort}, **kwargs)
    assert answer.status_code == 200, answer.json
    return answer, len(queries) > before


def warm(client, queries, sort="oldest"):
    read(client, queries, sort)
    answer, asked = read(client, queries, sort)
    assert not asked, "the second read of an unchanged thread must come from the cache"
    return answer


def bodies(answer) -> list[str]:
    return [c["body"] for c in answer.json["items"]]


def submit(client, body, who=1):
    answer = client.post(THREAD, json={"body": body, "author_name": f"Reader {who}"}, **as_client(who))
    assert answer.status_code in (201, 202), answer.json
    return answer.json


def published(client, drain, body="A fair point, well made.", who=1):
    comment = submit(client, body, who)
    drain()
    return comment


def test_a_warm_page_is_served_without_the_database_with_etag_and_cache_control(app, client, drain, queries):
    published(client, drain)
    first, asked = read(client, queries)
    assert asked
    second, asked = read(client, queries)
    assert not asked and second.data == first.data
    max_age = app.extensions["civility"].settings.thread_max_age
    assert second.headers["Cache-Control"] == f"public, max-age={max_age}, stale-while-revalidate=30"
    assert second.headers["ETag"] == first.headers["ETag"]
    not_modified = client.get(THREAD, headers={"If-None-Match": first.headers["ETag"]})
    assert not_modified.status_code == 304 and not_modified.data == b""
    assert client.get(THREAD, headers={"If-None-Match": '"something-else"'}).status_code == 200


def test_a_publication_after_scoring_shows_and_changes_the_etag(client, drain, queries, redis_client, redis_prefix):
    published(client, drain, "The first comment.")
    before = warm(client, queries)
    published(client, drain, "The second comment.", who=2)
    after, asked = read(client, queries)
    assert asked and bodies(after) == ["The first comment.", "The second comment."]
    assert after.headers["ETag"] != before.headers["ETag"]
    assert client.get(THREAD, headers={"If-None-Match": before.headers["ETag"]}).status_code == 200
    assert len(pages_in_redis(redis_client, redis_prefix)) == 1


def test_a_moderator_decision_shows(client, drain, queries, moderator_token, redis_client, redis_prefix):
    published(client, drain, "Visible from the start.")
    held = submit(client, ABUSE, who=2)
    drain()
    assert bodies(warm(client, queries)) == ["Visible from the start."]
    decided = client.post(f"/api/v1/moderation/comments/{held['id']}/decision", json={"action": "approve"},
                          headers=bearer(moderator_token))
    assert decided.status_code == 200, decided.json
    assert pages_in_redis(redis_client, redis_prefix) == {}
    answer, asked = read(client, queries)
    assert asked and bodies(answer) == ["Visible from the start.", ABUSE]
    rejected = client.post(f"/api/v1/moderation/comments/{held['id']}/decision",
                           json={"action": "reject", "version": decided.json["version"]},
                           headers=bearer(moderator_token))
    assert rejected.status_code == 200, rejected.json
    assert bodies(read(client, queries)[0]) == ["Visible from the start."]


def test_an_edit_and_a_delete_show(client, drain, queries, redis_client, redis_prefix):
    comment = published(client, drain, "Before the edit.")
    published(client, drain, "Another reader's view.", who=2)
    token = {"X-Edit-Token": comment["edit_token"]}
    warm(client, queries)
    edited = client.patch(f"/api/v1/comments/{comment['id']}", json={"body": "After the edit."}, headers=token)
    assert edited.status_code == 200, edited.json
    drain()  # pre-moderation: the new text is scored before it shows again
    assert bodies(read(client, queries)[0]) == ["After the edit.", "Another reader's view."]
    warm(client, queries)
    assert client.delete(f"/api/v1/comments/{comment['id']}", headers=token).status_code == 204
    assert pages_in_redis(redis_client, redis_prefix) == {}
    assert bodies(read(client, queries)[0]) == ["Another reader's view."]


def test_a_hide_after_reports_shows(client, drain, queries):
    comment = published(client, drain, "Some readers will object to this.")
    warm(client, queries)
    for n in range(3):
        r = client.post(f"/api/v1/comments/{comment['id']}/reports", json={"reason": "abuse"}, **as_client(10 + n))
        assert r.status_code == 202
    answer, asked = read(client, queries)
    assert asked and bodies(answer) == [] and answer.json["total"] == 0


def test_votes_reorder_the_top_sort_and_update_every_sort(client, drain, queries):
    first = published(client, drain, "Posted first.")
    second = published(client, drain, "Posted second.", who=2)
    assert bodies(warm(client, queries, "top")) == ["Posted second.", "Posted first."]
    warm(client, queries, "oldest")
    r = client.post(f"/api/v1/comments/{first['id']}/votes", json={"value": 1}, **as_client(7))
    assert r.status_code == 200 and r.json["votes"] == 1
    top, asked = read(client, queries, "top")
    assert asked and bodies(top) == ["Posted first.", "Posted second."]
    oldest, asked = read(client, queries, "oldest")
    assert asked and [c["votes"] for c in oldest.json["items"]] == [1, 0]
    assert second["id"] == oldest.json["items"][1]["id"]


def test_requests_with_credentials_bypass_the_shared_cache(client, drain, queries):
    comment = published(client, drain)
    warm(client, queries)
    for headers in ({"X-Edit-Token": comment["edit_token"]}, {"Authorization": "Bearer anything"}):
        answer = client.get(THREAD, headers=headers)
        assert answer.status_code == 200
        assert answer.headers["Cache-Control"] == "private, no-cache"
    _, asked = read(client, queries, headers={"X-Edit-Token": comment["edit_token"]})
    assert asked


def test_an_empty_or_made_up_thread_is_not_kept(client, queries, redis_client, redis_prefix):
    for _ in range(2):
        answer = client.get("/api/v1/articles/made-up/comments")
        assert answer.status_code == 200 and answer.json["items"] == []
    assert redis_client.hgetall(f"{redis_prefix}:tpages:made-up") == {}


def announce(cache: ThreadCache, article_id: str) -> None:
    pipe = cache.redis.pipeline()
    cache.announce([ThreadChange(article_id, 1, "published")], pipe)
    pipe.execute()


def test_a_page_computed_before_a_write_is_never_served_after_it(redis_client, redis_prefix):
    cache = ThreadCache(redis_client, redis_prefix, 60)
    generation, page = cache.page("a1", "oldest|50|")
    assert page is None
    announce(cache, "a1")  # a write committed while the page was computed
    cache.store_page("a1", generation, "oldest|50|", b"etag\n{}")
    assert cache.page("a1", "oldest|50|")[1] is None
    assert cache.stored_page("a1", "oldest|50|") is None
    newer, _ = cache.page("a1", "oldest|50|")
    cache.store_page("a1", newer, "oldest|50|", b"etag\n{}")
    assert cache.page("a1", "oldest|50|") == (newer, b"etag\n{}")


def test_readers_waiting_when_a_write_lands_get_the_page_they_waited_for(redis_client, redis_prefix):
    """A write during a rebuild does not send the readers already waiting back to wait for another
    rebuild: the page being built holds every write acknowledged before they asked."""
    cache = ThreadCache(redis_client, redis_prefix, 60)
    generation, page = cache.page("a3", "oldest|50|")  # the builder claims the page
    assert page is None
    waiting = ThreadCache(redis_client, redis_prefix, 60)
    looked, look = threading.Event(), waiting._look

    def first_look_seen(*args, **kwargs):
        answer = look(*args, **kwargs)
        looked.set()
        return answer

    waiting._look = first_look_seen  # type: ignore[method-assign]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        waiter = pool.submit(waiting.page, "a3", "oldest|50|")
        assert looked.wait(5), "the waiter never looked"
        announce(cache, "a3")  # a write lands while the page is built
        newer = redis_client.get(cache.generation_key("a3")).decode()
        assert newer != generation
        cache.store_page("a3", generation, "oldest|50|", b"etag\n{\"built\": 1}")
        assert waiter.result(timeout=10) == (generation, b"etag\n{\"built\": 1}")
    # A reader asking after the write is not given that page: it claims the next rebuild.
    assert cache.page("a3", "oldest|50|") == (newer, None)
    # The late page's store did not release the next build's claim, which other readers wait on.
    assert redis_client.get(cache.build_key("a3", "oldest|50|")).decode() == newer
    cache.give_up_page("a3", generation, "oldest|50|")  # an older claim's give-up leaves it too
    assert redis_client.get(cache.build_key("a3", "oldest|50|")).decode() == newer
    cache.give_up_page("a3", newer, "oldest|50|")
    assert redis_client.exists(cache.build_key("a3", "oldest|50|")) == 0


def test_counts_warm_ask_the_database_nothing_and_follow_publications(client, drain, queries):
    published(client, drain)
    client.post(f"/api/v1/articles/{ARTICLE}/shares", json={"network": "x"}, **as_client(3))
    ids = [("article_id", ARTICLE), ("article_id", "never-shared")]
    first = client.get("/api/v1/counts", query_string=ids)
    assert first.json["counts"] == {ARTICLE: {"comments": 1, "shares": 1}, "never-shared": {"comments": 0, "shares": 0}}
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    before = len(queries)
    assert client.get("/api/v1/counts", query_string=ids).json == first.json
    assert len(queries) == before, "a warm /counts must not query the database"
    published(client, drain, "A second opinion.", who=2)
    client.post(f"/api/v1/articles/{ARTICLE}/shares", json={"network": "x"}, **as_client(4))
    client.application.extensions["civility"].engagement.totals.flush()  # what its thread does within 50 ms
    assert client.get("/api/v1/counts", query_string=ids).json["counts"][ARTICLE] == {"comments": 2, "shares": 2}


def test_after_a_write_one_reader_rebuilds_the_page_and_the_others_wait_for_it(redis_client, redis_prefix):
    cache = ThreadCache(redis_client, redis_prefix, 60)
    generation, page = cache.page("a2", "oldest|50|")  # the first reader: it claims the build
    assert page is None
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        second = pool.submit(cache.page, "a2", "oldest|50|")  # waits while the build is claimed
        cache.store_page("a2", generation, "oldest|50|", b"etag\n{\"built\": 1}")
        assert second.result(timeout=10) == (generation, b"etag\n{\"built\": 1}")
    # A builder that gives up (an empty thread, an error) lets the next reader build at once.
    generation, _ = cache.page("a2", "newest|50|")
    cache.give_up_page("a2", generation, "newest|50|")
    assert redis_client.exists(cache.build_key("a2", "newest|50|")) == 0


def test_pages_go_gzipped_to_clients_that_accept_it_and_plain_to_the_others(client, drain, queries):
    published(client, drain)
    plain = warm(client, queries)
    assert "Content-Encoding" not in plain.headers
    zipped = client.get(THREAD, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert zipped.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["Vary"]
    assert json.loads(gzip.decompress(zipped.data)) == plain.json
    assert zipped.headers["ETag"] == plain.headers["ETag"][:-1] + '-gz"'
    # Either representation's ETag revalidates.
    for etag in (plain.headers["ETag"], zipped.headers["ETag"]):
        assert client.get(THREAD, headers={"If-None-Match": etag, "Accept-Encoding": "gzip"}).status_code == 304
