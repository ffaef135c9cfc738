"""The comment repository: the queries on comments and their history."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ARRAY, Integer, Table, and_, any_, bindparam, exists, func, insert, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session, aliased, load_only

from civility import thread_changes
from civility.statuses import Action, Status
from civility.store.driver import DriverStatement, driver_connection, insert_all, insert_values
from civility.store.engagement import EngagementRepository, counted_in_hour_per_row, publication_count
from civility.store.models import Comment, CommentEvent, UTCDateTime
from civility.store.webhooks import any_subscribed
from civility.webhooks import COMMENT_CREATED

if TYPE_CHECKING:
    from civility.lifecycle import Event

REPLY_PREVIEW = 3

# Built once, and run on the driver's connection (civility.store.driver): every new comment runs
# these, on SQLite under the database's write lock.
_COMMENTS = cast(Table, Comment.__table__)
_EVENTS = cast(Table, CommentEvent.__table__)
_ADD_COMMENT = DriverStatement(insert_all(_COMMENTS).returning(_COMMENTS.c.id))
_ADD_EVENT = DriverStatement(insert_all(_EVENTS))
_EVENT_PREFIX = "event_"


def _added_with_history(counted: bool, unless_subscribed: str | None = None) -> DriverStatement:
    """PostgreSQL: a new comment, its history's first event and, ``counted``, its publication's count
    for trending, as one statement (a data-modifying CTE, as a share is recorded): one round trip where
    there were three. It takes ``_ADD_COMMENT``'s parameters, the event's prefixed with ``event_``, and
    ``counted_in_hour_per_row``'s (the article's id is the comment's); it returns the comment's id.

    With ``unless_subscribed`` (a webhook event), it writes nothing and returns no row when an enabled
    webhook endpoint subscribes to that event: then the deliveries must be written with the comment,
    in one transaction. Without any, the statement is the whole unit of work."""
    columns = [c for c in _COMMENTS.c if c is not _COMMENTS.autoincrement_column]
    # Typed: PostgreSQL would read a parameter in a SELECT list (a NULL above all) as text.
    values = select(*(sql_cast(bindparam(c.key, type_=c.type), c.type) for c in columns))
    if unless_subscribed is not None:
        values = values.where(~any_subscribed(unless_subscribed))
    comment = (insert(_COMMENTS).from_select([c.key for c in columns], values)
               .returning(_COMMENTS.c.id).cte("new_comment"))
    event_columns = [c for c in _EVENTS.c if c is not _EVENTS.autoincrement_column]
    event_values = (comment.c.id if c.key == "comment_id"
                    else sql_cast(bindparam(_EVENT_PREFIX + c.key, type_=c.type), c.type) for c in event_columns)
    event = (insert(_EVENTS).from_select([c.key for c in event_columns], select(*event_values).select_from(comment))
             .cte("new_event"))
    statement = select(comment.c.id).add_cte(event)
    if counted:
        statement = statement.add_cte(counted_in_hour_per_row(comment).cte("counted"))
    return DriverStatement(statement)


# By whether the event is a first publication (counted for trending), and whether the statement
# writes nothing when an endpoint subscribes to new comments.
_ADD_WITH_HISTORY = {(counted, guarded): _added_with_history(counted, COMMENT_CREATED if guarded else None)
                     for counted in (False, True) for guarded in (False, True)}
# One comment (a reply's parent, or the comment an edit, vote or report is about).
_BY_ID = select(Comment).where(Comment.id == bindparam("comment_id"))
_LOCK_BY_ID = _BY_ID.with_for_update()


# What readers are shown of a comment: the replies page's query loads only these columns (raising,
# rather than querying, if anything else is read). The other dozen, scores and timestamps among
# them, cost more to load than the query took to run.
_PUBLIC_COLUMNS = load_only(Comment.id, Comment.article_id, Comment.parent_id, Comment.author_name,
                            Comment.author_id, Comment.body, Comment.html, Comment.status, Comment.created_at,
                            Comment.edited_at, Comment.votes, raiseload=True)


@dataclass(slots=True)
class PublicComment:
    """What readers are shown of a comment, read as plain rows: a thread page, rebuilt after every
    write to its thread, loads some 150 of them, and making ORM objects of them cost about a
    fifth of the rebuild (docs/benchmarks.md)."""

    id: int
    article_id: str
    parent_id: int | None
    author_name: str
    author_id: str | None
    body: str
    html: str
    status: str
    created_at: datetime
    edited_at: datetime | None
    votes: int
    reply_count: int = 0
    replies: list[PublicComment] = field(default_factory=list)


# PublicComment's columns, in its fields' order.
_PUBLIC_FIELDS = tuple(getattr(Comment, f.name) for f in fields(PublicComment)
                       if f.name not in ("reply_count", "replies"))

_REPLY = aliased(Comment)


def _submitted_at():
    """When the current revision was submitted (typed, so SQLite hands back aware datetimes)."""
    return func.coalesce(Comment.edited_at, Comment.created_at, type_=UTCDateTime())


@dataclass(frozen=True)
class NewComment:
    """A comment not yet stored, its history's first event, and the statement that stores them with its
    SQL and arguments (``CommentRepository.new_comment``); on PostgreSQL also the statement that
    stores them unless a webhook endpoint subscribes to new comments, with its own."""

    comment: Comment
    event: Event
    statement: DriverStatement
    values: dict[str, Any]
    insert: tuple[str, Any] | None  # bound ahead of time; None: when it runs
    unless_subscribed: tuple[DriverStatement, tuple[str, Any]] | None = None

    def bound(self, dialect: Any) -> tuple[str, Any]:
        return self.insert or self.statement.arguments(dialect, self.values)

    @property
    def is_one_statement(self) -> bool:
        """The statement records the event (and counts a publication) too, so that ``add`` writes
        nothing else: on PostgreSQL."""
        return self.statement is not _ADD_COMMENT


@dataclass(frozen=True)
class ReplyPreviews:
    """Per parent: its first replies, and how many replies readers can see in all."""

    first: dict[int, list[PublicComment]]
    counts: dict[int, int]


@dataclass(frozen=True)
class QueueFilter:
    status: str = Status.FLAGGED
    article_id: str | None = None
    label: str | None = None
    min_score: float | None = None
    sort: str = "score"
    limit: int = 50
    after: list[Any] | None = None


def _visible(hide_reported: bool, comment: Any = Comment) -> Any:
    """The filter for what readers may see: published, and in pre mode not hidden by reports
    (reports no longer hide a text a moderator approved)."""
    condition = comment.status == Status.PUBLISHED
    if hide_reported:
        condition = and_(condition, or_(comment.reported_at.is_(None), comment.approved_revision == comment.revision))
    return condition


def _among(column: Any, postgres: bool) -> Any:
    """``column IN :ids``, the list of values as one parameter. On PostgreSQL ``column = ANY(:ids)``,
    an array: a page's fifty ids expanded into fifty placeholders make the SQL longer than psycopg
    caches, so every uncached page would parse it again."""
    if postgres:
        return column == any_(bindparam("ids", type_=ARRAY(column.type)))
    return column.in_(bindparam("ids", expanding=True))


# The public thread's statements are built once each, with bound parameters, and reused: a page is
# rebuilt after every write to its thread, and building the page's statement (and its cache key)
# again each time cost as much as running it (docs/benchmarks.md).
@functools.cache
def _top_level_page(sort: str, after: bool, hide_reported: bool) -> Any:
    """Parameters: article_id, limit, and after a cursor after_id (and after_votes for "top")."""
    has_visible_reply = exists().where(_REPLY.parent_id == Comment.id, _visible(hide_reported, _REPLY))
    stmt = select(*_PUBLIC_FIELDS).where(
        Comment.article_id == bindparam("article_id"),
        Comment.parent_id.is_(None),
        or_(_visible(hide_reported), and_(Comment.status == Status.DELETED, has_visible_reply)),
    )
    # Each order starts with parent_id (NULL throughout): PostgreSQL does not count "parent_id IS
    # NULL" as fixing the column, and without it would not walk the (article_id, parent_id, ...)
    # indexes in order; it sorted all of a large thread's comments for page 1 of "top".
    order: list[Any]
    last_id = bindparam("after_id", type_=Comment.id.type)
    if sort == "oldest":
        order = [Comment.parent_id.asc(), Comment.id.asc()]
        if after:
            stmt = stmt.where(Comment.id > last_id)
    elif sort == "newest":
        order = [Comment.parent_id.desc(), Comment.id.desc()]
        if after:
            stmt = stmt.where(Comment.id < last_id)
    else:  # top: votes, then newest first among equals
        order = [Comment.parent_id.desc(), Comment.votes.desc(), Comment.id.desc()]
        if after:
            votes = bindparam("after_votes", type_=Comment.votes.type)
            stmt = stmt.where(or_(Comment.votes < votes, and_(Comment.votes == votes, Comment.id < last_id)))
    return stmt.order_by(*order).limit(bindparam("limit", type_=Integer()))


@functools.cache
def _reply_previews(hide_reported: bool, postgres: bool) -> Any:
    """Parameters: ids (the parents'), per_parent."""
    inner = (
        select(Comment.id,
               func.row_number().over(partition_by=Comment.parent_id, order_by=Comment.id).label("rank"),
               func.count().over(partition_by=Comment.parent_id).label("replies"))
        .where(_among(Comment.parent_id, postgres), _visible(hide_reported))
        .subquery()
    )
    return (
        select(*_PUBLIC_FIELDS, inner.c.replies)
        .join(inner, inner.c.id == Comment.id)
        .where(inner.c.rank <= bindparam("per_parent", type_=Integer()))
        .order_by(Comment.id)
    )


@functools.cache
def _reply_counts(hide_reported: bool, postgres: bool) -> Any:
    """Parameter: ids (the parents')."""
    return (select(Comment.parent_id, func.count())
            .where(_among(Comment.parent_id, postgres), _visible(hide_reported))
            .group_by(Comment.parent_id))


@functools.cache
def _published_count(hide_reported: bool) -> Any:
    """Parameter: article_id. Without the GROUP BY of ``_published_counts``, SQLite counts a large
    thread's index entries in half the time."""
    return select(func.count()).select_from(Comment).where(Comment.article_id == bindparam("article_id"),
                                                           _visible(hide_reported))


@functools.cache
def _published_counts(hide_reported: bool, postgres: bool) -> Any:
    """Parameter: ids (the articles')."""
    return (select(Comment.article_id, func.count())
            .where(_among(Comment.article_id, postgres), _visible(hide_reported))
            .group_by(Comment.article_id))


class CommentRepository:
    def __init__(self, session: Session, *, hide_reported: bool = False):
        self.session = session
        # Pre-moderation hides a published comment from readers once enough readers reported it.
        self.hide_reported = hide_reported

    def visible(self, comment: Any = Comment) -> Any:
        """The filter for what readers may see."""
        return _visible(self.hide_reported, comment)

    def is_visible(self, comment: Comment) -> bool:
        hidden = (self.hide_reported and comment.reported_at is not None
                  and comment.approved_revision != comment.revision)
        return comment.status == Status.PUBLISHED and not hidden

    # -- single rows ---------------------------------------------------------------------------
    def new_comment(self, comment: Comment, event: Event) -> NewComment:
        """``comment``'s INSERT with ``event``, its history's first, bound; its column defaults are set
        on it, as a flush would. Binding its thirty-odd columns costs more than SQLite takes to insert
        them, so it is done before SQLite's write lock is taken (``Database.begin_writes``), and ``add``
        stores it."""
        given = {key: value for key, value in vars(comment).items() if key in _COMMENTS.c}
        values = insert_values(_COMMENTS, given)
        for key, value in values.items():
            # A column never set reads None on the new (transient) object: only the others are set.
            if value is not None and key not in given:
                setattr(comment, key, value)
        dialect = self.session.get_bind().dialect
        if dialect.name != "postgresql":
            return NewComment(comment, event, _ADD_COMMENT, values, _ADD_COMMENT.arguments(dialect, values))
        values.update((_EVENT_PREFIX + key, value) for key, value in _event_values(event).items())
        if event.first_publication:
            values.update(publication_count(event.at))
        # The first statement tried is the one that writes nothing when an endpoint subscribes to new
        # comments (``add_unless_subscribed``); the other is bound only if that happens.
        statement, guarded = (_ADD_WITH_HISTORY[event.first_publication, g] for g in (False, True))
        return NewComment(comment, event, statement, values, None, (guarded, guarded.arguments(dialect, values)))

    def add_unless_subscribed(self, new: NewComment) -> bool:
        """PostgreSQL: store ``new`` as ``add`` does, unless an enabled webhook endpoint subscribes to
        new comments (``COMMENT_CREATED``), in which case nothing is written; whether it was stored.
        One statement, atomic by itself: on PostgreSQL it may run before ``Database.begin_writes``,
        in autocommit, and is then the whole unit of work. Elsewhere nothing is written (False)."""
        if new.unless_subscribed is None:
            return False
        statement, bound = new.unless_subscribed
        rows = driver_connection(self.session).run_bound(statement, bound)
        if not rows:
            return False
        ((new.comment.id,),) = rows
        thread_changes.note_event(self.session, new.comment, new.event)
        return True

    def add(self, new: NewComment) -> Comment:
        """Store a comment ``new_comment`` bound, and ``record`` its event; its id is set on it. Core
        statements: the ORM's unit of work cost more than the insert itself, on every post."""
        connection = driver_connection(self.session)
        ((new.comment.id,),) = connection.run_bound(new.statement, new.bound(connection.dialect))
        if new.is_one_statement:
            thread_changes.note_event(self.session, new.comment, new.event)
        else:
            self.record(new.comment, new.event)
        return new.comment

    def get(self, comment_id: int, *, for_update: bool = False) -> Comment | None:
        return self.session.scalars(_LOCK_BY_ID if for_update else _BY_ID, {"comment_id": comment_id}).first()

    def get_many(self, ids: list[int], *, for_update: bool = False) -> dict[int, Comment]:
        """Comments by id. ``for_update`` locks the rows, in id order so that writers never deadlock."""
        if not ids:
            return {}
        stmt = select(Comment).where(Comment.id.in_(ids)).order_by(Comment.id)
        if for_update:
            stmt = stmt.with_for_update()
        return {c.id: c for c in self.session.scalars(stmt)}

    def sent_by(self, client_hashes: set[str], since: datetime, before_id: int) -> list[tuple[int, str, str, datetime]]:
        """(id, client hash, body, created at) of the comments these clients sent since ``since``,
        before comment ``before_id`` (the spam heuristic's history)."""
        rows = self.session.execute(
            select(Comment.id, Comment.client_hash, Comment.body, Comment.created_at)
            .where(Comment.client_hash.in_(client_hashes), Comment.created_at >= since, Comment.id < before_id))
        return [(comment_id, client or "", body, at) for comment_id, client, body, at in rows]

    # -- public thread -------------------------------------------------------------------------
    def _postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def top_level_page(self, article_id: str, sort: str, limit: int, after: list[Any] | None) -> list[PublicComment]:
        params: dict[str, Any] = {"article_id": article_id, "limit": limit}
        if after:
            params.update(zip(("after_votes", "after_id") if sort == "top" else ("after_id",), after, strict=True))
        stmt = _top_level_page(sort, bool(after), self.hide_reported)
        return [PublicComment(*row) for row in self.session.execute(stmt, params)]

    def reply_previews(self, parent_ids: list[int], per_parent: int = REPLY_PREVIEW) -> ReplyPreviews:
        """The first replies of each parent, oldest first, and how many replies each has, in one query."""
        if not parent_ids:
            return ReplyPreviews({}, {})
        previews: dict[int, list[PublicComment]] = {pid: [] for pid in parent_ids}
        counts = dict.fromkeys(parent_ids, 0)
        stmt = _reply_previews(self.hide_reported, self._postgres())
        for *columns, replies in self.session.execute(stmt, {"ids": list(parent_ids), "per_parent": per_parent}):
            reply = PublicComment(*columns)
            previews[reply.parent_id].append(reply)  # type: ignore[index]
            counts[reply.parent_id] = replies  # type: ignore[index]
        return ReplyPreviews(previews, counts)

    def reply_counts(self, parent_ids: list[int]) -> dict[int, int]:
        if not parent_ids:
            return {}
        rows = self.session.execute(_reply_counts(self.hide_reported, self._postgres()), {"ids": list(parent_ids)})
        counts = dict.fromkeys(parent_ids, 0)
        counts.update({parent_id: n for parent_id, n in rows if parent_id is not None})
        return counts

    def replies_page(self, parent_id: int, limit: int, after: list[Any] | None) -> list[Comment]:
        stmt = select(Comment).options(_PUBLIC_COLUMNS).where(Comment.parent_id == parent_id, self.visible())
        if after:
            stmt = stmt.where(Comment.id > after[0])
        return list(self.session.scalars(stmt.order_by(Comment.id).limit(limit)))

    def published_count(self, article_id: str) -> int:
        """Published comments of one article (replies included): a thread page's total."""
        return int(self.session.execute(_published_count(self.hide_reported), {"article_id": article_id}).scalar_one())

    def published_counts(self, article_ids: list[str]) -> dict[str, int]:
        """Published comments per article (replies included), in one query."""
        if not article_ids:
            return {}
        rows = self.session.execute(_published_counts(self.hide_reported, self._postgres()),
                                    {"ids": list(article_ids)})
        counts = dict.fromkeys(article_ids, 0)
        counts.update({key: n for key, n in rows})
        return counts

    # -- history -------------------------------------------------------------------------------
    def record(self, comment: Comment, event: Event) -> None:
        """Write a life-cycle event to the history, count a first publication for trending, and note
        what readers will see change (announced after the commit)."""
        self.add_event(comment.id, event)
        thread_changes.note_event(self.session, comment, event)
        if event.first_publication:
            EngagementRepository(self.session).count_publication(comment.article_id, event.at)

    def add_event(self, comment_id: int, event: Event) -> None:
        driver_connection(self.session).run(_ADD_EVENT, {"comment_id": comment_id, **_event_values(event)})

    def events(self, comment_id: int) -> list[CommentEvent]:
        stmt = select(CommentEvent).where(CommentEvent.comment_id == comment_id).order_by(CommentEvent.id)
        return list(self.session.scalars(stmt))

    # -- scoring -------------------------------------------------------------------------------
    def _wants_score(self, now: datetime) -> Any:
        return and_(
            Comment.score_due_at.is_not(None),
            Comment.scored_revision < Comment.revision,
            Comment.status != Status.DELETED,
            or_(Comment.claimed_until.is_(None), Comment.claimed_until < now),
        )

    def claim_for_scoring(self, first_id: int | None, limit: int, token: str, until: datetime,
                          now: datetime) -> list[Comment]:
        """Lease up to ``limit`` comments that want a score, ``first_id`` first if it still does.

        The lease keeps two workers from scoring the same comment; it expires on its own if the
        worker dies, and the sweeper then re-enqueues the comment.
        """
        stmt = select(Comment.id).where(self._wants_score(now))
        if first_id is not None:
            stmt = stmt.order_by((Comment.id == first_id).desc(), Comment.id)
        else:
            stmt = stmt.order_by(Comment.id)
        stmt = stmt.limit(limit)
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        ids = list(self.session.scalars(stmt))
        if not ids:
            return []
        self.session.execute(
            update(Comment).where(Comment.id.in_(ids)).values(claim_token=token, claimed_until=until)
            .execution_options(synchronize_session=False)
        )
        return list(self.session.scalars(select(Comment).where(Comment.id.in_(ids)).order_by(Comment.id)))

    def due_for_sweep(self, now: datetime, limit: int) -> list[Comment]:
        stmt = (
            select(Comment)
            .where(self._wants_score(now), Comment.score_due_at <= now)
            .order_by(Comment.score_due_at)
            .limit(limit)
        )
        return list(self.session.scalars(stmt))

    def scoring_backlog(self) -> tuple[int, datetime | None]:
        count, oldest = self.session.execute(
            select(func.count(), func.min(_submitted_at()))
            .where(Comment.score_due_at.is_not(None), Comment.scored_revision < Comment.revision,
                   Comment.status != Status.DELETED)
        ).one()
        return count, oldest

    # -- moderation queue ----------------------------------------------------------------------
    def queue_page(self, f: QueueFilter) -> list[Comment]:
        stmt: Any
        if f.status == "reported":
            stmt = select(Comment).where(Comment.reported_at.is_not(None),
                                         Comment.status.in_([Status.PUBLISHED, Status.FLAGGED]))
        else:
            stmt = select(Comment).where(Comment.status == f.status)
        if f.article_id:
            stmt = stmt.where(Comment.article_id == f.article_id)
        score = Comment.scores[f.label].as_float() if f.label else Comment.max_score
        if f.label:
            stmt = stmt.where(score.is_not(None))
        if f.min_score is not None:
            stmt = stmt.where(score >= f.min_score)
        if f.sort == "score":
            sort_key = func.coalesce(score, -1.0)
            if f.after:
                value, last_id = f.after
                stmt = stmt.where(or_(sort_key < value, and_(sort_key == value, Comment.id > last_id)))
            stmt = stmt.order_by(sort_key.desc(), Comment.id.asc())
        elif f.sort == "oldest":
            if f.after:
                stmt = stmt.where(Comment.id > f.after[0])
            stmt = stmt.order_by(Comment.id.asc())
        else:
            if f.after:
                stmt = stmt.where(Comment.id < f.after[0])
            stmt = stmt.order_by(Comment.id.desc())
        return list(self.session.scalars(stmt.limit(f.limit)))

    def status_counts(self) -> dict[str, int]:
        rows = self.session.execute(select(Comment.status, func.count()).group_by(Comment.status))
        counts = {s.value: 0 for s in Status}
        counts.update({key: n for key, n in rows})
        counts["reported"] = self.session.scalars(
            select(func.count()).where(Comment.reported_at.is_not(None),
                                       Comment.status.in_([Status.PUBLISHED, Status.FLAGGED]))).one()
        return counts

    def decisions_since(self, since: datetime) -> dict[str, int]:
        rows = self.session.execute(
            select(CommentEvent.action, func.count())
            .where(CommentEvent.at >= since, CommentEvent.action.in_([Action.APPROVE, Action.REJECT]))
            .group_by(CommentEvent.action)
        )
        counts = {Action.APPROVE.value: 0, Action.REJECT.value: 0}
        counts.update({key: n for key, n in rows})
        return counts

    def recent_latencies(self, since: datetime, limit: int = 1000) -> list[float]:
        """Seconds from (re)submission to score, for comments scored since ``since``."""
        rows = self.session.execute(
            select(Comment.scored_at, _submitted_at())
            .where(Comment.scored_at >= since)
            .order_by(Comment.scored_at.desc())
            .limit(limit)
        )
        return [(scored - submitted).total_seconds() for scored, submitted in rows if scored and submitted]

    def latest_scorer(self) -> tuple[str | None, str | None]:
        row = self.session.execute(
            select(Comment.scorer_name, Comment.scorer_version)
            .where(Comment.scored_at.is_not(None))
            .order_by(Comment.scored_at.desc())
            .limit(1)
        ).first()
        return (row[0], row[1]) if row else (None, None)

    # -- backtest ------------------------------------------------------------------------------
    def latest_decisions(self, since: datetime | None = None, limit: int | None = None) -> list[Any]:
        """Each comment's latest moderator decision (approve or reject), newest decision first.

        Rows with ``action``, ``decided_at`` and the comment's ``body``, ``edited_at``, ``revision``,
        ``scored_revision``, ``scores``, ``scorer_name`` and ``scorer_version``. ``since`` keeps
        the decisions made at or after it (a comment whose latest decision is older is left out);
        ``limit`` keeps the newest.
        """
        latest = (
            select(func.max(CommentEvent.id).label("event_id"))
            .where(CommentEvent.action.in_([Action.APPROVE, Action.REJECT]))
            .group_by(CommentEvent.comment_id)
            .subquery()
        )
        stmt = (
            select(CommentEvent.comment_id, CommentEvent.action, CommentEvent.at.label("decided_at"),
                   Comment.body, Comment.edited_at, Comment.revision, Comment.scored_revision, Comment.scores,
                   Comment.scorer_name, Comment.scorer_version)
            .select_from(CommentEvent)
            .join(latest, latest.c.event_id == CommentEvent.id)
            .join(Comment, Comment.id == CommentEvent.comment_id)
            .order_by(CommentEvent.id.desc())
        )
        if since is not None:
            stmt = stmt.where(CommentEvent.at >= since)
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(self.session.execute(stmt).all())


def _event_values(event: Event) -> dict[str, Any]:
    """A history event's columns, but its comment's id."""
    return {"at": event.at, "actor": event.actor, "action": event.action, "from_status": event.from_status,
            "to_status": event.to_status, "reason": event.reason, "scores": event.scores, "details": event.details}
