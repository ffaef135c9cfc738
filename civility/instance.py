"""Secrets of this installation that no operator should have to invent: the client-hash salt."""

from __future__ import annotations

import logging
import secrets
import threading

from civility.store.db import Database
from civility.store.instance import InstanceSecretRepository

log = logging.getLogger(__name__)

PLACEHOLDER_SALT = "change-me"


class ClientHashSalt:
    """``CIVILITY_CLIENT_HASH_SALT`` if set; else a random salt made on first use and kept in the
    database, so that every API process (on every machine) hashes readers alike.

    Read lazily: an API process starts even while the database is down.
    """

    def __init__(self, db: Database, configured: str | None):
        self._db = db
        self._value = configured
        self._lock = threading.Lock()
        if configured == PLACEHOLDER_SALT:
            log.warning("CIVILITY_CLIENT_HASH_SALT is the placeholder %r: anyone can recompute reader hashes; "
                        "unset it (a random salt is then kept in the database) or set a secret", PLACEHOLDER_SALT)

    def __call__(self) -> str:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    with self._db.transaction() as session:
                        self._value = InstanceSecretRepository(session).get_or_create(
                            "client_hash_salt", secrets.token_hex(32))
        return self._value
