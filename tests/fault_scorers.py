"""Scorers for fault tests, loaded by real worker processes through CIVILITY_SCORER=module:factory.

They wrap the real fallback scorer and misbehave as CIVILITY_TEST_SCORER_MODE says:
``slow`` (sleep per batch), ``raise`` (always fail) or ``hang`` (sleep far past the job timeout).
"""

from __future__ import annotations

import os
import time

from workers.scorers.profanity_scorer import ProfanityScorer


class FaultyScorer(ProfanityScorer):
    name = "faulty"

    def __init__(self, mode: str, delay: float):
        super().__init__()
        self.mode, self.delay = mode, delay
        self.version = f"test-{mode}"

    def score(self, texts):
        if self.mode == "raise":
            raise RuntimeError("scorer crashed")
        if self.mode == "hang":
            time.sleep(3600)
        time.sleep(self.delay)
        return super().score(texts)


def make(settings):
    return FaultyScorer(os.environ.get("CIVILITY_TEST_SCORER_MODE", "slow"),
                        float(os.environ.get("CIVILITY_TEST_SCORER_DELAY", "0")))
