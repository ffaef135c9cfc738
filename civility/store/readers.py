"""Queries for readers' data rights: what one reader left behind, its erasure, and retention."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from civility.statuses import Action
from civility.store.models import AuditEvent, Comment, CommentEvent, Report, ShareEvent, Vote

# What an erased reader's key and actor become: fixed, so that nothing ties rows to anybody.
ERASED = "erased"
ERASED_ACTOR = "reader:erased"


class ReadersRepository:
    def __init__(self, session: Session):
        self.session = session

    # -- what one reader left behind --------------------------------------------------------------
    def comments_of(self, sub: str, *, for_update: bool = False) -> list[Comment]:
        stmt = select(Comment).where(Comment.author_id == sub).order_by(Comment.id)
        if for_update:
            stmt = stmt.with_for_update()
        return list(self.session.scalars(stmt))

    def comment_by_edit_token_hash(self, token_hash: str) -> Comment | None:
        return self.session.scalars(select(Comment).where(Comment.edit_token_hash == token_hash)).first()

    def events_of(self, comment_ids: list[int]) -> dict[int, list[CommentEvent]]:
        result: dict[int, list[CommentEvent]] = {cid: [] for cid in comment_ids}
        if comment_ids:
            stmt = select(CommentEvent).where(CommentEvent.comment_id.in_(comment_ids)).order_by(CommentEvent.id)
            for event in self.session.scalars(stmt):
                result[event.comment_id].append(event)
        return result

    def votes_by(self, voter: str) -> list[Vote]:
        return list(self.session.scalars(select(Vote).where(Vote.voter == voter).order_by(Vote.comment_id)))

    def reports_by(self, reporter: str) -> list[Report]:
        return list(self.session.scalars(select(Report).where(Report.reporter == reporter).order_by(Report.id)))

    def shares_by(self, client: str) -> list[ShareEvent]:
        return list(self.session.scalars(select(ShareEvent).where(ShareEvent.client == client)
                                         .order_by(ShareEvent.id)))

    # -- erasure ----------------------------------------------------------------------------------
    def scrub_history(self, comment_ids: list[int], own_actors: list[str]) -> None:
        """Clear the text of erased comments' history; the reader's own actor names go too."""
        if not comment_ids:
            return
        events = CommentEvent.comment_id.in_(comment_ids)
        self.session.execute(update(CommentEvent).where(events).values(reason=None, details=None, scores=None)
                             .execution_options(synchronize_session=False))
        self.session.execute(update(CommentEvent)
                             .where(events, or_(CommentEvent.actor.in_(own_actors),
                                                CommentEvent.actor.like("author:%")))
                             .values(actor=ERASED_ACTOR).execution_options(synchronize_session=False))

    def delete_votes(self, voter: str) -> list[int]:
        """Remove a voter's votes and recompute the totals of the comments they voted on."""
        ids = list(self.session.scalars(select(Vote.comment_id).where(Vote.voter == voter)))
        if ids:
            self.session.execute(delete(Vote).where(Vote.voter == voter))
            total = select(func.coalesce(func.sum(Vote.value), 0)).where(Vote.comment_id == Comment.id)
            self.session.execute(update(Comment).where(Comment.id.in_(ids)).values(votes=total.scalar_subquery())
                                 .execution_options(synchronize_session=False))
        return ids

    def delete_reports(self, reporter: str, report_actor: str) -> int:
        """Remove a reporter's reports, and their name and note in the reported comments' history."""
        count = len(list(self.session.scalars(select(Report.id).where(Report.reporter == reporter))))
        self.session.execute(delete(Report).where(Report.reporter == reporter))
        self.session.execute(update(CommentEvent)
                             .where(CommentEvent.actor == report_actor, CommentEvent.action == Action.REPORT)
                             .values(actor=ERASED_ACTOR, details=None).execution_options(synchronize_session=False))
        return count

    def anonymise_shares(self, client: str) -> int:
        count = len(list(self.session.scalars(select(ShareEvent.id).where(ShareEvent.client == client))))
        self.session.execute(update(ShareEvent).where(ShareEvent.client == client).values(client=ERASED)
                             .execution_options(synchronize_session=False))
        return count

    def audit(self, actor: str, action: str, at: datetime, details: dict[str, Any]) -> None:
        self.session.add(AuditEvent(actor=actor, action=action, at=at, details=details))

    def audit_events(self) -> list[AuditEvent]:
        return list(self.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))

    # -- retention --------------------------------------------------------------------------------
    def forget_client_hashes(self, before: datetime) -> int:
        ids = list(self.session.scalars(select(Comment.id).where(Comment.client_hash.is_not(None),
                                                                 Comment.created_at < before)))
        if ids:
            self.session.execute(update(Comment).where(Comment.id.in_(ids)).values(client_hash=None)
                                 .execution_options(synchronize_session=False))
        return len(ids)

    def delete_share_events(self, before: datetime) -> int:
        count = self.session.scalars(select(func.count()).where(ShareEvent.created_at < before)).one()
        if count:
            self.session.execute(delete(ShareEvent).where(ShareEvent.created_at < before))
        return count
