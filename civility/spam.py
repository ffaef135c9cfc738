"""Spam heuristics in the spirit of Coral's and Remark42's: cheap checks at submission time whose
findings hold a comment for a moderator whatever its toxicity score."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from civility.store.models import Comment
from civility.text import count_links, link_ratio

REPEAT_WINDOW = timedelta(minutes=10)
MAX_LINKS = 3
MAX_LINK_SHARE = 0.5


def spam_reasons(session: Session, body: str, client_hash: str | None, now: datetime) -> list[str]:
    reasons = []
    if client_hash:
        repeats = session.scalars(
            select(func.count()).where(Comment.client_hash == client_hash, Comment.body == body,
                                       Comment.created_at >= now - REPEAT_WINDOW)
        ).one()
        if repeats:
            reasons.append(f"repeated text from the same client (x{repeats + 1} in 10 min)")
    links, share = count_links(body), link_ratio(body)
    if links >= MAX_LINKS or (links and share >= MAX_LINK_SHARE):
        reasons.append(f"mostly links ({links} link{'s' if links != 1 else ''}, {share:.0%} of the text)")
    return reasons
