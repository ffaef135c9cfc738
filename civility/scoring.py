"""Applying scores: lease a batch, score it, and write scores, decision and reasons in one transaction."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol, Sequence

from civility.config import Settings
from civility.policy import SCORING_FAILED_REASON, decide
from civility.statuses import Action, Status
from civility.store.comments import CommentRepository
from civility.store.db import Database
from civility.store.engagement import EngagementRepository
from civility.store.models import Comment, utcnow

log = logging.getLogger(__name__)


# A job leases several model batches at once so that sorting by length (inside the scorer) has
# texts to group: sorting within one batch of 16 saves almost no padding.
BATCHES_PER_LEASE = 4


class Scorer(Protocol):
    name: str
    version: str
    fallback: bool

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]: ...


@dataclass
class BatchResult:
    scored: int = 0
    skipped: int = 0


def _moderator_decided_this_revision(comment: Comment) -> bool:
    submitted = comment.edited_at or comment.created_at
    return comment.decided_at is not None and comment.decided_at >= submitted


def next_status(comment: Comment, decided: Status) -> Status:
    """What a fresh score does to a comment, given what happened to it while it waited."""
    if _moderator_decided_this_revision(comment):
        return Status(comment.status)  # a human already ruled on this text; the score is advisory
    return decided


def claim_batch(db: Database, settings: Settings, first_id: int | None) -> tuple[str, list[Comment]]:
    token = uuid.uuid4().hex
    now = utcnow()
    # The lease outlives a batch (bounded by the job timeout) but not by much: if the worker dies,
    # the sweeper can hand the comments to another worker soon after it expires.
    lease = now + timedelta(seconds=settings.job_timeout_seconds + 10)
    with db.transaction() as session:
        batch = CommentRepository(session).claim_for_scoring(
            first_id, settings.batch_size * BATCHES_PER_LEASE, token, lease, now)
    return token, batch


def apply_scores(db: Database, settings: Settings, scorer: Scorer, batch: list[Comment],
                 results: list[dict[str, float]], token: str) -> BatchResult:
    outcome = BatchResult()
    now = utcnow()
    actor = f"scorer:{scorer.name}"
    with db.transaction() as session:
        repo = CommentRepository(session)
        engagement = EngagementRepository(session)
        current = repo.get_many([c.id for c in batch])
        for leased, scores in zip(batch, results):
            comment = current.get(leased.id)
            # Skip if the text changed, it was deleted, or someone else already scored it.
            if (comment is None or comment.revision != leased.revision or not comment.needs_score
                    or comment.status == Status.DELETED or comment.claim_token != token):
                outcome.skipped += 1
                continue
            scores = {label: round(float(value), 4) for label, value in scores.items()}
            decision = decide(scores, settings.thresholds, settings.moderation_mode, comment.heuristics)
            before = Status(comment.status)
            after = next_status(comment, decision.status)
            comment.scores = scores
            comment.max_score = max(scores.values()) if scores else None
            comment.scorer_name, comment.scorer_version = scorer.name, scorer.version
            comment.reasons = decision.reasons
            comment.scored_revision = comment.revision
            comment.scored_at = now
            comment.score_due_at = None
            comment.claim_token = comment.claimed_until = None
            comment.status = after
            comment.version += 1
            if after == Status.PUBLISHED:
                engagement.record_publication(comment, now)
            repo.add_event(comment.id, actor, Action.SCORE, before, after,
                           reason="; ".join(decision.reasons) or "below every hold threshold",
                           scores=scores, details={"scorer_version": scorer.version,
                                                   "revision": comment.revision}, at=now)
            outcome.scored += 1
    return outcome


def mark_scoring_failed(db: Database, comment_ids: list[int], error: str, actor: str = "scorer") -> int:
    """Send comments that could not be scored to the moderators; never publish them unscored."""
    now = utcnow()
    failed = 0
    with db.transaction() as session:
        repo = CommentRepository(session)
        for comment in repo.get_many(comment_ids).values():
            if not comment.needs_score or comment.score_due_at is None or comment.status == Status.DELETED:
                continue
            before = Status(comment.status)
            after = before if _moderator_decided_this_revision(comment) else Status.FLAGGED
            comment.status = after
            comment.reasons = [SCORING_FAILED_REASON]
            comment.score_due_at = None
            comment.claim_token = comment.claimed_until = None
            comment.version += 1
            repo.add_event(comment.id, actor, Action.SCORING_FAILED, before, after,
                           reason=SCORING_FAILED_REASON, details={"error": error[:500]}, at=now)
            failed += 1
    return failed


def release_claim(db: Database, batch: list[Comment], token: str) -> None:
    """Hand a batch back after a failed attempt so a retry can lease it at once."""
    with db.transaction() as session:
        for comment in CommentRepository(session).get_many([c.id for c in batch]).values():
            if comment.claim_token == token:
                comment.claim_token = comment.claimed_until = None


def score_pending(db: Database, settings: Settings, scorer: Scorer, first_id: int | None) -> BatchResult:
    """Score ``first_id`` and whatever else is waiting, up to one batch."""
    token, batch = claim_batch(db, settings, first_id)
    if not batch:
        return BatchResult()
    try:
        results = scorer.score([c.body for c in batch])
    except BaseException:
        release_claim(db, batch, token)
        raise
    if len(results) != len(batch):
        release_claim(db, batch, token)
        raise RuntimeError(f"scorer returned {len(results)} results for {len(batch)} texts")
    return apply_scores(db, settings, scorer, batch, results, token)
