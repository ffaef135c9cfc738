"""The moderation backtest: how the current policy would do against texts whose right answer is known.

The truth is either a labelled CSV (``text,label``; 1: should be held, 0: should be published) or
the moderators' past decisions (each comment's latest ``approve`` = 0 or ``reject`` = 1, on the text
it was decided on). Each text gets the scores (fresh from a scorer, or the ones stored on the
comment when it was scored), the word lists' verdict and the policy's decision with the current
thresholds; "held" means ``flagged`` or ``rejected``.

The metrics are plain Python: ROC-AUC from the rank statistic (Mann-Whitney U, ties get average
ranks), precision, recall and false-positive rate at the current thresholds, and per label the
hold threshold with the highest recall that still reaches a target precision. The report is a plain dict whose shape is
documented in docs/api.md ("Backtest report") and versioned by ``SCHEMA``.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from civility.config import Settings
from civility.errors import Invalid
from civility.policy import Thresholds, decide
from civility.statuses import Action, Status
from civility.store.comments import CommentRepository
from civility.store.db import Database
from civility.store.perspective import FeedbackRepository
from civility.wordlists import current_matcher

SCHEMA = "civility.backtest/1"
DEFAULT_TARGET_PRECISION = 0.9
# Texts per scorer call when rescoring: several model batches, so the scorer's length sort has
# texts to group (as a worker's lease does).
BATCHES_PER_CALL = 4
# The most recent decisions the HTTP endpoint looks at (the CLI has no limit).
MAX_API_DECISIONS = 20_000
HELD = frozenset({Status.FLAGGED, Status.REJECTED})
FALLBACK_MARK = "(fallback)"
FALLBACK_WARNING = "scored by the fallback scorer, which only recognises offensive words"

WordCheck = Callable[[str], tuple[list[str], list[str]]]  # text -> (hold reasons, reject reasons)


# -- metrics ----------------------------------------------------------------------------------------
def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """The probability that a random positive scores above a random negative (ties count half).

    Computed from the rank statistic: rank all scores ascending, tied scores sharing their average
    rank; AUC = (sum of the positives' ranks - P(P+1)/2) / (P * N). None without both classes.
    """
    if len(labels) != len(scores):
        raise ValueError("labels and scores differ in length")
    positives = sum(1 for y in labels if y)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum = 0.0
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        average_rank = (start + end) / 2 + 1  # ranks are 1-based
        rank_sum += average_rank * sum(1 for i in order[start:end + 1] if labels[i])
        start = end + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@dataclass(frozen=True)
class Confusion:
    true_positive: int = 0
    false_positive: int = 0
    true_negative: int = 0
    false_negative: int = 0

    @classmethod
    def of(cls, labels: Sequence[int], held: Sequence[bool]) -> Confusion:
        counts = Counter((bool(y), bool(h)) for y, h in zip(labels, held, strict=True))
        return cls(counts[True, True], counts[False, True], counts[False, False], counts[True, False])

    @property
    def precision(self) -> float | None:
        """Of the texts held, the share that should be."""
        return _ratio(self.true_positive, self.true_positive + self.false_positive)

    @property
    def recall(self) -> float | None:
        """Of the texts that should be held, the share that is."""
        return _ratio(self.true_positive, self.true_positive + self.false_negative)

    @property
    def false_positive_rate(self) -> float | None:
        """Of the texts that should be published, the share held anyway."""
        return _ratio(self.false_positive, self.false_positive + self.true_negative)


@dataclass(frozen=True)
class TargetThreshold:
    hold: float
    precision: float
    recall: float


def threshold_for_precision(labels: Sequence[int], scores: Sequence[float], target: float) -> TargetThreshold | None:
    """The hold threshold (held: score >= threshold) with the highest recall whose precision reaches
    ``target``; among thresholds with that recall, the highest. None when no threshold reaches it."""
    positives = sum(1 for y in labels if y)
    if not positives:
        return None
    held_right: Counter[float] = Counter()
    held_wrong: Counter[float] = Counter()
    for y, s in zip(labels, scores, strict=True):
        (held_right if y else held_wrong)[s] += 1
    best: TargetThreshold | None = None
    tp = fp = 0
    # Lowering the threshold score by score: each step holds every text at that score too.
    for score in sorted(set(scores), reverse=True):
        tp += held_right[score]
        fp += held_wrong[score]
        precision, recall = tp / (tp + fp), tp / positives
        if precision >= target - 1e-12 and (best is None or recall > best.recall):
            best = TargetThreshold(score, precision, recall)
    return best


# -- the texts --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    text: str
    label: int  # 1: should be held, 0: should be published
    scores: dict[str, float] | None = None  # stored scores; None: not scored (or to be scored)
    scorer_name: str | None = None
    scorer_version: str | None = None


def read_csv(stream: IO[str]) -> list[Sample]:
    """Samples from a CSV with a header naming ``text`` and ``label`` (other columns are ignored)."""
    try:
        return _read_csv(stream)
    except UnicodeDecodeError:
        raise Invalid("the CSV is not UTF-8 text", {"csv": ["not UTF-8"]}) from None


def _read_csv(stream: IO[str]) -> list[Sample]:
    reader = csv.DictReader(stream)
    columns = set(reader.fieldnames or ())
    if not {"text", "label"} <= columns:
        raise Invalid("the CSV needs a header with the columns text and label",
                      {"csv": [f"columns found: {', '.join(sorted(columns)) or 'none'}"]})
    samples: list[Sample] = []
    try:
        for row in reader:
            line = reader.line_num
            text, label = row.get("text"), (row.get("label") or "").strip()
            if label not in ("0", "1"):
                raise Invalid(f"line {line}: label must be 0 or 1, got {label!r}", {"label": [f"line {line}"]})
            if not text or not text.strip():
                raise Invalid(f"line {line}: empty text", {"text": [f"line {line}"]})
            samples.append(Sample(text, int(label)))
    except csv.Error as exc:
        raise Invalid(f"line {reader.line_num}: {exc}", {"csv": [str(exc)]}) from None
    if not samples:
        raise Invalid("the CSV has no rows", {"csv": ["no rows"]})
    return samples


# What a Perspective client's suggestion says about a text: Coral sends its moderators' decisions as
# the attributes APPROVED and DELETED; other clients suggest an attribute's probability.
HELD_SUGGESTIONS = frozenset({"DELETED", "REJECTED"})
PUBLISHED_SUGGESTIONS = frozenset({"APPROVED"})


def feedback_samples(db: Database, since: datetime | None = None) -> list[Sample]:
    """Samples from `comments:suggestscore` (the latest suggestion per text wins)."""
    with db.read() as session:
        rows = FeedbackRepository(session).since(since)
    latest: dict[str, int] = {}
    for row in rows:
        if row.attribute in HELD_SUGGESTIONS:
            latest[row.text] = 1
        elif row.attribute in PUBLISHED_SUGGESTIONS:
            latest[row.text] = 0
        else:
            latest[row.text] = int(row.value >= 0.5)
    if not latest:
        raise Invalid("no suggested scores to test against", {"feedback": ["none stored yet"]})
    return [Sample(text, label) for text, label in latest.items()]


def parse_since(value: str) -> datetime:
    """An ISO 8601 date or time (``2026-01-31``, ``2026-01-31T12:00:00+01:00``); without an offset, UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip())
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise Invalid("since must be an ISO 8601 date or time, e.g. 2026-01-31 or 2026-01-31T12:00:00Z",
                      {"since": ["an ISO 8601 date or time"]}) from None


@dataclass
class DecidedTexts:
    """Moderators' latest decisions as samples, and the decisions that could not become one."""

    samples: list[Sample] = field(default_factory=list)
    edited_since_decision: int = 0  # the text it was decided on is gone
    truncated: bool = False  # more decisions than the limit: only the newest were taken


def decided_texts(db: Database, since: datetime | None = None, limit: int | None = None) -> DecidedTexts:
    """Each comment's latest moderator decision (reject: 1, approve: 0) on the text it was decided on.

    A comment edited after its decision no longer has that text: it is counted, not used. Stored
    scores are kept only when they belong to that text (``scored_revision == revision``).
    """
    with db.read() as session:
        rows = CommentRepository(session).latest_decisions(since, None if limit is None else limit + 1)
    result = DecidedTexts(truncated=limit is not None and len(rows) > limit)
    for row in rows[:limit]:
        if row.edited_at is not None and row.edited_at > row.decided_at:
            result.edited_since_decision += 1
            continue
        scored = row.scores is not None and row.scored_revision == row.revision
        result.samples.append(Sample(
            row.body, 1 if row.action == Action.REJECT else 0,
            scores=dict(row.scores) if scored else None,
            scorer_name=row.scorer_name if scored else None,
            scorer_version=row.scorer_version if scored else None))
    return result


# -- word lists -------------------------------------------------------------------------------------
def word_list_check(db: Database) -> WordCheck:
    """The word lists' verdict on a text, as (hold reasons, reject reasons): the lists as they are now."""
    matcher = current_matcher(db)

    def check(text: str) -> tuple[list[str], list[str]]:
        verdict = matcher.check(text)
        return list(verdict.hold), list(verdict.reject)

    return check


# -- running it -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    label: int
    scores: dict[str, float]
    held: bool  # the policy's decision is flagged or rejected
    by_word_lists: bool  # the word lists alone hold or reject it


def as_stored(scores: dict[str, float]) -> dict[str, float]:
    """Scores as a worker stores them (and decides on them): floats rounded to 4 places."""
    return {label: round(float(value), 4) for label, value in scores.items()}


def _batches(items: Sequence[Sample], size: int) -> Iterator[Sequence[Sample]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


Progress = Callable[[int, int], None]  # (texts just done, texts in all)


def evaluate(samples: Sequence[Sample], thresholds: Thresholds, words: WordCheck, scorer: Any = None,
             batch_size: int = 256, progress: Progress | None = None) -> list[Outcome]:
    """Scores (from ``scorer``, else the stored ones), word lists and policy over ``samples``, in batches.

    Without a scorer every sample needs its stored scores. ``progress`` is told of each batch.
    """
    outcomes: list[Outcome] = []
    for batch in _batches(samples, max(1, batch_size)):
        if scorer is not None:
            results = scorer.score([s.text for s in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"scorer returned {len(results)} results for {len(batch)} texts")
        else:
            results = [s.scores for s in batch]
        for sample, raw in zip(batch, results, strict=True):
            if raw is None:
                raise ValueError("a sample without scores needs a scorer")
            scores = as_stored(raw)
            hold, reject = words(sample.text)
            decision = decide(scores, thresholds, held_for=hold, rejected_for=reject)
            outcomes.append(Outcome(sample.label, scores, decision.status in HELD, bool(hold or reject)))
        if progress is not None:
            progress(len(batch), len(samples))
    return outcomes


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _at_threshold(labels: list[int], held: list[bool]) -> dict[str, Any]:
    c = Confusion.of(labels, held)
    return {
        "held": c.true_positive + c.false_positive,
        "precision": _round(c.precision),
        "recall": _round(c.recall),
        "false_positive_rate": _round(c.false_positive_rate),
        "confusion": {"true_positive": c.true_positive, "false_positive": c.false_positive,
                      "true_negative": c.true_negative, "false_negative": c.false_negative},
    }


def _target(labels: list[int], scores: list[float], target: float) -> dict[str, Any]:
    found = threshold_for_precision(labels, scores, target)
    if found is None:
        return {"reachable": False, "hold": None, "precision": None, "recall": None}
    return {"reachable": True, "hold": found.hold, "precision": _round(found.precision),
            "recall": _round(found.recall)}


def report(outcomes: Sequence[Outcome], thresholds: Thresholds, *, source: str, scores: str,
           scorers: list[dict[str, Any]], target_precision: float = DEFAULT_TARGET_PRECISION,
           since: datetime | None = None, warning: str | None = None, skipped: dict[str, int] | None = None,
           truncated: bool = False) -> dict[str, Any]:
    """The backtest report (schema ``SCHEMA``, documented in docs/api.md)."""
    labels = [o.label for o in outcomes]
    positives = sum(labels)
    # Overall: the policy's decision (scores and word lists); ranked by the highest score among the
    # labels that have a threshold (0 when none has).
    top = [max((v for k, v in o.scores.items() if k in thresholds), default=0.0) for o in outcomes]
    overall = {"texts": len(outcomes), "positives": positives, "roc_auc": _round(roc_auc(labels, top)),
               **_at_threshold(labels, [o.held for o in outcomes]),
               "held_by_word_lists": sum(1 for o in outcomes if o.by_word_lists)}
    per_label: dict[str, Any] = {}
    for label in sorted({k for o in outcomes for k in o.scores}):
        scored = [o for o in outcomes if label in o.scores]
        ys, values = [o.label for o in scored], [o.scores[label] for o in scored]
        limit = thresholds.get(label)
        entry: dict[str, Any] = {
            "texts": len(scored), "positives": sum(ys),
            "hold": limit.hold if limit else None, "reject": limit.reject if limit else None,
            "roc_auc": _round(roc_auc(ys, values)),
        }
        if limit is not None:
            entry.update(_at_threshold(ys, [v >= limit.hold for v in values]))
        else:
            entry.update({"held": None, "precision": None, "recall": None, "false_positive_rate": None,
                          "confusion": None})
        entry["target"] = _target(ys, values, target_precision)
        per_label[label] = entry
    return {
        "schema": SCHEMA,
        "source": source,
        "scores": scores,
        "since": since.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if since else None,
        "target_precision": target_precision,
        "thresholds": {k: {"hold": t.hold, "reject": t.reject} for k, t in sorted(thresholds.items())},
        "scorers": scorers,
        "warning": warning,
        "texts": len(outcomes),
        "positives": positives,
        "negatives": len(outcomes) - positives,
        "skipped": {"edited_since_decision": 0, "unscored": 0, **(skipped or {})},
        "truncated": truncated,
        "overall": overall,
        "labels": per_label,
    }


def stored_scorers(samples: Iterable[Sample]) -> list[dict[str, Any]]:
    """The scorers recorded on the samples' comments, most texts first."""
    counts = Counter((s.scorer_name, s.scorer_version) for s in samples)
    return [{"name": name, "version": version, "fallback": FALLBACK_MARK in (version or ""), "texts": n}
            for (name, version), n in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))]


def check_target(target_precision: float) -> float:
    if not 0 < target_precision <= 1:
        raise Invalid("target precision must be above 0 and at most 1", {"target_precision": ["0 < x <= 1"]})
    return target_precision


@dataclass(frozen=True)
class Rescorer:
    """A loaded scorer and what the report says of it (workers.scorers.ScorerInfo, as a dict)."""

    scorer: Any
    info: dict[str, Any]


def _rescored(samples: Sequence[Sample], settings: Settings, words: WordCheck, rescorer: Rescorer,
              progress: Progress | None) -> tuple[list[Outcome], list[dict[str, Any]]]:
    outcomes = evaluate(samples, settings.thresholds, words, rescorer.scorer,
                        settings.batch_size * BATCHES_PER_CALL, progress)
    info = rescorer.info
    scorers = [{"name": info["name"], "version": info["version"], "fallback": bool(info.get("fallback")),
                "texts": len(samples)}]
    return outcomes, scorers


def _rescorer_warning(rescorer: Rescorer) -> str | None:
    if rescorer.info.get("warning"):
        return str(rescorer.info["warning"])
    return FALLBACK_WARNING if rescorer.info.get("fallback") else None


def from_samples(samples: Sequence[Sample], settings: Settings, rescorer: Rescorer, words: WordCheck,
                 target_precision: float = DEFAULT_TARGET_PRECISION,
                 progress: Progress | None = None, source: str = "csv") -> dict[str, Any]:
    """The report on labelled texts (``--csv``, ``--feedback``), scored with ``rescorer``."""
    check_target(target_precision)
    outcomes, scorers = _rescored(samples, settings, words, rescorer, progress)
    return report(outcomes, settings.thresholds, source=source, scores="rescored", scorers=scorers,
                  target_precision=target_precision, warning=_rescorer_warning(rescorer))


def from_decisions(db: Database, settings: Settings, since: datetime | None = None,
                   target_precision: float = DEFAULT_TARGET_PRECISION, limit: int | None = MAX_API_DECISIONS,
                   words: WordCheck | None = None, rescorer: Rescorer | None = None,
                   progress: Progress | None = None) -> dict[str, Any]:
    """The report on moderators' decisions.

    Without ``rescorer`` (the HTTP endpoint, and ``civility backtest --decisions``) it uses the
    scores stored on each comment when it was scored, so no model is loaded; decided comments
    without a score for the decided text are counted under ``skipped.unscored``. With one
    (``--rescore``) every decided text is scored again. Either way the current thresholds and word
    lists decide.
    """
    check_target(target_precision)
    decided = decided_texts(db, since, limit)
    words = words or word_list_check(db)
    skipped = {"edited_since_decision": decided.edited_since_decision, "unscored": 0}
    if rescorer is not None:
        outcomes, scorers = _rescored(decided.samples, settings, words, rescorer, progress)
        warning = _rescorer_warning(rescorer)
    else:
        usable = [s for s in decided.samples if s.scores is not None]
        skipped["unscored"] = len(decided.samples) - len(usable)
        outcomes = evaluate(usable, settings.thresholds, words, progress=progress)
        scorers = stored_scorers(usable)
        fallback = sum(s["texts"] for s in scorers if s["fallback"])
        warning = f"{fallback} of {_texts(len(usable))}: {FALLBACK_WARNING}" if fallback else None
    return report(outcomes, settings.thresholds, source="decisions", scores="rescored" if rescorer else "stored",
                  scorers=scorers, target_precision=target_precision, since=since, warning=warning,
                  skipped=skipped, truncated=decided.truncated)


# -- the report as text -----------------------------------------------------------------------------
def _cell(value: float | None, width: int, digits: int = 3) -> str:
    return f"{'-' if value is None else f'{value:.{digits}f}':>{width}}"


def _texts(n: int) -> str:
    return f"{n} text" if n == 1 else f"{n} texts"


def render_text(result: dict[str, Any]) -> list[str]:
    """The report as the lines ``civility backtest`` prints (``--json`` prints the report itself)."""
    origin = {"csv": "the CSV", "decisions": "moderators' decisions",
              "feedback": "Perspective clients' suggested scores"}[result["source"]]
    since = f" since {result['since']}" if result["since"] else ""
    how = {"rescored": "scored now", "stored": "with the scores stored when they were scored"}[result["scores"]]
    lines = [f"backtest of {_texts(result['texts'])} from {origin}{since}, {how}: "
             f"{result['positives']} should be held, {result['negatives']} should be published"]
    for s in result["scorers"]:
        lines.append(f"scorer: {s['name']} {s['version']} ({_texts(s['texts'])})")
    if result["warning"]:
        lines.append(f"warning: {result['warning']}")
    skipped = result["skipped"]
    if skipped["edited_since_decision"] or skipped["unscored"]:
        lines.append(f"skipped: {skipped['edited_since_decision']} edited since the decision, "
                     f"{skipped['unscored']} without a score for the decided text")
    if result["truncated"]:
        lines.append("only the most recent decisions were used")
    target = result["target_precision"]
    lines += ["", f"{'':<34}{'at the current thresholds':^32}{f'to reach {target:.2f}':^16}",
              f"{'':<18}{'texts':>7}{'ROC-AUC':>9}{'hold':>6}{'precision':>10}{'recall':>8}{'FPR':>8}"
              f"{'hold':>8}{'recall':>8}"]
    overall = result["overall"]
    lines.append(f"{'overall':<18}{overall['texts']:>7}{_cell(overall['roc_auc'], 9)}{'':>6}"
                 f"{_cell(overall['precision'], 10)}{_cell(overall['recall'], 8)}"
                 f"{_cell(overall['false_positive_rate'], 8)}")
    for label, entry in result["labels"].items():
        goal = entry["target"]
        reach = (f"{_cell(goal['hold'], 8, 4)}{_cell(goal['recall'], 8)}" if goal["reachable"]
                 else f"{'not reachable':>16}")
        lines.append(f"{label[:17]:<18}{entry['texts']:>7}{_cell(entry['roc_auc'], 9)}"
                     f"{_cell(entry['hold'], 6, 2)}{_cell(entry['precision'], 10)}{_cell(entry['recall'], 8)}"
                     f"{_cell(entry['false_positive_rate'], 8)}{reach}")
    if overall["held_by_word_lists"]:
        lines.append(f"\n{overall['held_by_word_lists']} texts were held or rejected by the word lists.")
    return lines
