"""Moderator decisions with optimistic concurrency, the queue view, history and stats."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from civility import lifecycle, webhooks
from civility.comments import check_article_id
from civility.errors import DomainError, Invalid, NotFound
from civility.moderators import ModeratorIdentity
from civility.nudge import nudge_stats
from civility.pagination import decode_cursor, encode_cursor
from civility.perspective import feedback_stats
from civility.statuses import DECISIONS, Action
from civility.store.comments import CommentRepository, QueueFilter
from civility.store.db import Database
from civility.store.engagement import EngagementRepository
from civility.store.models import Comment, CommentEvent, utcnow
from civility.text import MAX_NOTE_CHARS, clean_optional

FALLBACK_WARNING = ("Comments are scored by the profanity fallback, which recognises offensive words only, "
                    "not threats or identity attacks phrased politely. `civility models pull` installs Detoxify.")
# The first of each is the default.
QUEUE_STATUSES = ("flagged", "reported", "pending", "rejected", "published")
QUEUE_SORTS = ("score", "oldest", "newest")
MAX_BULK = 500


@dataclass
class QueuePage:
    """Comments, each with its ``open_reports`` attached, and the size of every queue."""

    items: list[Comment]
    next_cursor: str | None
    counts: dict[str, int]


class ModerationService:
    def __init__(self, db: Database, live_workers: Callable[[], list[dict[str, Any]]],
                 queue_depth: Callable[[], int]):
        self.db = db
        self._live_workers = live_workers
        self._queue_depth = queue_depth

    def decide(self, comment_id: int, action: str, moderator: ModeratorIdentity,
               reason: str | None = None, version: int | None = None) -> Comment:
        if action not in DECISIONS:
            raise Invalid("invalid action", {"action": ["approve or reject"]})
        reason = clean_optional("reason", reason, MAX_NOTE_CHARS)
        now = utcnow()
        with self.db.transaction() as session:
            repo = CommentRepository(session)
            # The row lock makes a second moderator wait, then see the first one's decision.
            comment = repo.get(comment_id, for_update=True)
            if comment is None:
                raise NotFound("no such comment")
            event = lifecycle.decide(comment, Action(action), moderator, now, reason, version)
            EngagementRepository(session).resolve_reports(comment.id, now)
            repo.record(comment, event)
            webhooks.comment_decided(session, comment, event, moderator.name)
        return self.item(comment_id)

    def item(self, comment_id: int) -> Comment:
        """The comment as moderators see it, with its open reports."""
        with self.db.read() as session:
            comment = CommentRepository(session).get(comment_id)
            if comment is None:
                raise NotFound("no such comment")
            comment.open_reports = EngagementRepository(session).open_reports([comment_id])[comment_id]
            return comment

    def decide_many(self, decisions: list[dict[str, Any]], moderator: ModeratorIdentity) -> list[dict[str, Any]]:
        if len(decisions) > MAX_BULK:
            raise Invalid("too many decisions", {"decisions": [f"at most {MAX_BULK}"]})
        results: list[dict[str, Any]] = []
        for d in decisions:
            try:
                item = self.decide(d["comment_id"], d["action"], moderator, d.get("reason"), d.get("version"))
                results.append({"comment_id": d["comment_id"], "ok": True, "status": 200, "item": item})
            except DomainError as exc:
                results.append({"comment_id": d["comment_id"], "ok": False, "status": exc.status_code,
                                "error": {"code": exc.code, "message": exc.message, "details": exc.details}})
        return results

    def queue(self, status: str = QUEUE_STATUSES[0], article_id: str | None = None, label: str | None = None,
              min_score: float | None = None, sort: str = QUEUE_SORTS[0], limit: int = 50,
              cursor: str | None = None) -> QueuePage:
        if article_id is not None:
            check_article_id(article_id)
        kind = f"queue-{status}-{sort}-{label or ''}"
        after = decode_cursor(cursor, kind, 2 if sort == "score" else 1)
        with self.db.read() as session:
            repo = CommentRepository(session)
            counts = repo.status_counts()
            rows = repo.queue_page(QueueFilter(status=status, article_id=article_id, label=label,
                                               min_score=min_score, sort=sort, limit=limit + 1, after=after))
            items, more = rows[:limit], len(rows) > limit
            reports = EngagementRepository(session).open_reports([c.id for c in items])
        for comment in items:
            comment.open_reports = reports[comment.id]
        next_cursor = None
        if more and items:
            last = items[-1]
            if sort == "score":
                value = (last.scores or {}).get(label) if label else last.max_score
                key = [value if value is not None else -1.0, last.id]
            else:
                key = [last.id]
            next_cursor = encode_cursor(kind, key)
        return QueuePage(items, next_cursor, counts)

    def history(self, comment_id: int) -> list[CommentEvent]:
        with self.db.read() as session:
            repo = CommentRepository(session)
            if repo.get(comment_id) is None:
                raise NotFound("no such comment")
            return repo.events(comment_id)

    def stats(self) -> dict[str, Any]:
        """Queue sizes, recent decisions, the scoring backlog and latency, who scores, and the nudge counts."""
        now = utcnow()
        with self.db.read() as session:
            repo = CommentRepository(session)
            counts = repo.status_counts()
            decisions = repo.decisions_since(now - timedelta(hours=24))
            backlog, oldest = repo.scoring_backlog()
            latencies = repo.recent_latencies(now - timedelta(hours=1))
            scorer_name, scorer_version = repo.latest_scorer()
        result: dict[str, Any] = {
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
            "scorer": {"name": scorer_name, "version": scorer_version,
                       "fallback": "(fallback)" in scorer_version if scorer_version else None},
            "workers": [],
            "nudges": nudge_stats(self.db, now),
            "perspective": feedback_stats(self.db, now - timedelta(hours=24)),
        }
        workers = result["workers"] = self._live_workers()
        if workers:
            # What the live workers run now beats what scored the latest comment.
            result["scorer"].update({k: workers[0].get(k) for k in ("name", "version", "fallback", "warning")})
        if result["scorer"].get("fallback") and not result["scorer"].get("warning"):
            result["scorer"]["warning"] = FALLBACK_WARNING
        result["scorer"].setdefault("warning", None)
        result["scoring"]["queue_depth"] = self._queue_depth()
        return result


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass(frozen=True)
class Backlog:
    waiting: int
    oldest_seconds: float
    statuses: dict[str, int]


def backlog(db: Database) -> Backlog:
    """Comments waiting for a score, the age of the oldest, and comments by status (for /metrics)."""
    with db.read() as session:
        repo = CommentRepository(session)
        waiting, since = repo.scoring_backlog()
        statuses = repo.status_counts()
    return Backlog(waiting, (utcnow() - since).total_seconds() if since else 0.0, statuses)
