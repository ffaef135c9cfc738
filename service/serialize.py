"""Comment rows -> the contract's JSON objects."""

from __future__ import annotations

from datetime import datetime, timezone

from civility.statuses import Status
from civility.policy import report_reason
from civility.store.models import Comment, CommentEvent


def rfc3339(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def comment_json(c: Comment, reply_count: int = 0, *, reveal_deleted: bool = False) -> dict:
    placeholder = c.status == Status.DELETED and not reveal_deleted
    return {
        "id": c.id,
        "article_id": c.article_id,
        "parent_id": c.parent_id,
        "author": {"name": "" if placeholder else c.author_name, "id": None if placeholder else c.author_id},
        "body": "" if placeholder else c.body,
        "html": "" if placeholder else c.html,
        "status": c.status,
        "created_at": rfc3339(c.created_at),
        "edited_at": rfc3339(c.edited_at),
        "reply_count": reply_count,
        "votes": c.votes,
    }


def moderation_item_json(item) -> dict:
    c, reports = item.comment, item.reports
    result = comment_json(c, reveal_deleted=True)
    reasons = list(c.reasons or [])
    if reports:
        reasons.append(report_reason([r.reason for r in reports]))
    result.update(
        scores=c.scores,
        scorer={"name": c.scorer_name, "version": c.scorer_version},
        reasons=reasons,
        reports=[{"reason": r.reason, "note": r.note, "at": rfc3339(r.created_at)} for r in reports],
        version=c.version,
        decided_by=c.decided_by,
        decided_at=rfc3339(c.decided_at),
        reported_at=rfc3339(c.reported_at),
    )
    return result


def event_json(e: CommentEvent) -> dict:
    return {
        "at": rfc3339(e.at),
        "actor": e.actor,
        "action": e.action,
        "from_status": e.from_status,
        "to_status": e.to_status,
        "reason": e.reason,
        "scores": e.scores,
        "details": e.details,
    }
