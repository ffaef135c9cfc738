"""The Perspective-compatible API: ``POST {prefix}/comments:analyze`` and ``{prefix}/comments:suggestscore``.

Mounted at ``CIVILITY_PERSPECTIVE_PREFIX`` (``/v1alpha1``), so a Perspective client needs only a new
base URL and key (docs/perspective.md). These routes speak Google's protocol, errors included
(``{"error": {"code", "message", "status"}}``), and so are left out of /openapi.json, whose
contract (one error shape, ``/api/v1``) they do not follow. A plain Flask blueprint: APIFlask
documents only its own.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from flask import Blueprint, jsonify, request
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from civility.analysis import AnalysisUnavailable
from civility.apikeys import ApiKeyIdentity, authenticate
from civility.infra.quota import Quota
from civility.perspective import PerspectiveError, PerspectiveService, invalid, parse_analyze, parse_suggest
from service.context import services
from service.logs import escape

log = logging.getLogger(__name__)

bp = Blueprint("perspective", __name__)

_STATUSES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
             405: "INVALID_ARGUMENT", 413: "INVALID_ARGUMENT", 415: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED",
             503: "UNAVAILABLE"}


def _answer(error: PerspectiveError, headers: dict[str, str] | None = None):
    response = jsonify(error.body())
    response.status_code = error.status_code
    response.headers.update(headers or {})
    response.headers["Cache-Control"] = "no-store"
    return response


def _ok(body: dict[str, Any]):
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def _api_key() -> ApiKeyIdentity:
    """The caller's key, from ``?key=`` (as Coral sends it) or the ``X-Goog-Api-Key`` header."""
    key = request.args.get("key") or request.headers.get("X-Goog-Api-Key")
    if not key:
        raise PerspectiveError(403, "PERMISSION_DENIED",
                               "The request is missing a valid API key (?key= or X-Goog-Api-Key).")
    identity = authenticate(services().db, key)
    if identity is None:
        raise PerspectiveError(403, "PERMISSION_DENIED", "API key not valid. Please pass a valid API key.")
    return identity


def _quota(identity: ApiKeyIdentity) -> float | None:
    svc = services()
    return Quota(svc.redis, svc.settings.redis_prefix).take(identity.name, identity.qps)


def _body() -> Any:
    # Coral and Google's client libraries send JSON; Perspective did not insist on the media type.
    try:
        data = request.get_json(force=True, silent=True)
    except RecursionError:
        data = None
    if data is None:
        raise invalid("Invalid JSON payload received.")
    return data


def _handle(work):
    try:
        identity = _api_key()
        retry = _quota(identity)
        if retry is not None:
            return _answer(PerspectiveError(429, "RESOURCE_EXHAUSTED",
                                            f"Quota exceeded for this API key: {identity.qps} requests a second."),
                           {"Retry-After": str(max(1, math.ceil(retry)))})
        return _ok(work(identity, _body()))
    except PerspectiveError as error:
        return _answer(error)
    except AnalysisUnavailable:
        return _answer(PerspectiveError(503, "UNAVAILABLE", "No scoring worker answered in time; please retry."),
                       {"Retry-After": "2"})


def _service() -> PerspectiveService:
    svc = services()
    return PerspectiveService(svc.db, svc.analyzer, svc.settings.analyze_timeout)


@bp.post("/comments:analyze")
def analyze():
    """Perspective's AnalyzeComment. Nothing of the request is stored (whatever doNotStore says)."""
    return _handle(lambda _identity, body: _service().analyze(parse_analyze(body)))


@bp.post("/comments:suggestscore")
def suggest_score():
    """Perspective's SuggestCommentScore: the suggestion is stored under the key's name and communityId."""
    return _handle(lambda identity, body: _service().suggest(identity.name, parse_suggest(body)))


@bp.errorhandler(Exception)
def _any_error(error: Exception):
    """Whatever escapes a view above still answers in Google's shape, never with a stack trace."""
    if isinstance(error, HTTPException):
        code = error.code or 500
        status = _STATUSES.get(code, "INVALID_ARGUMENT" if code < 500 else "INTERNAL")
        return _answer(PerspectiveError(code, status, error.description or error.name))
    if isinstance(error, RecursionError):
        return _answer(invalid("Invalid JSON payload received: nested too deeply."))
    if isinstance(error, RedisError | SQLAlchemyError):
        log.error("perspective: a backing service is unavailable: %s", type(error).__name__)
        return _answer(PerspectiveError(503, "UNAVAILABLE", "A backing service is unavailable; please retry."),
                       {"Retry-After": "5"})
    log.exception("unhandled error on %s %s", escape(request.method), escape(request.path), exc_info=error)
    return _answer(PerspectiveError(500, "INTERNAL", "Internal error."))


def install(app, prefix: str) -> None:
    """Mount the routes at ``prefix`` (``Settings.perspective_prefix``). An unknown path or method under it
    is answered in Google's shape too (routing errors reach no blueprint handler)."""
    app.register_blueprint(bp, url_prefix=prefix)

    @app.before_request
    def _perspective_routing_error():
        error = request.routing_exception
        if isinstance(error, HTTPException) and (error.code or 0) >= 400 and request.path.startswith(prefix + "/"):
            return _any_error(error)
        return None
