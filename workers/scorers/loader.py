"""Choosing the scorer: ``detoxify``, ``profanity``, or ``auto`` (Detoxify if its weights are here)."""

from __future__ import annotations

import importlib
import logging
from dataclasses import asdict, dataclass

from civility.config import Settings

log = logging.getLogger(__name__)

FALLBACK_WARNING = ("Detoxify weights are not available ({why}); scoring with the profanity fallback, "
                    "which only recognises offensive words. See README: pre-seeding the model.")


@dataclass(frozen=True)
class ScorerInfo:
    name: str
    version: str
    fallback: bool
    warning: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _detoxify(settings: Settings):
    from workers.scorers.detoxify_scorer import DetoxifyScorer

    return DetoxifyScorer(settings.detoxify_model, settings.detoxify_checkpoint, settings.batch_size)


def _plugin(settings: Settings):
    """``module:factory``: a scorer of the operator's own, built by ``factory(settings)``."""
    module_name, _, attribute = settings.scorer.partition(":")
    scorer = getattr(importlib.import_module(module_name), attribute)(settings)
    return scorer, ScorerInfo(scorer.name, scorer.version, bool(getattr(scorer, "fallback", False)))


def load_scorer(settings: Settings):
    """Returns (scorer, info). Loads the model: call once per process."""
    from workers.scorers.profanity_scorer import ProfanityScorer

    if ":" in settings.scorer:
        return _plugin(settings)
    if settings.scorer == "profanity":
        scorer = ProfanityScorer()
        return scorer, ScorerInfo(scorer.name, scorer.version, True)
    if settings.scorer == "detoxify":
        scorer = _detoxify(settings)
        return scorer, ScorerInfo(scorer.name, scorer.version, False)

    from workers.scorers.detoxify_scorer import offline_by_default, weights_available

    available, why = weights_available(settings)
    if available:
        offline_by_default()
        try:
            scorer = _detoxify(settings)
            return scorer, ScorerInfo(scorer.name, scorer.version, False)
        except Exception as exc:  # noqa: BLE001 - any load failure falls back, loudly
            why = f"loading failed: {type(exc).__name__}: {exc}"
    warning = FALLBACK_WARNING.format(why=why)
    log.warning(warning)
    scorer = ProfanityScorer()
    return scorer, ScorerInfo(scorer.name, scorer.version, True, warning)
