"""The sweeper: re-enqueue comments whose score is overdue, so a lost job never loses a comment."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from civility import lifecycle, webhooks
from civility.config import Settings
from civility.infra.jobqueue import ScoringQueue, WebhookQueue
from civility.policy import SCORING_FAILED_REASON
from civility.readers import apply_retention
from civility.scoring import mark_scoring_failed
from civility.store.comments import CommentRepository
from civility.store.db import Database
from civility.store.models import utcnow

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    requeued: int = 0
    still_queued: int = 0
    failed: int = 0
    # Readers' data past CIVILITY_RETENTION_DAYS (civility.readers.apply_retention).
    forgotten_client_hashes: int = 0
    deleted_share_events: int = 0


def sweep(db: Database, settings: Settings, queue: ScoringQueue, limit: int = 1000) -> SweepResult:
    result = SweepResult()
    now = utcnow()
    with db.read() as session:
        due = [(c.id, c.revision, c.scoring_attempts)
               for c in CommentRepository(session).due_for_sweep(now, limit)]
    give_up: list[int] = []
    requeued: list[int] = []
    waiting: list[int] = []
    broker_error: Exception | None = None
    for comment_id, revision, attempts in due:
        if attempts + 1 >= settings.max_scoring_attempts:
            give_up.append(comment_id)
            continue
        try:
            if queue.is_active(comment_id, revision, attempts):
                # Still in line behind a backlog: not lost, just late.
                waiting.append(comment_id)
            else:
                # Enqueue before recording the attempt, so a Redis outage changes nothing.
                queue.enqueue(comment_id, revision, attempts + 1)
                requeued.append(comment_id)
        except Exception as exc:  # noqa: BLE001 - record what went through, then report the outage
            broker_error = exc
            break
    next_due = now + timedelta(seconds=settings.scoring_deadline_seconds)
    revisions = {comment_id: revision for comment_id, revision, _ in due}
    with db.transaction() as session:
        for comment in CommentRepository(session).get_many(requeued + waiting, for_update=True).values():
            lifecycle.reschedule(comment, revisions[comment.id], next_due, new_attempt=comment.id in requeued)
    if give_up:
        result.failed = mark_scoring_failed(db, give_up, f"no score after {settings.max_scoring_attempts} attempts",
                                            actor="sweeper")
    result.requeued, result.still_queued = len(requeued), len(waiting)
    retention = apply_retention(db, settings, now)
    result.forgotten_client_hashes, result.deleted_share_events = retention.client_hashes, retention.share_events
    if broker_error is not None:
        raise broker_error
    if requeued or give_up:
        log.info("sweep: re-enqueued %d, %s for %d", len(requeued), SCORING_FAILED_REASON, len(give_up))
    return result


def sweep_webhooks(db: Database, settings: Settings, queue: WebhookQueue, limit: int = 1000) -> int:
    """Enqueue again the pending webhook deliveries whose job was lost (a killed worker, a Redis outage)."""
    requeued = 0
    for delivery_id, attempts in webhooks.lost_deliveries(db, settings, limit):
        if not queue.is_waiting(delivery_id):
            queue.enqueue(delivery_id, attempts)
            requeued += 1
    if requeued:
        log.info("sweep: re-enqueued %d webhook deliveries", requeued)
    return requeued
