"""Shares, counts, trending, votes and reports."""

from __future__ import annotations

from apiflask import APIBlueprint

from service.api import COMMENT_ID as ID
from service.auth import current_client
from service.context import services
from service.limits import rate_limited
from service.schemas import (
    CountsOut,
    CountsQuery,
    ReportAckOut,
    ReportIn,
    ShareAckOut,
    ShareIn,
    SharesOut,
    TrendingOut,
    TrendingQuery,
    VoteIn,
    VoteOut,
)
from service.thread_pages import encode, json_response, public

bp = APIBlueprint("engagement", __name__, url_prefix="/api/v1", tag="Shares, votes and reports")


@bp.post("/articles/<path:article_id>/shares")
@bp.input(ShareIn, arg_name="data")
@bp.output(ShareAckOut, status_code=202)
@bp.doc(summary="Record a share; a repeat from the same client inside the window is not counted again")
@rate_limited("share")
def share(article_id: str, data: dict):
    # Built as plain JSON already (ShareAckOut documents it): dumped once, as /counts is.
    response = json_response(encode(services().engagement.share(article_id, data["network"], current_client())),
                             "no-store")
    response.status_code = 202
    return response


@bp.get("/articles/<path:article_id>/shares")
@bp.output(SharesOut)
@bp.doc(summary="Share counts of an article, per network")
def shares(article_id: str):
    return services().engagement.article_shares(article_id)


@bp.get("/counts")
@bp.input(CountsQuery, location="query", arg_name="query")
@bp.output(CountsOut)
@bp.doc(summary="Comment and share counts for up to 100 articles (repeat article_id)")
def counts(query: dict):
    # Built as plain JSON already: dumped once, without a second pass through the schema.
    body = encode(services().engagement.counts(query["article_id"]))
    settings = services().settings
    return json_response(body, public(settings.counts_max_age, settings.stale_while_revalidate))


@bp.get("/trending")
@bp.input(TrendingQuery, location="query", arg_name="query")
@bp.output(TrendingOut)
@bp.doc(summary="Most shared and most commented articles in the window (hourly granularity)")
def trending(query: dict):
    return services().engagement.trending(query["window"], query["limit"])


@bp.post(f"/comments/{ID}/votes")
@bp.input(VoteIn, arg_name="data")
@bp.output(VoteOut)
@bp.doc(summary="Vote 1 or -1 on a comment, or 0 to withdraw; one vote per reader",
        responses={403: "Authors cannot vote on their own comments", 404: "Not found"})
@rate_limited("vote")
def vote(comment_id: int, data: dict):
    return services().engagement.vote(comment_id, data["value"], current_client())


@bp.post(f"/comments/{ID}/reports")
@bp.input(ReportIn, arg_name="data")
@bp.output(ReportAckOut, status_code=202)
@bp.doc(summary="Report a comment; enough distinct reports put it in the moderators' reported queue",
        responses={404: "Not found"})
@rate_limited("report")
def report(comment_id: int, data: dict):
    return services().engagement.report(comment_id, data["reason"], data["note"], current_client())
