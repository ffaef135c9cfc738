"""The jobs civility writes for RQ are the jobs RQ itself writes (civility.infra.jobqueue.JobWriter)."""

from __future__ import annotations

from rq import Queue, Retry
from rq.job import Job

from civility.infra.jobqueue import DELIVER_JOB, SCORE_JOB, ScoringQueue, WebhookQueue
from tests.helpers import make_settings

# Set at enqueue time, so never equal between two enqueues.
TIMES = ("created_at", "enqueued_at")


def stored(redis, job_id: str) -> dict[bytes, bytes]:
    fields = redis.hgetall(Job.key_for(job_id))
    assert fields, job_id
    return {k: v for k, v in fields.items() if k.decode() not in TIMES}


def test_a_scoring_job_is_stored_as_rq_stores_it(redis_client, redis_url, redis_prefix):
    settings = make_settings("sqlite://", redis_url, redis_prefix)
    ours = ScoringQueue(redis_client, settings)
    job_id = ours.enqueue(42, 3, attempt=1)
    fields = stored(redis_client, job_id)
    redis_client.delete(Job.key_for(job_id))

    rq_queue = Queue(settings.rq_queue_name(), connection=redis_client)
    rq_queue.enqueue(SCORE_JOB, 42, 3, job_id=job_id, job_timeout=settings.job_timeout_seconds,
                     retry=Retry(max=len(settings.retry_intervals), interval=list(settings.retry_intervals)),
                     result_ttl=300, failure_ttl=7 * 24 * 3600)
    assert fields == stored(redis_client, job_id)
    assert rq_queue.job_ids == [job_id, job_id]
    assert redis_client.sismember(Queue.redis_queues_keys, rq_queue.key)
    job = Job.fetch(job_id, connection=redis_client)
    assert (job.func_name, job.args, job.kwargs) == (SCORE_JOB, (42, 3), {})


def test_a_delivery_job_keeps_the_retries_left(redis_client, redis_url, redis_prefix):
    settings = make_settings("sqlite://", redis_url, redis_prefix)
    ours = WebhookQueue(redis_client, settings)
    rq_queue = Queue(settings.webhook_queue_name(), connection=redis_client)
    for attempts_made in (0, 2, len(settings.webhook_retry_intervals)):
        job_id = ours.enqueue(7 + attempts_made, attempts_made)
        fields = stored(redis_client, job_id)
        redis_client.delete(Job.key_for(job_id))
        intervals = list(settings.webhook_retry_intervals[attempts_made:])
        rq_queue.enqueue(DELIVER_JOB, 7 + attempts_made, job_id=job_id, job_timeout=120, result_ttl=300,
                         failure_ttl=7 * 24 * 3600,
                         retry=Retry(max=len(intervals), interval=intervals) if intervals else None)
        assert fields == stored(redis_client, job_id), attempts_made
