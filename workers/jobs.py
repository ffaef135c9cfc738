"""The RQ job. The scorer is loaded once per worker process and reused by every job."""

from __future__ import annotations

import logging

from rq import get_current_job

from civility.infra import runtime
from civility.scoring import mark_scoring_failed, score_pending

log = logging.getLogger(__name__)

_scorer = None
_scorer_info = None


def get_scorer():
    global _scorer, _scorer_info
    if _scorer is None:
        from workers.scorers import load_scorer

        _scorer, _scorer_info = load_scorer(runtime.current().settings)
        origin = "" if _scorer_info.fallback else f" ({_scorer_info.origin})"  # the version says "(fallback)"
        device = f" on {_scorer_info.device}" if _scorer_info.device else ""
        log.info("scorer loaded: %s %s%s%s", _scorer_info.name, _scorer_info.version, origin, device)
    return _scorer, _scorer_info


def score_comment(comment_id: int, revision: int) -> dict:
    """Score ``comment_id`` (and whatever else waits, up to a batch); idempotent per revision."""
    rt = runtime.current()
    scorer, _ = get_scorer()
    try:
        result = score_pending(rt.db, rt.settings, scorer, comment_id)
    except Exception as exc:
        job = get_current_job()
        if job is not None and job.retries_left:
            raise  # RQ retries it after the back-off interval
        log.error("scoring comment %s failed for good: %s", comment_id, type(exc).__name__)
        mark_scoring_failed(rt.db, [comment_id], f"{type(exc).__name__}: {exc}")
        return {"failed": [comment_id]}
    return {"scored": result.scored, "skipped": result.skipped}
