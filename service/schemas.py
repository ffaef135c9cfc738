"""Request and response schemas: validation for the API and the source of /openapi.json."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from apiflask import Schema
from apiflask.fields import Boolean, Dict, Float, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range
from marshmallow import EXCLUDE, ValidationError, post_dump

from civility.backtest import DEFAULT_TARGET_PRECISION, parse_since
from civility.comments import SORTS
from civility.engagement import MAX_COUNT_IDS, NETWORKS, REPORT_REASONS, WINDOWS
from civility.errors import Invalid
from civility.moderation import MAX_BULK, QUEUE_SORTS, QUEUE_STATUSES
from civility.policy import report_reason
from civility.statuses import DECISIONS, Action, Status
from civility.text import MAX_BODY_CHARS, MAX_NAME_CHARS, MAX_NOTE_CHARS
from civility.webhooks import EVENTS as WEBHOOK_EVENTS
from civility.wordlists import KINDS as WORD_LIST_KINDS
from civility.wordlists import MAX_ENTRIES, MAX_ENTRY_CHARS
from service.api import MAX_COMMENT_ID as MAX_ID


class Lenient(Schema):
    class Meta:
        unknown = EXCLUDE


# -- requests ------------------------------------------------------------------------------------
# Text limits count characters after Unicode normalisation (civility.text.clean). A decomposed
# letter is several code points before it, so the raw input may be longer, within this bound.
RAW_TEXT_FACTOR = 4


def text(limit: int, description: str, minimum: int = 1, **kwargs) -> String:
    return String(validate=Length(minimum, limit * RAW_TEXT_FACTOR),
                  metadata={"description": f"{description}; at most {limit} characters once NFC-normalised"},
                  **kwargs)


class CommentIn(Lenient):
    body = text(MAX_BODY_CHARS, "the comment", required=True)
    author_name = text(MAX_NAME_CHARS, "required unless an identity token names the reader")
    parent_id = Integer(strict=True, allow_none=True, validate=Range(1, MAX_ID))
    check_id = String(allow_none=True, validate=Length(1, 64),
                      metadata={"description": "the check_id of a nudge (POST .../comments/check) this comment "
                                               "follows; counted once as revised or posted anyway"})


class CheckIn(Lenient):
    """A comment about to be posted; only its body is read (author_name, parent_id and others are ignored)."""

    body = text(MAX_BODY_CHARS, "the comment", required=True)


class CheckOut(Schema):
    would_hold = Boolean(required=True, metadata={"description": "the policy would hold (or reject) this text"})
    reasons = List(String(), required=True, metadata={"description": "why, in words for the reader"})
    check_id = String(allow_none=True, metadata={"description": "when held: send it with the comment"})


class CommentEditIn(Lenient):
    body = text(MAX_BODY_CHARS, "the new text", required=True)


# A thread page's query (also read by service.fast_lane, which must accept exactly what this does).
PAGE_SIZE, MAX_PAGE_SIZE, MAX_CURSOR_CHARS = 50, 100, 512


class ThreadQuery(Lenient):
    sort = String(load_default=SORTS[0], validate=OneOf(SORTS))
    limit = Integer(load_default=PAGE_SIZE, validate=Range(1, MAX_PAGE_SIZE))
    cursor = String(load_default=None, validate=Length(max=MAX_CURSOR_CHARS))


class RepliesQuery(Lenient):
    limit = Integer(load_default=50, validate=Range(1, 100))
    cursor = String(load_default=None, validate=Length(max=512))


class QueueQuery(Lenient):
    status = String(load_default=QUEUE_STATUSES[0], validate=OneOf(QUEUE_STATUSES))
    article_id = String(load_default=None, validate=Length(1, 128))
    label = String(load_default=None, validate=Length(1, 64))
    min_score = Float(load_default=None, validate=Range(0, 1))
    sort = String(load_default=QUEUE_SORTS[0], validate=OneOf(QUEUE_SORTS))
    limit = Integer(load_default=50, validate=Range(1, 100))
    cursor = String(load_default=None, validate=Length(max=512))


class DecisionIn(Lenient):
    action = String(required=True, validate=OneOf([a.value for a in DECISIONS]))
    reason = text(MAX_NOTE_CHARS, "shown in the comment's history", 0, load_default=None, allow_none=True)
    version = Integer(strict=True, load_default=None, allow_none=True, validate=Range(1, 2**31))


class BulkDecisionItem(DecisionIn):
    comment_id = Integer(strict=True, required=True, validate=Range(1, MAX_ID))


class BulkDecisionsIn(Lenient):
    decisions = List(Nested(BulkDecisionItem), required=True, validate=Length(1, MAX_BULK))


# -- responses -----------------------------------------------------------------------------------
# Output schemas dump the domain's objects directly: this is the one place a response's shape is
# defined, and /openapi.json is generated from it.
def _timestamp(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Timestamp(String):
    """An aware datetime as RFC 3339 in UTC with milliseconds: ``2026-12-02T12:00:00.000Z``."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {})["format"] = "date-time"
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return _timestamp(value)


class AuthorOut(Schema):
    name = String(required=True)
    id = String(allow_none=True)


class CommentOut(Schema):
    """A comment as readers see it. A deleted comment is a placeholder: no author, no text."""

    # Moderators see what a deleted comment said.
    reveal_deleted = False

    id = Integer(required=True)
    article_id = String(required=True)
    parent_id = Integer(allow_none=True)
    author = Nested(AuthorOut, required=True)
    body = String(required=True)
    html = String(required=True)
    status = String(required=True, validate=OneOf([s.value for s in Status]))
    created_at = Timestamp(required=True)
    edited_at = Timestamp(allow_none=True)
    reply_count = Integer(required=True)
    votes = Integer(required=True)

    @post_dump(pass_original=True)
    def _author_and_placeholder(self, data: dict, comment, **kwargs) -> dict:
        if comment.status == Status.DELETED and not self.reveal_deleted:
            data.update(author={"name": "", "id": None}, body="", html="")
        else:
            data["author"] = {"name": comment.author_name, "id": comment.author_id}
        return data


class CreatedCommentOut(CommentOut):
    edit_token = String(required=True, metadata={"description": "shown only once; send as X-Edit-Token"})


class ThreadItemOut(CommentOut):
    replies = List(Nested(CommentOut), required=True)


class ThreadOut(Schema):
    items = List(Nested(ThreadItemOut), required=True)
    next_cursor = String(allow_none=True)
    total = Integer(required=True)


def _public_comment(comment: Any) -> dict[str, Any]:
    deleted = comment.status == Status.DELETED
    return {
        "id": comment.id, "article_id": comment.article_id, "parent_id": comment.parent_id,
        "body": "" if deleted else comment.body, "html": "" if deleted else comment.html,
        "status": str(comment.status), "created_at": _timestamp(comment.created_at),
        "edited_at": _timestamp(comment.edited_at), "reply_count": comment.reply_count, "votes": comment.votes,
    }


def _author(comment: Any) -> dict[str, Any]:
    if comment.status == Status.DELETED:
        return {"name": "", "id": None}
    return {"name": comment.author_name, "id": comment.author_id}


def dump_thread(page: Any) -> dict[str, Any]:
    """``ThreadOut().dump(page)``, key for key, without marshmallow's pass over every field: a page
    of 50 comments with their replies is rebuilt after every write to the thread, and that pass
    cost a third of the rebuild. ThreadOut stays the documented shape; tests/test_thread_dump.py
    holds the two equal."""
    items = []
    for comment in page.items:
        item = _public_comment(comment)
        item["replies"] = [{**_public_comment(reply), "author": _author(reply)} for reply in comment.replies]
        item["author"] = _author(comment)
        items.append(item)
    return {"items": items, "next_cursor": page.next_cursor, "total": page.total}


class RepliesOut(Schema):
    items = List(Nested(CommentOut), required=True)
    next_cursor = String(allow_none=True)


class ScorerOut(Schema):
    name = String(allow_none=True)
    version = String(allow_none=True)


class ReportOut(Schema):
    reason = String(required=True)
    note = String(allow_none=True)
    at = Timestamp(required=True, attribute="created_at")


class ModerationItemOut(CommentOut):
    reveal_deleted = True

    scores = Dict(keys=String(), values=Float(), allow_none=True)
    scorer = Nested(ScorerOut, required=True)
    reasons = List(String(), required=True)
    reports = List(Nested(ReportOut), required=True, attribute="open_reports")
    version = Integer(required=True)
    decided_by = String(allow_none=True)
    decided_at = Timestamp(allow_none=True)
    reported_at = Timestamp(allow_none=True)

    @post_dump(pass_original=True)
    def _scorer_and_reasons(self, data: dict, comment, **kwargs) -> dict:
        data["scorer"] = {"name": comment.scorer_name, "version": comment.scorer_version}
        reasons = list(comment.reasons or [])
        if comment.open_reports:
            reasons.append(report_reason([r.reason for r in comment.open_reports]))
        data["reasons"] = reasons
        return data


class QueueOut(Schema):
    items = List(Nested(ModerationItemOut), required=True)
    next_cursor = String(allow_none=True)
    counts = Dict(keys=String(), values=Integer(), required=True)


class ErrorBody(Schema):
    code = String(required=True)
    message = String(required=True)
    details = Dict(required=True)


class ErrorOut(Schema):
    """Every error answer: ``{"error": {"code", "message", "details"}}``."""

    error = Nested(ErrorBody, required=True)


class BulkResultOut(Schema):
    comment_id = Integer(required=True)
    ok = Boolean(required=True)
    status = Integer(required=True)
    item = Nested(ModerationItemOut)
    error = Nested(ErrorBody)


class BulkDecisionsOut(Schema):
    results = List(Nested(BulkResultOut), required=True)


class EventOut(Schema):
    at = Timestamp(required=True)
    actor = String(required=True)
    action = String(required=True, validate=OneOf([a.value for a in Action]))
    from_status = String(allow_none=True)
    to_status = String(allow_none=True)
    reason = String(allow_none=True)
    scores = Dict(keys=String(), values=Float(), allow_none=True)
    details = Dict(allow_none=True)


class HistoryOut(Schema):
    comment_id = Integer(required=True)
    events = List(Nested(EventOut), required=True)


class StatsOut(Schema):
    queues = Dict(keys=String(), values=Integer(), required=True)
    statuses = Dict(keys=String(), values=Integer(), required=True)
    decisions_24h = Dict(keys=String(), values=Integer(), required=True)
    scoring = Dict(required=True)
    scorer = Dict(required=True)
    workers = List(Dict(), required=True)
    nudges = Dict(required=True, metadata={"description": "nudge counts: today and the last 7 days (docs/api.md)"})
    perspective = Dict(required=True, metadata={"description": "comments:suggestscore calls of the last 24 hours: "
                                                              "feedback_24h, feedback_24h_by_attribute"})


# -- the backtest (civility/backtest.py; the report's shape is documented in docs/api.md) ----------------
class Since(String):
    """An ISO 8601 date or time; without an offset, UTC (``civility.backtest.parse_since``)."""

    MAX_CHARS = 64

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).update({"format": "date-time", "maxLength": self.MAX_CHARS})
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        raw = super()._deserialize(value, attr, data, **kwargs)
        if not 1 <= len(raw) <= self.MAX_CHARS:
            raise ValidationError(f"Length must be between 1 and {self.MAX_CHARS}.")
        try:
            return parse_since(raw)
        except Invalid as exc:
            raise ValidationError(exc.message) from None


class BacktestQuery(Lenient):
    since = Since(load_default=None, metadata={"description": "only decisions made at or after this date or time"})
    target_precision = Float(load_default=DEFAULT_TARGET_PRECISION, validate=Range(0, 1, min_inclusive=False))


class BacktestConfusionOut(Schema):
    true_positive = Integer(required=True)
    false_positive = Integer(required=True)
    true_negative = Integer(required=True)
    false_negative = Integer(required=True)


class BacktestTargetOut(Schema):
    reachable = Boolean(required=True)
    hold = Float(required=True, allow_none=True)
    precision = Float(required=True, allow_none=True)
    recall = Float(required=True, allow_none=True)


class BacktestOverallOut(Schema):
    texts = Integer(required=True)
    positives = Integer(required=True)
    roc_auc = Float(required=True, allow_none=True)
    held = Integer(required=True)
    precision = Float(required=True, allow_none=True)
    recall = Float(required=True, allow_none=True)
    false_positive_rate = Float(required=True, allow_none=True)
    confusion = Nested(BacktestConfusionOut, required=True)
    held_by_word_lists = Integer(required=True)


class BacktestLabelOut(Schema):
    texts = Integer(required=True)
    positives = Integer(required=True)
    hold = Float(required=True, allow_none=True)
    reject = Float(required=True, allow_none=True)
    roc_auc = Float(required=True, allow_none=True)
    held = Integer(required=True, allow_none=True)
    precision = Float(required=True, allow_none=True)
    recall = Float(required=True, allow_none=True)
    false_positive_rate = Float(required=True, allow_none=True)
    confusion = Nested(BacktestConfusionOut, required=True, allow_none=True)
    target = Nested(BacktestTargetOut, required=True)


class BacktestScorerOut(Schema):
    name = String(required=True, allow_none=True)
    version = String(required=True, allow_none=True)
    fallback = Boolean(required=True)
    texts = Integer(required=True)


class BacktestThresholdOut(Schema):
    hold = Float(required=True)
    reject = Float(required=True, allow_none=True)


class BacktestOut(Schema):
    schema_name = String(required=True, attribute="schema", data_key="schema")
    source = String(required=True, validate=OneOf(["csv", "decisions"]))
    scores = String(required=True, validate=OneOf(["stored", "rescored"]))
    since = String(required=True, allow_none=True, metadata={"format": "date-time"})
    target_precision = Float(required=True)
    thresholds = Dict(keys=String(), values=Nested(BacktestThresholdOut), required=True)
    scorers = List(Nested(BacktestScorerOut), required=True)
    warning = String(required=True, allow_none=True)
    texts = Integer(required=True)
    positives = Integer(required=True)
    negatives = Integer(required=True)
    skipped = Dict(keys=String(), values=Integer(), required=True)
    truncated = Boolean(required=True)
    overall = Nested(BacktestOverallOut, required=True)
    labels = Dict(keys=String(), values=Nested(BacktestLabelOut), required=True)


# -- word lists (civility/wordlists.py) ----------------------------------------------------------
class WordListIn(Lenient):
    # Each entry is checked by civility.wordlists.clean_entries, whose messages name the entry.
    entries = List(String(validate=Length(max=MAX_ENTRY_CHARS * RAW_TEXT_FACTOR)), required=True,
                   validate=Length(max=MAX_ENTRIES),
                   metadata={"description": f"the whole list: words or phrases, `*` a wildcard (`kill*`; alone, "
                                            f"any one word); each at most {MAX_ENTRY_CHARS} characters once "
                                            "normalised, with 2 letters or digits at least; repeats dropped"})
    version = Integer(strict=True, load_default=None, allow_none=True, validate=Range(0, 2**31),
                      metadata={"description": "the version this edit started from: 409 if the list changed since"})


class WordListOut(Schema):
    kind = String(required=True, validate=OneOf(WORD_LIST_KINDS))
    entries = List(String(), required=True, metadata={"description": "oldest first"})
    version = Integer(required=True, metadata={"description": "bumped by every change; 0 if never changed"})
    updated_at = Timestamp(allow_none=True)
    updated_by = String(allow_none=True)
    editable = Boolean(required=True, metadata={"description": "whether the caller may change it (admins)"})


# -- engagement ----------------------------------------------------------------------------------
class ShareIn(Lenient):
    network = String(required=True, validate=OneOf(NETWORKS))


class ShareAckOut(Schema):
    article_id = String(required=True)
    network = String(required=True)
    total = Integer(required=True)
    counted = Boolean(required=True, metadata={"description": "false for a repeat inside the dedup window"})


class SharesOut(Schema):
    article_id = String(required=True)
    total = Integer(required=True)
    networks = Dict(keys=String(), values=Integer(), required=True)


class Strings(List):
    """A list of short strings, checked in one pass: /counts takes 100 of them on every page view,
    and marshmallow's item-by-item checks cost more than the rest of the request."""

    def __init__(self, max_length: int, **kwargs):
        super().__init__(String(validate=Length(1, max_length)), **kwargs)
        self.max_length = max_length

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list) and all(type(v) is str and 0 < len(v) <= self.max_length for v in value):
            return list(value)
        return super()._deserialize(value, attr, data, **kwargs)  # the detailed, per-item errors


class CountsQuery(Lenient):
    article_id = Strings(128, required=True, validate=Length(1, MAX_COUNT_IDS))


class ArticleCountsOut(Schema):
    comments = Integer(required=True)
    shares = Integer(required=True)


class CountsOut(Schema):
    counts = Dict(keys=String(), values=Nested(ArticleCountsOut), required=True)


class TrendingQuery(Lenient):
    window = String(load_default="24h", validate=OneOf(list(WINDOWS)))
    limit = Integer(load_default=10, validate=Range(1, 50))


class TrendingShared(Schema):
    article_id = String(required=True)
    shares = Integer(required=True)


class TrendingCommented(Schema):
    article_id = String(required=True)
    comments = Integer(required=True)


class TrendingOut(Schema):
    window = String(required=True)
    most_shared = List(Nested(TrendingShared), required=True)
    most_commented = List(Nested(TrendingCommented), required=True)


class VoteIn(Lenient):
    value = Integer(strict=True, required=True, validate=OneOf([1, -1, 0]))


class VoteOut(Schema):
    comment_id = Integer(required=True)
    votes = Integer(required=True)
    value = Integer(required=True)


class ReportIn(Lenient):
    reason = String(required=True, validate=OneOf(REPORT_REASONS))
    note = text(MAX_NOTE_CHARS, "for the moderators", 0, load_default=None, allow_none=True)


class ReportAckOut(Schema):
    comment_id = Integer(required=True)
    reported = Boolean(required=True)
    duplicate = Boolean(required=True)


# -- readers' data (civility/readers.py) -----------------------------------------------------------
class ExportEventOut(Schema):
    at = Timestamp(required=True)
    action = String(required=True)
    by = String(required=True, metadata={"description": "you, moderator, scorer, system, reader or erasure"})
    from_status = String(allow_none=True)
    to_status = String(allow_none=True)
    reason = String(allow_none=True)
    scores = Dict(keys=String(), values=Float(), allow_none=True)


class ExportCommentOut(Schema):
    id = Integer(required=True)
    article_id = String(required=True)
    parent_id = Integer(allow_none=True)
    author_name = String(required=True)
    body = String(required=True)
    status = String(required=True)
    votes = Integer(required=True)
    created_at = Timestamp(required=True)
    edited_at = Timestamp(allow_none=True)
    deleted_at = Timestamp(allow_none=True)
    history = List(Nested(ExportEventOut), required=True)


class ExportVoteOut(Schema):
    comment_id = Integer(required=True)
    value = Integer(required=True)
    at = Timestamp(required=True)


class ExportReportOut(Schema):
    comment_id = Integer(required=True)
    reason = String(required=True)
    note = String(allow_none=True)
    at = Timestamp(required=True)
    resolved_at = Timestamp(allow_none=True)


class ExportShareOut(Schema):
    article_id = String(required=True)
    network = String(required=True)
    at = Timestamp(required=True)


class ReaderExportOut(Schema):
    format = String(required=True)
    generated_at = Timestamp(required=True)
    sub = String(allow_none=True)
    comments = List(Nested(ExportCommentOut), required=True)
    votes = List(Nested(ExportVoteOut), required=True)
    reports = List(Nested(ExportReportOut), required=True)
    shares = List(Nested(ExportShareOut), required=True)


class ErasureOut(Schema):
    comments = Integer(required=True)
    votes = Integer(required=True)
    reports = Integer(required=True)
    shares = Integer(required=True)


# -- webhooks (civility/webhooks.py) ---------------------------------------------------------------
class WebhookIn(Schema):
    url = String(required=True, validate=Length(1, 2048))
    events = List(String(validate=OneOf(WEBHOOK_EVENTS)), required=True, validate=Length(1, len(WEBHOOK_EVENTS)))


class WebhookOut(Schema):
    id = Integer(required=True)
    url = String(required=True)
    events = List(String(), required=True)
    created_at = Timestamp(required=True)
    consecutive_failures = Integer(required=True)
    disabled_at = Timestamp(allow_none=True)
    disabled_reason = String(allow_none=True)


class WebhookCreatedOut(WebhookOut):
    secret = String(required=True, metadata={"description": "The HMAC-SHA256 signing key; shown only here"})


class WebhooksOut(Schema):
    items = List(Nested(WebhookOut), required=True)


class WebhookDeliveryOut(Schema):
    id = Integer(required=True)
    event = String(required=True)
    state = String(required=True, metadata={"description": "pending, delivered or failed"})
    attempts = Integer(required=True)
    last_status_code = Integer(allow_none=True)
    last_error = String(allow_none=True)
    next_attempt_at = Timestamp(allow_none=True)
    created_at = Timestamp(required=True)
    delivered_at = Timestamp(allow_none=True)


class WebhookDeliveriesOut(Schema):
    items = List(Nested(WebhookDeliveryOut), required=True)
