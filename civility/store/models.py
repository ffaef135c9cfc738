"""Tables. Times are stored in UTC and always come back timezone-aware."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

Id = BigInteger().with_variant(Integer, "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Comment(Base):
    __tablename__ = "comments"
    # The annotated plain attributes at the end are not columns.
    __allow_unmapped__ = True

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    article_id: Mapped[str] = mapped_column(String(128))
    # Always a top-level comment: threads are one level deep.
    parent_id: Mapped[int | None] = mapped_column(Id, ForeignKey("comments.id"), nullable=True)
    author_name: Mapped[str] = mapped_column(String(64))
    author_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    edit_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    client_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Bumped on every change a moderator could be racing against (optimistic concurrency).
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Bumped when the body changes; a score applies to exactly one revision.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    scored_revision: Mapped[int] = mapped_column(Integer, default=0)
    scores: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    max_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    scorer_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    scorer_version: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Scoring bookkeeping: when the sweeper should re-enqueue, how often it was enqueued, and a
    # short lease a worker holds while a batch is being scored.
    score_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    scoring_attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The revision a moderator approved: reports alone never hide that text again.
    approved_revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    votes: Mapped[int] = mapped_column(Integer, default=0)
    # Set when enough distinct readers reported it; cleared by a moderator's decision.
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # First publication: trending counts a comment once, however often it is edited and re-scored.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Spam heuristics' findings (mostly links, at submission; repeated text, when scored): held
    # whatever the score.
    heuristics: Mapped[list | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (
        # A thread's page walks one of these in its sort's order (migration 0008).
        Index("ix_comments_thread_order", "article_id", "parent_id", "id"),
        Index("ix_comments_thread_top", "article_id", "parent_id", "votes", "id"),
        Index("ix_comments_article_status", "article_id", "status"),
        Index("ix_comments_parent", "parent_id", "status", "id"),
        Index("ix_comments_status", "status", "id"),
        Index("ix_comments_due", "score_due_at"),
        Index("ix_comments_reported", "reported_at"),
        Index("ix_comments_client", "client_hash", "created_at"),
    )

    # Not stored: what a service attaches for the response it serves (reply count and first replies
    # on a page, open reports in moderation views, and the edit token of a comment just created).
    reply_count: int = 0
    replies: Sequence[Comment] = ()
    open_reports: Sequence[Report] = ()
    edit_token: str | None = None

    @property
    def needs_score(self) -> bool:
        return self.scored_revision < self.revision


class CommentEvent(Base):
    """The audit history: one row per thing that happened to a comment."""

    __tablename__ = "comment_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    comment_id: Mapped[int] = mapped_column(Id, ForeignKey("comments.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    scores: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    details: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class Moderator(Base):
    __tablename__ = "moderators"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Vote(Base):
    """One vote per voter per comment; ``Comment.votes`` holds the sum, kept in the same transaction."""

    __tablename__ = "votes"

    comment_id: Mapped[int] = mapped_column(Id, ForeignKey("comments.id"), primary_key=True)
    voter: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Report(Base):
    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    comment_id: Mapped[int] = mapped_column(Id, ForeignKey("comments.id"))
    reporter: Mapped[str] = mapped_column(String(64))
    # The reporter's wider network (or sub): reports from one origin count once towards hiding.
    origin: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Reports count towards the threshold until a moderator decides the comment.
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ux_reports_once", "comment_id", "reporter", unique=True),
    )


class ShareEvent(Base):
    """The durable log of counted shares (repeats inside the dedup window are not logged)."""

    __tablename__ = "share_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    article_id: Mapped[str] = mapped_column(String(128))
    network: Mapped[str] = mapped_column(String(16))
    client: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # The only index: shares are read by client (the repeat check, a reader's export and
        # erasure); totals come from article_activity. Each index is written by every share.
        Index("ix_share_events_repeat", "client", "article_id", "network", "created_at"),
    )


class ArticleActivity(Base):
    """Hourly aggregates per article: shares per network, and published comments (kind "comment").

    Share totals and trending read these few rows instead of scanning events.
    """

    __tablename__ = "article_activity"

    article_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        Index("ix_article_activity_hour", "hour", "kind"),
    )


class ArticleShareTotal(Base):
    """Each article's share total, counted by the statement that records a share, which returns it:
    the answer's total and the copy in Redis come from here (the hourly rows sum to the same)."""

    __tablename__ = "article_share_totals"

    article_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    total: Mapped[int] = mapped_column(Integer)


class InstanceSecret(Base):
    """Secrets generated on first run and shared by every process (the client-hash salt)."""

    __tablename__ = "instance_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))


class WordListEntry(Base):
    """One entry of a moderation word list (``reject`` or ``hold``), as it was typed."""

    __tablename__ = "word_list_entries"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    entry: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(128), nullable=True)

    __table_args__ = (
        Index("ux_word_list_entries", "kind", "entry", unique=True),
    )


class WordListVersion(Base):
    """Bumped with every change of a list, in the same transaction: every process compares it with
    the version it compiled, so a change made anywhere is seen everywhere within seconds."""

    __tablename__ = "word_list_versions"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(128), nullable=True)


class ApiKey(Base):
    """A key for the Perspective-compatible API; only its SHA-256 hash is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Requests a second this key may make (a quota kept on Redis).
    qps: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PerspectiveFeedback(Base):
    """A `comments:suggestscore` call: a client's (say Coral's moderator's) label for a text."""

    __tablename__ = "perspective_feedback"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    key_name: Mapped[str] = mapped_column(String(64))
    community_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    attribute: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Float)
    client_token: Mapped[str | None] = mapped_column(String(256), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_perspective_feedback_key", "key_name", "community_id", "created_at"),
    )


class NudgeCount(Base):
    """Per day: comments the widget nudged before posting, then revised, or posted anyway."""

    __tablename__ = "nudge_counts"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, UTC
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # nudged, revised, posted_anyway
    count: Mapped[int] = mapped_column(Integer, default=0)


class AuditEvent(Base):
    """Actions on no single comment (a reader erased, retention applied); never personal data."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list] = mapped_column(JSON)
    # HMAC-SHA256 key of the signatures; shown once when the endpoint is added.
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class WebhookDelivery(Base):
    """One event for one endpoint: the durable record a delivery job works from."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[int] = mapped_column(Id, ForeignKey("webhook_endpoints.id"))
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
    )
