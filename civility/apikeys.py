"""API keys for the Perspective-compatible API: shown once, stored only as a SHA-256 hash.

A key is ``civk_`` and 43 random URL-safe characters (256 bits), so looking it up by its hash
leaks nothing useful through timing. Each key has a quota in requests a second (``qps``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from civility.errors import Conflict, Invalid
from civility.store.apikeys import ApiKeyRepository
from civility.store.db import Database
from civility.store.models import ApiKey, utcnow

KEY_PREFIX = "civk_"
MAX_KEY_CHARS = 128
MAX_QPS = 10_000
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}")


@dataclass(frozen=True)
class ApiKeyIdentity:
    name: str
    qps: int


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(db: Database, name: str, qps: int = 1) -> str:
    """Create a key and return it; it cannot be recovered later."""
    name = name.strip()
    if not NAME.fullmatch(name):
        raise Invalid("invalid key name", {"name": ["1 to 64 letters, digits and ._:@- (starting with a letter or "
                                                    "digit)"]})
    if not 1 <= qps <= MAX_QPS:
        raise Invalid("invalid qps", {"qps": [f"1 to {MAX_QPS}"]})
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    try:
        with db.transaction() as session:
            ApiKeyRepository(session).add(name, _hash(key), qps)
    except IntegrityError as exc:
        raise Conflict(f"an API key named {name!r} already exists") from exc
    return key


def authenticate(db: Database, key: str | None) -> ApiKeyIdentity | None:
    if not key or len(key) > MAX_KEY_CHARS or not key.startswith(KEY_PREFIX) or not key.isascii():
        return None
    with db.read() as session:
        found = ApiKeyRepository(session).by_hash(_hash(key))
        if found is None or found.revoked_at is not None:
            return None
        return ApiKeyIdentity(found.name, found.qps)


def list_keys(db: Database) -> list[ApiKey]:
    with db.read() as session:
        return ApiKeyRepository(session).all()


def revoke_key(db: Database, name: str) -> bool:
    with db.transaction() as session:
        repo = ApiKeyRepository(session)
        key = repo.by_name(name)
        if key is None or key.revoked_at is not None:
            return False
        repo.revoke(key, utcnow())
        return True
