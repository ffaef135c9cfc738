"""Spam heuristics in the spirit of Coral's and Remark42's: cheap checks at submission time whose
findings hold a comment for a moderator whatever its toxicity score."""

from __future__ import annotations

from datetime import datetime, timedelta

from civility.store.comments import CommentRepository
from civility.text import count_links, link_ratio

REPEAT_WINDOW = timedelta(minutes=10)
MAX_LINKS = 3
MAX_LINK_SHARE = 0.5


def spam_reasons(comments: CommentRepository, body: str, client_hash: str | None, now: datetime) -> list[str]:
    reasons = []
    if client_hash:
        repeats = comments.count_recent_repeats(client_hash, body, now - REPEAT_WINDOW)
        if repeats:
            reasons.append(f"repeated text from the same client (x{repeats + 1} in 10 min)")
    links, share = count_links(body), link_ratio(body)
    if links >= MAX_LINKS or (links and share >= MAX_LINK_SHARE):
        reasons.append(f"mostly links ({links} link{'s' if links != 1 else ''}, {share:.0%} of the text)")
    return reasons
