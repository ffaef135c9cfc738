"""The civility API. ``create_app()`` is the entry point for gunicorn and the ``civility`` CLI."""

from __future__ import annotations

from apiflask import APIFlask
from flask import request
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BaseConverter

from civility.comments import CommentService
from civility.config import Settings
from civility.engagement import EngagementService
from civility.jobqueue import ScoringQueue
from civility.moderation import ModerationService
from civility.runtime import Runtime
from service import errors, limits, metrics, ops, pages
from service.api import comments, engagement, moderation
from service.context import Services

__version__ = "0.1.0"

# Public routes embedding sites may call from the browser; moderation is deliberately absent.
PUBLIC_API = r"/api/v1/(articles|comments|counts|trending)(/.*)?"


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message", "details"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "object"}}}},
}
COMMON_ERRORS = {
    "400": "Malformed JSON", "401": "Missing or invalid credentials", "413": "Body too large",
    "415": "Body is not JSON", "422": "Invalid fields", "429": "Rate limited (see Retry-After)",
    "503": "A dependency (database or Redis) is down; retry later",
}


PATH_PARAMETERS = {
    "article_id": {"type": "string", "pattern": r"^[A-Za-z0-9\-_.:/]{1,128}$"},
    "comment_id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
}


class CommentIdConverter(BaseConverter):
    """Digits only; ids beyond 64 bits match no comment (a 404, never a database overflow)."""

    regex = r"\d{1,30}"

    def to_python(self, value: str) -> int:
        number = int(value)
        return number if number < 2**63 else 0

    def to_url(self, value) -> str:
        return str(int(value))


def refine_spec(spec: dict) -> dict:
    """Document, once for every operation, the errors any of them can answer and the path formats."""
    error = {"content": {"application/json": {"schema": ERROR_SCHEMA}}}
    for path, operations in spec.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            if method not in ("get", "post", "patch", "delete", "put"):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter.get("name") in PATH_PARAMETERS:
                    parameter["schema"] = dict(PATH_PARAMETERS[parameter["name"]])
            responses = operation.setdefault("responses", {})
            for code, description in COMMON_ERRORS.items():
                if code in ("400", "413", "415") and method not in ("post", "patch", "put"):
                    continue
                responses.setdefault(code, {"description": description, **error})
            if "{" in path:
                responses.setdefault("404", {"description": "Not found", **error})
    return spec


def create_app(settings: Settings | None = None) -> APIFlask:
    settings = settings or Settings.from_env()
    app = APIFlask(__name__, title="civility", version=__version__, spec_path="/openapi.json", docs_path="/docs")
    app.url_map.converters["comment_id"] = CommentIdConverter
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_content_length,
        MAX_FORM_MEMORY_SIZE=settings.max_content_length,
        INFO={"description": "Comments, share counts and machine-scored moderation for news sites. "
                             "Errors are always {\"error\": {\"code\", \"message\", \"details\"}}."},
        SERVERS=[{"url": "/"}],
        HTTP_ERROR_SCHEMA=ERROR_SCHEMA,
        VALIDATION_ERROR_SCHEMA=ERROR_SCHEMA,
        VALIDATION_ERROR_DESCRIPTION="Invalid fields, each named in error.details",
    )
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    runtime = Runtime(settings)
    scoring_queue = ScoringQueue(runtime.redis, settings)
    app.extensions["civility"] = Services(
        settings=settings, db=runtime.db, redis=runtime.redis, scoring_queue=scoring_queue,
        comments=CommentService(runtime.db, settings, lambda cid, rev: scoring_queue.enqueue(cid, rev)),
        moderation=ModerationService(runtime.db),
        engagement=EngagementService(runtime.db, settings, runtime.redis),
    )
    errors.register_error_handlers(app)
    app.register_blueprint(comments.bp)
    app.register_blueprint(engagement.bp)
    app.register_blueprint(moderation.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(pages.bp)
    CORS(app, resources={PUBLIC_API: {"origins": list(settings.allowed_origins)}},
         allow_headers=["Content-Type", "Authorization", "X-Edit-Token"],
         expose_headers=["Retry-After"], max_age=600)
    app.extensions["civility_metrics"] = metrics.install(app)
    limits.configure(app, settings)
    app.spec_processor(refine_spec)

    @app.before_request
    def _require_json():
        if request.method in ("POST", "PATCH", "PUT") and request.path.startswith("/api/") and not request.is_json:
            return errors.error_response(415, "send the body as JSON with Content-Type: application/json")

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app
