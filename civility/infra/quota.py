"""Per-key quotas (requests a second) on Redis: a fixed one-second window per key.

One ``INCR`` and one ``EXPIRE`` in a pipeline per request. A fixed window may let through up to
twice the quota across a window boundary; for a quota counted in requests a second that is the
accepted trade for one round trip and no Lua.
"""

from __future__ import annotations

import time

from redis import Redis
from redis.exceptions import RedisError


class Quota:
    def __init__(self, redis: Redis, prefix: str, clock=time.time):
        self.redis = redis
        self.prefix = prefix
        self.clock = clock

    def take(self, name: str, per_second: int) -> float | None:
        """Count one request of ``name``: ``None`` when within ``per_second``, else the seconds until the
        next window. Fails open (``None``) when Redis is unavailable, as the rate limits do."""
        now = self.clock()
        window = int(now)
        key = f"{self.prefix}-quota:{name}:{window}"
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, 2)
            count, _ = pipe.execute()
        except RedisError:
            return None
        if int(count) <= per_second:
            return None
        return max(0.001, window + 1 - now)
