"""Share totals copied to Redis in the background, a few milliseconds after their shares.

A share is recorded, counted and totalled by the database alone, which returns the new total for
the answer (civility.store.engagement ``add_share``). Redis keeps a copy of each article's total
for ``/counts``. Raising it in the request would cost every share a Redis round trip, about a
third of what the rest of a share costs (docs/benchmarks.md); here each process gathers the totals
of its shares for ``delay`` seconds and raises them all in one round trip. Totals only grow, so
sending the largest of each article is enough, and copies from several processes arriving in any
order leave the largest one.

The database stays the record. A copy lost with its process (killed before it sends), or refused
by an unreachable Redis, leaves the cached total behind until the article's next share raises it or
the cached totals expire (``SHARE_CACHE_TTL``) and ``/counts`` rebuilds them from the database.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from redis.exceptions import RedisError

from civility.infra.engagement_cache import EngagementCache

log = logging.getLogger(__name__)

# Each flush costs its process a Redis script call: every 10 ms that was a tenth of a share's CPU
# under load (docs/benchmarks.md). /counts is cached for seconds by readers and CDNs anyway.
DELAY_SECONDS = 0.05


class ShareTotalsPublisher:
    def __init__(self, cache: EngagementCache, delay: float = DELAY_SECONDS):
        self.cache = cache
        self.delay = delay
        self._lock = threading.Lock()
        self._sending = threading.Lock()
        self._pending: dict[str, int] = {}
        self._wake = threading.Event()
        self._pid: int | None = None  # the process whose thread sends; a forked child starts its own

    def publish(self, article_id: str, total: int) -> None:
        """Copy ``total`` (the database's, after a recorded share) to Redis soon. Never blocks on Redis."""
        with self._lock:
            if total > self._pending.get(article_id, -1):
                self._pending[article_id] = total
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._wake = threading.Event()
                threading.Thread(target=self._run, name="share-totals", daemon=True).start()
        self._wake.set()

    def flush(self) -> None:
        """Send what is pending now, in this thread; once it returns, every total published before
        the call is in Redis (or failed to get there), a send in flight in the background included."""
        with self._sending:
            with self._lock:
                pending, self._pending = self._pending, {}
            if not pending:
                return
            try:
                self.cache.raise_share_totals(pending)
            except RedisError as error:
                log.warning("could not copy %d share total(s) to Redis (%s); /counts rebuilds them from the "
                            "database once the cached totals expire", len(pending), type(error).__name__)

    def _run(self) -> None:
        wake = self._wake
        while True:
            wake.wait()
            wake.clear()
            time.sleep(self.delay)  # gather the shares of the next few milliseconds into one round trip
            self.flush()
