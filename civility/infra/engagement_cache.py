"""Redis copies for engagement: per-article share totals, /counts and the trending cache.

The database is the record; these are copies for speed. Every method survives a Redis outage by
answering "unknown" (None, or an empty result), and the caller falls back to the database.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from civility.infra.thread_cache import counts_part_key, generation_key

# Share totals per article live in one Redis hash (one HMGET answers /counts for 100 articles).
# It is a copy of the database's totals (raised after each share, rebuilt on a miss) and expires as
# a whole, which bounds how long a total stays behind when a process dies before sending its copy.
SHARE_CACHE_TTL = 300
TRENDING_CACHE_TTL = 30

# Keeps an article's part of /counts (see ``_COUNTS``) in step with its new share total; spliced
# into the script that raises the totals.
def _set_part_shares(part_key: str, total: str) -> str:
    return (f"local part = redis.call('GET', {part_key})\n"
            f"  if part then redis.call('SET', {part_key}, "
            f"(string.gsub(part, '\"shares\":%-?%d+', '\"shares\":' .. {total})), 'KEEPTTL') end")


# Raise cached share totals to those the database returned for new shares. Totals only grow, so
# the larger one is right whatever the order in which processes send theirs, and a rebuild from the
# database (``_STORE_COUNTS``) cannot undo a newer share. KEYS: share totals, then each article's
# /counts part. ARGV: TTL, then pairs (article id, total).
_RAISE_SHARE_TOTALS = """
for i = 2, #ARGV, 2 do
  local id, total = ARGV[i], ARGV[i + 1]
  local cached = redis.call('HGET', KEYS[1], id)
  if not cached or tonumber(cached) < tonumber(total) then
    redis.call('HSET', KEYS[1], id, total)
    local part_key = KEYS[i / 2 + 1]
    """ + _set_part_shares("part_key", "total") + """
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[1], 'NX')
return 1
"""

# /counts, when the fast way (``counts_answer``) misses. KEYS: share totals, comment totals, then for
# each article its thread generation (civility.infra.thread_cache) and its /counts part. ARGV: the
# parts' TTL, the cap on fields, then the article ids. A comment total is stored as
# "generation|count" and holds only while the article's generation is unchanged; for the others the
# answer carries the generation to store a fresh count under. An article whose totals both hold
# gets its part of the answer ('"id":{"comments":3,"shares":1}') stored, in this same script: a
# share or a write in between would otherwise leave a stale part behind. Parts of zeros (made-up
# ids among them) are kept only while the comment totals have room, as the zeros there are.
_COUNTS = """
local ids = {unpack(ARGV, 3)}
local shares = redis.call('HMGET', KEYS[1], unpack(ids))
local tagged = redis.call('HMGET', KEYS[2], unpack(ids))
local room = redis.call('HLEN', KEYS[2]) < tonumber(ARGV[2])
local comments, stale = {}, {}
for i = 1, #ids do
  local g = redis.call('GET', KEYS[2 * i + 1]) or '0'
  local t = tagged[i]
  local bar = t and string.find(t, '|', 1, true)
  if bar and string.sub(t, 1, bar - 1) == g then
    comments[i] = string.sub(t, bar + 1)
    stale[i] = false
    if shares[i] and (room or comments[i] ~= '0' or shares[i] ~= '0') then
      local part = '"' .. ids[i] .. '":{"comments":' .. comments[i] .. ',"shares":' .. shares[i] .. '}'
      redis.call('SET', KEYS[2 * i + 2], part, 'EX', ARGV[1])
    end
  else
    comments[i] = false
    stale[i] = g
  end
end
return {shares, comments, stale}
"""

# Store rebuilt totals. KEYS: share totals, comment totals. ARGV: TTL, the cap on fields, then
# triples (article id, share total or '', tagged comment total). A share total only ever raises the
# cached one (see ``_RAISE_SHARE_TOTALS``). Zeros (articles nobody shared or
# commented on, made-up ids included) are kept only while the hashes are under the cap, so that
# made-up ids cannot fill Redis; real totals are always kept.
_STORE_COUNTS = """
local ttl, cap = ARGV[1], tonumber(ARGV[2])
local room = redis.call('HLEN', KEYS[1]) < cap and redis.call('HLEN', KEYS[2]) < cap
for i = 3, #ARGV, 3 do
  local id, shares, comments = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if shares ~= '' and (room or shares ~= '0') then
    local cached = redis.call('HGET', KEYS[1], id)
    if not cached or tonumber(cached) < tonumber(shares) then redis.call('HSET', KEYS[1], id, shares) end
  end
  if comments ~= '' and (room or string.sub(comments, -2) ~= '|0') then redis.call('HSET', KEYS[2], id, comments) end
end
redis.call('EXPIRE', KEYS[1], ttl, 'NX')
redis.call('EXPIRE', KEYS[2], ttl, 'NX')
return 1
"""
# Zero totals kept at most (per hash) before made-up ids stop being remembered.
MAX_CACHED_ZEROS = 200_000



@dataclass
class CachedCounts:
    """What ``counts`` found: totals that hold, and for the rest the generation to store them under."""

    shares: dict[str, int] = field(default_factory=dict)
    comments: dict[str, int] = field(default_factory=dict)
    generations: dict[str, str] = field(default_factory=dict)


class EngagementCache:
    def __init__(self, redis: Redis, prefix: str, max_cached_zeros: int = MAX_CACHED_ZEROS):
        self.redis = redis
        self.prefix = prefix
        self.max_cached_zeros = max_cached_zeros
        self._raise_share_totals = redis.register_script(_RAISE_SHARE_TOTALS)
        self._counts = redis.register_script(_COUNTS)
        self._store_counts = redis.register_script(_STORE_COUNTS)

    def _key(self, *parts: str) -> str:
        return ":".join([self.prefix, *parts])

    def raise_share_totals(self, totals: dict[str, int]) -> None:
        """Recorded shares' totals, as the database returned them: each cached total (and /counts
        part) that is lower is raised. Raises RedisError (the caller decides what a failure costs)."""
        keys = [self._key("share-totals"), *(counts_part_key(self.prefix, a) for a in totals)]
        args: list[Any] = [SHARE_CACHE_TTL]
        for article_id, total in totals.items():
            args += [article_id, total]
        self._raise_share_totals(keys=keys, args=args)

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
        with contextlib.suppress(RedisError):
            self.raise_share_totals(totals)

    def counts(self, article_ids: list[str]) -> CachedCounts:
        """Share and comment totals in one round trip; empty when Redis cannot answer."""
        keys = [self._key("share-totals"), self._key("comment-totals")]
        for article_id in article_ids:
            keys += [generation_key(self.prefix, article_id), counts_part_key(self.prefix, article_id)]
        try:
            shares, comments, stale = self._counts(keys=keys, args=[SHARE_CACHE_TTL, self.max_cached_zeros,
                                                                   *article_ids])
        except RedisError:
            return CachedCounts()
        found = CachedCounts()
        for article_id, share, count, generation in zip(article_ids, shares, comments, stale, strict=True):
            if share is not None:
                found.shares[article_id] = int(share)
            if count is not None:
                found.comments[article_id] = int(count)
            else:
                found.generations[article_id] = generation.decode()
        return found

    def counts_answer(self, article_ids: list[str]) -> bytes | None:
        """The /counts answer as JSON when Redis holds every article's part of it; None otherwise
        (``counts`` then finds the totals, and stores the parts). One MGET and no script: this is
        the hottest read there is, and a script's hundred arguments, or a hundred fields looked up
        in a small hash's list, cost Redis several times the lookup of a hundred keys. The ids must
        match ARTICLE_ID_PATTERN, so that none needs escaping in JSON."""
        try:
            parts: list[Any] = self.redis.mget([counts_part_key(self.prefix, a) for a in article_ids])  # type: ignore[assignment]
        except RedisError:
            return None
        if None in parts:
            return None
        return b'{"counts":{' + b",".join(parts) + b"}}"

    def store_counts(self, shares: dict[str, int], comments: dict[str, tuple[str, int]]) -> None:
        """Rebuilt totals: ``comments`` maps an article to (the generation read before counting, count)."""
        args: list[Any] = [SHARE_CACHE_TTL, self.max_cached_zeros]
        for article_id in dict.fromkeys([*shares, *comments]):
            share = shares.get(article_id)
            generation, count = comments.get(article_id, ("", -1))
            args += [article_id, "" if share is None else share, f"{generation}|{count}" if count >= 0 else ""]
        if len(args) == 2:
            return
        with contextlib.suppress(RedisError):
            self._store_counts(keys=[self._key("share-totals"), self._key("comment-totals")], args=args)

    def trending(self, window: str, limit: int) -> dict[str, Any] | None:
        try:
            cached: Any = self.redis.get(self._key("trending", window, str(limit)))
        except RedisError:
            return None
        return json.loads(cached) if cached else None

    def store_trending(self, window: str, limit: int, result: dict[str, Any]) -> None:
        with contextlib.suppress(RedisError):
            self.redis.set(self._key("trending", window, str(limit)), json.dumps(result), ex=TRENDING_CACHE_TTL)
