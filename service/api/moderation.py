"""Moderator endpoints. Every route requires a moderator token."""

from __future__ import annotations

import dataclasses

from apiflask import APIBlueprint
from flask import request

from civility import backtest, webhooks, wordlists
from civility.errors import Forbidden
from civility.moderators import authenticate
from service.api import COMMENT_ID as ID
from service.auth import current_moderator, moderator_auth
from service.context import services
from service.schemas import (
    BacktestOut,
    BacktestQuery,
    BulkDecisionsIn,
    BulkDecisionsOut,
    DecisionIn,
    HistoryOut,
    ModerationItemOut,
    QueueOut,
    QueueQuery,
    StatsOut,
    WebhookCreatedOut,
    WebhookDeliveriesOut,
    WebhookIn,
    WebhooksOut,
    WordListIn,
    WordListOut,
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


@bp.get("/backtest")
@bp.auth_required(moderator_auth)
@bp.input(BacktestQuery, location="query", arg_name="query")
@bp.output(BacktestOut)
@bp.doc(summary="How the current thresholds and word lists do against moderators' past decisions",
        description="Each comment's latest decision (reject: should be held, approve: should be published), "
                    "judged with the scores stored when the comment was scored: the API loads no model. "
                    f"At most the {backtest.MAX_API_DECISIONS} most recent decisions (then `truncated` is true).")
def backtest_report(query: dict):
    svc = services()
    return backtest.from_decisions(svc.db, svc.settings, query["since"], query["target_precision"])


# -- word lists ---------------------------------------------------------------------------------------
WORD_LIST = f"<any({', '.join(wordlists.KINDS)}):kind>"
# A whole list is one PUT: more than the 64 KiB of any other request (10,000 entries of up to 100
# characters). Only for an admin's token, so nobody else can make the API read such a body.
WORD_LIST_MAX_BYTES = 2 * 1024 * 1024


@bp.url_value_preprocessor
def _whole_word_lists(endpoint: str | None, values: dict | None) -> None:
    # Runs before the app's hooks that read the body.
    if endpoint == "moderation.replace_word_list":
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        caller = authenticate(services().db, token.strip()) if scheme.lower() == "bearer" else None
        if caller is not None and caller.is_admin:
            request.max_content_length = WORD_LIST_MAX_BYTES


def _word_list_out(word_list: wordlists.WordList) -> dict:
    return {**dataclasses.asdict(word_list), "editable": current_moderator().is_admin}


@bp.get(f"/wordlists/{WORD_LIST}")
@bp.auth_required(moderator_auth)
@bp.output(WordListOut)
@bp.doc(summary="A moderation word list: `reject` (rejects a comment) or `hold` (holds it for a moderator)")
def word_list(kind: str):
    return _word_list_out(wordlists.list_entries(services().db, kind))


@bp.put(f"/wordlists/{WORD_LIST}")
@bp.auth_required(moderator_auth)
@bp.input(WordListIn, arg_name="data")
@bp.output(WordListOut)
@bp.doc(summary="Replace a word list (admins); every worker applies it within seconds",
        responses={403: "Changing the word lists needs the admin role",
                   409: "The list changed since `version`", 413: f"Body over {WORD_LIST_MAX_BYTES // 1024} KiB"})
def replace_word_list(kind: str, data: dict):
    moderator = current_moderator()
    if not moderator.is_admin:
        raise Forbidden("changing the word lists needs the admin role")
    return _word_list_out(wordlists.replace_entries(services().db, kind, data["entries"],
                                                    f"moderator:{moderator.name}", data["version"]))


# -- webhooks (admins) -------------------------------------------------------------------------------
WEBHOOK_ID = "<comment_id:endpoint_id>"  # digits, at most 64 bits


def _require_admin() -> None:
    if not current_moderator().is_admin:
        raise Forbidden("managing webhooks needs the admin role")


@bp.get("/webhooks")
@bp.auth_required(moderator_auth)
@bp.output(WebhooksOut)
@bp.doc(summary="Webhook endpoints (admins)", responses={403: "Needs the admin role"})
def list_webhooks():
    _require_admin()
    return {"items": webhooks.list_endpoints(services().db)}


@bp.post("/webhooks")
@bp.auth_required(moderator_auth)
@bp.input(WebhookIn, arg_name="data")
@bp.output(WebhookCreatedOut, status_code=201)
@bp.doc(summary="Add a webhook endpoint (admins); the answer holds its signing secret, shown once",
        responses={403: "Needs the admin role"})
def add_webhook(data: dict):
    _require_admin()
    added = webhooks.add_endpoint(services().db, services().settings, data["url"], data["events"])
    return added.endpoint  # its secret is in this answer only


@bp.delete(f"/webhooks/{WEBHOOK_ID}")
@bp.auth_required(moderator_auth)
@bp.output({}, status_code=204)
@bp.doc(summary="Remove a webhook endpoint and its delivery history (admins)",
        responses={403: "Needs the admin role", 404: "Not found"})
def remove_webhook(endpoint_id: int):
    _require_admin()
    webhooks.remove_endpoint(services().db, endpoint_id)
    return ""


@bp.get(f"/webhooks/{WEBHOOK_ID}/deliveries")
@bp.auth_required(moderator_auth)
@bp.output(WebhookDeliveriesOut)
@bp.doc(summary="An endpoint's latest deliveries, newest first (admins)",
        responses={403: "Needs the admin role", 404: "Not found"})
def webhook_deliveries(endpoint_id: int):
    _require_admin()
    return {"items": webhooks.deliveries(services().db, endpoint_id)}
