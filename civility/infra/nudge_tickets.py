"""Single-use tickets of the nudge before posting, on Redis.

A check that would hold a comment leaves a ticket (the digest of the text it checked) under a random
``check_id``. Posting with that ``check_id`` takes the ticket back exactly once (GET and DEL in one
MULTI), so one nudge can be counted as revised or posted anyway at most once.
"""

from __future__ import annotations

import logging
import secrets

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# A reader has this long after a nudge to post; later, the comment still posts but is not counted.
TICKET_TTL_SECONDS = 3600


class NudgeTickets:
    def __init__(self, redis: Redis, prefix: str):
        self.redis = redis
        self.prefix = prefix

    def _key(self, check_id: str) -> str:
        return f"{self.prefix}:nudge:{check_id}"

    def issue(self, digest: str) -> str | None:
        """A new ``check_id`` holding ``digest``; None if Redis is unavailable (nothing to count then)."""
        check_id = secrets.token_urlsafe(18)
        try:
            self.redis.set(self._key(check_id), digest, ex=TICKET_TTL_SECONDS)
        except RedisError as exc:
            log.warning("could not store a nudge ticket (%s); it will not be counted", type(exc).__name__)
            return None
        return check_id

    def redeem(self, check_id: str) -> str | None:
        """The digest of a live ticket, which is gone afterwards; None if unknown, used, expired or Redis is down."""
        try:
            with self.redis.pipeline(transaction=True) as pipe:
                pipe.get(self._key(check_id))
                pipe.delete(self._key(check_id))
                value, _ = pipe.execute()
        except RedisError as exc:
            log.warning("could not redeem a nudge ticket (%s)", type(exc).__name__)
            return None
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)
