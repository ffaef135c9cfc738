"""Public thread pages as bytes: serialised and gzipped once, kept in Redis until a write changes the
thread, and sent with an ETag and Cache-Control so that browsers and a CDN can reuse them too.

What an anonymous reader sees of a thread is the same for everyone, so one copy serves all of them.
Pages are kept gzipped: a page of 50 comments is about 40 KB of JSON, and sending that many bytes
costs a Flask process more than everything else in the request, while every browser and CDN
accepts gzip (the few clients that do not get the page unzipped). Redis holds a tenth as much.

A request carrying credentials (an identity token or an edit token) is answered from the database
and marked private: the thread does not depend on who asks today, but nothing personal must ever
be stored in, or served from, the shared copy.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from typing import Any

from flask import Response, request
from werkzeug.datastructures import ETags
from werkzeug.http import parse_accept_header

from civility.comments import CommentService, check_article_id
from civility.config import Settings
from civility.infra.thread_cache import ThreadCache
from service.schemas import dump_thread

VARY = "Accept-Encoding, Authorization, X-Edit-Token"


def encode(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def etag_of(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=12).hexdigest()


def carries_credentials() -> bool:
    return "Authorization" in request.headers or "X-Edit-Token" in request.headers


def json_response(body: bytes, cache_control: str, etag: str | None = None, gzipped: bool = False,
                  if_none_match: ETags | None = None) -> Response:
    """A JSON answer already serialised (and perhaps gzipped); with an ETag, a matching
    If-None-Match (the Flask request's unless given) gets a 304. The gzipped representation's ETag
    ends in ``-gz``; either matches."""
    response = Response(body, mimetype="application/json")
    response.headers["Cache-Control"] = cache_control
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    if etag is not None:
        response.set_etag(f"{etag}-gz" if gzipped else etag)
        response.headers["Vary"] = VARY
        if if_none_match is None:
            if_none_match = request.if_none_match
        if etag in if_none_match or f"{etag}-gz" in if_none_match:
            response.status_code, response.data = 304, b""
            response.headers.pop("Content-Encoding", None)
    return response


def public(max_age: int, stale: int) -> str:
    return f"public, max-age={max_age}, stale-while-revalidate={stale}" if max_age else "no-cache"


def accepts_gzip(accept_encoding: str | None) -> bool:
    return parse_accept_header(accept_encoding)["gzip"] > 0


def variant(sort: str, limit: int, cursor: str | None) -> str:
    """What tells an article's cached pages apart."""
    return f"{sort}|{limit}|{cursor or ''}"


class ThreadPages:
    def __init__(self, comments: CommentService, cache: ThreadCache, settings: Settings):
        self.comments = comments
        self.cache = cache
        self.cache_control = public(settings.thread_max_age, settings.stale_while_revalidate)

    def _fresh(self, article_id: str, sort: str, limit: int, cursor: str | None) -> tuple[bytes, bool]:
        page = self.comments.thread(article_id, sort, limit, cursor)
        return encode(dump_thread(page)), page.total > 0

    def send(self, zipped: bytes, etag: str, accept_encoding: str | None, if_none_match: ETags) -> Response:
        if accepts_gzip(accept_encoding):
            return json_response(zipped, self.cache_control, etag, gzipped=True, if_none_match=if_none_match)
        return json_response(gzip.decompress(zipped), self.cache_control, etag, if_none_match=if_none_match)

    def _send(self, zipped: bytes, etag: str) -> Response:
        return self.send(zipped, etag, request.headers.get("Accept-Encoding"), request.if_none_match)

    def warm(self, article_id: str, sort: str, limit: int, cursor: str | None) -> tuple[bytes, str] | None:
        """(gzipped page, ETag) when the page is cached; None otherwise, without claiming its
        rebuild (``service.fast_lane`` asks first, and leaves a miss to ``response``)."""
        stored = self.cache.stored_page(article_id, variant(sort, limit, cursor))
        if stored is None:
            return None
        etag, _, zipped = stored.partition(b"\n")
        return zipped, etag.decode()

    def response(self, article_id: str, sort: str, limit: int, cursor: str | None) -> Response:
        check_article_id(article_id)
        if carries_credentials():
            body, _ = self._fresh(article_id, sort, limit, cursor)
            return json_response(body, "private, no-cache", etag_of(body))
        key = variant(sort, limit, cursor)
        generation, stored = self.cache.page(article_id, key)
        if stored is not None:
            etag, _, zipped = stored.partition(b"\n")
            return self._send(zipped, etag.decode())
        stored_it = False
        try:
            body, worth_keeping = self._fresh(article_id, sort, limit, cursor)
            etag = etag_of(body)
            # Empty threads are cheap to read and would let made-up article ids fill Redis.
            if generation is None or not worth_keeping:
                return json_response(body, self.cache_control, etag)
            zipped = gzip.compress(body, 6, mtime=0)
            self.cache.store_page(article_id, generation, key, etag.encode() + b"\n" + zipped)
            stored_it = True
        finally:
            if generation is not None and not stored_it:
                self.cache.give_up_page(article_id, generation, key)
        return self._send(zipped, etag)
