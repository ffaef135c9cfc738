"""Spam heuristics in the spirit of Coral's and Remark42's: cheap checks whose findings hold a comment
for a moderator whatever its toxicity score.

The rules that read the text alone run when it is submitted (``link_reasons``). The rule that reads
the client's history (``repeat_reasons``) runs when the comment's first text is scored, where its
finding is used: a query the request no longer waits for (docs/benchmarks.md), which counts the same
comments it would have counted at submission, those created before this one.
"""

from __future__ import annotations

from datetime import timedelta

from civility.store.comments import CommentRepository
from civility.store.models import Comment
from civility.text import has_visible_text, links, text_outside_links

REPEAT_WINDOW = timedelta(minutes=10)
# Readers who cite a source or two are not spammers: only link-heavy comments are held.
MAX_LINKS = 3


def repeat_reasons(comments: CommentRepository, comment: Comment) -> list[str]:
    """The rule that reads the client's history: the comment's text sent by the same client in the
    window before it. Only a comment's first text: an edit is its author's, not a new post."""
    if comment.client_hash and comment.revision == 1:
        repeats = comments.count_earlier_repeats(comment.id, comment.client_hash, comment.body,
                                                 comment.created_at - REPEAT_WINDOW)
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
