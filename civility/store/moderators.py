"""The moderator repository: accounts and the hashes of their tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from civility.store.models import Moderator


class ModeratorRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, name: str, role: str, token_hash: str) -> int:
        """The new moderator's id; a taken name raises ``IntegrityError`` when flushed here."""
        moderator = Moderator(name=name, role=role, token_hash=token_hash)
        self.session.add(moderator)
        self.session.flush()
        return moderator.id

    def get(self, moderator_id: int) -> Moderator | None:
        return self.session.get(Moderator, moderator_id)

    def by_name(self, name: str) -> Moderator | None:
        return self.session.scalars(select(Moderator).where(Moderator.name == name)).first()

    def all(self) -> list[Moderator]:
        return list(self.session.scalars(select(Moderator).order_by(Moderator.id)))

    def any(self) -> bool:
        return self.session.scalars(select(Moderator.id).limit(1)).first() is not None

    def revoke(self, moderator: Moderator, at: datetime) -> None:
        moderator.revoked_at = at
