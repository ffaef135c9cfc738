"""Live thread events (Server-Sent Events) from the API itself, for ``make dev`` and small sites.

Each open stream holds one of the API's worker threads, so a process serves at most
CIVILITY_LIVE_STREAMS_PER_PROCESS of them and answers 503 beyond (the widget then polls). Busy sites
route this path to ``civility live`` instead, which holds thousands per process (docs/live.md).
"""

from __future__ import annotations

import select
import socket
import threading

from apiflask import APIBlueprint
from flask import Response, current_app, request
from redis.exceptions import RedisError

from civility.comments import check_article_id
from civility.infra.live_events import frames, open_subscription
from service import errors
from service.context import services

bp = APIBlueprint("live", __name__, url_prefix="/api/v1", tag="Comments")

STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
BUSY_RETRY_SECONDS = 30


class StreamSlots:
    """A counter with a ceiling, shared by the threads of one app."""

    def __init__(self, limit: int):
        self.limit = limit
        self.open = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.open >= self.limit:
                return False
            self.open += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.open -= 1


def _client_gone(environ: dict):
    """A check that the client closed its connection (a stream's client never sends anything more),
    on the socket the server hands over (gunicorn, werkzeug); without one, the next write tells."""
    sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    if not isinstance(sock, socket.socket):
        return lambda: False

    poller = select.poll()  # not select(): it fails on descriptors past 1024
    poller.register(sock, select.POLLIN)

    def gone() -> bool:
        try:
            return bool(poller.poll(0)) and sock.recv(1, socket.MSG_PEEK) == b""
        except ValueError:  # TLS sockets take no flags
            return False
        except OSError:
            return True

    return gone


def _slots() -> StreamSlots:
    limit = services().settings.live_streams_per_process
    return current_app.extensions.setdefault("civility_live_slots", StreamSlots(limit))


@bp.get("/articles/<path:article_id>/events")
@bp.output({}, content_type="text/event-stream",
           description="An endless `text/event-stream`. Each event's `data` is JSON "
                       "`{\"type\": \"published\"|\"edited\"|\"removed\"|\"votes\"|\"changed\", \"comment_id\": N}`; "
                       "a `: keep-alive` comment line comes every 20 s. Events are not stored: a client that "
                       "reconnects with `Last-Event-ID` first gets `{\"type\": \"resync\"}` and should read the "
                       "thread again. See docs/live.md.")
@bp.doc(summary="Live events of a thread (Server-Sent Events)",
        responses={422: "Invalid article id",
                   503: "Redis is down, or this process holds all the streams it may: poll the thread"})
def thread_events(article_id: str):
    check_article_id(article_id)
    slots = _slots()
    if not slots.take():
        return errors.error_response(503, "too many live streams here; poll the thread instead",
                                     headers={"Retry-After": str(BUSY_RETRY_SECONDS)})
    svc = services()
    try:
        pubsub = open_subscription(svc.redis, svc.settings.redis_prefix, article_id)
    except RedisError:
        slots.give_back()
        return errors.error_response(503, "live events are unavailable; poll the thread instead",
                                     headers={"Retry-After": str(BUSY_RETRY_SECONDS)})

    released = threading.Event()

    def release() -> None:
        # Runs when the server closes the response, even one whose body never started.
        if not released.is_set():
            released.set()
            pubsub.close()
            slots.give_back()

    body = frames(pubsub, request.headers.get("Last-Event-ID"), _client_gone(request.environ))
    response = Response(body, mimetype="text/event-stream", headers=STREAM_HEADERS)
    response.call_on_close(release)
    return response
