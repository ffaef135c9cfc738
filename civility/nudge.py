"""The nudge before posting, as Coral's toxic-comment warning: would the policy hold this comment, and why.

``check`` scores the text on demand (``Analyzer``), reads the word lists and the text-only spam rule
(links), and decides with ``civility.policy.decide``, as the worker will once the comment is posted.
Readers see reasons in words, never scores or word-list entries (which would help to game them).

Counting (table ``nudge_counts``, per UTC day): a check that would hold counts as ``nudged`` and leaves
a single-use ticket under its ``check_id`` (``civility.infra.nudge_tickets``). A comment posted with
that ``check_id`` takes the ticket back and counts as ``revised`` (its text differs from the checked
text) or ``posted_anyway`` (the same text). The server decides which, from the text; a ticket counts
once. So one client can raise ``nudged`` only as fast as its ``check`` rate limit allows, and
``revised`` + ``posted_anyway`` never above its ``nudged``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from civility.analysis import AnalysisUnavailable, Analyzer
from civility.comments import check_article_id, clean_body
from civility.config import Settings
from civility.errors import DomainError
from civility.infra.nudge_tickets import NudgeTickets
from civility.policy import decide
from civility.spam import link_reasons
from civility.statuses import Status
from civility.store.db import Database
from civility.store.models import utcnow
from civility.store.nudges import NudgeRepository
from civility.wordlists import current_matcher

log = logging.getLogger(__name__)

KINDS = ("nudged", "revised", "posted_anyway")
STATS_DAYS = 7
# Each label a reader may be told about, in words.
LABEL_REASONS = {
    "toxicity": "toxic language",
    "severe_toxicity": "very toxic language",
    "obscene": "obscene language",
    "threat": "a threat",
    "insult": "insults",
    "identity_attack": "an attack on someone's identity",
    "sexual_explicit": "sexually explicit language",
    "profanity": "profanity",
}
WORD_LIST_REASON = "words this site does not allow"
LINKS_REASON = "too many links"


class CheckUnavailable(DomainError):
    """No worker scored the text in time: the widget posts as usual."""

    code, status_code = "analysis_unavailable", 503


@dataclass(frozen=True)
class NudgeCheck:
    would_hold: bool
    reasons: list[str] = field(default_factory=list)
    check_id: str | None = None


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def _day(moment: datetime) -> str:
    return moment.date().isoformat()


class NudgeService:
    def __init__(self, db: Database, settings: Settings, tickets: NudgeTickets):
        self.db = db
        self.settings = settings
        self.tickets = tickets

    def check(self, article_id: str, body: str, analyzer: Analyzer) -> NudgeCheck:
        check_article_id(article_id)
        body = clean_body(body)
        try:
            scores = analyzer.analyze([body], self.settings.analyze_timeout).scores[0]
        except AnalysisUnavailable as exc:
            raise CheckUnavailable("no worker answered in time; post as usual") from exc
        words = current_matcher(self.db).check(body)
        links = link_reasons(body)
        decision = decide(scores, self.settings.thresholds, held_for=words.hold + links, rejected_for=words.reject)
        if decision.status is Status.PUBLISHED:
            return NudgeCheck(False)
        outside = dict.fromkeys(words.hold + words.reject, WORD_LIST_REASON) | dict.fromkeys(links, LINKS_REASON)
        reasons = list(dict.fromkeys(outside.get(r) or _label_reason(r) for r in decision.reasons))
        check_id = self.tickets.issue(_digest(body))
        self._bump("nudged")
        return NudgeCheck(True, reasons, check_id)

    def settle(self, check_id: str | None, posted_body: str) -> str | None:
        """Count a comment posted after a nudge: ``revised`` or ``posted_anyway`` (None: not counted).

        Never raises: the comment is stored by now, and a lost count must not look like a failed post.
        """
        if not check_id:
            return None
        try:
            checked = self.tickets.redeem(check_id)
            if checked is None:
                return None
            kind = "posted_anyway" if checked == _digest(posted_body) else "revised"
            self._bump(kind)
            return kind
        except Exception as exc:  # noqa: BLE001 - counting is best effort once the comment is stored
            log.warning("could not count a comment posted after a nudge (%s)", type(exc).__name__)
            return None

    def _bump(self, kind: str) -> None:
        with self.db.transaction() as session:
            NudgeRepository(session).bump(_day(utcnow()), kind)


def _label_reason(policy_reason: str) -> str:
    label = policy_reason.split(" ", 1)[0]
    return LABEL_REASONS.get(label, label.replace("_", " "))


def nudge_stats(db: Database, now: datetime | None = None) -> dict[str, Any]:
    """``{"today": {kind: n}, "last_7_days": [{"day", kind: n}, ...]}``, oldest day first, zeros included."""
    now = now or utcnow()
    days = [_day(now - timedelta(days=back)) for back in range(STATS_DAYS - 1, -1, -1)]
    with db.read() as session:
        counts = NudgeRepository(session).counts_since(days[0])
    series = [{"day": day, **{kind: counts.get(day, {}).get(kind, 0) for kind in KINDS}} for day in days]
    today = {kind: series[-1][kind] for kind in KINDS}
    return {"today": today, "last_7_days": series}
