"""CIVILITY_REDIS_URL through Redis Sentinel, on real processes: a master, its replica and a Sentinel.
The master is SIGKILLed while comments are posted; nothing acknowledged may be lost or left unscored."""

from __future__ import annotations

import itertools
import signal

import pytest
from sqlalchemy import func, select

from civility.config import ConfigError, Settings
from civility.infra.sentinel_cluster import SentinelCluster
from civility.store.models import Comment, CommentEvent
from tests.helpers import ARTICLE, FINAL, wait_until

PASSWORD = "s3cret-pw"
FAST = dict(scoring_deadline_seconds=2, sweep_interval_seconds=1, job_timeout_seconds=5, retry_intervals=(1, 1))
FAST_ENV = {"CIVILITY_WORKER_TTL": "6", "CIVILITY_MAINTENANCE_INTERVAL": "3", "CIVILITY_JOB_TIMEOUT_SECONDS": "5",
            "CIVILITY_RETRY_INTERVALS": "1,1"}


@pytest.fixture
def cluster(tmp_path):
    cluster = SentinelCluster(tmp_path / "redis", password=PASSWORD).start()
    yield cluster
    cluster.stop()


@pytest.mark.parametrize("url", ["redis+sentinel://", "redis+sentinel://h1:26379", f"redis+sentinel://:{PASSWORD}@h1:x/m",
                                 "redis+sentinel://h1:26379/m/zero", "redis+sentinel://h1,h2/m/0/extra",
                                 "sentinel://h1:26379/m"])
def test_a_malformed_redis_url_is_one_line_naming_the_variable(url):
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"CIVILITY_REDIS_URL": url})
    message = str(raised.value)
    assert message.startswith("CIVILITY_REDIS_URL: ") and "\n" not in message and PASSWORD not in message


def test_a_sentinel_url_is_accepted_as_written():
    url = "redis+sentinel://:pw@h1:26379,h2:26380/mymaster/2"
    assert Settings.from_env({"CIVILITY_REDIS_URL": url}).redis_url == url


def test_rate_limits_get_the_sentinels_in_the_uri_and_the_rest_as_options():
    from service.limits import storage_options, storage_uri

    url = "redis+sentinel://:p%40ss@h1:26379,[::1]:26380/mymaster/2"
    # The limits library reads the whole path as the service name.
    assert storage_uri(url) == "redis+sentinel://h1:26379,[::1]:26380/mymaster"
    options = storage_options(url)
    assert options["db"] == 2 and options["password"] == "p@ss" and options["sentinel_kwargs"]["password"] == "p@ss"
    assert storage_options("redis://h1:6379/0") == {}


def post(client, n: int):
    # One reader for every post, so the rate limit counts every post on one key.
    return client.post(f"/api/v1/articles/{ARTICLE}/comments", environ_base={"REMOTE_ADDR": "203.0.113.7"},
                       json={"body": f"Comment number {n} on the exchange, measured and polite.", "author_name": "Ann"})


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_master_killed_while_posting_loses_no_acknowledged_comment(app_factory, worker_process, cluster):
    app = app_factory(redis_url=cluster.url(db=3), rate_limits={"comment": "10000/minute"}, **FAST)
    client, svc = app.test_client(), app.extensions["civility"]
    # One plain worker process: RQ's loop quits on a Redis error outside its dequeue (a heartbeat sent to
    # the dead master), and the worker starts the loop again by itself.
    worker = worker_process(svc.settings, **FAST_ENV)
    acknowledged: list[int] = []
    answers: list[int] = []
    numbers = itertools.count()

    def post_and_record():
        r = post(client, next(numbers))
        answers.append(r.status_code)
        if r.status_code in (201, 202):
            acknowledged.append(r.json["id"])
        return r

    assert [post_and_record().status_code for _ in range(20)] == [202] * 20
    wait_until(lambda: final_count(svc.db, acknowledged) == 20, 30, 0.1,
               message=lambda: f"the worker to score through the Sentinel\n{worker.output()}")

    cluster.kill_master()
    while cluster.master_address() != ("127.0.0.1", cluster.replica_port):
        post_and_record()
        assert len(answers) < 5000, "the Sentinel never promoted the replica"
    assert set(answers) <= {202, 503}, answers  # the database alone takes comments while Redis is away

    # Back to normal once the API reaches the promoted master: the rate limit counts there again.
    wait_until(lambda: "X-RateLimit-Remaining" in post_and_record().headers, 20, 0.1,
               message="the API to reach the promoted master")
    after = [post_and_record() for _ in range(20)]
    assert [r.status_code for r in after] == [202] * 20
    remaining = [int(r.headers["X-RateLimit-Remaining"]) for r in after]
    assert remaining == sorted(remaining, reverse=True) and remaining[0] > remaining[-1]

    wait_until(lambda: final_count(svc.db, acknowledged) == len(acknowledged), 45, 0.2,
               message=lambda: f"every acknowledged comment to be scored\n{worker.output()}")
    assert worker.process.poll() is None, worker.output()
    assert svc.redis.connection_pool.get_master_address() == ("127.0.0.1", cluster.replica_port)
    with svc.db.read() as session:
        scored = dict(session.execute(select(CommentEvent.comment_id, func.count())
                                      .where(CommentEvent.action == "score", CommentEvent.comment_id.in_(acknowledged))
                                      .group_by(CommentEvent.comment_id)).all())
    assert scored == dict.fromkeys(acknowledged, 1)  # each scored once, re-enqueued or not


def final_count(db, ids: list[int]) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).where(Comment.id.in_(ids), Comment.status.in_(FINAL))) or 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_worker_stops_cleanly_on_sigterm_through_the_sentinel(settings_factory, worker_process, cluster):
    # SIGTERM interrupts RQ's blocking dequeue; the interrupted connection must not serve the next command
    # (RQ's own, at its exit, with the sweeper idle so that nothing else takes that connection first).
    worker = worker_process(settings_factory(redis_url=cluster.url(), sweep_interval_seconds=3600))

    def blocked_in_dequeue() -> bool:
        with cluster.client(cluster.master_port) as master:
            return any(c.get("cmd") in ("blpop", "blmpop", "blmove") for c in master.client_list())

    wait_until(blocked_in_dequeue, 30, 0.1, message=lambda: f"the worker to wait for a job\n{worker.output()}")
    worker.kill(signal.SIGTERM)
    assert worker.process.returncode == 0 and "Traceback" not in worker.output(), worker.output()
