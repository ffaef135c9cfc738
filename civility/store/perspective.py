"""Scores suggested through the Perspective-compatible API (``comments:suggestscore``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from civility.store.models import PerspectiveFeedback


class FeedbackRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, *, key_name: str, community_id: str | None, text: str, attribute: str, value: float,
            client_token: str | None) -> None:
        self.session.add(PerspectiveFeedback(key_name=key_name, community_id=community_id, text=text,
                                             attribute=attribute, value=value, client_token=client_token))

    def counts_since(self, since: datetime) -> dict[str, int]:
        rows = self.session.execute(
            select(PerspectiveFeedback.attribute, func.count())
            .where(PerspectiveFeedback.created_at >= since)
            .group_by(PerspectiveFeedback.attribute)
        ).all()
        return {attribute: count for attribute, count in rows}

    def since(self, since: datetime | None = None) -> list[PerspectiveFeedback]:
        """Every suggestion (at or after ``since``), oldest first."""
        stmt = select(PerspectiveFeedback).order_by(PerspectiveFeedback.id)
        if since is not None:
            stmt = stmt.where(PerspectiveFeedback.created_at >= since)
        return list(self.session.scalars(stmt))
