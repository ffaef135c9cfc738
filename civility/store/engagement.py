"""Queries for votes, reports, share events and the hourly article activity aggregates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Integer, String, Table, bindparam, delete, exists, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from civility.store.db import dialect_insert
from civility.store.driver import DriverConnection, DriverStatement, driver_connection
from civility.store.models import (
    ArticleActivity,
    ArticleShareTotal,
    Comment,
    Report,
    ShareEvent,
    UTCDateTime,
    Vote,
)

COMMENT_KIND = "comment"

# The hot writes (every share, every published comment) as Core statements built once and run on
# the driver's connection (civility.store.driver): on SQLite they run under the write lock.
_ACTIVITY = cast(Table, ArticleActivity.__table__)
_BUMP_ACTIVITY = {
    name: DriverStatement(
        make(_ACTIVITY)
        .values(article_id=bindparam("article_id"), hour=bindparam("hour"), kind=bindparam("kind"),
                count=bindparam("n"))
        .on_conflict_do_update(index_elements=["article_id", "hour", "kind"],
                               set_={"count": _ACTIVITY.c.count + bindparam("n")}))
    for name, make in (("sqlite", sqlite_insert), ("postgresql", pg_insert))
}
_SHARES = cast(Table, ShareEvent.__table__)
_SHARE_FIELDS = {"article_id": String(), "network": String(), "client": String(), "created_at": UTCDateTime()}
_ADD_SHARE = insert(_SHARES).values({name: bindparam(name, type_=type_) for name, type_ in _SHARE_FIELDS.items()})
# The same, unless this client's share of the article on the network since ``since`` is on record:
# the database's dedup check and the insert in one statement.
_ADD_SHARE_UNLESS_RECENT = insert(_SHARES).from_select(
    list(_SHARE_FIELDS),
    select(*(bindparam(name, type_=type_) for name, type_ in _SHARE_FIELDS.items())).where(~exists().where(
        _SHARES.c.client == bindparam("client"), _SHARES.c.article_id == bindparam("article_id"),
        _SHARES.c.network == bindparam("network"), _SHARES.c.created_at >= bindparam("since", type_=UTCDateTime()),
    )),
)


_TOTALS = cast(Table, ArticleShareTotal.__table__)
_ADD_TO_TOTAL = {
    name: make(_TOTALS).values(article_id=bindparam("article_id"), total=1)
    .on_conflict_do_update(index_elements=["article_id"], set_={"total": _TOTALS.c.total + 1})
    .returning(_TOTALS.c.total)
    for name, make in (("sqlite", sqlite_insert), ("postgresql", pg_insert))
}
_TOTAL = select(_TOTALS.c.total).where(_TOTALS.c.article_id == bindparam("article_id"))


def counted_in_hour_per_row(rows: Any) -> Any:
    """PostgreSQL: the Core statement that counts ``n`` of ``kind`` in an article's hour (parameters
    ``article_id``, ``hour``, ``kind``, ``n``) once per row of ``rows`` (a CTE), for a statement
    that counts along with its own writes, which may write nothing."""
    return (pg_insert(_ACTIVITY)
            .from_select(["article_id", "hour", "kind", "count"],
                         select(bindparam("article_id", type_=String()), bindparam("hour", type_=UTCDateTime()),
                                bindparam("kind", type_=String()), bindparam("n", type_=Integer()))
                         .select_from(rows))
            .on_conflict_do_update(index_elements=["article_id", "hour", "kind"],
                                   set_={"count": _ACTIVITY.c.count + bindparam("n")}))


def _record_share_statement(add_share: Any) -> Any:
    """PostgreSQL: ``add_share``, its count in the article's hour and in the article's total, as one
    statement (data-modifying CTEs). One statement is atomic by itself, so it runs without BEGIN and
    COMMIT (``Database.driver_transaction``): one round trip. Its row: the new total when the share
    was recorded (else NULL), and the total before it. The total's row lock orders concurrent
    shares of an article, so that each reads the total its own share made."""
    added = add_share.returning(_SHARES.c.id).cte("added")
    hourly = counted_in_hour_per_row(added).cte("hourly")
    totalled = (
        pg_insert(_TOTALS)
        .from_select(["article_id", "total"], select(bindparam("article_id", type_=String()), literal(1))
                     .select_from(added))
        .on_conflict_do_update(index_elements=["article_id"], set_={"total": _TOTALS.c.total + 1})
        .returning(_TOTALS.c.total)
        .cte("totalled")
    )
    return select(select(totalled.c.total).scalar_subquery().label("total"),
                  _TOTAL.scalar_subquery().label("before")).add_cte(hourly)


# (dialect, with a dedup check) -> the statement that records a share: on PostgreSQL everything
# (``_record_share_statement``); on SQLite the share alone, a row only if it was recorded, after
# which _BUMP_ACTIVITY and _ADD_TO_TOTAL count it.
_RECORD_SHARE = {
    ("postgresql", False): DriverStatement(_record_share_statement(_ADD_SHARE)),
    ("postgresql", True): DriverStatement(_record_share_statement(_ADD_SHARE_UNLESS_RECENT)),
    ("sqlite", False): DriverStatement(_ADD_SHARE.returning(_SHARES.c.id)),
    ("sqlite", True): DriverStatement(_ADD_SHARE_UNLESS_RECENT.returning(_SHARES.c.id)),
}
_SQLITE_ADD_TO_TOTAL = DriverStatement(_ADD_TO_TOTAL["sqlite"])
_SQLITE_TOTAL = DriverStatement(_TOTAL)


@dataclass(frozen=True)
class RecordedShare:
    counted: bool  # False: this client's share of the article on this network was on record already
    total: int  # the article's share total, this share included


def add_share(connection: DriverConnection, article_id: str, network: str, client: str, at: datetime,
              unless_since: datetime | None = None) -> RecordedShare:
    """Record a share, count it in the article's hour and total (``Database.driver_transaction``),
    and return the total. With ``unless_since``, only if this client's share of the article on this
    network since then is not on record. On PostgreSQL this is one statement."""
    params = {"article_id": article_id, "network": network, "client": client, "created_at": at,
              "hour": hour_of(at), "since": unless_since, "kind": network, "n": 1}
    dialect = connection.dialect.name
    if dialect == "postgresql":
        ((total, before),) = connection.run(_RECORD_SHARE[dialect, unless_since is not None], params)
        return RecordedShare(True, total) if total is not None else RecordedShare(False, before or 0)
    if not connection.run(_RECORD_SHARE[dialect, unless_since is not None], params):
        rows = connection.run(_SQLITE_TOTAL, params)
        return RecordedShare(False, rows[0][0] if rows else 0)
    connection.run(_BUMP_ACTIVITY[dialect], params)
    ((total,),) = connection.run(_SQLITE_ADD_TO_TOTAL, params)
    return RecordedShare(True, total)


def publication_count(at: datetime) -> dict[str, Any]:
    """The parameters of ``counted_in_hour_per_row`` for a comment's first publication at ``at``, but
    its article's id."""
    return {"hour": hour_of(at), "kind": COMMENT_KIND, "n": 1}


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


class EngagementRepository:
    def __init__(self, session: Session):
        self.session = session

    # -- activity aggregates ----------------------------------------------------------------------
    def count_publication(self, article_id: str, at: datetime) -> None:
        """Count a comment's first publication for trending."""
        connection = driver_connection(self.session)
        connection.run(_BUMP_ACTIVITY[connection.dialect.name], {"article_id": article_id, **publication_count(at)})

    def share_counts(self, article_ids: list[str]) -> dict[str, dict[str, int]]:
        """Shares per network for each article, in one query."""
        result: dict[str, dict[str, int]] = {a: {} for a in article_ids}
        if not article_ids:
            return result
        rows = self.session.execute(
            select(ArticleActivity.article_id, ArticleActivity.kind, func.sum(ArticleActivity.count))
            .where(ArticleActivity.article_id.in_(article_ids), ArticleActivity.kind != COMMENT_KIND)
            .group_by(ArticleActivity.article_id, ArticleActivity.kind)
        )
        for article_id, network, count in rows:
            result[article_id][network] = int(count)
        return result

    def top_articles(self, since: datetime, shares: bool, limit: int) -> list[tuple[str, int]]:
        kind_filter = ArticleActivity.kind != COMMENT_KIND if shares else ArticleActivity.kind == COMMENT_KIND
        total = func.sum(ArticleActivity.count).label("total")
        rows = self.session.execute(
            select(ArticleActivity.article_id, total)
            .where(ArticleActivity.hour >= hour_of(since), kind_filter)
            .group_by(ArticleActivity.article_id)
            .order_by(total.desc(), ArticleActivity.article_id)
            .limit(limit)
        )
        return [(article_id, int(count)) for article_id, count in rows]

    # -- votes ------------------------------------------------------------------------------------
    def set_vote(self, comment_id: int, voter: str, value: int, at: datetime) -> int:
        """Record ``value`` (0 withdraws) and return the change to the comment's total."""
        existing = self.session.get(Vote, (comment_id, voter), with_for_update=True)
        before = existing.value if existing else 0
        if value == 0:
            if existing:
                self.session.execute(delete(Vote).where(Vote.comment_id == comment_id, Vote.voter == voter))
        elif existing:
            existing.value, existing.updated_at = value, at
        else:
            self.session.add(Vote(comment_id=comment_id, voter=voter, value=value, updated_at=at))
        delta = value - before
        if delta:
            self.session.execute(update(Comment).where(Comment.id == comment_id)
                                 .values(votes=Comment.votes + delta).execution_options(synchronize_session=False))
        return delta

    def vote_total(self, comment_id: int) -> int:
        return self.session.scalars(select(Comment.votes).where(Comment.id == comment_id)).one()

    # -- reports ----------------------------------------------------------------------------------
    def add_report(self, comment_id: int, reporter: str, origin: str, reason: str, note: str | None,
                   at: datetime) -> bool:
        """False when this reporter already reported the comment."""
        stmt = dialect_insert(self.session, Report).values(comment_id=comment_id, reporter=reporter, origin=origin,
                                                           reason=reason, note=note, created_at=at)
        stmt = stmt.on_conflict_do_nothing(index_elements=["comment_id", "reporter"]).returning(Report.id)
        return self.session.execute(stmt).scalar() is not None

    def open_reports(self, comment_ids: list[int]) -> dict[int, list[Report]]:
        result: dict[int, list[Report]] = {cid: [] for cid in comment_ids}
        if not comment_ids:
            return result
        stmt = (select(Report).where(Report.comment_id.in_(comment_ids), Report.resolved_at.is_(None))
                .order_by(Report.id))
        for report in self.session.scalars(stmt):
            result[report.comment_id].append(report)
        return result

    def resolve_reports(self, comment_id: int, at: datetime) -> None:
        self.session.execute(update(Report).where(Report.comment_id == comment_id, Report.resolved_at.is_(None))
                             .values(resolved_at=at).execution_options(synchronize_session=False))
