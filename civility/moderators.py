"""Moderator tokens: shown once, stored only as a SHA-256 hash, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from civility.errors import Conflict, Invalid
from civility.store.db import Database
from civility.store.models import Moderator, utcnow
from civility.store.moderators import ModeratorRepository

ROLES = ("moderator", "admin")
ADMIN = "admin"
TOKEN_PREFIX = "civ"


@dataclass(frozen=True)
class ModeratorIdentity:
    id: int
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_moderator(db: Database, name: str, role: str = "moderator") -> str:
    """Create a moderator and return the token; it cannot be recovered later."""
    name = name.strip()
    if not name or len(name) > 64:
        raise Invalid("invalid moderator name", {"name": ["1 to 64 characters"]})
    if role not in ROLES:
        raise Invalid("invalid role", {"role": [f"one of {', '.join(ROLES)}"]})
    secret = secrets.token_urlsafe(32)
    try:
        with db.transaction() as session:
            moderator_id = ModeratorRepository(session).add(name, role, _hash(secret))
    except IntegrityError as exc:
        raise Conflict(f"a moderator named {name!r} already exists") from exc
    return f"{TOKEN_PREFIX}_{moderator_id}_{secret}"


def authenticate(db: Database, token: str | None) -> ModeratorIdentity | None:
    if not token:
        return None
    prefix, _, rest = token.partition("_")
    moderator_id, _, secret = rest.partition("_")
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    if prefix != TOKEN_PREFIX or not re.fullmatch(r"[0-9]{1,18}", moderator_id) or not secret:
        return None
    with db.read() as session:
        moderator = ModeratorRepository(session).get(int(moderator_id))
        if moderator is None or moderator.revoked_at is not None:
            # Hash anyway so an unknown id costs the same as a wrong secret.
            hmac.compare_digest(_hash(secret), _hash(""))
            return None
        if not hmac.compare_digest(_hash(secret), moderator.token_hash):
            return None
        return ModeratorIdentity(moderator.id, moderator.name, moderator.role)


def list_moderators(db: Database) -> list[Moderator]:
    with db.read() as session:
        return ModeratorRepository(session).all()


def revoke_moderator(db: Database, name: str) -> bool:
    with db.transaction() as session:
        repo = ModeratorRepository(session)
        moderator = repo.by_name(name)
        if moderator is None or moderator.revoked_at is not None:
            return False
        repo.revoke(moderator, utcnow())
        return True


def any_moderators(db: Database) -> bool:
    with db.read() as session:
        return ModeratorRepository(session).any()
