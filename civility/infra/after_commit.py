"""What every process that writes does after each commit, in one Redis round trip: announce the
thread changes the transaction made (new cache generations, live events), enqueue the scores it
asked for, and enqueue the webhook deliveries it recorded.

Enqueueing cannot join the database transaction. If Redis fails here the writes are already
durable: the sweeper enqueues lost scoring jobs and deliveries once they are overdue, and a cached
page that missed its new generation expires on its own (``CIVILITY_THREAD_CACHE_SECONDS``).
"""

from __future__ import annotations

import logging

from redis import Redis
from sqlalchemy.orm import Session

from civility import scoring, thread_changes, webhooks
from civility.config import Settings
from civility.infra.jobqueue import ScoringQueue, WebhookQueue
from civility.infra.thread_cache import ThreadCache
from civility.store.db import Database

log = logging.getLogger(__name__)


def install(db: Database, redis: Redis, settings: Settings) -> ThreadCache:
    """Hook ``db``'s commits up to Redis; returns the thread cache the hook announces to."""
    cache = ThreadCache(redis, settings.redis_prefix, settings.thread_cache_seconds)
    scoring_queue, webhook_queue = ScoringQueue(redis, settings), WebhookQueue(redis, settings)

    def after_commit(session: Session) -> None:
        changes = thread_changes.take(session)
        scores = scoring.take_score_requests(session)
        deliveries = webhooks.take_deliveries(session)
        if not (changes or scores or deliveries):
            return
        try:
            pipe = redis.pipeline()  # MULTI ... EXEC: all of it or nothing
            if changes:
                cache.announce(changes, pipe)
            for comment_id, revision in scores:
                scoring_queue.enqueue(comment_id, revision, pipeline=pipe)
            for delivery_id in deliveries:
                webhook_queue.enqueue(delivery_id, pipeline=pipe)
            pipe.execute()
        except Exception as exc:  # noqa: BLE001 - committed already; the sweeper and TTLs recover
            log.warning("after commit: could not reach Redis (%s) for %d thread change(s), %d score(s) and "
                        "%d webhook delivery(ies); the sweeper will enqueue what is overdue",
                        type(exc).__name__, len(changes), len(scores), len(deliveries))

    db.after_commit.append(after_commit)
    return cache
