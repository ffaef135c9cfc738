"""Shares, counts, trending, votes and reports: what readers do besides commenting."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from civility import lifecycle, thread_changes, webhooks
from civility.comments import check_article_id, check_article_ids
from civility.config import Settings
from civility.errors import Forbidden, Invalid, NotFound
from civility.identity import Client
from civility.infra.engagement_cache import EngagementCache
from civility.infra.share_totals import ShareTotalsPublisher
from civility.store.comments import CommentRepository
from civility.store.db import Database
from civility.store.engagement import EngagementRepository, add_share
from civility.store.models import Comment, utcnow
from civility.text import MAX_NOTE_CHARS, clean_optional

log = logging.getLogger(__name__)

NETWORKS = ("facebook", "x", "linkedin", "reddit", "whatsapp", "telegram", "mastodon", "bluesky", "email",
            "copy_link", "other")
REPORT_REASONS = ("spam", "abuse", "off_topic", "other")
WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
MAX_COUNT_IDS = 100


class EngagementService:
    def __init__(self, db: Database, settings: Settings, cache: EngagementCache, totals: ShareTotalsPublisher):
        self.db = db
        self.settings = settings
        self.cache = cache
        self.totals = totals

    # -- shares -----------------------------------------------------------------------------------
    def share(self, article_id: str, network: str, client: Client) -> dict:
        """Record a share unless this client shared the article on this network within the dedup
        window. The database decides, counts and totals it in one unit (one statement on
        PostgreSQL; on SQLite committed with the shares other threads record meanwhile); the total's
        copy in Redis follows in the background."""
        check_article_id(article_id)
        if network not in NETWORKS:
            raise Invalid("invalid network", {"network": [f"one of {', '.join(NETWORKS)}"]})
        now = utcnow()
        since = now - timedelta(seconds=self.settings.share_dedup_seconds)
        recorded = self.db.grouped(
            lambda connection: add_share(connection, article_id, network, client.key, now, unless_since=since))
        if recorded.counted:
            self.totals.publish(article_id, recorded.total)
        return {"article_id": article_id, "network": network, "total": recorded.total, "counted": recorded.counted}

    def share_totals(self, article_ids: list[str]) -> dict[str, int]:
        """Share totals per article: one Redis round trip, and one query for what the cache lacks."""
        totals = self.cache.share_totals(article_ids)
        missing = [a for a in article_ids if a not in totals]
        if missing:
            with self.db.read() as session:
                counts = EngagementRepository(session).share_counts(missing)
            rebuilt = {a: sum(counts[a].values()) for a in missing}
            # Only articles that were shared: made-up ids must not fill Redis with zeros.
            self.cache.store_share_totals({a: n for a, n in rebuilt.items() if n})
            totals.update(rebuilt)
        return totals

    def article_shares(self, article_id: str) -> dict:
        check_article_id(article_id)
        with self.db.read() as session:
            networks = EngagementRepository(session).share_counts([article_id])[article_id]
        return {"article_id": article_id, "total": sum(networks.values()), "networks": networks}

    # -- counts and trending ----------------------------------------------------------------------
    @staticmethod
    def _count_ids(article_ids: list[str]) -> list[str]:
        unique = list(dict.fromkeys(article_ids))
        if not unique:
            raise Invalid("invalid article_id", {"article_id": ["give at least one article_id"]})
        if len(unique) > MAX_COUNT_IDS:
            raise Invalid("too many article ids", {"article_id": [f"at most {MAX_COUNT_IDS}"]})
        check_article_ids(unique)
        return unique

    def warm_counts(self, article_ids: list[str]) -> bytes | None:
        """``counts`` as JSON, straight from Redis when it holds every total asked for; None when
        one must be rebuilt (``counts`` does that)."""
        return self.cache.counts_answer(self._count_ids(article_ids))

    def counts(self, article_ids: list[str]) -> dict[str, Any]:
        unique = self._count_ids(article_ids)
        cached = self.cache.counts(unique)
        comments, shares = cached.comments, cached.shares
        lacking_comments = [a for a in unique if a not in comments]
        lacking_shares = [a for a in unique if a not in shares]
        if lacking_comments or lacking_shares:
            with self.db.read() as session:
                repo = CommentRepository(session, hide_reported=self.settings.hides_reported)
                counted = repo.published_counts(lacking_comments)
                rebuilt = {a: sum(n.values()) for a, n in
                           EngagementRepository(session).share_counts(lacking_shares).items()}
            # Counted after reading each generation: a write since then left a newer one, and
            # the total stored here will not be taken for it.
            self.cache.store_counts(rebuilt, {a: (cached.generations[a], n) for a, n in counted.items()
                                              if a in cached.generations})
            comments.update(counted)
            shares.update(rebuilt)
        return {"counts": {a: {"comments": comments[a], "shares": shares[a]} for a in unique}}

    def trending(self, window: str, limit: int) -> dict[str, Any]:
        if window not in WINDOWS:
            raise Invalid("invalid window", {"window": [f"one of {', '.join(WINDOWS)}"]})
        cached = self.cache.trending(window, limit)
        if cached is not None:
            return cached
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
        self.cache.store_trending(window, limit, result)
        return result

    # -- votes ------------------------------------------------------------------------------------
    def vote(self, comment_id: int, value: int, client: Client) -> dict[str, Any]:
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

    def _vote(self, comment_id: int, value: int, client: Client) -> dict[str, Any]:
        now = utcnow()
        with self.db.transaction() as session:
            comment = self._visible_comment(session, comment_id)
            if _is_own(comment, client):
                raise Forbidden("you cannot vote on your own comment")
            repo = EngagementRepository(session)
            if repo.set_vote(comment.id, client.key, value, now):
                thread_changes.note(session, comment.article_id, comment.id, thread_changes.VOTES)
            return {"comment_id": comment.id, "votes": repo.vote_total(comment.id), "value": value}

    # -- reports ----------------------------------------------------------------------------------
    def report(self, comment_id: int, reason: str, note: str | None, client: Client) -> dict[str, Any]:
        if reason not in REPORT_REASONS:
            raise Invalid("invalid reason", {"reason": [f"one of {', '.join(REPORT_REASONS)}"]})
        note = clean_optional("note", note, MAX_NOTE_CHARS)
        now = utcnow()
        with self.db.transaction() as session:
            comment = self._visible_comment(session, comment_id)
            engagement, comments = EngagementRepository(session), CommentRepository(session)
            added = engagement.add_report(comment.id, client.key, client.origin, reason, note, now)
            if added:
                comments.record(comment, lifecycle.record_report(comment, f"reader:{client.key[:12]}", reason,
                                                                 note, now))
                reports = engagement.open_reports([comment.id])[comment.id]
                # Reports from one origin (one signed-in reader, or one /24 or /48 network) count once.
                origins = {r.origin or r.reporter for r in reports}
                queued = lifecycle.reports_reached_threshold(comment, [r.reason for r in reports], len(origins),
                                                             self.settings.report_threshold, now)
                if queued is not None:
                    comments.record(comment, queued)
                    webhooks.comment_reported(session, comment, queued, len(reports))
            return {"comment_id": comment.id, "reported": True, "duplicate": not added}

    def _visible_comment(self, session: Session, comment_id: int) -> Comment:
        repo = CommentRepository(session, hide_reported=self.settings.hides_reported)
        comment = repo.get(comment_id, for_update=True)
        if comment is None or not repo.is_visible(comment):
            raise NotFound("no such comment")
        return comment


def _is_own(comment: Comment, client: Client) -> bool:
    """The same reader wrote it: the same ``sub``, or the same reader key (network) when anonymous."""
    if client.reader is not None and comment.author_id and comment.author_id == client.reader.sub:
        return True
    return bool(comment.client_hash) and comment.client_hash == client.key
