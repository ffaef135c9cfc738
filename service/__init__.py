"""The civility API. ``create_app()`` is the entry point for gunicorn and the ``civility`` CLI."""

from __future__ import annotations

from apiflask import APIFlask
from flask import request
from flask_cors import CORS
from flask_cors.core import get_cors_options
from werkzeug.middleware.proxy_fix import ProxyFix

from civility.comments import CommentService
from civility.config import Settings
from civility.engagement import EngagementService
from civility.infra import after_commit
from civility.infra.analysis import RedisAnalyzer
from civility.infra.engagement_cache import EngagementCache
from civility.infra.jobqueue import ScoringQueue
from civility.infra.nudge_tickets import NudgeTickets
from civility.infra.presence import live_workers
from civility.infra.runtime import Runtime
from civility.infra.share_totals import ShareTotalsPublisher
from civility.instance import ClientHashSalt
from civility.moderation import ModerationService
from civility.nudge import NudgeService
from service import docs, errors, limits, metrics, openapi, ops, pages
from service.api import CommentIdConverter, comments, engagement, moderation, perspective
from service.api import live as live_api
from service.api import readers as readers_api
from service.context import Services
from service.fast_lane import FastLane
from service.headers import SECURITY_HEADERS
from service.post_lane import COMMENT_ENDPOINT, SHARE_ENDPOINT, PostLane
from service.schemas import ErrorOut
from service.thread_pages import ThreadPages, public

__version__ = "0.1.0"

# Public routes embedding sites may call from the browser; moderation is deliberately absent.
# me: a signed-in reader's own data, from the widget (Bearer identity token, no cookies).
PUBLIC_API = r"/api/v1/(articles|comments|counts|trending|me)(/.*)?"


def create_app(settings: Settings | None = None) -> APIFlask:
    settings = settings or Settings.from_env()
    app = APIFlask(__name__, title="civility", version=__version__, spec_path="/openapi.json", docs_path=None)
    app.url_map.converters["comment_id"] = CommentIdConverter
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_content_length,
        MAX_FORM_MEMORY_SIZE=settings.max_content_length,
        INFO={"description": "Comments, share counts and machine-scored moderation for news sites. "
                             "Errors are always {\"error\": {\"code\", \"message\", \"details\"}}."},
        SERVERS=[{"url": "/"}],
        HTTP_ERROR_SCHEMA=ErrorOut,
        VALIDATION_ERROR_SCHEMA=ErrorOut,
        VALIDATION_ERROR_DESCRIPTION="Invalid fields, each named in error.details",
    )
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    runtime = Runtime(settings)
    db, redis = runtime.db, runtime.redis
    scoring_queue = ScoringQueue(redis, settings)
    thread_cache = after_commit.install(db, redis, settings)
    comment_service = CommentService(db, settings)
    engagement_cache = EngagementCache(redis, settings.redis_prefix)
    app.extensions["civility"] = Services(
        settings=settings, db=db, redis=redis,
        comments=comment_service,
        thread_pages=ThreadPages(comment_service, thread_cache, settings),
        moderation=ModerationService(db, lambda: live_workers(redis, settings), scoring_queue.depth),
        engagement=EngagementService(db, settings, engagement_cache, ShareTotalsPublisher(engagement_cache)),
        client_hash_salt=ClientHashSalt(db, settings.client_hash_salt),
        analyzer=RedisAnalyzer(redis, settings),
        nudges=NudgeService(db, settings, NudgeTickets(redis, settings.redis_prefix)),
    )
    errors.register_error_handlers(app)
    app.register_blueprint(comments.bp)
    app.register_blueprint(engagement.bp)
    app.register_blueprint(moderation.bp)
    app.register_blueprint(readers_api.bp)
    app.register_blueprint(live_api.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(docs.bp)  # /docs: our own Swagger UI page (see service/docs.py)
    # Perspective's protocol at CIVILITY_PERSPECTIVE_PREFIX (docs/perspective.md); not in /openapi.json.
    perspective.install(app, settings.perspective_prefix)
    cors = {"origins": list(settings.allowed_origins), "expose_headers": ["Retry-After"], "max_age": 600,
            "allow_headers": ["Content-Type", "Authorization", "X-Edit-Token"]}
    CORS(app, resources={PUBLIC_API: cors})
    app.extensions["civility_metrics"] = http_metrics = metrics.install(app)

    # Registered before the rate limiter's own hook, so it runs after it (Flask runs them in reverse).
    @app.after_request
    def _retry_after_only_when_refused(response):
        if response.status_code not in (429, 503):
            response.headers.pop("Retry-After", None)
        return response

    limiter = limits.configure(app, settings)
    app.spec_processor(openapi.refine_spec)

    @app.before_request
    def _require_json():
        if request.method in ("POST", "PATCH", "PUT") and request.path.startswith("/api/"):
            if not request.is_json:
                return errors.error_response(415, "send the body as JSON with Content-Type: application/json")
            # Parse once here, where any JSON the parser refuses (a number of 5,000 digits, bad
            # UTF-8, deep nesting) becomes a 400 rather than an error inside the input schema.
            if request.get_data(cache=True):
                request.get_json()
        return None

    @app.after_request
    def _security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    services = app.extensions["civility"]
    lane_limits = {action: limits.ActionLimit(limiter, settings, action, endpoint)
                   for action, endpoint in (("share", SHARE_ENDPOINT), ("comment", COMMENT_ENDPOINT))
                   if limiter is not None and settings.rate_limits and action in settings.rate_limits}

    def render_error(environ: dict, error: Exception):
        # A write in the lane that fails is answered by Flask's own handlers, as if its view had raised.
        with app.request_context(environ):
            return app.make_response(app.handle_user_exception(error))

    writes = PostLane(services.engagement, services.comments, services.nudges, services.client_hash_salt,
                      settings.max_content_length, settings.trusted_proxies, lane_limits, app.json.response,
                      render_error)
    # Outermost, so that a cache hit of a thread page or of /counts, a share or a comment never reaches Flask.
    app.wsgi_app = FastLane(  # type: ignore[method-assign]
        app.wsgi_app, services.thread_pages, services.engagement, http_metrics, get_cors_options(app, cors),
        public(settings.counts_max_age, settings.stale_while_revalidate), writes)
    return app
