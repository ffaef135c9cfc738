"""Shares, counts, trending, votes and reports: what readers do besides commenting."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError

from civility.comments import check_article_id
from civility.config import Settings
from civility.errors import Forbidden, Invalid, NotFound
from civility.identity import Reader
from civility.policy import report_reason
from civility.statuses import Action
from civility.store.comments import CommentRepository
from civility.store.db import Database
from civility.store.engagement import EngagementRepository
from civility.store.models import Comment, utcnow

log = logging.getLogger(__name__)

NETWORKS = ("facebook", "x", "linkedin", "reddit", "whatsapp", "telegram", "mastodon", "bluesky", "email",
            "copy_link", "other")
REPORT_REASONS = ("spam", "abuse", "off_topic", "other")
WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
MAX_COUNT_IDS = 100
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


@dataclass(frozen=True)
class Client:
    """Who is acting: the site's reader id when signed in, else a salted hash of IP and user agent."""

    key: str
    reader: Reader | None = None
    device: str | None = None  # the IP/user-agent hash, also used to spot self-votes

    @classmethod
    def of(cls, reader: Reader | None, device_hash: str, salt: str) -> "Client":
        if reader is not None:
            key = hashlib.sha256(f"{salt}|sub|{reader.sub}".encode()).hexdigest()[:32]
            return cls(key, reader, device_hash)
        return cls(device_hash, None, device_hash)


class EngagementService:
    def __init__(self, db: Database, settings: Settings, redis: Redis):
        self.db = db
        self.settings = settings
        self.redis = redis
        self._check_share = redis.register_script(_CHECK_SHARE)
        self._bump = redis.register_script(_BUMP_IF_CACHED)

    def _key(self, *parts: str) -> str:
        return ":".join([self.settings.redis_prefix, *parts])

    # -- shares -----------------------------------------------------------------------------------
    def share(self, article_id: str, network: str, client: Client) -> dict:
        check_article_id(article_id)
        if network not in NETWORKS:
            raise Invalid("invalid network", {"network": [f"one of {', '.join(NETWORKS)}"]})
        now = utcnow()
        window = self.settings.share_dedup_seconds
        digest = hashlib.sha256(f"{client.key}|{article_id}|{network}".encode()).hexdigest()[:32]
        try:
            verdict = self._check_share(keys=[self._key("share-seen", digest), self._key("share-seen-since")],
                                        args=[max(1, window), int(now.timestamp())])
        except RedisError:
            verdict = 0  # Redis is down: the database alone decides
        counted = False
        if verdict != -1:
            with self.db.transaction() as session:
                repo = EngagementRepository(session)
                since = now - timedelta(seconds=window)
                if verdict == 1 or not repo.recent_share_exists(client.key, article_id, network, since):
                    repo.add_share(article_id, network, client.key, now)
                    counted = True
        total = None
        if counted:
            try:
                total = self._bump(keys=[self._key("share-totals")], args=[article_id])
            except RedisError:
                pass
        if total is None:
            total = self.share_totals([article_id])[article_id]
        return {"article_id": article_id, "network": network, "total": int(total), "counted": counted}

    def share_totals(self, article_ids: list[str]) -> dict[str, int]:
        """Share totals per article: one Redis round trip, and one query for what the cache lacks."""
        key = self._key("share-totals")
        try:
            cached = self.redis.hmget(key, article_ids)
        except RedisError:
            cached = [None] * len(article_ids)
        totals = {a: int(v) for a, v in zip(article_ids, cached) if v is not None}
        missing = [a for a in article_ids if a not in totals]
        if missing:
            with self.db.read() as session:
                counts = EngagementRepository(session).share_counts(missing)
            for article_id in missing:
                totals[article_id] = sum(counts[article_id].values())
            try:
                pipe = self.redis.pipeline(transaction=False)
                pipe.hset(key, mapping={a: totals[a] for a in missing})
                pipe.expire(key, SHARE_CACHE_TTL, nx=True)
                pipe.execute()
            except RedisError:
                pass
        return totals

    def article_shares(self, article_id: str) -> dict:
        check_article_id(article_id)
        with self.db.read() as session:
            networks = EngagementRepository(session).share_counts([article_id])[article_id]
        return {"article_id": article_id, "total": sum(networks.values()), "networks": networks}

    # -- counts and trending ----------------------------------------------------------------------
    def counts(self, article_ids: list[str]) -> dict:
        unique = list(dict.fromkeys(article_ids))
        if not unique:
            raise Invalid("invalid article_id", {"article_id": ["give at least one article_id"]})
        if len(unique) > MAX_COUNT_IDS:
            raise Invalid("too many article ids", {"article_id": [f"at most {MAX_COUNT_IDS}"]})
        for article_id in unique:
            check_article_id(article_id)
        with self.db.read() as session:
            repo = CommentRepository(session, hide_reported=self.settings.moderation_mode == "pre")
            comments = repo.published_counts(unique)
        shares = self.share_totals(unique)
        return {"counts": {a: {"comments": comments[a], "shares": shares[a]} for a in unique}}

    def trending(self, window: str, limit: int) -> dict:
        if window not in WINDOWS:
            raise Invalid("invalid window", {"window": [f"one of {', '.join(WINDOWS)}"]})
        cache_key = self._key("trending", window, str(limit))
        try:
            cached = self.redis.get(cache_key)
            if cached:
                return json.loads(cached)
        except RedisError:
            pass
        since = utcnow() - WINDOWS[window]
        with self.db.read() as session:
            repo = EngagementRepository(session)
            shared = repo.top_articles(since, shares=True, limit=limit)
            commented = repo.top_articles(since, shares=False, limit=limit)
        result = {
            "window": window,
            "most_shared": [{"article_id": a, "shares": n} for a, n in shared],
            "most_commented": [{"article_id": a, "comments": n} for a, n in commented],
        }
        try:
            self.redis.set(cache_key, json.dumps(result), ex=TRENDING_CACHE_TTL)
        except RedisError:
            pass
        return result

    # -- votes ------------------------------------------------------------------------------------
    def vote(self, comment_id: int, value: int, client: Client) -> dict:
        if value not in (-1, 0, 1):
            raise Invalid("invalid vote", {"value": ["1, -1 or 0 (withdraw)"]})
        for attempt in range(2):
            try:
                return self._vote(comment_id, value, client)
            except IntegrityError:
                # The same voter's first vote raced itself; the retry sees the row.
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _vote(self, comment_id: int, value: int, client: Client) -> dict:
        now = utcnow()
        with self.db.transaction() as session:
            comment = self._visible_comment(session, comment_id)
            if _is_own(comment, client):
                raise Forbidden("you cannot vote on your own comment")
            repo = EngagementRepository(session)
            repo.set_vote(comment.id, client.key, value, now)
            return {"comment_id": comment.id, "votes": repo.vote_total(comment.id), "value": value}

    # -- reports ----------------------------------------------------------------------------------
    def report(self, comment_id: int, reason: str, note: str | None, client: Client) -> dict:
        if reason not in REPORT_REASONS:
            raise Invalid("invalid reason", {"reason": [f"one of {', '.join(REPORT_REASONS)}"]})
        now = utcnow()
        with self.db.transaction() as session:
            comment = self._visible_comment(session, comment_id)
            engagement, comments = EngagementRepository(session), CommentRepository(session)
            added = engagement.add_report(comment.id, client.key, reason, note, now)
            if added:
                actor = f"reader:{client.key[:12]}"
                comments.add_event(comment.id, actor, Action.REPORT, comment.status, comment.status,
                                   reason=reason, details={"note": note} if note else None, at=now)
                open_reports = engagement.open_reports([comment.id])[comment.id]
                if comment.reported_at is None and len(open_reports) >= self.settings.report_threshold:
                    comment.reported_at = now
                    comment.version += 1
                    comments.add_event(comment.id, "system", "queued_for_reports", comment.status, comment.status,
                                       reason=report_reason([r.reason for r in open_reports]), at=now)
            return {"comment_id": comment.id, "reported": True, "duplicate": not added}

    def _visible_comment(self, session, comment_id: int) -> Comment:
        repo = CommentRepository(session, hide_reported=self.settings.moderation_mode == "pre")
        comment = repo.get(comment_id, for_update=True)
        if comment is None or not repo.is_visible(comment):
            raise NotFound("no such comment")
        return comment


def _is_own(comment: Comment, client: Client) -> bool:
    if client.reader is not None and comment.author_id and comment.author_id == client.reader.sub:
        return True
    return bool(comment.client_hash) and comment.client_hash == client.device
