"""Putting scoring jobs on the RQ queue. Importable by the API without loading any model."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from redis.client import Pipeline
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from rq.utils import get_call_string, utcformat

from civility.config import Settings

SCORE_JOB = "workers.jobs.score_comment"
ACTIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
STUCK_AFTER_SECONDS = 30


def live_state(queue: Queue, job_id: str) -> JobStatus | None:
    """The job's status; None when it is gone, or a scheduled retry that no scheduler picked up."""
    try:
        state = Job.fetch(job_id, connection=queue.connection).get_status(refresh=False)
        if state == JobStatus.SCHEDULED:
            # A retry whose time passed long ago means no scheduler is running to enqueue it.
            due = ScheduledJobRegistry(queue=queue).get_scheduled_time(job_id)
            if due <= datetime.now(UTC) - timedelta(seconds=STUCK_AFTER_SECONDS):
                return None
    except NoSuchJobError:
        return None
    return state


class JobWriter:
    """Enqueues jobs of one function with one set of options as ``Queue.enqueue`` does: the job's
    hash, the queue in RQ's set of queues, and the job id pushed on the queue.

    Every post enqueues a score, and RQ's Job and Queue machinery cost far more than those three
    commands. The hash is RQ's own: ``Job.to_dict`` of a job RQ built with these options, in which
    only the call, its description and the times change (tests/test_jobqueue.py compares the two).
    """

    def __init__(self, queue: Queue, func: str, **options: Any):
        self.queue = queue
        self.func = func
        self.fields = queue.create_job(func, job_id="template", **options).to_dict()

    def enqueue(self, job_id: str, args: tuple, pipeline: Pipeline | None = None) -> None:
        pipe = pipeline if pipeline is not None else self.queue.connection.pipeline()
        at = utcformat(datetime.now(UTC))
        fields = {**self.fields, "created_at": at, "enqueued_at": at,
                  "description": get_call_string(self.func, args, {}),
                  "data": zlib.compress(self.queue.serializer.dumps((self.func, None, args, {})))}
        pipe.sadd(Queue.redis_queues_keys, self.queue.key)
        pipe.hset(self.queue.job_class.key_for(job_id), mapping=fields)
        pipe.rpush(self.queue.key, job_id)
        if pipeline is None:
            pipe.execute()


def score_job_id(prefix: str, comment_id: int, revision: int, attempt: int) -> str:
    # RQ job ids may hold only letters, digits, "_" and "-"; the prefix keeps installs sharing a Redis apart.
    return f"{prefix}-score-{comment_id}-r{revision}-a{attempt}"


class ScoringQueue:
    def __init__(self, redis: Redis, settings: Settings):
        self.redis = redis
        self.settings = settings
        self.queue = Queue(settings.rq_queue_name(), connection=redis)
        self.jobs = JobWriter(
            self.queue, SCORE_JOB,
            # Retries back off so a briefly failing scorer (a restart, memory pressure) can recover.
            retry=Retry(max=len(settings.retry_intervals), interval=list(settings.retry_intervals))
            if settings.retry_intervals else None,
            timeout=settings.job_timeout_seconds, result_ttl=300, failure_ttl=7 * 24 * 3600)

    def enqueue(self, comment_id: int, revision: int, attempt: int = 0, pipeline: Pipeline | None = None) -> str:
        """Enqueue now, or on ``pipeline`` (then sent when the caller executes it)."""
        job_id = score_job_id(self.settings.redis_prefix, comment_id, revision, attempt)
        self.jobs.enqueue(job_id, (comment_id, revision), pipeline)
        return job_id

    def is_active(self, comment_id: int, revision: int, attempt: int) -> bool:
        job_id = score_job_id(self.settings.redis_prefix, comment_id, revision, attempt)
        return live_state(self.queue, job_id) in ACTIVE

    def depth(self) -> int:
        return self.queue.count


DELIVER_JOB = "workers.webhooks.deliver"


def webhook_job_id(prefix: str, delivery_id: int) -> str:
    return f"{prefix}-webhook-{delivery_id}"


class WebhookQueue:
    """Delivery jobs on ``{prefix}-webhooks``; one job id per delivery, retried by RQ with backoff."""

    def __init__(self, redis: Redis, settings: Settings):
        self.redis = redis
        self.settings = settings
        self.queue = Queue(settings.webhook_queue_name(), connection=redis)
        # One writer per number of attempts made: the retries left differ.
        self._jobs: dict[int, JobWriter] = {}

    def enqueue(self, delivery_id: int, attempts_made: int = 0, pipeline: Pipeline | None = None) -> str:
        job_id = webhook_job_id(self.settings.redis_prefix, delivery_id)
        jobs = self._jobs.get(attempts_made)
        if jobs is None:
            intervals = list(self.settings.webhook_retry_intervals[attempts_made:])
            jobs = self._jobs[attempts_made] = JobWriter(
                self.queue, DELIVER_JOB, retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
                timeout=120, result_ttl=300, failure_ttl=7 * 24 * 3600)
        jobs.enqueue(job_id, (delivery_id,), pipeline)
        return job_id

    def is_waiting(self, delivery_id: int) -> bool:
        """Queued, or scheduled for a retry that a scheduler will still pick up: not lost."""
        job_id = webhook_job_id(self.settings.redis_prefix, delivery_id)
        # A started job whose delivery is overdue died with its worker (the lease outlives any request).
        return live_state(self.queue, job_id) in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED)
