"""Spam heuristics in the spirit of Coral's and Remark42's: cheap checks whose findings hold a comment
for a moderator whatever its toxicity score.

The rules that read the text alone run when it is submitted (``link_reasons``). The rule that reads
the client's history (``repeat_reasons``) runs when the comment's first text is scored, where its
finding is used: a query the request no longer waits for (docs/benchmarks.md), which counts the same
comments it would have counted at submission, those created before this one.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from civility.store.comments import CommentRepository
from civility.store.models import Comment
from civility.text import has_visible_text, links, text_outside_links

REPEAT_WINDOW = timedelta(minutes=10)
# Readers who cite a source or two are not spammers: only link-heavy comments are held.
MAX_LINKS = 3


def repeat_reasons(comments: CommentRepository, batch: list[Comment]) -> dict[int, list[str]]:
    """The rule that reads the clients' history, for each comment of ``batch`` (by id): its text sent
    by the same client in the window before it. Only a comment's first text: an edit is its
    author's, not a new post. One query for the whole batch."""
    found: dict[int, list[str]] = {c.id: [] for c in batch}
    checked = [c for c in batch if c.client_hash and c.revision == 1]
    if not checked:
        return found
    sent: dict[tuple[str, str], list[tuple[int, datetime]]] = defaultdict(list)
    for comment_id, client, body, at in comments.sent_by({c.client_hash for c in checked if c.client_hash},
                                                          since=min(c.created_at for c in checked) - REPEAT_WINDOW,
                                                          before_id=max(c.id for c in checked)):
        sent[client, body].append((comment_id, at))
    for comment in checked:
        since = comment.created_at - REPEAT_WINDOW
        repeats = len([comment_id for comment_id, at in sent.get((comment.client_hash or "", comment.body), ())
                       if comment_id < comment.id and at >= since])
        if repeats:
            found[comment.id] = [f"repeated text from the same client (x{repeats + 1} in 10 min)"]
    return found


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
