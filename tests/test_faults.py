"""Faults on real processes: workers killed, Redis flushed, restarted or down, the database down,
the scorer failing or hanging. Nothing acknowledged may be lost, and nothing answers 500."""

from __future__ import annotations

import signal
from collections import Counter

import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from civility.infra.redis_server import RedisServer
from civility.store.models import Comment, CommentEvent
from tests.helpers import ABUSE, all_final, bearer, post, statuses, wait_until

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# Fast recovery settings for the tests; the defaults (README) recover within about two minutes.
FAST = dict(scoring_deadline_seconds=2, sweep_interval_seconds=1, job_timeout_seconds=5, retry_intervals=(1, 1),
            max_scoring_attempts=3)
FAST_ENV = {"CIVILITY_WORKER_TTL": "6", "CIVILITY_MAINTENANCE_INTERVAL": "3",
            "CIVILITY_JOB_TIMEOUT_SECONDS": "5", "CIVILITY_RETRY_INTERVALS": "1,1",
            "CIVILITY_MAX_SCORING_ATTEMPTS": "3"}


@pytest.fixture
def redis_server(tmp_path):
    """A Redis of this test's own, so it can be flushed, stopped and restarted."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def score_events_per_comment(db) -> Counter:
    with db.read() as session:
        rows = session.execute(select(CommentEvent.comment_id, func.count())
                               .where(CommentEvent.action == "score").group_by(CommentEvent.comment_id))
        return Counter(dict(rows.all()))


def test_worker_killed_mid_batch_every_comment_still_decided_once(app_factory, worker_process):
    app = app_factory(scorer="tests.fault_scorers:make", batch_size=8, **FAST)
    client, db, settings = app.test_client(), app.extensions["civility"].db, app.extensions["civility"].settings
    ids = [post(client, f"comment number {i} on the exchange").json["id"] for i in range(8)]
    doomed = worker_process(settings, CIVILITY_TEST_SCORER_MODE="slow", CIVILITY_TEST_SCORER_DELAY="3", **FAST_ENV)

    def leased():
        with db.read() as session:
            return session.scalars(select(func.count()).where(Comment.claim_token.is_not(None))).one()

    wait_until(lambda: leased() >= 1, 60, message=lambda: f"the first batch to be leased\n{doomed.output()}")
    doomed.kill(signal.SIGKILL)  # mid-batch: the scorer sleeps 3 s per batch
    assert all(s == "pending" for s in statuses(db)) and statuses(db)["pending"] == 8

    rescuer = worker_process(settings, CIVILITY_TEST_SCORER_MODE="slow", CIVILITY_TEST_SCORER_DELAY="0", **FAST_ENV)
    wait_until(lambda: all_final(db, 8), 90, 0.2, message=lambda: f"every comment to be decided\n{rescuer.output()}")
    events = score_events_per_comment(db)
    assert {comment_id: events[comment_id] for comment_id in ids} == dict.fromkeys(ids, 1)


def test_redis_flushed_while_comments_wait_loses_nothing(app_factory, worker_process, redis_server):
    app = app_factory(redis_url=redis_server.url, **FAST)
    client, svc = app.test_client(), app.extensions["civility"]
    for i in range(20):
        post(client, f"waiting comment {i}")
    for n in range(4):
        client.post("/api/v1/articles/world/pow-exchange-2026/shares", json={"network": "x"},
                    headers={"User-Agent": f"reader-{n}"})
    shares_before = client.get("/api/v1/articles/world/pow-exchange-2026/shares").json
    svc.redis.flushall()  # this server belongs to the test alone
    assert client.get("/api/v1/articles/world/pow-exchange-2026/shares").json == shares_before
    worker_process(svc.settings, **FAST_ENV)
    wait_until(lambda: all_final(svc.db, 20), 60, 0.2, message="the sweeper to re-enqueue every comment")


def test_redis_restarted_without_its_data(app_factory, worker_process, redis_server):
    app = app_factory(redis_url=redis_server.url, **FAST)
    client, svc = app.test_client(), app.extensions["civility"]
    for i in range(10):
        post(client, f"before the restart {i}")
    redis_server.stop()
    redis_server.start()  # no persistence: it comes back empty
    worker_process(svc.settings, **FAST_ENV)
    wait_until(lambda: all_final(svc.db, 10), 60, 0.2, message="every comment to be decided after the restart")


def test_redis_down_posts_are_stored_never_500_and_recover(app_factory, worker_process, redis_server):
    app = app_factory(redis_url=redis_server.url, rate_limits={"comment": "100/minute", "share": "100/minute"},
                      **FAST)
    client, svc = app.test_client(), app.extensions["civility"]
    redis_server.stop()
    accepted = []
    for i in range(5):
        r = post(client, f"posted during the outage {i}")
        assert r.status_code in (202, 503), r.get_data(as_text=True)
        if r.status_code == 202:
            accepted.append(r.json["id"])
    assert accepted  # the database alone is enough to take comments
    share = client.post("/api/v1/articles/x/shares", json={"network": "x"})
    assert share.status_code in (202, 503)
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["checks"]["redis"]["ok"] is False
    assert ready.json["checks"]["database"]["ok"] is True

    redis_server.start()
    worker_process(svc.settings, **FAST_ENV)
    wait_until(lambda: all_final(svc.db, len(accepted)), 60, 0.2,
               message="comments accepted during the outage to be decided")


def test_database_down_is_503_and_nothing_is_half_written(app_factory, postgres_url):
    app = app_factory(database_url=postgres_url)
    client, db = app.test_client(), app.extensions["civility"].db
    with db.transaction() as session:
        session.execute(text("TRUNCATE comment_events, votes, reports, comments RESTART IDENTITY CASCADE"))
    name = make_url(postgres_url).database
    admin = make_url(postgres_url).set(database="postgres", drivername="postgresql").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> "
                     "pg_backend_pid()", (name,))
    try:
        r = post(client, "written while the database is down")
        assert r.status_code == 503
        assert r.json["error"]["code"] == "database_unavailable"
        assert "Traceback" not in r.get_data(as_text=True)
        assert client.get("/readyz").json["checks"]["database"]["ok"] is False
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    with db.read() as session:
        assert session.scalars(select(func.count()).select_from(Comment)).one() == 0
        assert session.scalars(select(func.count()).select_from(CommentEvent)).one() == 0
    assert post(client, "written once it is back").status_code == 202


@pytest.mark.parametrize("mode", ["raise", "hang"])
def test_a_failing_or_hanging_scorer_sends_comments_to_moderators(app_factory, worker_process, mode):
    app = app_factory(scorer="tests.fault_scorers:make", **FAST)
    client, svc = app.test_client(), app.extensions["civility"]
    from civility.moderators import create_moderator

    token = create_moderator(svc.db, "watcher")
    comment_id = post(client, "Nothing wrong with this one.").json["id"]
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "civility_scoring_backlog 1.0" in metrics
    assert client.get("/api/v1/moderation/stats", headers=bearer(token)).json["scoring"]["backlog"] == 1
    worker = worker_process(svc.settings, CIVILITY_TEST_SCORER_MODE=mode, **FAST_ENV)

    def decided():
        item = client.get(f"/api/v1/comments/{comment_id}", headers=bearer(token)).json
        return item["status"] != "pending" and item

    # Usually RQ's retries end it within seconds; if a scheduled retry is never enqueued, the
    # sweeper takes over (a stuck retry is noticed 30 s after its time), which takes longer.
    item = wait_until(decided, 200, 0.2, message=lambda: f"the comment to leave pending\n{worker.output()}")
    assert item["status"] == "flagged"  # never published unscored
    queue = client.get("/api/v1/moderation/queue", headers=bearer(token)).json["items"]
    assert queue[0]["id"] == comment_id and queue[0]["reasons"] == ["scoring failed"]
    assert "civility_scoring_backlog 0.0" in client.get("/metrics").get_data(as_text=True)


def test_thousand_comments_through_two_kills_and_a_flush(app_factory, worker_process, redis_server):
    app = app_factory(redis_url=redis_server.url, **FAST)
    client, svc = app.test_client(), app.extensions["civility"]
    env = dict(FAST_ENV)
    workers = [worker_process(svc.settings, **env)]
    ids = []
    for i in range(1000):
        r = post(client, ABUSE if i % 10 == 0 else f"reader comment number {i} about the exchange",
                 headers={"User-Agent": f"reader-{i}"})
        assert r.status_code == 202
        ids.append(r.json["id"])
        if i in (250, 600):
            workers[-1].kill(signal.SIGKILL)
            workers.append(worker_process(svc.settings, **env))
        if i == 450:
            svc.redis.flushall()
    wait_until(lambda: all_final(svc.db, 1000), 240, 0.5,
               message=lambda: f"all 1000 comments to be decided\n{workers[-1].output()[-3000:]}")
    assert len(set(ids)) == 1000
    with svc.db.read() as session:
        assert session.scalars(select(func.count()).select_from(Comment)).one() == 1000
        creates = session.execute(select(CommentEvent.comment_id, func.count()).where(CommentEvent.action == "create")
                                  .group_by(CommentEvent.comment_id)).all()
    assert len(creates) == 1000 and all(n == 1 for _, n in creates)
    counts = statuses(svc.db)
    assert counts["flagged"] >= 100  # the abusive tenth
