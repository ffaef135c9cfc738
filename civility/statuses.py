"""Comment statuses and the transitions between them. Plain Python: the API and workers share it."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    PENDING = "pending"  # awaiting its score
    PUBLISHED = "published"
    FLAGGED = "flagged"  # held for a moderator
    REJECTED = "rejected"
    DELETED = "deleted"


class Action(StrEnum):
    CREATE = "create"
    SCORE = "score"
    EDIT = "edit"
    DELETE = "delete"
    APPROVE = "approve"
    REJECT = "reject"
    SCORING_FAILED = "scoring_failed"
    REPORT = "report"


# Statuses a moderator may act on without naming a version: the ones still waiting for a human.
AWAITING_MODERATOR = frozenset({Status.PENDING, Status.FLAGGED})

ALLOWED = {
    Status.PENDING: {Status.PUBLISHED, Status.FLAGGED, Status.REJECTED, Status.DELETED, Status.PENDING},
    Status.PUBLISHED: {Status.FLAGGED, Status.REJECTED, Status.PENDING, Status.DELETED, Status.PUBLISHED},
    Status.FLAGGED: {Status.PUBLISHED, Status.REJECTED, Status.PENDING, Status.DELETED},
    Status.REJECTED: {Status.PUBLISHED, Status.DELETED},
    Status.DELETED: set(),
}

EDITABLE = frozenset({Status.PENDING, Status.PUBLISHED, Status.FLAGGED})


class TransitionError(ValueError):
    def __init__(self, current: Status, target: Status):
        super().__init__(f"a {current} comment cannot become {target}")
        self.current = current
        self.target = target


def check_transition(current: str, target: str) -> None:
    current, target = Status(current), Status(target)
    if target not in ALLOWED[current]:
        raise TransitionError(current, target)


def decision_target(action: str) -> Status:
    return {Action.APPROVE: Status.PUBLISHED, Action.REJECT: Status.REJECTED}[Action(action)]
