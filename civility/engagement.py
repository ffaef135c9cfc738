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
# Cached share counts are a read-through copy of the database's aggregates; the TTL bounds how long
# a count can drift after an increment raced a rebuild.
SHARE_CACHE_TTL = 120
TRENDING_CACHE_TTL = 30

# Increment a cached count only if the cache holds the article; a miss is rebuilt from the database.
_BUMP_IF_CACHED = """
if redis.call('exists', KEYS[1]) == 1 then
  redis.call('hincrby', KEYS[1], ARGV[1], 1)
  redis.call('hincrby', KEYS[1], '_total', 1)
end
return 1
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
            # The atomic gate against concurrent repeats; the database check below survives Redis loss.
            first_seen = self.redis.set(self._key("share-seen", digest), 1, nx=True, ex=window)
        except RedisError:
            first_seen = None
        counted = False
        if first_seen is not False:
            with self.db.transaction() as session:
                repo = EngagementRepository(session)
                if not repo.recent_share_exists(client.key, article_id, network, now - timedelta(seconds=window)):
                    repo.add_share(article_id, network, client.key, now)
                    counted = True
        if counted:
            try:
                self._bump(keys=[self._key("shares", article_id)], args=[network])
            except RedisError:
                pass  # the cache is rebuilt from the database
        totals = self.share_totals([article_id])[article_id]
        return {"article_id": article_id, "network": network, "total": totals["total"], "counted": counted}

    def share_totals(self, article_ids: list[str]) -> dict[str, dict]:
        """Per-article totals: one Redis round trip, and one query for whatever the cache lacks."""
        keys = [self._key("shares", a) for a in article_ids]
        try:
            pipe = self.redis.pipeline(transaction=False)
            for key in keys:
                pipe.hgetall(key)
            cached = pipe.execute()
        except RedisError:
            cached = [None] * len(keys)
        result: dict[str, dict] = {}
        missing = []
        for article_id, found in zip(article_ids, cached):
            if found:
                networks = {k.decode(): int(v) for k, v in found.items() if not k.startswith(b"_")}
                result[article_id] = {"total": sum(networks.values()), "networks": networks}
            else:
                missing.append(article_id)
        if missing:
            with self.db.read() as session:
                counts = EngagementRepository(session).share_counts(missing)
            try:
                pipe = self.redis.pipeline(transaction=False)
                for article_id in missing:
                    key = self._key("shares", article_id)
                    pipe.hset(key, mapping={"_total": sum(counts[article_id].values()), **counts[article_id]})
                    pipe.expire(key, SHARE_CACHE_TTL)
                pipe.execute()
            except RedisError:
                pass
            for article_id in missing:
                result[article_id] = {"total": sum(counts[article_id].values()), "networks": counts[article_id]}
        return result

    def article_shares(self, article_id: str) -> dict:
        check_article_id(article_id)
        totals = self.share_totals([article_id])[article_id]
        return {"article_id": article_id, **totals}

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
        return {"counts": {a: {"comments": comments[a], "shares": shares[a]["total"]} for a in unique}}

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
