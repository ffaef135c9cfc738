"""The moderation policy: per-label thresholds turn scores into a decision with readable reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from civility.statuses import Status


class ModerationMode(StrEnum):
    PRE = "pre"  # nobody else sees a comment before its score
    POST = "post"  # visible at once, hidden when the score flags it


@dataclass(frozen=True)
class LabelThreshold:
    hold: float
    reject: float | None = None


Thresholds = dict[str, LabelThreshold]

# Detoxify's labels (all five models use a subset of these) plus the fallback scorer's "profanity".
# Hold thresholds favour a human look over silent publication; automatic rejection is reserved for
# scores the models are rarely wrong about.
DEFAULT_THRESHOLDS: Thresholds = {
    "toxicity": LabelThreshold(hold=0.70),
    "severe_toxicity": LabelThreshold(hold=0.40, reject=0.90),
    "obscene": LabelThreshold(hold=0.80),
    "threat": LabelThreshold(hold=0.50, reject=0.95),
    "insult": LabelThreshold(hold=0.70),
    "identity_attack": LabelThreshold(hold=0.50, reject=0.95),
    "sexual_explicit": LabelThreshold(hold=0.70),
    "profanity": LabelThreshold(hold=0.70),
}


def parse_thresholds(raw: object) -> Thresholds:
    """``{"toxicity": {"hold": 0.7, "reject": 0.95}}`` -> Thresholds, replacing the defaults per label."""
    if not isinstance(raw, dict):
        raise ValueError("expected a JSON object of label -> {hold, reject}")
    result = dict(DEFAULT_THRESHOLDS)
    for label, spec in raw.items():
        if not isinstance(spec, dict) or "hold" not in spec:
            raise ValueError(f"{label}: expected an object with 'hold' (and optional 'reject')")
        hold, reject = spec["hold"], spec.get("reject")
        for name, value in (("hold", hold), ("reject", reject)):
            if value is not None and not (isinstance(value, (int, float)) and 0 <= value <= 1):
                raise ValueError(f"{label}.{name} must be a number between 0 and 1")
        if reject is not None and reject < hold:
            raise ValueError(f"{label}: reject ({reject}) must not be below hold ({hold})")
        result[label] = LabelThreshold(hold=float(hold), reject=None if reject is None else float(reject))
    return result


@dataclass(frozen=True)
class Decision:
    status: Status
    reasons: list[str] = field(default_factory=list)


def _reason(label: str, score: float, threshold: float) -> str:
    return f"{label} {score:.2f} >= {threshold:.2f}"


def decide(scores: dict[str, float], thresholds: Thresholds, held_for: list[str] | None = None,
           rejected_for: list[str] | None = None) -> Decision:
    """Decide a freshly scored comment.

    A score at or over a label's ``reject`` threshold rejects; at or over ``hold`` sends the comment
    to the moderation queue (``flagged``). Otherwise it is published. Labels without a threshold
    are recorded but never decide anything. The moderation mode does not change the outcome, only
    what readers saw before it (see ``initial_status``). ``held_for`` are reasons found outside the model
    (spam heuristics, word lists): they flag a comment the scores would have published.
    ``rejected_for`` are outside reasons that reject it (the reject word list).
    """
    rejects: list[str] = []
    holds: list[str] = []
    for label in sorted(scores, key=lambda name: -scores[name]):
        limit = thresholds.get(label)
        if limit is None:
            continue
        score = scores[label]
        if limit.reject is not None and score >= limit.reject:
            rejects.append(_reason(label, score, limit.reject))
        elif score >= limit.hold:
            holds.append(_reason(label, score, limit.hold))
    holds += held_for or []
    rejects += rejected_for or []
    if rejects:
        return Decision(Status.REJECTED, rejects + holds)
    if holds:
        return Decision(Status.FLAGGED, holds)
    return Decision(Status.PUBLISHED, [])


def initial_status(mode: ModerationMode) -> Status:
    return Status.PUBLISHED if mode is ModerationMode.POST else Status.PENDING


SCORING_FAILED_REASON = "scoring failed"


def report_reason(reasons: list[str]) -> str:
    """``reported x3 (abuse, spam)``: how many readers reported, and why, most common reason first."""
    counts: dict[str, int] = {}
    for reason in reasons:
        counts[reason] = counts.get(reason, 0) + 1
    ordered = sorted(counts, key=lambda r: (-counts[r], r))
    return f"reported x{len(reasons)} ({', '.join(ordered)})"
