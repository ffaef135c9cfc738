"""What readers of a thread can see changed: collected while a transaction runs, announced after it commits.

The cached thread pages (``civility.infra.thread_cache``) and the live event streams both follow
these announcements, so the rule "which writes change what readers see" lives here, once.
A change is announced only after the commit (``civility.infra.after_commit``), so a reader who
reacts to it reads the new state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from civility.statuses import Action, Status

if TYPE_CHECKING:
    from civility.lifecycle import Event
    from civility.store.models import Comment

PUBLISHED, EDITED, REMOVED, VOTES, CHANGED = "published", "edited", "removed", "votes", "changed"
_SESSION_KEY = "civility_thread_changes"
# Actions whose effect on readers depends on settings (reports hide in pre mode; an approval
# unhides): announced whatever the statuses say.
_ALWAYS = {Action.EDIT, Action.DELETE, Action.APPROVE, Action.REJECT, Action.QUEUED_FOR_REPORTS}


@dataclass(frozen=True)
class ThreadChange:
    article_id: str
    comment_id: int
    kind: str  # PUBLISHED, EDITED, REMOVED, VOTES or CHANGED


def kind_of(event: Event) -> str | None:
    """How a life-cycle event changes what readers see; None when they cannot tell (a report, a
    score that leaves a comment where it was)."""
    was, now = event.from_status == Status.PUBLISHED, event.to_status == Status.PUBLISHED
    if was != now:
        return PUBLISHED if now else REMOVED
    if event.action == Action.EDIT:
        return EDITED
    return CHANGED if event.action in _ALWAYS else None


def note(session: Session, article_id: str, comment_id: int, kind: str) -> None:
    session.info.setdefault(_SESSION_KEY, []).append(ThreadChange(article_id, comment_id, kind))


def note_event(session: Session, comment: Comment, event: Event) -> None:
    kind = kind_of(event)
    if kind is not None:
        note(session, comment.article_id, comment.id, kind)


def take(session: Session) -> list[ThreadChange]:
    """What the committed transaction changed (once: the notes are removed)."""
    return session.info.pop(_SESSION_KEY, [])
