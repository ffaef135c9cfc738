"""The embedded offline fallback: alt-profanity-check's trained linear model (profanity only).

It is much weaker than Detoxify: it knows offensive words, not threats or identity attacks
phrased politely. Comments it scored say so in their ``scorer`` field.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version as package_version


class ProfanityScorer:
    name = "profanity"
    fallback = True
    labels = ["profanity"]

    def __init__(self) -> None:
        from profanity_check import predict_prob

        self._predict_prob = predict_prob
        self.version = f"alt-profanity-check-{package_version('alt-profanity-check')} (fallback)"

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        return [{"profanity": float(p)} for p in self._predict_prob(list(texts))]
