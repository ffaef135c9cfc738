"""The Perspective API's protocol (``comments:analyze``, ``comments:suggestscore``), answered by our own scorer.

Google shuts Perspective down on 31 Dec 2026; Coral Talk and many forums only need its endpoint changed.
This module is plain Python: it validates a request body as Perspective does, maps Perspective's
attributes to our scorer's labels and builds Perspective's answer. The HTTP layer
(``service/api/perspective.py``) adds the API key, the quota and Google's error shape.

Nothing of an analyze request is stored, whatever ``doNotStore`` says (see docs/perspective.md).
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from typing import Any

import nh3

from civility.analysis import Analyzer
from civility.store.db import Database
from civility.store.perspective import FeedbackRepository

# Perspective's attribute → our scorer's labels, first match wins. Detoxify names profanity
# "obscene"; the profanity fallback calls it "profanity" and gives nothing else.
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "TOXICITY": ("toxicity",),
    "SEVERE_TOXICITY": ("severe_toxicity",),
    "IDENTITY_ATTACK": ("identity_attack",),
    "INSULT": ("insult",),
    "PROFANITY": ("obscene", "profanity"),
    "THREAT": ("threat",),
    "SEXUALLY_EXPLICIT": ("sexual_explicit",),
}
SCORE_TYPES = ("PROBABILITY",)
TEXT_TYPES = ("PLAIN_TEXT", "HTML")
MAX_TEXT_CHARS = 20_480  # Perspective's own limit is 20 KB of text
MAX_SPANS = 200
MAX_TOKEN_CHARS = 256
MAX_LANGUAGES = 10
LANGUAGE = re.compile(r"[A-Za-z]{2,3}([_-][A-Za-z0-9]{1,8}){0,3}")
SUGGEST_ATTRIBUTE = re.compile(r"[A-Z][A-Z0-9_]{0,31}")
MAX_SUGGESTED_ATTRIBUTES = 20
# A sentence ends at . ! ? (or a run of them, with closing quotes) followed by white space, or at a blank line.
_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]»”’]*(?=\s)|\n\s*\n")


class PerspectiveError(Exception):
    """An error as Google's APIs answer it: ``{"error": {"code", "message", "status"}}``."""

    def __init__(self, status_code: int, canonical_code: str, message: str):
        super().__init__(message)
        self.status_code = status_code
        self.canonical_code = canonical_code  # INVALID_ARGUMENT, PERMISSION_DENIED, ...
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.status_code, "message": self.message, "status": self.canonical_code}}


def invalid(message: str) -> PerspectiveError:
    return PerspectiveError(400, "INVALID_ARGUMENT", message)


@dataclass(frozen=True)
class Requested:
    name: str
    threshold: float | None = None


@dataclass
class AnalyzeRequest:
    text: str
    attributes: list[Requested]
    languages: list[str]
    span_annotations: bool = False
    client_token: str | None = None
    do_not_store: bool = False


@dataclass
class SuggestRequest:
    text: str
    scores: dict[str, float]
    languages: list[str] = field(default_factory=list)
    community_id: str | None = None
    client_token: str | None = None


# -- parsing -------------------------------------------------------------------------------------
def _object(value: Any, name: str, required: bool = False) -> dict:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise invalid(f"Invalid value at '{name}': expected an object.")
    return value


def _optional_string(body: dict, name: str, limit: int = MAX_TOKEN_CHARS) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(f"Invalid value at '{name}': expected a string.")
    if len(value) > limit:
        raise invalid(f"Invalid value at '{name}': at most {limit} characters.")
    return value


def _bool(body: dict, name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid(f"Invalid value at '{name}': expected true or false.")
    return value


def _probability(value: Any, name: str) -> float:
    # bool is an int in Python; a JSON true is not a number.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 <= value <= 1:
        raise invalid(f"Invalid value at '{name}': expected a number from 0 to 1.")
    return float(value)


def _languages(body: dict) -> list[str]:
    value = body.get("languages")
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_LANGUAGES:
        raise invalid(f"Invalid value at 'languages': expected a list of at most {MAX_LANGUAGES} language codes.")
    for code in value:
        if not isinstance(code, str) or not LANGUAGE.fullmatch(code):
            raise invalid(f"Invalid value at 'languages': {str(code)[:40]!r} is not a language code.")
    return [code.lower().replace("_", "-") for code in value]


def _comment_text(body: dict) -> str:
    comment = _object(body.get("comment"), "comment", required=True)
    text = comment.get("text")
    if not isinstance(text, str):
        raise invalid("Invalid value at 'comment.text': expected a string.")
    kind = comment.get("type", "PLAIN_TEXT")
    if kind not in TEXT_TYPES:
        raise invalid(f"Invalid value at 'comment.type': expected one of {', '.join(TEXT_TYPES)}.")
    if kind == "HTML":
        text = html.unescape(nh3.clean(text, tags=set()))
    if "\x00" in text:
        raise invalid("Invalid value at 'comment.text': NUL characters are not allowed.")
    if len(text) > MAX_TEXT_CHARS:
        raise invalid(f"Comment text too long: at most {MAX_TEXT_CHARS} characters.")
    if not text.strip():
        raise invalid("Comment must be non-empty.")
    return text


def parse_analyze(body: Any) -> AnalyzeRequest:
    """An ``AnalyzeCommentRequest``; ``context``, ``sessionId`` and ``communityId`` are accepted and ignored."""
    body = _object(body, "request", required=True)
    text = _comment_text(body)
    requested = _object(body.get("requestedAttributes"), "requestedAttributes")
    if not requested:
        raise invalid("Must specify at least one requested attribute.")
    attributes = []
    for name, params in requested.items():
        if name not in ATTRIBUTES:
            raise invalid(f"Unknown attribute: {name[:64]} (civility answers {', '.join(ATTRIBUTES)}).")
        params = _object(params, f"requestedAttributes.{name}")
        score_type = params.get("scoreType", "PROBABILITY")
        if score_type not in SCORE_TYPES:
            raise invalid(f"Invalid value at 'requestedAttributes.{name}.scoreType': only PROBABILITY is supported.")
        threshold = params.get("scoreThreshold")
        if threshold is not None:
            threshold = _probability(threshold, f"requestedAttributes.{name}.scoreThreshold")
        attributes.append(Requested(name, threshold))
    for ignored in ("context", "sessionId", "communityId"):
        if ignored == "context":
            _object(body.get(ignored), ignored)
        else:
            _optional_string(body, ignored)
    return AnalyzeRequest(text=text, attributes=attributes, languages=_languages(body),
                          span_annotations=_bool(body, "spanAnnotations"),
                          client_token=_optional_string(body, "clientToken"),
                          do_not_store=_bool(body, "doNotStore"))


def parse_suggest(body: Any) -> SuggestRequest:
    """A ``SuggestCommentScoreRequest``: ``attributeScores.{ATTR}.summaryScore.value`` per attribute.

    Attribute names are not limited to the analyzable ones: Coral, for one, suggests its moderators'
    decisions (``APPROVED``, ``DELETED``) with the value 1.
    """
    body = _object(body, "request", required=True)
    text = _comment_text(body)
    given = _object(body.get("attributeScores"), "attributeScores")
    if not given:
        raise invalid("Must specify at least one attribute score.")
    if len(given) > MAX_SUGGESTED_ATTRIBUTES:
        raise invalid(f"At most {MAX_SUGGESTED_ATTRIBUTES} attribute scores.")
    scores: dict[str, float] = {}
    for name, entry in given.items():
        if not SUGGEST_ATTRIBUTE.fullmatch(name):
            raise invalid(f"Invalid attribute name: {name[:64]!r} (capital letters, digits and _, at most 32).")
        summary = _object(_object(entry, f"attributeScores.{name}").get("summaryScore"),
                          f"attributeScores.{name}.summaryScore", required=True)
        scores[name] = _probability(summary.get("value"), f"attributeScores.{name}.summaryScore.value")
    _object(body.get("context"), "context")
    _optional_string(body, "sessionId")
    return SuggestRequest(text=text, scores=scores, languages=_languages(body),
                          community_id=_optional_string(body, "communityId"),
                          client_token=_optional_string(body, "clientToken"))


# -- scoring -------------------------------------------------------------------------------------
def sentences(text: str) -> list[tuple[int, int]]:
    """(begin, end) offsets in code points of each sentence, without the white space around it."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    trimmed = []
    for begin, end in spans:
        chunk = text[begin:end]
        if chunk.strip():
            begin += len(chunk) - len(chunk.lstrip())
            end -= len(chunk) - len(chunk.rstrip())
            trimmed.append((begin, end))
    if len(trimmed) > MAX_SPANS:  # the rest of a very long text becomes the last span
        trimmed = trimmed[:MAX_SPANS - 1] + [(trimmed[MAX_SPANS - 1][0], trimmed[-1][1])]
    return trimmed


def label_for(attribute: str, scores: dict[str, float]) -> str | None:
    return next((label for label in ATTRIBUTES[attribute] if label in scores), None)


def _score(value: float) -> dict[str, Any]:
    return {"value": round(float(value), 6), "type": "PROBABILITY"}


class PerspectiveService:
    def __init__(self, db: Database, analyzer: Analyzer, timeout: float):
        self.db = db
        self.analyzer = analyzer
        self.timeout = timeout

    def analyze(self, request: AnalyzeRequest) -> dict[str, Any]:
        """Perspective's ``AnalyzeCommentResponse``. Raises ``PerspectiveError`` (400) for an attribute
        the configured scorer cannot give; the analyzer's ``AnalysisUnavailable`` passes through."""
        spans = sentences(request.text) if request.span_annotations else []
        texts = [request.text] + [request.text[b:e] for b, e in spans]
        analysis = self.analyzer.analyze(texts, self.timeout)
        summary = analysis.scores[0]
        missing = [a.name for a in request.attributes if label_for(a.name, summary) is None]
        if missing:
            raise invalid(f"Attribute {', '.join(missing)} is not supported by this server's scorer "
                          f"({analysis.scorer} {analysis.version}"
                          f"{', the profanity fallback' if analysis.fallback else ''}), which gives "
                          f"{', '.join(sorted(summary)) or 'nothing'}.")
        attribute_scores: dict[str, Any] = {}
        for attribute in request.attributes:
            label = label_for(attribute.name, summary)
            assert label is not None
            floor = attribute.threshold if attribute.threshold is not None else 0.0
            entry: dict[str, Any] = {}
            # As Perspective answers: per sentence with spanAnnotations, else one span, the whole text.
            pairs = zip(spans, analysis.scores[1:], strict=True) if request.span_annotations \
                else [((0, len(request.text)), summary)]
            span_scores = [{"begin": b, "end": e, "score": _score(scores[label])}
                           for (b, e), scores in pairs if label in scores and scores[label] >= floor]
            if span_scores:
                entry["spanScores"] = span_scores
            if summary[label] >= floor:
                entry["summaryScore"] = _score(summary[label])
            if entry:
                attribute_scores[attribute.name] = entry
        languages = request.languages or ["en"]
        answer: dict[str, Any] = {"attributeScores": attribute_scores, "languages": languages,
                                  "detectedLanguages": languages}
        if request.client_token is not None:
            answer["clientToken"] = request.client_token
        return answer

    def suggest(self, key_name: str, request: SuggestRequest) -> dict[str, Any]:
        """Stores the suggestion (one row per attribute) and answers Perspective's ``SuggestCommentScoreResponse``."""
        with self.db.transaction() as session:
            repo = FeedbackRepository(session)
            for attribute, value in request.scores.items():
                repo.add(key_name=key_name, community_id=request.community_id, text=request.text,
                         attribute=attribute, value=value, client_token=request.client_token)
        answer: dict[str, Any] = {}
        if request.client_token is not None:
            answer["clientToken"] = request.client_token
        if request.languages:
            answer["requestedLanguages"] = request.languages
        return answer


def feedback_stats(db: Database, since: Any) -> dict[str, Any]:
    """Suggestions received since ``since``: the total and per attribute (for the moderation stats)."""
    with db.read() as session:
        by_attribute = FeedbackRepository(session).counts_since(since)
    return {"feedback_24h": sum(by_attribute.values()), "feedback_24h_by_attribute": by_attribute}
