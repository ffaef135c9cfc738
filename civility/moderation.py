"""Moderator decisions with optimistic concurrency, the queue view, history and stats."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import timedelta

from civility.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from civility.moderators import ModeratorIdentity
from civility.pagination import decode_cursor, encode_cursor
from civility.statuses import ALLOWED, Action, Status, decision_target
from civility.store.comments import CommentRepository, QueueFilter
from civility.store.db import Database
from civility.store.engagement import EngagementRepository
from civility.store.models import Comment, CommentEvent, Report, utcnow

QUEUE_STATUSES = ("flagged", "reported", "pending", "rejected", "published")
QUEUE_SORTS = ("score", "oldest", "newest")
MAX_BULK = 500


@dataclass
class QueuePage:
    items: list[ModerationItem]
    next_cursor: str | None
    counts: dict[str, int]


def _already_decided(comment: Comment) -> bool:
    """A moderator already ruled on this text, and nothing (an edit, new reports) reopened it."""
    if comment.decided_at is None:
        return False
    reopened_at = max(filter(None, [comment.edited_at, comment.created_at, comment.reported_at]))
    return comment.decided_at >= reopened_at


@dataclass
class ModerationItem:
    comment: Comment
    reports: list[Report]


class ModerationService:
    def __init__(self, db: Database):
        self.db = db

    def decide(self, comment_id: int, action: str, moderator: ModeratorIdentity,
               reason: str | None = None, version: int | None = None) -> ModerationItem:
        if action not in (Action.APPROVE, Action.REJECT):
            raise Invalid("invalid action", {"action": ["approve or reject"]})
        target = decision_target(action)
        now = utcnow()
        with self.db.transaction() as session:
            repo = CommentRepository(session)
            comment = repo.get(comment_id)
            if comment is None:
                raise NotFound("no such comment")
            current = Status(comment.status)
            details = {"current_version": comment.version, "status": current.value,
                       "decided_by": comment.decided_by}
            if version is not None and version != comment.version:
                raise Conflict(_conflict_message(comment), details)
            if version is None and _already_decided(comment):
                # Two moderators on one comment: the first decision stands unless overridden on purpose.
                raise Conflict(_conflict_message(comment), details)
            if (comment.decided_by and comment.decided_by != moderator.name and _already_decided(comment)
                    and not moderator.is_admin):
                raise Forbidden("only an admin can reverse another moderator's decision", details)
            if target not in ALLOWED[current] and target != current:
                raise Conflict(f"a {current} comment cannot be {action}d", details)
            if not repo.compare_and_set(comment.id, comment.version, status=target, decided_by=moderator.name,
                                        decided_at=now, score_due_at=None, reported_at=None):
                session.refresh(comment)
                raise Conflict(_conflict_message(comment), {"current_version": comment.version,
                                                            "status": comment.status,
                                                            "decided_by": comment.decided_by})
            engagement = EngagementRepository(session)
            engagement.resolve_reports(comment.id, now)
            if target == Status.PUBLISHED and comment.published_at is None:
                session.refresh(comment)
                engagement.record_publication(comment, now)
            repo.add_event(comment.id, f"moderator:{moderator.name}", action, current, target,
                           reason=reason, scores=comment.scores, at=now)
        return self.item(comment_id)

    def item(self, comment_id: int) -> ModerationItem:
        with self.db.read() as session:
            comment = CommentRepository(session).get(comment_id)
            if comment is None:
                raise NotFound("no such comment")
            reports = EngagementRepository(session).open_reports([comment_id])[comment_id]
            return ModerationItem(comment, reports)

    def decide_many(self, decisions: list[dict], moderator: ModeratorIdentity) -> list[dict]:
        if len(decisions) > MAX_BULK:
            raise Invalid("too many decisions", {"decisions": [f"at most {MAX_BULK}"]})
        results = []
        for d in decisions:
            try:
                item = self.decide(d["comment_id"], d["action"], moderator, d.get("reason"), d.get("version"))
                results.append({"comment_id": d["comment_id"], "ok": True, "status": 200, "item": item})
            except DomainError as exc:
                results.append({"comment_id": d["comment_id"], "ok": False, "status": exc.status,
                                "error": {"code": exc.code, "message": exc.message, "details": exc.details}})
        return results

    def queue(self, status: str = "flagged", article_id: str | None = None, label: str | None = None,
              min_score: float | None = None, sort: str = "score", limit: int = 50,
              cursor: str | None = None) -> QueuePage:
        kind = f"queue-{status}-{sort}-{label or ''}"
        after = decode_cursor(cursor, kind, 2 if sort == "score" else 1)
        with self.db.read() as session:
            repo = CommentRepository(session)
            counts = repo.status_counts()
            rows = repo.queue_page(QueueFilter(status=status, article_id=article_id, label=label,
                                               min_score=min_score, sort=sort, limit=limit + 1, after=after))
            items, more = rows[:limit], len(rows) > limit
            reports = EngagementRepository(session).open_reports([c.id for c in items])
        next_cursor = None
        if more and items:
            last = items[-1]
            if sort == "score":
                value = (last.scores or {}).get(label) if label else last.max_score
                key = [value if value is not None else -1.0, last.id]
            else:
                key = [last.id]
            next_cursor = encode_cursor(kind, key)
        return QueuePage([ModerationItem(c, reports[c.id]) for c in items], next_cursor, counts)

    def history(self, comment_id: int) -> list[CommentEvent]:
        with self.db.read() as session:
            repo = CommentRepository(session)
            if repo.get(comment_id) is None:
                raise NotFound("no such comment")
            return repo.events(comment_id)

    def stats(self) -> dict:
        now = utcnow()
        with self.db.read() as session:
            repo = CommentRepository(session)
            counts = repo.status_counts()
            decisions = repo.decisions_since(now - timedelta(hours=24))
            backlog, oldest = repo.scoring_backlog()
            latencies = repo.recent_latencies(now - timedelta(hours=1))
            scorer_name, scorer_version = repo.latest_scorer()
        return {
            "queues": {"flagged": counts["flagged"], "pending": counts["pending"], "reported": counts["reported"],
                       "rejected": counts["rejected"]},
            "statuses": counts,
            "decisions_24h": decisions,
            "scoring": {
                "backlog": backlog,
                "oldest_waiting_seconds": round((now - oldest).total_seconds(), 1) if oldest else None,
                "latency_seconds_p50": round(statistics.median(latencies), 3) if latencies else None,
                "latency_seconds_p95": round(_percentile(latencies, 0.95), 3) if latencies else None,
                "scored_last_hour": len(latencies),
            },
            "scorer": {"name": scorer_name, "version": scorer_version},
        }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _conflict_message(comment: Comment) -> str:
    if comment.decided_by:
        return f"already decided by {comment.decided_by}: the comment is now {comment.status}"
    return f"the comment changed since you loaded it: it is now {comment.status}"
