"""Redis copies of what anonymous readers see of a thread: serialised pages and comment counts.

Every article has a generation number. A write that changes what readers see (``civility.thread_changes``)
bumps it after its commit and drops the article's pages; pages and counts are stored tagged with
the generation they were computed under, and a reader is only served what was computed under the
generation it read when it asked, so a write is in every answer to a request made after it. A page
is computed from the database after its generation was read, so it holds every write acknowledged
before that generation's readers asked.

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
# A waiter also takes the page built for the generation it first saw (``since``), once stored: that
# page holds every write acknowledged before the waiter asked, and a write meanwhile does not send
# it back to wait for one more rebuild.
# KEYS: generation, pages hash, the page's build lock. ARGV: the page's variant, the lock's
# milliseconds (0: do not claim), the generation the reader first saw ('' on its first look).
# -> {generation of the page (or the current one), page or false, claimed (1 or 0)}
_LOOKUP = """
local g = redis.call('GET', KEYS[1]) or '0'
local page = redis.call('HGET', KEYS[2], g .. '|' .. ARGV[1])
if not page and ARGV[3] ~= '' and ARGV[3] ~= g then
  local seen = redis.call('HGET', KEYS[2], ARGV[3] .. '|' .. ARGV[1])
  if seen then return {ARGV[3], seen, 0} end
end
local claimed = 0
if not page and tonumber(ARGV[2]) > 0 and redis.call('SET', KEYS[3], g, 'NX', 'PX', ARGV[2]) then
  claimed = 1
end
return {g, page, claimed}
"""

# KEYS: generation, pages hash, the page's build lock. ARGV: generation read before the database,
# variant, page, TTL, cap. A page is kept under the generation it was computed for, even when a
# write has moved the article on meanwhile: only readers who saw that generation before the write
# (waiters, above) ask for it, and the next write drops it with the rest. The build lock is released
# only if it is still this generation's (a later build may hold it). Pages expire at most TTL
# seconds after the first one was stored (EXPIRE NX), whatever happens.
_STORE = """
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[5]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[1] .. '|' .. ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4], 'NX')
return 1
"""

# KEYS: the page's build lock. ARGV: the generation it was claimed for.
_GIVE_UP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
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
        self._give_up = redis.register_script(_GIVE_UP)

    def generation_key(self, article_id: str) -> str:
        return generation_key(self.prefix, article_id)

    def pages_key(self, article_id: str) -> str:
        return f"{self.prefix}:tpages:{article_id}"

    # -- pages ----------------------------------------------------------------------------------
    def build_key(self, article_id: str, variant: str) -> str:
        return f"{self.prefix}:tbuild:{article_id}:{variant}"

    def _look(self, article_id: str, variant: str, claim: bool, since: str = "") -> tuple[str, bytes | None, bool]:
        generation, page, claimed = self._lookup(
            keys=[self.generation_key(article_id), self.pages_key(article_id), self.build_key(article_id, variant)],
            args=[variant, BUILD_LOCK_MS if claim else 0, since])
        return generation.decode(), page or None, bool(claimed)

    def page(self, article_id: str, variant: str) -> tuple[str | None, bytes | None]:
        """(generation, the stored page), or (generation, None): build the page and ``store_page``
        it. When another request is already building it, wait for that one (a short while), and
        take the page built for the generation this reader first saw even if a write has come in
        since: it holds every write acknowledged before the reader asked. Otherwise, were a write
        to land during each rebuild, the waiters would wait for one rebuild after another. When the
        wait ends with the page gone (its builder failed, or a write came in first), one reader
        claims the rebuild again, the others wait for it. (None, None) when Redis cannot answer."""
        try:
            generation, page, claimed = self._look(article_id, variant, claim=True)
            first_seen = generation
            deadline = time.monotonic() + WAIT_FOR_BUILD_SECONDS
            while page is None and not claimed and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
                generation, page, claimed = self._look(article_id, variant, claim=True, since=first_seen)
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
        """Keep ``page``, computed after reading ``generation``, for the readers of that generation.
        If a write came in between, no reader who asks after it gets this page."""
        with contextlib.suppress(RedisError):
            self._store(keys=[self.generation_key(article_id), self.pages_key(article_id),
                              self.build_key(article_id, variant)],
                        args=[generation, variant, page, self.page_seconds, MAX_PAGES_PER_ARTICLE])

    def give_up_page(self, article_id: str, generation: str, variant: str) -> None:
        """Not storing the page claimed under ``generation`` after all (an empty thread, an error):
        let the waiters build it."""
        with contextlib.suppress(RedisError):
            self._give_up(keys=[self.build_key(article_id, variant)], args=[generation])

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
