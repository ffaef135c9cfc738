"""Comment statuses, the actions recorded in a comment's history, and the transitions allowed."""

from __future__ import annotations

from enum import StrEnum

from civility.errors import Conflict


class Status(StrEnum):
    PENDING = "pending"  # awaiting its score
    PUBLISHED = "published"
    FLAGGED = "flagged"  # held for a moderator
    REJECTED = "rejected"
    DELETED = "deleted"


class Action(StrEnum):
    """Everything that can happen to a comment; each is one kind of history event."""

    CREATE = "create"
    SCORE = "score"
    EDIT = "edit"
    DELETE = "delete"
    APPROVE = "approve"
    REJECT = "reject"
    SCORING_FAILED = "scoring_failed"
    REPORT = "report"
    QUEUED_FOR_REPORTS = "queued_for_reports"


# Moving to the same status (a re-score, a moderator confirming a decision) is always allowed,
# except for a deleted comment, which never changes again.
ALLOWED = {
    Status.PENDING: {Status.PUBLISHED, Status.FLAGGED, Status.REJECTED, Status.DELETED},
    Status.PUBLISHED: {Status.FLAGGED, Status.REJECTED, Status.PENDING, Status.DELETED},
    Status.FLAGGED: {Status.PUBLISHED, Status.REJECTED, Status.PENDING, Status.DELETED},
    Status.REJECTED: {Status.PUBLISHED, Status.DELETED},
    Status.DELETED: set(),
}

EDITABLE = frozenset({Status.PENDING, Status.PUBLISHED, Status.FLAGGED})
DECISIONS = {Action.APPROVE: Status.PUBLISHED, Action.REJECT: Status.REJECTED}


class TransitionError(Conflict):
    def __init__(self, current: Status, target: Status):
        super().__init__(f"a {current} comment cannot become {target}", {"status": current.value})
        self.current = current
        self.target = target


def check_transition(current: str, target: str) -> None:
    current, target = Status(current), Status(target)
    if current == target and current != Status.DELETED:
        return
    if target not in ALLOWED[current]:
        raise TransitionError(current, target)
