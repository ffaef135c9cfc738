"""The fast lane: cache hits of the two hottest public reads, and the hottest writes, before Flask.

A news page asks for its thread and for ``/counts`` on every view, and nearly every time the answer
is already in Redis. Such a hit costs one Redis round trip and a few headers, while going through
Flask adds routing, a request context, APIFlask's query schema and the after-request hooks: about
as much again as everything else (docs/benchmarks.md). This WSGI middleware answers exactly those
requests itself, with the bytes and headers Flask would send (tests/test_fast_lane.py compares the
two), and records them in the same metrics.

Everything else goes to Flask untouched: other paths and methods, a miss, a request carrying
credentials, a query string that is not plainly valid (Flask then gives its usual error), Redis
being down. Falling through is always correct; answering here is only ever faster. Share and
comment POSTs are answered by service/post_lane.py, which says when they fall through.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_plus

from flask_cors.core import get_cors_headers
from werkzeug.datastructures import Headers
from werkzeug.http import parse_etags
from werkzeug.wrappers import Response

from civility.comments import ARTICLE_ID_PATTERN, SORTS
from civility.engagement import EngagementService
from civility.errors import Invalid
from service.headers import SECURITY_HEADERS
from service.metrics import HttpMetrics
from service.post_lane import PostLane
from service.schemas import MAX_CURSOR_CHARS, MAX_PAGE_SIZE, PAGE_SIZE
from service.thread_pages import ThreadPages, json_response

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]

_THREAD_PATH = re.compile(rf"/api/v1/articles/({ARTICLE_ID_PATTERN})/comments")
_COUNTS_PATH = "/api/v1/counts"
_WRITES = ("/shares", "/comments")
# Flask's names for the two views, so that the metrics do not tell the lanes apart.
THREAD_ENDPOINT, COUNTS_ENDPOINT = "comments.list_comments", "engagement.counts"
_LIMIT = re.compile(r"[1-9][0-9]{0,2}")
_THREAD_KEYS = frozenset({"sort", "limit", "cursor"})
_COUNTS_KEY = "article_id="
_ENCODED_SEPARATOR = re.compile("%26|%3d", re.IGNORECASE)
_COUNTS_QUERY = re.compile(rf"{_COUNTS_KEY}{ARTICLE_ID_PATTERN}(?:&{_COUNTS_KEY}{ARTICLE_ID_PATTERN})*")


def _decoded(value: str) -> str:
    return unquote_plus(value) if "%" in value or "+" in value else value


def thread_query(query_string: str) -> tuple[str, int, str | None] | None:
    """(sort, limit, cursor) of a plainly valid thread query; None for anything else (Flask decides)."""
    found: dict[str, str] = {}
    for pair in query_string.split("&") if query_string else ():
        key, sep, value = pair.partition("=")
        if not sep or key not in _THREAD_KEYS or key in found:
            return None
        found[key] = _decoded(value)
    sort = found.get("sort", SORTS[0])
    limit = found.get("limit", str(PAGE_SIZE))
    cursor = found.get("cursor")
    if sort not in SORTS or not _LIMIT.fullmatch(limit) or int(limit) > MAX_PAGE_SIZE:
        return None
    if cursor is not None and len(cursor) > MAX_CURSOR_CHARS:
        return None
    return sort, int(limit), cursor


def counts_query(query_string: str) -> list[str] | None:
    """The article ids of a query string that holds nothing but valid ``article_id=`` pairs.

    It is decoded whole, once, and checked by one regular expression: a hundred ids decoded and
    checked one by one cost more than the rest of the answer. A query that encodes a separator
    (only decoding pair by pair reads it right) goes to Flask."""
    if not query_string or _ENCODED_SEPARATOR.search(query_string):
        return None
    decoded = _decoded(query_string)
    if not _COUNTS_QUERY.fullmatch(decoded):
        return None
    return decoded[len(_COUNTS_KEY):].split("&" + _COUNTS_KEY)


class FastLane:
    def __init__(self, flask_wsgi: WSGIApp, pages: ThreadPages, engagement: EngagementService,
                 metrics: HttpMetrics, cors_options: Any, counts_cache_control: str, writes: PostLane):
        self.flask_wsgi = flask_wsgi
        self.writes = writes
        self.pages = pages
        self.engagement = engagement
        self.metrics = metrics
        self.cors_options = cors_options
        self.counts_cache_control = counts_cache_control
        # flask-cors's answer depends only on the Origin, the Private-Network request header and the
        # method: worked out once for each, not on every answer. Bounded: any client may send any Origin.
        self._cors_headers = functools.lru_cache(maxsize=256)(self._cors_headers_for)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if method == "GET" or (method == "POST" and environ.get("PATH_INFO", "").endswith(_WRITES)):
            started = time.perf_counter()
            try:
                answered = self._answer(environ) if method == "GET" else self.writes.answer(environ)
            except Exception:  # Flask answers instead, and reports its own errors
                log.exception("fast lane failed; handing the request to Flask")
                answered = None
            if answered is not None:
                endpoint, response = answered
                added = self._added_headers(environ, response, method)
                self.metrics.record(endpoint, method, response.status_code, time.perf_counter() - started)
                return response(environ, lambda status, headers, exc_info=None:
                                start_response(status, headers + added, exc_info))
        return self.flask_wsgi(environ, start_response)

    def _answer(self, environ: dict) -> tuple[str, Response] | None:
        path = environ.get("PATH_INFO", "")
        if path == _COUNTS_PATH:
            return self._counts(environ)
        if not path.endswith("/comments") or "HTTP_AUTHORIZATION" in environ or "HTTP_X_EDIT_TOKEN" in environ:
            return None
        match = _THREAD_PATH.fullmatch(path)
        query = match and thread_query(environ.get("QUERY_STRING", ""))
        if not match or not query:
            return None
        warm = self.pages.warm(match.group(1), *query)
        if warm is None:
            return None
        zipped, etag = warm
        response = self.pages.send(zipped, etag, environ.get("HTTP_ACCEPT_ENCODING"),
                                   parse_etags(environ.get("HTTP_IF_NONE_MATCH")))
        return THREAD_ENDPOINT, response

    def _counts(self, environ: dict) -> tuple[str, Response] | None:
        article_ids = counts_query(environ.get("QUERY_STRING", ""))
        if article_ids is None:
            return None
        try:
            body = self.engagement.warm_counts(article_ids)
        except Invalid:
            return None
        if body is None:
            return None
        return COUNTS_ENDPOINT, json_response(body, self.counts_cache_control)

    def _added_headers(self, environ: dict, response: Response, method: str) -> list[tuple[str, str]]:
        """What the after-request hooks add to every public API answer: CORS and security headers,
        each unless the answer has it. Given to the server after the answer's own headers, as Flask
        would have appended them, without werkzeug checking each header of each answer again."""
        present = {name.lower() for name, _ in response.headers.items()}
        added: list[tuple[str, str]] = []
        # An error answered by Flask's handlers (service/post_lane.py) has CORS headers already:
        # flask-cors wraps the handlers, and then, as here, leaves an answer that has them alone.
        if "access-control-allow-origin" not in present:
            added += self._cors_headers(environ.get("HTTP_ORIGIN"),
                                        environ.get("HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK"), method)
        added += [(name, value) for name, value in SECURITY_HEADERS.items() if name.lower() not in present]
        return added

    def _cors_headers_for(self, origin: str | None, private_network: str | None,
                          method: str) -> tuple[tuple[str, str], ...]:
        request_headers = Headers()
        for name, value in (("Origin", origin), ("Access-Control-Request-Private-Network", private_network)):
            if value is not None:
                request_headers[name] = value
        return tuple(get_cors_headers(self.cors_options, request_headers, method).items(multi=True))
