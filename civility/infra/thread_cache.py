"""Redis copies of what anonymous readers see of a thread: serialised pages and comment counts.

Every article has a generation number. A write that changes what readers see (``civility.thread_changes``)
bumps it after its commit and drops the article's pages; pages and counts are stored tagged with
the generation they were computed under, so one computed from data older than the last write is
never served. A reader reads the generation before the database, so the worst a race can do is
store a page under a generation nobody asks for any more.

Generations start from Redis's clock (microseconds), not from 1, so a generation lost with Redis
(or expired) never repeats a number that pages were stored under. Every method survives a Redis
outage: reads answer "not cached", announcements are logged and lost (the pages' TTL bounds that).
"""

from __future__ import annotations

import contextlib
import json
import time

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError

from civility.thread_changes import ThreadChange

# A generation outlives the pages stored under it by far; each write extends it.
GENERATION_TTL = 30 * 24 * 3600
# Distinct pages kept per article (sorts, limits, cursors): crafted cursors cannot fill Redis.
MAX_PAGES_PER_ARTICLE = 48
# A reader who finds a page being rebuilt waits this long for it at most, then builds it too (the
# lock lasts a little longer, so a builder that died holds nobody up for more than that).
WAIT_FOR_BUILD_SECONDS, BUILD_LOCK_MS, POLL_SECONDS = 0.25, 1000, 0.004

# An article whose generation is unknown (never written since it expired or was lost) reads as
# generation "0": the first write after that sets a clock-based one and drops every page, so a
# page stored under "0" never outlives the state it was computed from.
# On a miss the first reader claims the page (a short lock), so that after a write one request
# rebuilds it while the others wait for it, rather than all of them querying the database at once.
# KEYS: generation, pages hash, the page's build lock. ARGV: the page's variant, the lock's
# milliseconds (0: do not claim). -> {generation, page or false, claimed (1 or 0)}
_LOOKUP = """
local g = redis.call('GET', KEYS[1]) or '0'
local page = redis.call('HGET', KEYS[2], g .. '|' .. ARGV[1])
local claimed = 0
if not page and tonumber(ARGV[2]) > 0 and redis.call('SET', KEYS[3], g, 'NX', 'PX', ARGV[2]) then
  claimed = 1
end
return {g, page, claimed}
"""

# KEYS: generation, pages hash, the page's build lock. ARGV: generation read before the database,
# variant, page, TTL, cap. Pages expire at most TTL seconds after the first one was stored
# (EXPIRE NX), whatever happens.
_STORE = """
redis.call('DEL', KEYS[3])
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[5]) then return 0 end
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], ARGV[1] .. '|' .. ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4], 'NX')
return 1
"""

# KEYS: triples of (generation, pages hash, part of /counts), one triple per changed article.
# ARGV: GENERATION_TTL.
_BUMP = """
for i = 1, #KEYS, 3 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('INCR', KEYS[i])
  else
    local t = redis.call('TIME')
    redis.call('SET', KEYS[i], t[1] .. string.format('%06d', tonumber(t[2])))
  end
  redis.call('EXPIRE', KEYS[i], ARGV[1])
  redis.call('DEL', KEYS[i + 1], KEYS[i + 2])
end
return #KEYS / 3
"""

def generation_key(prefix: str, article_id: str) -> str:
    """The article's generation (also tags the comment counts that ``/counts`` keeps)."""
    return f"{prefix}:tgen:{article_id}"


def counts_part_key(prefix: str, article_id: str) -> str:
    """The article's part of the /counts answer (``civility.infra.engagement_cache``): every
    announcement drops it, so a part that is there is current."""
    return f"{prefix}:counts-part:{article_id}"


def channel(prefix: str, article_id: str) -> str:
    """The pub/sub channel of an article's live events (``civility.infra.live_events`` listens)."""
    return f"{prefix}:live:{article_id}"


def live_message(change: ThreadChange) -> str:
    return json.dumps({"type": change.kind, "article_id": change.article_id, "comment_id": change.comment_id},
                      separators=(",", ":"))


class ThreadCache:
    def __init__(self, redis: Redis, prefix: str, page_seconds: int):
        self.redis = redis
        self.prefix = prefix
        self.page_seconds = page_seconds
        self._lookup = redis.register_script(_LOOKUP)
        self._store = redis.register_script(_STORE)

    def generation_key(self, article_id: str) -> str:
        return generation_key(self.prefix, article_id)

    def pages_key(self, article_id: str) -> str:
        return f"{self.prefix}:tpages:{article_id}"

    # -- pages ----------------------------------------------------------------------------------
    def build_key(self, article_id: str, variant: str) -> str:
        return f"{self.prefix}:tbuild:{article_id}:{variant}"

    def _look(self, article_id: str, variant: str, claim: bool) -> tuple[str, bytes | None, bool]:
        generation, page, claimed = self._lookup(
            keys=[self.generation_key(article_id), self.pages_key(article_id), self.build_key(article_id, variant)],
            args=[variant, BUILD_LOCK_MS if claim else 0])
        return generation.decode(), page or None, bool(claimed)

    def page(self, article_id: str, variant: str) -> tuple[str | None, bytes | None]:
        """(generation, the stored page), or (generation, None): build the page and ``store_page``
        it. When another request is already building it, wait for that one (a short while). A write
        meanwhile makes the wait start over for the new generation, one reader claiming the rebuild
        again: were every waiter to rebuild at once, a thread written to as often as it takes to
        build would always be rebuilt by all its readers together. (None, None) when Redis cannot
        answer."""
        try:
            generation, page, claimed = self._look(article_id, variant, claim=True)
            deadline = time.monotonic() + WAIT_FOR_BUILD_SECONDS
            while page is None and not claimed and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
                generation, page, claimed = self._look(article_id, variant, claim=True)
        except RedisError:
            return None, None
        return generation, page

    def stored_page(self, article_id: str, variant: str) -> bytes | None:
        """The page if it is stored under the current generation; None on a miss (claiming nothing)
        or when Redis cannot answer."""
        try:
            return self._look(article_id, variant, claim=False)[1]
        except RedisError:
            return None

    def store_page(self, article_id: str, generation: str, variant: str, page: bytes) -> None:
        """Keep ``page``, computed after reading ``generation``, unless a write came in between."""
        with contextlib.suppress(RedisError):
            self._store(keys=[self.generation_key(article_id), self.pages_key(article_id),
                              self.build_key(article_id, variant)],
                        args=[generation, variant, page, self.page_seconds, MAX_PAGES_PER_ARTICLE])

    def give_up_page(self, article_id: str, variant: str) -> None:
        """Not storing the page after all (an empty thread, an error): let the waiters build it."""
        with contextlib.suppress(RedisError):
            self.redis.delete(self.build_key(article_id, variant))

    # -- after a write --------------------------------------------------------------------------
    def announce(self, changes: list[ThreadChange], pipe: Pipeline) -> None:
        """Queue on ``pipe`` new generations for the changed articles and their live events. Plain
        EVAL, not EVALSHA: a pipeline holding scripts would first ask Redis whether it knows them."""
        keys: list[str] = []
        for article_id in dict.fromkeys(c.article_id for c in changes):
            keys += [self.generation_key(article_id), self.pages_key(article_id),
                     counts_part_key(self.prefix, article_id)]
        pipe.eval(_BUMP, len(keys), *keys, GENERATION_TTL)
        for change in changes:
            pipe.publish(channel(self.prefix, change.article_id), live_message(change))
