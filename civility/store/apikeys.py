"""The API key repository (the Perspective-compatible API): names, quotas and the hashes of keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from civility.store.models import ApiKey


class ApiKeyRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, name: str, key_hash: str, qps: int) -> int:
        """The new key's id; a taken name raises ``IntegrityError`` when flushed here."""
        key = ApiKey(name=name, key_hash=key_hash, qps=qps)
        self.session.add(key)
        self.session.flush()
        return key.id

    def by_hash(self, key_hash: str) -> ApiKey | None:
        return self.session.scalars(select(ApiKey).where(ApiKey.key_hash == key_hash)).first()

    def by_name(self, name: str) -> ApiKey | None:
        return self.session.scalars(select(ApiKey).where(ApiKey.name == name)).first()

    def all(self) -> list[ApiKey]:
        return list(self.session.scalars(select(ApiKey).order_by(ApiKey.id)))

    def revoke(self, key: ApiKey, at: datetime) -> None:
        key.revoked_at = at
