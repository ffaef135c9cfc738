"""Redis copies for engagement: share dedup keys, per-article share totals and the trending cache.

The database is the record; these are copies for speed. Every method survives a Redis outage by
answering "unknown" (None, or an empty result), and the caller falls back to the database.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

# Share totals per article live in one Redis hash (one HMGET answers /counts for 100 articles).
# It is a read-through copy of the database's aggregates and expires as a whole, which bounds how
# long a count can drift if an increment ever races a rebuild.
SHARE_CACHE_TTL = 300
TRENDING_CACHE_TTL = 30

# One round trip decides whether a share is new. The "since" key records when Redis last started
# empty: until a full dedup window has passed since then, its memory of recent shares may be
# incomplete, so the caller must confirm with the database (returns 0). -1: a repeat; 1: new.
_CHECK_SHARE = """
local since = tonumber(redis.call('GET', KEYS[2]))
if not since then
  since = tonumber(ARGV[2])
  redis.call('SET', KEYS[2], ARGV[2])
end
if not redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[1]) then
  return -1
end
if tonumber(ARGV[2]) - since < tonumber(ARGV[1]) then
  return 0
end
return 1
"""

# Count a share in the cache if the cache holds the article; returns the new total or false.
_BUMP_IF_CACHED = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
end
return false
"""

NEW, REPEAT, ASK_THE_DATABASE = 1, -1, 0


class EngagementCache:
    def __init__(self, redis: Redis, prefix: str):
        self.redis = redis
        self.prefix = prefix
        self._check_share = redis.register_script(_CHECK_SHARE)
        self._bump = redis.register_script(_BUMP_IF_CACHED)

    def _key(self, *parts: str) -> str:
        return ":".join([self.prefix, *parts])

    def share_verdict(self, digest: str, window_seconds: int, now_seconds: int) -> int:
        """NEW, REPEAT, or ASK_THE_DATABASE when Redis cannot tell (or is down)."""
        try:
            return int(self._check_share(keys=[self._key("share-seen", digest), self._key("share-seen-since")],
                                         args=[max(1, window_seconds), now_seconds]))
        except RedisError:
            return ASK_THE_DATABASE

    def bump_share_total(self, article_id: str) -> int | None:
        """The article's new total if the cache holds it, else None."""
        try:
            total = self._bump(keys=[self._key("share-totals")], args=[article_id])
        except RedisError:
            return None
        return None if total is None else int(total)

    def share_totals(self, article_ids: list[str]) -> dict[str, int]:
        """The cached totals among ``article_ids`` (absent ones are not cached)."""
        try:
            cached: list[Any] = self.redis.hmget(self._key("share-totals"), article_ids)  # type: ignore[assignment]
        except RedisError:
            return {}
        return {a: int(v) for a, v in zip(article_ids, cached, strict=True) if v is not None}

    def store_share_totals(self, totals: dict[str, int]) -> None:
        if not totals:
            return
        key = self._key("share-totals")
        with contextlib.suppress(RedisError):
            pipe = self.redis.pipeline(transaction=False)
            pipe.hset(key, mapping=totals)
            pipe.expire(key, SHARE_CACHE_TTL, nx=True)
            pipe.execute()

    def trending(self, window: str, limit: int) -> dict[str, Any] | None:
        try:
            cached: Any = self.redis.get(self._key("trending", window, str(limit)))
        except RedisError:
            return None
        return json.loads(cached) if cached else None

    def store_trending(self, window: str, limit: int, result: dict[str, Any]) -> None:
        with contextlib.suppress(RedisError):
            self.redis.set(self._key("trending", window, str(limit)), json.dumps(result), ex=TRENDING_CACHE_TTL)
