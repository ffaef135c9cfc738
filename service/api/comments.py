"""Public comment endpoints used by the widget."""

from __future__ import annotations

from apiflask import APIBlueprint

from civility.statuses import Status
from service.api import COMMENT_ID as ID
from service.auth import author_credentials, current_client, moderator_is_calling
from service.context import services
from service.limits import rate_limited
from service.schemas import (
    CheckIn,
    CheckOut,
    CommentEditIn,
    CommentIn,
    CommentOut,
    CreatedCommentOut,
    ErrorOut,
    RepliesOut,
    RepliesQuery,
    ThreadOut,
    ThreadQuery,
)

bp = APIBlueprint("comments", __name__, url_prefix="/api/v1", tag="Comments")

ERRORS = {400: ErrorOut, 401: ErrorOut, 404: ErrorOut, 413: ErrorOut, 415: ErrorOut, 422: ErrorOut,
          429: ErrorOut, 503: ErrorOut}


@bp.post("/articles/<path:article_id>/comments")
@bp.input(CommentIn, arg_name="data")
@bp.output(CreatedCommentOut, status_code=202, description="Stored and waiting for its score")
@bp.doc(summary="Post a comment or reply",
        responses={201: "Published at once (post-moderation mode)", **{k: "Error" for k in ERRORS}})
@rate_limited("comment")
def create_comment(article_id: str, data: dict):
    comment = services().comments.create(
        article_id, data["body"], data.get("author_name"), data.get("parent_id"), current_client(),
    )
    services().nudges.settle(data.get("check_id"), comment.body)
    return comment, 202 if comment.status == Status.PENDING else 201


@bp.post("/articles/<path:article_id>/comments/check")
@bp.input(CheckIn, arg_name="data")
@bp.output(CheckOut, description="Whether the policy would hold this comment, and why")
@bp.doc(summary="Check a comment before posting it (the nudge): scores, word lists and the link rule",
        responses={k: "Error" for k in (404, 413, 415, 422, 429, 503)})
@rate_limited("check")
def check_comment(article_id: str, data: dict):
    return services().nudges.check(article_id, data["body"], services().analyzer)


@bp.get("/articles/<path:article_id>/comments")
@bp.input(ThreadQuery, location="query", arg_name="query")
@bp.output(ThreadOut)
@bp.doc(summary="Published comments of an article, each with its first replies",
        description="Cached until a write changes the thread; answers If-None-Match with 304. Sent with "
                    "`Cache-Control: public, max-age=CIVILITY_THREAD_MAX_AGE, stale-while-revalidate=...` "
                    "(private when the request carries an identity or edit token).",
        responses={304: "Not modified (the ETag in If-None-Match is current)"})
def list_comments(article_id: str, query: dict):
    return services().thread_pages.response(article_id, query["sort"], query["limit"], query["cursor"])


@bp.get(f"/comments/{ID}")
@bp.output(CommentOut)
@bp.doc(summary="One comment: published only, unless its author (X-Edit-Token) or a moderator asks",
        responses={404: "Not found"})
def get_comment(comment_id: int):
    moderator = moderator_is_calling()
    creds = None if moderator else author_credentials()
    return services().comments.get(comment_id, moderator=moderator, creds=creds)


@bp.get(f"/comments/{ID}/replies")
@bp.input(RepliesQuery, location="query", arg_name="query")
@bp.output(RepliesOut)
@bp.doc(summary="More replies of one comment, oldest first")
def list_replies(comment_id: int, query: dict):
    return services().comments.replies(comment_id, query["limit"], query["cursor"])


@bp.patch(f"/comments/{ID}")
@bp.input(CommentEditIn, arg_name="data")
@bp.output(CommentOut)
@bp.doc(summary="Edit one's own comment within the edit window (X-Edit-Token or identity token)",
        responses={k: "Error" for k in (401, 403, 404, 409, 422)})
@rate_limited("edit")
def edit_comment(comment_id: int, data: dict):
    return services().comments.edit(comment_id, data["body"], author_credentials())


@bp.delete(f"/comments/{ID}")
@bp.output({}, status_code=204)
@bp.doc(summary="Delete one's own comment within the edit window",
        responses={k: "Error" for k in (401, 403, 404)})
@rate_limited("edit")
def delete_comment(comment_id: int):
    services().comments.delete(comment_id, author_credentials())
    return ""
