"""``civility live``: a small asyncio server that only serves live thread events (Server-Sent Events).

``GET {prefix}/api/v1/articles/{id}/events`` (any path prefix) and ``GET /healthz``; nothing else.
One process holds thousands of idle streams: a stream is a socket and a small protocol object,
registered with one ``LiveHub`` (one Redis connection for every channel). Streams never read the
database. The reverse proxy routes the events path here and everything else to the API
(docs/live.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import resource
import signal
from itertools import count
from urllib.parse import unquote, urlsplit

from redis.exceptions import RedisError

from civility.comments import check_article_id
from civility.config import Settings
from civility.errors import Invalid
from civility.infra.live_events import LiveHub, async_redis_from_url, opening

log = logging.getLogger(__name__)

EVENTS_PATH = re.compile(r"/api/v1/articles/(?P<article>.+)/events")
MAX_HEAD = 16 * 1024
HEAD_TIMEOUT = 10.0
# A reader whose socket will not take this much is not reading: drop it rather than buffer for it.
MAX_BACKLOG = 256 * 1024
RETRY_AFTER = 30
_keys = count(1)


class Server:
    def __init__(self, settings: Settings, max_streams: int):
        self.settings = settings
        self.max_streams = max_streams
        self.hub = LiveHub(async_redis_from_url(settings.require_redis_url()), settings.redis_prefix)
        origins = tuple(settings.allowed_origins)
        self.any_origin = "*" in origins
        self.origins = frozenset(origins)

    def cors(self, origin: str | None) -> list[tuple[str, str]]:
        if self.any_origin:
            return [("Access-Control-Allow-Origin", "*")]
        if origin and origin in self.origins:
            return [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
        return [("Vary", "Origin")]


def _head(status: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Stream(asyncio.Protocol):
    """One connection: read one request head, then answer it (and, for events, keep writing)."""

    def __init__(self, server: Server):
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.article: str | None = None
        self.key = next(_keys)
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.timer = asyncio.get_running_loop().call_later(HEAD_TIMEOUT, transport.close)

    def data_received(self, data: bytes) -> None:
        if self.timer is None:  # the request is being answered; a stream's client has nothing to say
            return
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEAD:
                self.reply(431, "request header too large")
            return
        self.timer.cancel()
        self.timer = None
        head, self.buffer = self.buffer[:end].decode("latin-1"), b""
        asyncio.get_running_loop().create_task(self.answer_safely(head))

    def connection_lost(self, exc) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.article is not None:
            self.server.hub.remove(self.article, self.key)
            self.article = None

    # -- answers -----------------------------------------------------------------------------
    async def answer_safely(self, head: str) -> None:
        try:
            await self.answer(head)
        except Exception:
            log.exception("live events: could not answer a request")
            self.reply(500, "internal error")

    async def answer(self, head: str) -> None:
        request_line, *header_lines = head.split("\r\n")
        parts = request_line.split(" ")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if len(parts) != 3:
            return self.reply(400, "bad request")
        method, target, _ = parts
        path = urlsplit(target).path
        cors = self.server.cors(headers.get("origin"))
        if path == "/healthz" and method == "GET":
            return self.reply(200, None, {"status": "ok", "streams": self.server.hub.count})
        match = EVENTS_PATH.search(path)
        if match is None:
            return self.reply(404, "not found", cors=cors)
        if method == "OPTIONS":
            return self.send(_head("204 No Content", [*cors, ("Access-Control-Allow-Methods", "GET"),
                                                      ("Access-Control-Allow-Headers", "Last-Event-ID, Cache-Control"),
                                                      ("Access-Control-Max-Age", "600"), ("Content-Length", "0"),
                                                      ("Connection", "close")]), close=True)
        if method != "GET":
            return self.reply(405, "only GET", cors=cors)
        try:
            article = check_article_id(unquote(match["article"]))
        except Invalid as exc:
            return self.reply(422, exc.message, cors=cors, details=exc.details)
        if self.server.hub.count >= self.server.max_streams:
            return self.reply(503, "too many live streams here; poll the thread instead", cors=cors)
        try:
            await self.server.hub.add(article, self.key, self.push, self.close)
        except (RedisError, OSError):
            return self.reply(503, "live events are unavailable; poll the thread instead", cors=cors)
        if self.transport is None or self.transport.is_closing():
            self.server.hub.remove(article, self.key)
            return None
        self.article = article
        self.send(_head("200 OK", [*cors, ("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"),
                                   ("X-Accel-Buffering", "no"), ("Connection", "keep-alive")]))
        self.push(opening(headers.get("last-event-id")))
        return None

    def push(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if transport.get_write_buffer_size() > MAX_BACKLOG:
            transport.abort()
            return
        transport.write(data)

    def send(self, data: bytes, close: bool = False) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)
            if close:
                self.transport.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def reply(self, status: int, message: str | None, body: dict | None = None,
              cors: list[tuple[str, str]] | None = None, details: dict | None = None) -> None:
        if body is None:
            codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 422: "invalid",
                     431: "too_large", 500: "internal_error", 503: "unavailable"}
            body = {"error": {"code": codes.get(status, "error"), "message": message, "details": details or {}}}
        raw = json.dumps(body).encode()
        reasons = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
                   422: "Unprocessable Content", 431: "Request Header Fields Too Large",
                   500: "Internal Server Error", 503: "Service Unavailable"}
        headers = [*(cors or []), ("Content-Type", "application/json"), ("Content-Length", str(len(raw))),
                   ("Cache-Control", "no-store"), ("Connection", "close")]
        if status == 503:
            headers.append(("Retry-After", str(RETRY_AFTER)))
        self.send(_head(f"{status} {reasons[status]}", headers) + raw, close=True)


def raise_fd_limit() -> int:
    """Raise the soft limit on open files to the hard one: each stream is one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def serve(settings: Settings, host: str, port: int, max_streams: int,
                ready: asyncio.Event | None = None) -> None:
    server = Server(settings, max_streams)
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(lambda: Stream(server), host, port, backlog=4096)
    hub = loop.create_task(server.hub.run())
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    log.info("civility live on %s:%s (at most %d streams)", host, port, max_streams)
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        listener.close()
        hub.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await hub
        await server.hub.aclose()


def run(settings: Settings, host: str, port: int, max_streams: int | None) -> None:
    files = raise_fd_limit()
    # Leave room for the listening socket, Redis and logs.
    limit = max_streams if max_streams is not None else max(16, files - 64)
    asyncio.run(serve(settings, host, port, limit))
