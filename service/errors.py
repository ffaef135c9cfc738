"""One error shape for everything: {"error": {"code", "message", "details"}}. Never a stack trace."""

from __future__ import annotations

import logging

from apiflask import APIFlask
from apiflask.exceptions import HTTPError
from flask import jsonify, request
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from civility.errors import DomainError
from service.logs import escape
from service.schemas import ErrorOut

log = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def error_body(status: int, message: str, details: dict | None = None, code: str | None = None) -> dict:
    return ErrorOut().dump({"error": {"code": code or CODES.get(status, "error"), "message": message,
                                      "details": details or {}}})


def error_response(status: int, message: str, details: dict | None = None, code: str | None = None,
                   headers: dict | None = None):
    response = jsonify(error_body(status, message, details, code))
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _validation_details(detail: dict) -> dict:
    """webargs nests messages by location ({"json": {"body": [...]}}); the contract names fields."""
    flat: dict = {}
    for location in ("json", "query", "path", "headers", "view_args"):
        if isinstance(detail.get(location), dict):
            flat.update(detail[location])
    return flat or detail


def register_error_handlers(app: APIFlask) -> None:
    @app.error_processor
    def http_error(error: HTTPError):
        status = error.status_code
        details = error.detail if isinstance(error.detail, dict) else {}
        message = error.message
        if status == 422:
            details = _validation_details(details)
            message = "invalid fields: " + ", ".join(sorted(map(str, details))) if details else "invalid request"
        elif status == 400 and request.is_json:
            message = "malformed JSON"
        return error_body(status, message, details), status, error.headers

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        return error_response(error.status_code, error.message, error.details, error.code)

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def database_down(error: DBAPIError):
        if isinstance(error, OperationalError) or error.connection_invalidated:
            log.error("database unavailable: %s", type(error.orig).__name__ if error.orig else error)
            return error_response(503, "the database is unavailable; please retry shortly",
                                  code="database_unavailable", headers={"Retry-After": "5"})
        return _internal(error)

    @app.errorhandler(PoolTimeoutError)
    def pool_exhausted(error: PoolTimeoutError):
        # Every pooled connection stayed busy for CIVILITY_DB_POOL_TIMEOUT seconds.
        log.error("database pool exhausted")
        return error_response(503, "the database is unavailable; please retry shortly",
                              code="database_unavailable", headers={"Retry-After": "5"})

    @app.errorhandler(RedisConnectionError)
    @app.errorhandler(RedisTimeoutError)
    def redis_down(error: Exception):
        log.error("redis unavailable: %s", type(error).__name__)
        return error_response(503, "a backing service is unavailable; please retry shortly",
                              code="redis_unavailable", headers={"Retry-After": "5"})

    @app.errorhandler(RecursionError)
    def too_deep(error: RecursionError):
        # Python's JSON parser recurses per nesting level; a deeply nested body ends here, fast.
        if request.is_json:
            return error_response(400, "malformed JSON: nested too deeply", code="bad_request")
        return _internal(error)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return error_response(error.code or 500, error.description or error.name)
        return _internal(error)

    def _internal(error: Exception):
        # The traceback goes to the log (without the request body); the client gets a generic answer.
        # The path is escaped: a %0A in it must not start a line of its own.
        log.exception("unhandled error on %s %s", escape(request.method), escape(request.path), exc_info=error)
        return error_response(500, "internal error")
