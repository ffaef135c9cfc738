"""Secrets of this installation, generated once and shared by every process through the database."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from civility.store.db import dialect_insert
from civility.store.models import InstanceSecret


class InstanceSecretRepository:
    def __init__(self, session: Session):
        self.session = session

    def get_or_create(self, name: str, candidate: str) -> str:
        """The stored value of ``name``; ``candidate`` becomes it if none exists (first writer wins)."""
        self.session.execute(dialect_insert(self.session, InstanceSecret).values(name=name, value=candidate)
                             .on_conflict_do_nothing(index_elements=["name"]))
        return self.session.scalars(select(InstanceSecret.value).where(InstanceSecret.name == name)).one()
