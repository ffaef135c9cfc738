"""Spam heuristics in the spirit of Coral's and Remark42's: cheap checks at submission time whose
findings hold a comment for a moderator whatever its toxicity score."""

from __future__ import annotations

from datetime import datetime, timedelta

from civility.store.comments import CommentRepository
from civility.text import has_visible_text, links, text_outside_links

REPEAT_WINDOW = timedelta(minutes=10)
# Readers who cite a source or two are not spammers: only link-heavy comments are held.
MAX_LINKS = 3


def spam_reasons(comments: CommentRepository, body: str, reader_key: str | None, now: datetime) -> list[str]:
    return repeat_reasons(comments, body, reader_key, now) + link_reasons(body)


def repeat_reasons(comments: CommentRepository, body: str, reader_key: str | None, now: datetime) -> list[str]:
    """The rule that reads the client's history: the same text again within the window."""
    if reader_key:
        repeats = comments.count_recent_repeats(reader_key, body, now - REPEAT_WINDOW)
        if repeats:
            return [f"repeated text from the same client (x{repeats + 1} in 10 min)"]
    return []


def link_reasons(body: str) -> list[str]:
    """The rules that read the text alone (no history): link-heavy comments, comments of bare links."""
    found = len(links(body))
    if found >= MAX_LINKS:
        return [f"link-heavy ({found} links)"]
    if found and not _has_words(text_outside_links(body)):
        return [f"nothing but links ({found} link{'s' if found != 1 else ''})"]
    return []


def _has_words(text: str) -> bool:
    """Letters or digits, not just spaces and punctuation between links."""
    return has_visible_text(text) and any(c.isalnum() for c in text)
