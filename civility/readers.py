"""Readers' data rights (GDPR articles 15, 17 and 20): export, erasure, and retention.

A signed-in reader is their ``sub``: their comments carry it (``comments.author_id``), and their
votes, reports and shares carry their reader key (``Client.of``: a salted hash of the sub). An
anonymous reader's key is their network, which a household shares: only the comment whose edit
token they kept can be tied to them, so an export by edit token holds that comment alone.

Moderators' reasons: an export includes the reason a moderator gave for a decision on the
reader's comment (it is about them, and explains a decision that affected them), but not the
moderator's name, nor who reported the comment or what a reporter wrote (other people's data).
An erasure clears every reason, score and detail in the history of the erased comments.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from civility import lifecycle, thread_changes, webhooks
from civility.config import Settings
from civility.errors import NotFound
from civility.identity import Client, Reader
from civility.statuses import Action
from civility.store.comments import CommentRepository
from civility.store.db import Database
from civility.store.models import Comment, CommentEvent, utcnow
from civility.store.readers import ReadersRepository

EXPORT_FORMAT = "civility-reader-export/1"
ERASE_ACTOR = "erasure"


@dataclass
class Erasure:
    comments: int = 0
    votes: int = 0
    reports: int = 0
    shares: int = 0


@dataclass
class Retention:
    client_hashes: int = 0
    share_events: int = 0


def _actor_kind(event: CommentEvent, own: set[str]) -> str:
    if event.actor in own or event.actor.startswith("author:"):
        return "you"
    return event.actor.split(":", 1)[0] if ":" in event.actor else event.actor


def _history(events: list[CommentEvent], own: set[str]) -> list[dict[str, Any]]:
    rows = []
    for e in events:
        theirs = e.action == Action.REPORT and e.actor not in own
        rows.append({"at": e.at, "action": e.action, "by": "reader" if theirs else _actor_kind(e, own),
                     "from_status": e.from_status, "to_status": e.to_status, "reason": e.reason,
                     "scores": e.scores})
    return rows


def _comment(c: Comment, events: list[CommentEvent], own: set[str]) -> dict[str, Any]:
    return {"id": c.id, "article_id": c.article_id, "parent_id": c.parent_id, "author_name": c.author_name,
            "body": c.body, "status": c.status, "votes": c.votes, "created_at": c.created_at,
            "edited_at": c.edited_at, "deleted_at": c.deleted_at, "history": _history(events, own)}


class ReadersService:
    def __init__(self, db: Database, settings: Settings, salt: Callable[[], str]):
        self.db = db
        self.settings = settings
        self.salt = salt

    def key_of(self, sub: str) -> str:
        return Client.of(Reader(sub=sub, name=None), None, self.salt()).key

    # -- article 15 and 20 ------------------------------------------------------------------------
    def export(self, sub: str) -> dict[str, Any]:
        key = self.key_of(sub)
        own = {f"reader:{sub}"}
        with self.db.read() as session:
            repo = ReadersRepository(session)
            comments = repo.comments_of(sub)
            events = repo.events_of([c.id for c in comments])
            return {
                "format": EXPORT_FORMAT, "generated_at": utcnow(), "sub": sub,
                "comments": [_comment(c, events[c.id], own) for c in comments],
                "votes": [{"comment_id": v.comment_id, "value": v.value, "at": v.updated_at}
                          for v in repo.votes_by(key)],
                "reports": [{"comment_id": r.comment_id, "reason": r.reason, "note": r.note, "at": r.created_at,
                             "resolved_at": r.resolved_at} for r in repo.reports_by(key)],
                "shares": [{"article_id": s.article_id, "network": s.network, "at": s.created_at}
                           for s in repo.shares_by(key)],
            }

    def export_by_edit_token(self, token: str) -> dict[str, Any]:
        token_hash = hashlib.sha256(token.encode()).hexdigest()
        with self.db.read() as session:
            repo = ReadersRepository(session)
            comment = repo.comment_by_edit_token_hash(token_hash)
            if comment is None:
                raise NotFound("no comment has this edit token")
            events = repo.events_of([comment.id])[comment.id]
            return {"format": EXPORT_FORMAT, "generated_at": utcnow(), "sub": None,
                    "comments": [_comment(comment, events, set())], "votes": [], "reports": [], "shares": []}

    # -- article 17 -------------------------------------------------------------------------------
    def erase(self, sub: str, actor: str) -> Erasure:
        """Erase a reader; idempotent. The audit event holds counts only (no sub, no hash)."""
        key = self.key_of(sub)
        now = utcnow()
        result = Erasure()
        with self.db.transaction() as session:
            repo, comments = ReadersRepository(session), CommentRepository(session)
            own = repo.comments_of(sub, for_update=True)
            ids = [c.id for c in own]
            repo.scrub_history(ids, [f"reader:{sub}"])
            for comment in own:
                event = lifecycle.erase(comment, ERASE_ACTOR, now)
                if event is not None:
                    comments.record(comment, event)
            session.flush()
            result.comments = len(own)
            voted = repo.delete_votes(key)
            result.votes = len(voted)
            for comment in comments.get_many(voted).values():
                thread_changes.note(session, comment.article_id, comment.id, thread_changes.VOTES)
            result.reports = repo.delete_reports(key, f"reader:{key[:12]}")
            result.shares = repo.anonymise_shares(key)
            counts = {"comments": result.comments, "votes": result.votes, "reports": result.reports,
                      "shares": result.shares}
            repo.audit(actor, "reader_erased", now, counts)
            if any(counts.values()):
                # The news site's own id for the reader, to its own endpoints: it erases its copies too.
                webhooks.reader_erased(session, sub, counts)
        return result


def apply_retention(db: Database, settings: Settings, now: datetime | None = None) -> Retention:
    """Forget client hashes and share events older than ``retention_days`` (0: keep them). The
    hourly aggregates (share totals, trending) are kept. Cheap enough for every sweep."""
    result = Retention()
    if settings.retention_days <= 0:
        return result
    now = now or utcnow()
    before = now - timedelta(days=settings.retention_days)
    with db.transaction() as session:
        repo = ReadersRepository(session)
        result.client_hashes = repo.forget_client_hashes(before)
        result.share_events = repo.delete_share_events(before)
        if result.client_hashes or result.share_events:
            repo.audit("retention", "retention_applied", now,
                       {"client_hashes": result.client_hashes, "share_events": result.share_events,
                        "days": settings.retention_days})
    return result
