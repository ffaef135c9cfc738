"""The analyze job: on-demand scores for the API, micro-batched (see ``civility.infra.analysis``).

One job serves every request waiting when it starts, up to a batch of texts, with one scorer call, so
under load one model call answers many requests. It logs counts only, never texts, and writes nothing
to the database.
"""

from __future__ import annotations

import logging
import time

from civility.infra import runtime
from civility.infra.analysis import deliver, record_stats, requeue_if_waiting, take_requests
from workers.jobs import get_scorer

log = logging.getLogger(__name__)


def analyze_pending() -> dict:
    rt = runtime.current()
    scorer, info = get_scorer()
    requests, skipped = take_requests(rt.redis, rt.settings, max(1, rt.settings.batch_size))
    if not requests:
        if skipped:
            record_stats(rt.redis, rt.settings, 0, 0, skipped)
        return {"requests": 0, "skipped": skipped}
    texts = [text for request in requests for text in request.texts]
    started = time.perf_counter()
    try:
        scores = scorer.score(texts)
    except Exception as exc:  # noqa: BLE001 - every caller hears of it at once instead of timing out
        log.error("analyze: scoring %d texts failed: %s", len(texts), type(exc).__name__)
        deliver(rt.redis, rt.settings, [(r.id, {"error": type(exc).__name__}) for r in requests])
        requeue_if_waiting(rt.redis, rt.settings)
        return {"requests": len(requests), "failed": True}
    answers, at = [], 0
    for request in requests:
        answers.append((request.id, {"scores": scores[at:at + len(request.texts)], "scorer": info.name,
                                     "version": info.version, "fallback": info.fallback}))
        at += len(request.texts)
    # Counted and logged (counts only, never texts) before the callers hear, so they can rely on both.
    record_stats(rt.redis, rt.settings, len(requests), len(texts), skipped)
    log.info("analyze: %d requests, %d texts in one scorer call (%.0f ms), %d given up", len(requests),
             len(texts), (time.perf_counter() - started) * 1000, skipped)
    deliver(rt.redis, rt.settings, answers)
    requeue_if_waiting(rt.redis, rt.settings)
    return {"requests": len(requests), "texts": len(texts), "skipped": skipped}
