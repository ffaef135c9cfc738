"""A comment's life cycle: the one place where its status, version, scoring lease and deadline change.

Each step checks the transition against the state machine (``statuses``), bumps ``version`` (what
moderators race against), manages the lease and deadline fields, and returns the history event
the caller records. Services load a comment, call one of these, record the event and commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from civility.errors import Conflict, Forbidden
from civility.policy import SCORING_FAILED_REASON, Decision, ModerationMode, initial_status, report_reason
from civility.statuses import DECISIONS, EDITABLE, Action, Status, check_transition
from civility.store.models import Comment

if TYPE_CHECKING:
    from civility.moderators import ModeratorIdentity


@dataclass(frozen=True)
class Event:
    """One entry of a comment's history, as the life cycle produced it."""

    action: Action
    actor: str
    from_status: Status | None
    to_status: Status | None
    at: datetime
    reason: str | None = None
    scores: dict[str, float] | None = None
    details: dict[str, Any] | None = None
    # Not part of the history: the comment was published for the first time (trending counts it once).
    first_publication: bool = False


def moderator_ruled_on_this_text(comment: Comment) -> bool:
    """A moderator decided the current text (an edit makes a new text; reports do not)."""
    submitted_at = comment.edited_at or comment.created_at
    return comment.decided_at is not None and comment.decided_at >= submitted_at


def moderator_ruling_stands(comment: Comment) -> bool:
    """A moderator ruled on the current text, and nothing since (an edit, new reports) reopened it."""
    if comment.decided_at is None or not moderator_ruled_on_this_text(comment):
        return False
    return comment.reported_at is None or comment.decided_at >= comment.reported_at


def approved_by_moderator(comment: Comment) -> bool:
    """A moderator approved the current text: reports alone no longer hide it."""
    return comment.approved_revision == comment.revision


def _move(comment: Comment, target: Status, now: datetime) -> bool:
    """Change the status (checked), bump the version; True on the comment's first publication."""
    check_transition(comment.status, target)
    comment.status = target
    comment.version += 1
    if target == Status.PUBLISHED and comment.published_at is None:
        comment.published_at = now
        return True
    return False


def _release_lease(comment: Comment) -> None:
    comment.claim_token = None
    comment.claimed_until = None


# -- readers --------------------------------------------------------------------------------------
def submit(comment: Comment, mode: ModerationMode, actor: str, now: datetime, deadline_seconds: int) -> Event:
    """A new comment: published at once in post-moderation, else pending until its score."""
    status = initial_status(mode)
    comment.status = status
    comment.version = 1
    comment.revision = 1
    comment.scored_revision = 0
    comment.scoring_attempts = 0
    comment.created_at = now
    comment.score_due_at = now + timedelta(seconds=deadline_seconds)
    first = status == Status.PUBLISHED
    if first:
        comment.published_at = now
    return Event(Action.CREATE, actor, None, status, now, first_publication=first)


def revise(comment: Comment, body: str, html: str, heuristics: list[str] | None, mode: ModerationMode,
           actor: str, now: datetime, deadline_seconds: int) -> Event | None:
    """The author's new text; None if nothing changed. New text is scored again."""
    if comment.status not in EDITABLE:
        raise Conflict(f"a {comment.status} comment cannot be edited", {"status": comment.status})
    if body == comment.body:
        return None
    before = Status(comment.status)
    # In pre mode new text is scored before others see it again; a held comment is re-scored.
    after = Status.PENDING if mode is ModerationMode.PRE or before == Status.FLAGGED else before
    first = _move(comment, after, now)
    comment.body, comment.html, comment.heuristics = body, html, heuristics
    comment.edited_at = now
    comment.revision += 1
    comment.score_due_at = now + timedelta(seconds=deadline_seconds)
    comment.scoring_attempts = 0
    _release_lease(comment)
    return Event(Action.EDIT, actor, before, after, now, first_publication=first)


def delete_by_author(comment: Comment, actor: str, now: datetime) -> Event | None:
    """The author's delete; None if it was already deleted. Replies keep a placeholder."""
    if comment.status == Status.DELETED:
        return None
    before = Status(comment.status)
    _move(comment, Status.DELETED, now)
    comment.deleted_at = now
    comment.score_due_at = None
    return Event(Action.DELETE, actor, before, Status.DELETED, now)


def erase(comment: Comment, actor: str, now: datetime) -> Event | None:
    """A reader's erasure (GDPR art. 17): the comment becomes a deleted comment's placeholder and
    forgets its author, text, scores and edit token. Replies keep their thread. None if it was
    already deleted (its fields are cleared all the same, so erasing twice changes nothing)."""
    before = Status(comment.status)
    event = None
    if before != Status.DELETED:
        _move(comment, Status.DELETED, now)
        event = Event(Action.DELETE, actor, before, Status.DELETED, now, details={"erased": True})
    comment.deleted_at = comment.deleted_at or now
    comment.score_due_at = None
    comment.body, comment.html, comment.author_name, comment.author_id = "", "", "", None
    comment.scores, comment.max_score, comment.reasons, comment.heuristics = None, None, [], None
    comment.edit_token_hash, comment.client_hash = None, None
    _release_lease(comment)
    return event


def record_report(comment: Comment, actor: str, reason: str, note: str | None, now: datetime) -> Event:
    """A reader's report: history only; the status does not change."""
    status = Status(comment.status)
    return Event(Action.REPORT, actor, status, status, now, reason=reason,
                 details={"note": note} if note else None)


def reports_reached_threshold(comment: Comment, open_reasons: list[str], distinct_origins: int, threshold: int,
                              now: datetime) -> Event | None:
    """Reports from ``threshold`` distinct origins put a comment in the moderators' reported queue
    (once, until decided). Before a moderator approved its text, that also hides it in pre mode."""
    if comment.reported_at is not None or distinct_origins < threshold:
        return None
    comment.reported_at = now
    comment.version += 1
    status = Status(comment.status)
    return Event(Action.QUEUED_FOR_REPORTS, "system", status, status, now, reason=report_reason(open_reasons))


# -- scoring --------------------------------------------------------------------------------------
def holds_lease(comment: Comment, token: str, revision: int) -> bool:
    """Whether a worker's lease on ``revision`` still entitles it to write a score."""
    return (comment.claim_token == token and comment.revision == revision and comment.needs_score
            and comment.status != Status.DELETED)


def release_lease(comment: Comment, token: str) -> None:
    """Hand a batch back after a failed attempt so that a retry can lease it at once."""
    if comment.claim_token == token:
        _release_lease(comment)


def reschedule(comment: Comment, revision: int, due: datetime, new_attempt: bool) -> None:
    """The sweeper re-enqueued the comment (``new_attempt``) or found it still in line."""
    if comment.score_due_at is None or not comment.needs_score or comment.revision != revision:
        return  # meanwhile scored, failed for good, edited or deleted
    if new_attempt:
        comment.scoring_attempts += 1
    comment.score_due_at = due


def apply_score(comment: Comment, scores: dict[str, float], decision: Decision, scorer_name: str,
                scorer_version: str, now: datetime, heuristics: list[str] | None = None) -> Event:
    """A fresh score decides the comment, unless a moderator already ruled on this text.
    ``heuristics``: the spam heuristics' findings on this text, the decision's among them."""
    before = Status(comment.status)
    after = before if moderator_ruling_stands(comment) else decision.status
    first = _move(comment, after, now)
    comment.scores = scores
    comment.max_score = max(scores.values()) if scores else None
    comment.scorer_name, comment.scorer_version = scorer_name, scorer_version
    comment.reasons = decision.reasons
    comment.heuristics = heuristics or None
    comment.scored_revision = comment.revision
    comment.scored_at = now
    comment.score_due_at = None
    _release_lease(comment)
    return Event(Action.SCORE, f"scorer:{scorer_name}", before, after, now,
                 reason="; ".join(decision.reasons) or "below every hold threshold", scores=scores,
                 details={"scorer_version": scorer_version, "revision": comment.revision},
                 first_publication=first)


def fail_scoring(comment: Comment, error: str, actor: str, now: datetime) -> Event | None:
    """No score could be had: the comment goes to the moderators, never out unscored."""
    if not comment.needs_score or comment.score_due_at is None or comment.status == Status.DELETED:
        return None
    before = Status(comment.status)
    after = before if moderator_ruling_stands(comment) else Status.FLAGGED
    _move(comment, after, now)
    comment.reasons = [SCORING_FAILED_REASON]
    comment.score_due_at = None
    _release_lease(comment)
    return Event(Action.SCORING_FAILED, actor, before, after, now, reason=SCORING_FAILED_REASON,
                 details={"error": error[:500]})


# -- moderators -----------------------------------------------------------------------------------
def decide(comment: Comment, action: Action, moderator: ModeratorIdentity, now: datetime,
           reason: str | None = None, expected_version: int | None = None) -> Event:
    """A moderator approves or rejects; this also resolves a comment that readers reported.

    Two moderators on one comment: the first decision stands. Deciding again needs the current
    ``version`` (a deliberate override), and reversing another moderator needs the admin role.
    """
    target = DECISIONS[action]
    current = Status(comment.status)
    details = {"current_version": comment.version, "status": current.value, "decided_by": comment.decided_by}
    if (expected_version is not None and expected_version != comment.version) or (
            expected_version is None and moderator_ruling_stands(comment)):
        raise Conflict(conflict_message(comment), details)
    # Reversing another moderator's ruling on this text needs an admin, even after reports reopened it.
    their_outcome = Status.PUBLISHED if approved_by_moderator(comment) else Status.REJECTED
    if (moderator_ruled_on_this_text(comment) and comment.decided_by not in (None, moderator.name)
            and target != their_outcome and not moderator.is_admin):
        raise Forbidden("only an admin can reverse another moderator's decision", details)
    if current == Status.DELETED:
        raise Conflict(f"a {current} comment cannot be {action}d", details)
    first = _move(comment, target, now)
    comment.decided_by, comment.decided_at = moderator.name, now
    comment.approved_revision = comment.revision if target == Status.PUBLISHED else None
    comment.score_due_at = None
    comment.reported_at = None
    return Event(action, f"moderator:{moderator.name}", current, target, now, reason=reason,
                 scores=comment.scores, first_publication=first)


def conflict_message(comment: Comment) -> str:
    if comment.decided_by:
        return f"already decided by {comment.decided_by}: the comment is now {comment.status}"
    return f"the comment changed since you loaded it: it is now {comment.status}"
