"""Applying scores: lease a batch, score it, and write scores, decision and reasons in one transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from civility import lifecycle, webhooks
from civility.config import Settings
from civility.policy import decide
from civility.spam import repeat_reasons
from civility.store.comments import CommentRepository
from civility.store.db import Database
from civility.store.models import Comment, utcnow
from civility.wordlists import current_matcher

log = logging.getLogger(__name__)


_SESSION_KEY = "civility_score_requests"


def request_score(session: Session, comment_id: int, revision: int) -> None:
    """Ask for a score once the transaction commits (civility.infra.after_commit enqueues it). If the
    enqueue is lost (Redis down), the comment's deadline brings it to the sweeper."""
    session.info.setdefault(_SESSION_KEY, []).append((comment_id, revision))


def take_score_requests(session: Session) -> list[tuple[int, int]]:
    return session.info.pop(_SESSION_KEY, [])


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
    # The word lists are read outside the transaction, so that no write lock waits on them. A
    # leased revision has exactly the leased text, so the verdicts apply to whatever is written below.
    matcher = current_matcher(db)
    verdicts = {c.id: matcher.check(c.body) for c in batch}
    repeats = _repeats(db, batch)
    with db.transaction() as session:
        repo = CommentRepository(session)
        current = repo.get_many([c.id for c in batch], for_update=True)
        for leased, scores in zip(batch, results, strict=True):
            comment = current.get(leased.id)
            # Skip if the text changed, it was deleted, or someone else already scored it.
            if comment is None or not lifecycle.holds_lease(comment, token, leased.revision):
                outcome.skipped += 1
                continue
            scores = {label: round(float(value), 4) for label, value in scores.items()}
            verdict = verdicts[leased.id]
            heuristics = repeats[leased.id] + (comment.heuristics or [])
            decision = decide(scores, settings.thresholds, held_for=heuristics + verdict.hold,
                              rejected_for=verdict.reject)
            event = lifecycle.apply_score(comment, scores, decision, scorer.name, scorer.version, now, heuristics)
            repo.record(comment, event)
            webhooks.comment_flagged(session, comment, event)
            outcome.scored += 1
    return outcome


def _repeats(db: Database, batch: list[Comment]) -> dict[int, list[str]]:
    """The spam rule that reads the clients' history (``spam.repeat_reasons``) for the leased texts,
    read before the transaction as the word lists are."""
    with db.read() as session:
        return repeat_reasons(CommentRepository(session), batch)


def mark_scoring_failed(db: Database, comment_ids: list[int], error: str, actor: str = "scorer") -> int:
    """Send comments that could not be scored to the moderators; never publish them unscored."""
    now = utcnow()
    failed = 0
    with db.transaction() as session:
        repo = CommentRepository(session)
        for comment in repo.get_many(comment_ids, for_update=True).values():
            event = lifecycle.fail_scoring(comment, error, actor, now)
            if event is not None:
                repo.record(comment, event)
                webhooks.comment_flagged(session, comment, event)
                failed += 1
    return failed


def release_claim(db: Database, batch: list[Comment], token: str) -> None:
    """Hand a batch back after a failed attempt so a retry can lease it at once."""
    with db.transaction() as session:
        for comment in CommentRepository(session).get_many([c.id for c in batch], for_update=True).values():
            lifecycle.release_lease(comment, token)


def score_pending(db: Database, settings: Settings, scorer: Scorer, first_id: int | None) -> BatchResult:
    """Score ``first_id`` and whatever else is waiting, up to one lease of batches."""
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
