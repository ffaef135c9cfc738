"""Live events of a thread, from Redis pub/sub to Server-Sent Events frames.

Every writing process publishes on the article's channel after its commit
(``civility.infra.thread_cache.ThreadCache.announce``). Two readers of those channels live here:

- ``open_subscription`` and ``frames``: one blocking pub/sub connection per stream, for the API's
  own, bounded, ``/events`` route (``service/api/live.py``);
- ``LiveHub``: one asyncio pub/sub connection per process, multiplexing every subscribed channel
  to any number of streams, for ``civility live`` (``service/live_server.py``).

Events are not stored, so they cannot be replayed: a client that reconnects with ``Last-Event-ID``
first gets a ``resync`` event, meaning "you may have missed something: read the thread again".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.client import PubSub
from redis.exceptions import RedisError

from civility.infra.runtime import TIMEOUTS
from civility.infra.thread_cache import channel
from civility.redis_url import is_sentinel_url, parse_sentinel_url
from civility.thread_changes import CHANGED, EDITED, PUBLISHED, REMOVED, VOTES

log = logging.getLogger(__name__)

# Proxies close connections idle for 30 to 60 s (nginx's proxy_read_timeout is 60 s by default).
HEARTBEAT_SECONDS = 20.0
# How long a browser waits before reconnecting a dropped stream (the SSE ``retry:`` field).
RETRY_MS = 3000
KINDS = (PUBLISHED, EDITED, REMOVED, VOTES, CHANGED)
RESYNC = "resync"

HEARTBEAT = b": keep-alive\n\n"


def opening(last_event_id: str | None) -> bytes:
    """The first bytes of a stream: the retry delay, and ``resync`` for a client that reconnects."""
    head = f"retry: {RETRY_MS}\n\n".encode()
    if last_event_id is not None:
        head += event_frame({"type": RESYNC})
    return head


def event_frame(event: dict[str, Any]) -> bytes:
    # The id is only there so that a reconnecting browser sends Last-Event-ID (and gets ``resync``).
    data = json.dumps(event, separators=(",", ":"))
    return f"id: {int(time.time() * 1000)}\ndata: {data}\n\n".encode()


def frame_of(message: bytes | str) -> bytes | None:
    """The SSE frame of one pub/sub message; None for anything that is not a thread change."""
    try:
        event = json.loads(message)
        kind, comment_id = event["type"], event["comment_id"]
    except (ValueError, TypeError, KeyError):
        return None
    if kind not in KINDS or not isinstance(comment_id, int):
        return None
    return event_frame({"type": kind, "comment_id": comment_id})


# -- one blocking subscription per stream (the API's bounded route) --------------------------------
def open_subscription(redis: Redis, prefix: str, article_id: str) -> PubSub:
    """Subscribed before the response starts, so a dead Redis is a 503, not an empty stream."""
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(channel(prefix, article_id))
    except RedisError:
        pubsub.close()
        raise
    return pubsub


def frames(pubsub: PubSub, last_event_id: str | None, gone: Callable[[], bool] = lambda: False,
           heartbeat: float = HEARTBEAT_SECONDS) -> Iterator[bytes]:
    """The stream's bytes until Redis fails or ``gone()`` says the client left. ``gone`` is asked
    several times a second, so that a closed tab frees its thread at once, not at the next heartbeat."""
    try:
        yield opening(last_event_id)
        quiet_since = time.monotonic()
        while not gone():
            try:
                message = pubsub.get_message(timeout=0.25)
            except RedisError:
                log.warning("live events: Redis failed; ending the stream")
                return
            frame = frame_of(message["data"]) if message and message.get("type") == "message" else None
            if frame is not None:
                yield frame
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= heartbeat:
                yield HEARTBEAT
                quiet_since = time.monotonic()
    finally:
        with contextlib.suppress(RedisError):
            pubsub.close()


# -- one asyncio connection for the whole process (civility live) ---------------------------------
def async_redis_from_url(url: str) -> AsyncRedis:
    """``civility.infra.runtime.redis_from_url`` for asyncio: the same URL forms and timeouts."""
    if not is_sentinel_url(url):
        # No socket timeout: a pub/sub connection is quiet for as long as nobody writes.
        keepalive = {} if url.startswith("unix://") else {"socket_keepalive": True}
        return AsyncRedis.from_url(url, socket_connect_timeout=TIMEOUTS["socket_connect_timeout"], **keepalive)
    target = parse_sentinel_url(url)
    auth = {"username": target.username, "password": target.password}
    sentinel = AsyncSentinel(list(target.sentinels), sentinel_kwargs={**TIMEOUTS, **auth},
                             socket_connect_timeout=TIMEOUTS["socket_connect_timeout"], **auth)
    return sentinel.master_for(target.service, db=target.db, socket_keepalive=True)


Send = Callable[[bytes], None]


class LiveHub:
    """Streams by article, fed by one pub/sub connection. A stream is a ``send(bytes)`` callable plus
    a ``close()`` callable; the hub never awaits a client, so one slow reader delays nobody."""

    def __init__(self, redis: AsyncRedis, prefix: str, heartbeat: float = HEARTBEAT_SECONDS):
        self.redis = redis
        self.prefix = prefix
        self.heartbeat = heartbeat
        self._pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self._streams: dict[str, dict[int, tuple[Send, Callable[[], None]]]] = {}
        self._subscribed: set[str] = set()
        self._lock = asyncio.Lock()
        self._listening = asyncio.Event()
        self.count = 0

    async def add(self, article_id: str, key: int, send: Send, close: Callable[[], None]) -> None:
        """Register a stream; raises RedisError (answer 503) when the channel cannot be subscribed."""
        name = channel(self.prefix, article_id)
        async with self._lock:
            if name not in self._subscribed:
                await self._pubsub.subscribe(name)
                self._subscribed.add(name)
                self._listening.set()
            self._streams.setdefault(name, {})[key] = (send, close)
            self.count += 1

    def remove(self, article_id: str, key: int) -> None:
        name = channel(self.prefix, article_id)
        streams = self._streams.get(name)
        if streams is None or streams.pop(key, None) is None:
            return
        self.count -= 1
        if not streams:
            del self._streams[name]
            asyncio.get_running_loop().create_task(self._unsubscribe(name))

    async def _unsubscribe(self, name: str) -> None:
        async with self._lock:
            if name in self._subscribed and not self._streams.get(name):
                self._subscribed.discard(name)
                with contextlib.suppress(RedisError):
                    await self._pubsub.unsubscribe(name)

    async def run(self) -> None:
        """Read the connection and fan messages out, forever; heartbeats go out on their own task."""
        beats = asyncio.get_running_loop().create_task(self._beat())
        try:
            while True:
                await self._listening.wait()
                try:
                    message = await self._pubsub.get_message(timeout=1.0)
                except (RedisError, OSError) as exc:
                    log.warning("live events: Redis failed (%s); closing %d streams", type(exc).__name__, self.count)
                    await self._drop_all()
                    continue
                if message and message.get("type") == "message":
                    self._fan_out(message["channel"], message["data"])
        finally:
            beats.cancel()

    def _fan_out(self, raw_channel: bytes | str, data: bytes | str) -> None:
        name = raw_channel.decode() if isinstance(raw_channel, bytes) else raw_channel
        frame = frame_of(data)
        if frame is None:
            return
        for send, _ in list(self._streams.get(name, {}).values()):
            send(frame)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            for streams in list(self._streams.values()):
                for send, _ in list(streams.values()):
                    send(HEARTBEAT)

    async def _drop_all(self) -> None:
        """After a Redis failure: end every stream (browsers reconnect, and get 503 while Redis is
        down) and start over with a fresh connection."""
        async with self._lock:
            closers = [close for streams in self._streams.values() for _, close in streams.values()]
            self._streams.clear()
            self._subscribed.clear()
            self._listening.clear()
            self.count = 0
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.aclose()
            self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        for close in closers:
            close()

    async def aclose(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.aclose()
        await self.redis.aclose()
