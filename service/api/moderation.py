"""Moderator endpoints. Every route requires a moderator token."""

from __future__ import annotations

from apiflask import APIBlueprint

from service.api import COMMENT_ID as ID
from service.auth import current_moderator, moderator_auth
from service.context import services
from service.schemas import (
    BulkDecisionsIn,
    BulkDecisionsOut,
    DecisionIn,
    HistoryOut,
    ModerationItemOut,
    QueueOut,
    QueueQuery,
    StatsOut,
)

bp = APIBlueprint("moderation", __name__, url_prefix="/api/v1/moderation", tag="Moderation")


@bp.get("/queue")
@bp.auth_required(moderator_auth)
@bp.input(QueueQuery, location="query", arg_name="query")
@bp.output(QueueOut)
@bp.doc(summary="Comments waiting for (or open to) a moderator's decision")
def queue(query: dict):
    return services().moderation.queue(**query)


@bp.post(f"/comments/{ID}/decision")
@bp.auth_required(moderator_auth)
@bp.input(DecisionIn, arg_name="data")
@bp.output(ModerationItemOut)
@bp.doc(summary="Approve or reject one comment",
        responses={404: "Not found", 409: "Stale version, or another moderator decided first",
                   403: "Reversing another moderator's decision needs the admin role"})
def decide(comment_id: int, data: dict):
    return services().moderation.decide(comment_id, data["action"], current_moderator(),
                                        data["reason"], data["version"])


@bp.post("/decisions")
@bp.auth_required(moderator_auth)
@bp.input(BulkDecisionsIn, arg_name="data")
@bp.output(BulkDecisionsOut)
@bp.doc(summary="Up to 500 decisions; each gets its own result")
def decide_many(data: dict):
    return {"results": services().moderation.decide_many(data["decisions"], current_moderator())}


@bp.get(f"/comments/{ID}/history")
@bp.auth_required(moderator_auth)
@bp.output(HistoryOut)
@bp.doc(summary="Every event in a comment's life", responses={404: "Not found"})
def history(comment_id: int):
    return {"comment_id": comment_id, "events": services().moderation.history(comment_id)}


@bp.get("/stats")
@bp.auth_required(moderator_auth)
@bp.output(StatsOut)
@bp.doc(summary="Queue sizes, recent decisions, scoring backlog and latency, scorer")
def stats():
    return services().moderation.stats()
