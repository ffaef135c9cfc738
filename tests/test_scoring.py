"""Scoring jobs, failures and the sweeper, through real Redis and RQ (in-process burst workers)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rq import Queue

from civility.infra import after_commit, runtime
from civility.infra.jobqueue import ScoringQueue
from civility.scoring import score_pending
from civility.store.comments import CommentRepository
from civility.store.models import utcnow
from civility.sweeper import sweep
from tests.helpers import ARTICLE, bearer, post
from workers import jobs


class RecordingScorer:
    name, version, fallback = "recording", "test-1", False

    def __init__(self, value=0.1, fail=False):
        self.value, self.fail, self.batches = value, fail, []

    def score(self, texts):
        self.batches.append(list(texts))
        if self.fail:
            raise RuntimeError("model crashed")
        return [{"toxicity": self.value} for _ in texts]


@pytest.fixture
def use_scorer(monkeypatch):
    def install(scorer):
        monkeypatch.setattr(jobs, "_scorer", scorer)
        monkeypatch.setattr(jobs, "_scorer_info", None)
        return scorer

    return install


def status_of(db, comment_id):
    with db.read() as session:
        return CommentRepository(session).get(comment_id)


def test_jobs_are_enqueued_after_commit_with_idempotent_ids(client, app, redis_client):
    created = post(client).json
    queue = Queue(app.extensions["civility"].settings.rq_queue_name(), connection=redis_client)
    assert queue.job_ids == [f"{app.extensions['civility'].settings.redis_prefix}-score-{created['id']}-r1-a0"]


def test_one_job_scores_a_whole_batch_and_the_rest_are_no_ops(client, db, drain, use_scorer):
    scorer = use_scorer(RecordingScorer())
    ids = [post(client, f"comment number {i}").json["id"] for i in range(5)]
    drain()
    assert len(scorer.batches) == 1 and len(scorer.batches[0]) == 5
    for comment_id in ids:
        comment = status_of(db, comment_id)
        assert comment.status == "published"
        assert comment.scorer_name == "recording" and comment.scorer_version == "test-1"
        assert comment.scores == {"toxicity": 0.1}


def test_scores_write_status_reasons_and_a_history_event(client, db, drain, use_scorer, moderator_token):
    use_scorer(RecordingScorer(value=0.93))
    comment_id = post(client).json["id"]
    drain()
    comment = status_of(db, comment_id)
    assert comment.status == "flagged"
    assert comment.reasons == ["toxicity 0.93 >= 0.70"]
    events = client.get(f"/api/v1/moderation/comments/{comment_id}/history", headers=bearer(moderator_token)).json
    assert events["events"][-1]["reason"] == "toxicity 0.93 >= 0.70"


def test_a_batch_finds_each_repeat_against_the_comments_sent_before_it(client, db, drain, use_scorer):
    use_scorer(RecordingScorer())
    sent = [post(client, text).json["id"] for text in ("Same words", "Other words", "Same words", "Same words")]
    drain()
    found = {comment_id: status_of(db, comment_id).heuristics for comment_id in sent}
    assert found == {sent[0]: None, sent[1]: None,
                     sent[2]: ["repeated text from the same client (x2 in 10 min)"],
                     sent[3]: ["repeated text from the same client (x3 in 10 min)"]}
    assert [status_of(db, comment_id).status for comment_id in sent] == ["published", "published", "flagged",
                                                                          "flagged"]


def test_post_mode_hides_a_published_comment_when_flagged(app_factory, drain, use_scorer):
    app = app_factory(moderation_mode="post")
    client = app.test_client()
    use_scorer(RecordingScorer(value=0.99))
    comment_id = post(client).json["id"]
    assert len(client.get(f"/api/v1/articles/{ARTICLE}/comments").json["items"]) == 1
    runtime.use(app.extensions["civility"].settings)
    from rq import SimpleWorker

    rt = runtime.current()
    after_commit.install(rt.db, rt.redis, rt.settings)  # as every worker does: its decisions reach the cache
    SimpleWorker([Queue(rt.settings.rq_queue_name(), connection=rt.redis)], connection=rt.redis).work(burst=True)
    assert client.get(f"/api/v1/articles/{ARTICLE}/comments").json["items"] == []
    assert status_of(app.extensions["civility"].db, comment_id).status == "flagged"


def test_scoring_twice_never_changes_the_decision(client, app, db, use_scorer):
    comment_id = post(client).json["id"]
    svc = app.extensions["civility"]
    first = score_pending(db, svc.settings, RecordingScorer(value=0.1), comment_id)
    second = score_pending(db, svc.settings, RecordingScorer(value=0.99), comment_id)
    assert first.scored == 1 and second.scored == 0
    assert status_of(db, comment_id).status == "published"


def test_a_failing_scorer_sends_the_comment_to_the_queue_never_publishes_it(client, app, db, use_scorer,
                                                                          monkeypatch):
    use_scorer(RecordingScorer(fail=True))
    comment_id = post(client).json["id"]
    settings = app.extensions["civility"].settings
    job = Queue(settings.rq_queue_name(), connection=runtime.use(settings).redis).jobs[0]
    assert job.retries_left == 2  # enqueued with Retry
    monkeypatch.setattr(jobs, "get_current_job", lambda: job)  # what RQ's worker provides
    # Each attempt as RQ would run it: earlier ones raise (and RQ retries), the last one gives up.
    for retries_left in (2, 1):
        job.retries_left = retries_left
        with pytest.raises(RuntimeError):
            jobs.score_comment(*job.args)
        assert status_of(db, comment_id).status == "pending"
    job.retries_left = 0
    assert jobs.score_comment(*job.args) == {"failed": [comment_id]}
    comment = status_of(db, comment_id)
    assert comment.status == "flagged" and comment.reasons == ["scoring failed"]
    assert comment.score_due_at is None


def test_sweeper_re_enqueues_when_redis_lost_every_job(client, app, db, drain, redis_client):
    svc = app.extensions["civility"]
    ids = [post(client, f"comment {i}").json["id"] for i in range(3)]
    # Redis loses the queue (only this test's keys: the server may be shared).
    for key in redis_client.scan_iter(match=f"rq:*{svc.settings.redis_prefix}*"):
        redis_client.delete(key)
    assert Queue(svc.settings.rq_queue_name(), connection=redis_client).count == 0
    _make_overdue(db, ids)
    result = sweep(db, svc.settings, ScoringQueue(redis_client, svc.settings))
    assert result.requeued == 3
    drain()
    assert {status_of(db, i).status for i in ids} == {"published"}


def test_sweeper_leaves_comments_that_are_still_queued(client, app, db, redis_client):
    svc = app.extensions["civility"]
    comment_id = post(client).json["id"]
    _make_overdue(db, [comment_id])
    result = sweep(db, svc.settings, ScoringQueue(redis_client, svc.settings))
    assert result.requeued == 0 and result.still_queued == 1


def test_sweeper_gives_up_after_max_attempts_with_scoring_failed(client, app, db, redis_client):
    svc = app.extensions["civility"]
    comment_id = post(client).json["id"]
    with db.transaction() as session:
        comment = CommentRepository(session).get(comment_id)
        comment.scoring_attempts = svc.settings.max_scoring_attempts
        comment.score_due_at = utcnow() - timedelta(seconds=1)
    result = sweep(db, svc.settings, ScoringQueue(redis_client, svc.settings))
    assert result.failed == 1
    assert status_of(db, comment_id).status == "flagged"
    assert status_of(db, comment_id).reasons == ["scoring failed"]


def test_posting_while_redis_is_down_still_stores_the_comment(app_factory, drain):
    down = app_factory(redis_url="redis://127.0.0.1:1/0")
    r = post(down.test_client(), "stored despite the broker outage")
    assert r.status_code == 202
    comment_id = r.json["id"]
    assert status_of(down.extensions["civility"].db, comment_id).status == "pending"
    ready = down.test_client().get("/readyz")
    assert ready.status_code == 503 and ready.json["checks"]["redis"]["ok"] is False


def test_a_moderator_decision_before_the_score_stands(client, app, db, moderator_token):
    comment_id = post(client).json["id"]
    client.post(f"/api/v1/moderation/comments/{comment_id}/decision", json={"action": "approve"},
                headers=bearer(moderator_token))
    score_pending(db, app.extensions["civility"].settings, RecordingScorer(value=0.99), comment_id)
    assert status_of(db, comment_id).status == "published"


def _make_overdue(db, ids):
    with db.transaction() as session:
        for comment in CommentRepository(session).get_many(ids).values():
            comment.score_due_at = utcnow() - timedelta(seconds=1)
