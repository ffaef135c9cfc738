"""Scores on demand, for the API: the interface that the Perspective-compatible API and the
"nudge before posting" endpoint call. Plain Python; the Redis implementation that asks the workers
(so the API process never loads a model) is ``civility.infra.analysis.RedisAnalyzer``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Analysis:
    # One dict per text, in the order given, with the scorer's own labels: Detoxify ``original`` gives
    # toxicity, severe_toxicity, obscene, threat, insult, identity_attack; the fallback gives profanity.
    scores: list[dict[str, float]]
    scorer: str  # the scorer's name: "detoxify", "profanity", or a plugin's
    version: str
    fallback: bool  # True when a worker scores with the profanity fallback


class AnalysisUnavailable(Exception):
    """No worker answered within the deadline, or Redis is down (or a worker failed to score)."""


class Analyzer(Protocol):
    def analyze(self, texts: list[str], timeout: float) -> Analysis:
        """Scores for ``texts``, waiting at most ``timeout`` seconds; else raises AnalysisUnavailable."""
        ...
