"""Shares, counts, trending, votes and reports (SQLite and PostgreSQL, real Redis)."""

from __future__ import annotations

import concurrent.futures
import time

import jwt
import pytest
from sqlalchemy import event, text

from civility.infra.engagement_cache import EngagementCache
from civility.infra.share_totals import ShareTotalsPublisher
from tests.helpers import ARTICLE, as_client, assert_error, bearer, post

SECRET = "a-site-secret-that-is-long-enough-for-hs256"


def share(client, network="facebook", article=ARTICLE, n=1):
    return client.post(f"/api/v1/articles/{article}/shares", json={"network": network}, **as_client(n))


def published(client, drain, body="A fair point, well made.", article=ARTICLE, **kwargs):
    comment = post(client, body, article=article, **kwargs).json
    drain()
    return comment


# -- shares ---------------------------------------------------------------------------------------
def test_fifty_shares_from_five_clients_give_exact_totals(client):
    networks = ["facebook", "x", "linkedin", "reddit", "whatsapp", "telegram", "mastodon", "bluesky", "email",
                "copy_link"]
    for n in range(5):
        for network in networks:
            r = share(client, network, n=n)
            assert r.status_code == 202 and r.json["counted"] is True
    shares = client.get(f"/api/v1/articles/{ARTICLE}/shares").json
    assert shares["total"] == 50
    assert shares["networks"] == {network: 5 for network in networks}
    # Repeats inside the window are acknowledged but not counted.
    for n in range(5):
        r = share(client, "facebook", n=n)
        assert r.status_code == 202 and r.json["counted"] is False and r.json["total"] == 50
    assert client.get(f"/api/v1/articles/{ARTICLE}/shares").json["total"] == 50


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_shares_sent_at_once_are_counted_exactly_when_committed_together(app):
    """On SQLite a process commits the shares its threads record meanwhile in one transaction
    (civility/store/group_commit.py): each is still decided against those before it."""
    def one(n):
        return share(app.test_client(), "x", n=n % 5).json

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(40)))
    assert sum(answer["counted"] for answer in answers) == 5
    assert sorted(answer["total"] for answer in answers if answer["counted"]) == [1, 2, 3, 4, 5]
    assert app.test_client().get(f"/api/v1/articles/{ARTICLE}/shares").json["networks"] == {"x": 5}


def test_repeats_count_again_after_the_window(app_factory):
    client = app_factory(share_dedup_seconds=600).test_client()
    assert share(client).json["counted"] is True
    assert share(client).json["counted"] is False
    # Move the first share out of the window.
    app_db = client.application.extensions["civility"].db
    with app_db.transaction() as session:
        session.execute(text("UPDATE share_events SET created_at = created_at - interval '1 hour'")
                        if session.bind.dialect.name == "postgresql"
                        else text("UPDATE share_events SET created_at = datetime(created_at, '-1 hour')"))
    assert share(client).json == {"article_id": ARTICLE, "network": "facebook", "total": 2, "counted": True}


def test_signed_in_reader_is_one_client_across_devices(app_factory):
    client = app_factory(sso_secret=SECRET).test_client()
    token = jwt.encode({"sub": "reader-7", "exp": time.time() + 600}, SECRET, algorithm="HS256")
    for n in range(3):
        kwargs = as_client(n)
        kwargs["headers"].update(bearer(token))
        client.post(f"/api/v1/articles/{ARTICLE}/shares", json={"network": "x"}, **kwargs)
    assert client.get(f"/api/v1/articles/{ARTICLE}/shares").json["total"] == 1


def test_unknown_network_is_422_naming_the_allowed_values(client):
    error = assert_error(share(client, "myspace"), 422)
    message = " ".join(error["details"]["network"])
    assert "facebook" in message and "bluesky" in message and "copy_link" in message


def test_no_raw_ip_or_user_agent_is_stored(client, db):
    share(client, n=77)
    post(client, headers={"User-Agent": "Browser/77"})
    with db.read() as session:
        rows = [str(row) for table in ("share_events", "comments")
                for row in session.execute(text(f"SELECT * FROM {table}"))]
    dump = " ".join(rows)
    assert "198.51.100.77" not in dump and "Browser/77" not in dump and "127.0.0.1" not in dump


def test_share_counts_are_rebuilt_after_redis_loses_them(client, redis_client, redis_prefix):
    for n in range(4):
        share(client, "x", n=n)
    share(client, "email", n=9)
    assert client.get(f"/api/v1/articles/{ARTICLE}/shares").json["total"] == 5
    # What the publisher's thread does within 50 ms; and no copy of an older total may still be on
    # its way when Redis loses everything, or it would stand in for the whole total there.
    client.application.extensions["civility"].engagement.totals.flush()
    assert cached_total(client) == 5
    lost = list(redis_client.scan_iter(match=f"{redis_prefix}*"))
    assert f"{redis_prefix}:share-totals".encode() in lost
    redis_client.delete(*lost)
    assert cached_total(client) == 5
    # Counting goes on correctly after the rebuild, and repeats are still caught by the database.
    assert share(client, "x", n=0).json["counted"] is False
    assert share(client, "x", n=20).json["total"] == 6


# -- counts -----------------------------------------------------------------------------------------
def count_queries(db):
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    return statements, lambda: event.remove(db.engine, "before_cursor_execute", record)


def test_counts_for_100_articles_in_one_call(client, drain, db):
    ids = [f"story-{i}" for i in range(100)]
    for i in range(3):
        share(client, "x", article=ids[i], n=i)
    post(client, "first comment", article=ids[0])
    post(client, "second comment", article=ids[0])
    drain()
    statements, stop = count_queries(db)
    try:
        r = client.get("/api/v1/counts", query_string=[("article_id", a) for a in ids])
    finally:
        stop()
    assert r.status_code == 200
    counts = r.json["counts"]
    assert len(counts) == 100
    assert counts["story-0"] == {"comments": 2, "shares": 1}
    assert counts["story-1"] == {"comments": 0, "shares": 1}
    assert counts["story-99"] == {"comments": 0, "shares": 0}
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 2, selects  # comments in one query, uncached share counts in one more


def test_counts_rejects_more_than_100_ids_and_bad_ids(client):
    too_many = [("article_id", f"a{i}") for i in range(101)]
    assert "article_id" in assert_error(client.get("/api/v1/counts", query_string=too_many), 422)["details"]
    assert_error(client.get("/api/v1/counts"), 422)
    assert_error(client.get("/api/v1/counts?article_id=bad%20id"), 422)


# -- trending ---------------------------------------------------------------------------------------
def test_trending_orders_most_shared_and_most_commented(client, drain):
    for n in range(3):
        share(client, "x", article="big-story", n=n)
    share(client, "x", article="small-story", n=1)
    for i in range(2):
        post(client, f"view number {i}", article="debated-story")
    post(client, article="big-story")
    drain()
    trending = client.get("/api/v1/trending?window=1h").json
    assert trending["window"] == "1h"
    assert trending["most_shared"][:2] == [{"article_id": "big-story", "shares": 3},
                                           {"article_id": "small-story", "shares": 1}]
    assert trending["most_commented"][0] == {"article_id": "debated-story", "comments": 2}
    assert_error(client.get("/api/v1/trending?window=2w"), 422)


def test_trending_counts_a_comment_once_even_when_edited(client, drain):
    created = post(client, article="edited-story").json
    drain()
    client.patch(f"/api/v1/comments/{created['id']}", json={"body": "edited text"},
                 headers={"X-Edit-Token": created["edit_token"]})
    drain()
    trending = client.get("/api/v1/trending?window=24h").json
    assert {"article_id": "edited-story", "comments": 1} in trending["most_commented"]


# -- votes ------------------------------------------------------------------------------------------
def vote(client, comment_id, value, n):
    return client.post(f"/api/v1/comments/{comment_id}/votes", json={"value": value}, **as_client(n))


def test_one_vote_per_voter_and_zero_withdraws(client, drain):
    comment = published(client, drain)
    assert vote(client, comment["id"], 1, n=1).json["votes"] == 1
    assert vote(client, comment["id"], 1, n=1).json["votes"] == 1
    assert vote(client, comment["id"], 1, n=2).json["votes"] == 2
    assert vote(client, comment["id"], -1, n=1).json["votes"] == 0
    assert vote(client, comment["id"], 0, n=2).json["votes"] == -1
    assert client.get(f"/api/v1/comments/{comment['id']}").json["votes"] == -1


def test_authors_cannot_vote_on_their_own_comment(app_factory, drain):
    client = app_factory(sso_secret=SECRET).test_client()
    mine = client.post(f"/api/v1/articles/{ARTICLE}/comments", json={"body": "mine", "author_name": "Me"},
                       **as_client(5)).json
    drain()
    assert_error(vote(client, mine["id"], 1, n=5), 403, "forbidden")
    token = jwt.encode({"sub": "author-1", "name": "Author", "exp": time.time() + 600}, SECRET, algorithm="HS256")
    signed = client.post(f"/api/v1/articles/{ARTICLE}/comments", json={"body": "signed"},
                         headers=bearer(token)).json
    drain()
    other_device = as_client(6)
    other_device["headers"].update(bearer(token))
    r = client.post(f"/api/v1/comments/{signed['id']}/votes", json={"value": 1}, **other_device)
    assert_error(r, 403)


def test_votes_on_unpublished_comments_are_404_and_values_validated(client, drain):
    pending = post(client).json
    assert_error(vote(client, pending["id"], 1, n=1), 404)
    drain()
    assert_error(vote(client, pending["id"], 2, n=1), 422)
    assert_error(client.post(f"/api/v1/comments/{pending['id']}/votes", json={"value": "1"}, **as_client(1)), 422)


def test_sort_top_orders_by_votes_with_stable_pagination(client, drain):
    ids = [post(client, f"comment {i}").json["id"] for i in range(5)]
    drain()
    for i, comment_id in enumerate(ids):
        for n in range(i % 3):  # votes 0,1,2,0,1
            vote(client, comment_id, 1, n=10 + n)
    seen, cursor = [], None
    while True:
        q = {"sort": "top", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/api/v1/articles/{ARTICLE}/comments", query_string=q).json
        seen += [(c["votes"], c["body"]) for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [(2, "comment 2"), (1, "comment 4"), (1, "comment 1"), (0, "comment 3"), (0, "comment 0")]


# -- reports ----------------------------------------------------------------------------------------
def report(client, comment_id, n, reason="abuse", note=None):
    body = {"reason": reason, **({"note": note} if note else {})}
    return client.post(f"/api/v1/comments/{comment_id}/reports", json=body, **as_client(n))


def test_enough_distinct_reports_queue_and_hide_the_comment_in_pre_mode(client, drain, moderator_token):
    comment = published(client, drain)
    h = bearer(moderator_token)
    assert report(client, comment["id"], 1, "abuse", "insults a victim").status_code == 202
    assert report(client, comment["id"], 1, "spam").json["duplicate"] is True  # one per reporter
    assert report(client, comment["id"], 2, "spam").status_code == 202
    assert client.get("/api/v1/moderation/queue?status=reported", headers=h).json["items"] == []
    assert report(client, comment["id"], 3, "abuse").status_code == 202

    queue = client.get("/api/v1/moderation/queue?status=reported", headers=h).json
    assert queue["counts"]["reported"] == 1
    [item] = queue["items"]
    assert item["id"] == comment["id"]
    assert "reported x3 (abuse, spam)" in item["reasons"]
    assert sorted(r["reason"] for r in item["reports"]) == ["abuse", "abuse", "spam"]
    assert any(r["note"] == "insults a victim" for r in item["reports"])
    # Pre-moderation: hidden from readers until a moderator decides.
    assert client.get(f"/api/v1/articles/{ARTICLE}/comments").json["items"] == []

    approved = client.post(f"/api/v1/moderation/comments/{comment['id']}/decision", json={"action": "approve"},
                           headers=h).json
    assert approved["status"] == "published" and approved["reports"] == []
    assert [c["id"] for c in client.get(f"/api/v1/articles/{ARTICLE}/comments").json["items"]] == [comment["id"]]
    history = client.get(f"/api/v1/moderation/comments/{comment['id']}/history", headers=h).json["events"]
    actions = [e["action"] for e in history]
    assert actions.count("report") == 3 and "queued_for_reports" in actions and actions[-1] == "approve"


def test_post_mode_keeps_a_reported_comment_visible_until_rejected(app_factory):
    from civility.moderators import create_moderator

    app = app_factory(moderation_mode="post", report_threshold=2)
    client = app.test_client()
    token = create_moderator(app.extensions["civility"].db, "postmod")
    comment = post(client).json
    for n in (1, 2):
        report(client, comment["id"], n)
    assert len(client.get(f"/api/v1/articles/{ARTICLE}/comments").json["items"]) == 1
    queue = client.get("/api/v1/moderation/queue?status=reported", headers=bearer(token)).json
    assert [i["id"] for i in queue["items"]] == [comment["id"]]
    client.post(f"/api/v1/moderation/comments/{comment['id']}/decision", json={"action": "reject"},
                headers=bearer(token))
    assert client.get(f"/api/v1/articles/{ARTICLE}/comments").json["items"] == []


def test_reports_validate_reason_and_target(client, drain):
    comment = published(client, drain)
    assert_error(report(client, comment["id"], 1, "boring"), 422)
    assert_error(report(client, 99999, 1), 404)


# -- rate limits ------------------------------------------------------------------------------------
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_flooding_client_gets_429_with_retry_after_others_are_unaffected(app_factory):
    client = app_factory(rate_limits={"share": "3/minute", "comment": "2/minute"}).test_client()
    statuses = [share(client, "x", n=1).status_code for _ in range(5)]
    assert statuses == [202, 202, 202, 429, 429]
    limited = share(client, "x", n=1)
    error = assert_error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) > 0
    assert error["message"]
    assert share(client, "x", n=2).status_code == 202
    comments = [client.post(f"/api/v1/articles/{ARTICLE}/comments", json={"body": "hi", "author_name": "a"},
                            **as_client(3)).status_code for _ in range(3)]
    assert comments == [202, 202, 429]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_share_the_database_failed_to_record_is_counted_nowhere_and_its_retry_counts(client, db, redis_client,
                                                                                        redis_prefix):
    assert share(client, "x", n=1).json["total"] == 1
    cached = poll(lambda: cached_total(client), lambda total: total == 1)
    assert cached == 1
    with db.transaction() as session:
        session.execute(text("ALTER TABLE share_events RENAME TO share_events_away"))
    assert share(client, "x", n=2).status_code == 503
    with db.transaction() as session:
        session.execute(text("ALTER TABLE share_events_away RENAME TO share_events"))
    assert redis_client.hget(f"{redis_prefix}:share-totals", ARTICLE) == b"1"
    # The reader's retry counts: the failed attempt left no trace that would make it a repeat.
    assert share(client, "x", n=2).json == {"article_id": ARTICLE, "network": "x", "total": 2, "counted": True}
    assert share(client, "x", n=2).json["counted"] is False


def cached_total(client) -> int:
    return client.get("/api/v1/counts", query_string={"article_id": ARTICLE}).json["counts"][ARTICLE]["shares"]


def poll(read, done, seconds: float = 5.0):
    """``read()`` until ``done`` accepts it or the deadline passes; the last value read."""
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.005)


def test_the_cached_counts_follow_each_share_without_a_query(client, db):
    for n in range(3):
        share(client, "x", n=n)
    # Rebuilt from the database, or copied there by the shares' publisher (ahead of the third share
    # on a loaded machine, and so followed within milliseconds by the rest): then cached.
    assert poll(lambda: cached_total(client), lambda total: total == 3) == 3
    statements, stop = count_queries(db)
    try:
        assert share(client, "email", n=9).json["total"] == 4
        # The cached total follows the share within milliseconds, and no query rebuilds it.
        assert poll(lambda: cached_total(client), lambda total: total == 4) == 4
    finally:
        stop()
    assert [s for s in statements if "share_events" not in s and "article_share_totals" not in s] == []


def test_cached_share_totals_only_grow_whatever_order_they_arrive_in(redis_client, redis_prefix):
    cache = EngagementCache(redis_client, redis_prefix)
    cache.raise_share_totals({"news/a": 7, "news/b": 2})
    cache.raise_share_totals({"news/a": 5})  # a slower process's older total
    cache.store_counts({"news/a": 6, "news/b": 1, "news/c": 4}, {})  # a rebuild that read before both
    assert cache.share_totals(["news/a", "news/b", "news/c", "news/d"]) == {"news/a": 7, "news/b": 2, "news/c": 4}
    cache.raise_share_totals({"news/b": 3})
    assert cache.share_totals(["news/b"]) == {"news/b": 3}


def test_share_totals_gathered_in_a_process_reach_redis_in_one_round_trip(redis_client, redis_prefix):
    cache = EngagementCache(redis_client, redis_prefix)
    publisher = ShareTotalsPublisher(cache, delay=3600)  # its thread waits: this test sends by hand
    sent = []
    real = cache.raise_share_totals
    cache.raise_share_totals = lambda totals: (sent.append(dict(totals)), real(totals))
    for total in (1, 3, 2):
        publisher.publish("news/a", total)
    publisher.publish("news/b", 1)
    publisher.flush()
    publisher.flush()  # nothing left
    assert sent == [{"news/a": 3, "news/b": 1}]
    assert cache.share_totals(["news/a", "news/b"]) == {"news/a": 3, "news/b": 1}


def test_a_share_is_recorded_and_answered_while_redis_is_down(app_factory, caplog):
    app = app_factory(redis_url="redis://127.0.0.1:9/0")
    client = app.test_client()
    assert share(client, "x", n=1).json == {"article_id": ARTICLE, "network": "x", "total": 1, "counted": True}
    assert share(client, "x", n=1).json["counted"] is False
    app.extensions["civility"].engagement.totals.flush()
    assert "could not copy" in caplog.text
