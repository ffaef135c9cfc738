"""The word-list repository: the entries of each list and the version that tells processes it changed."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from civility.store.db import dialect_insert, normalise_url
from civility.store.models import WordListEntry, WordListVersion, utcnow


class WordListRepository:
    def __init__(self, session: Session):
        self.session = session

    def entries(self, kind: str) -> list[WordListEntry]:
        """The entries of one list, oldest first."""
        return list(self.session.scalars(select(WordListEntry).where(WordListEntry.kind == kind)
                                         .order_by(WordListEntry.id)))

    def all_entries(self) -> list[tuple[str, str]]:
        """(kind, entry) of every list, oldest first: what a matcher is built from."""
        rows = self.session.execute(select(WordListEntry.kind, WordListEntry.entry).order_by(WordListEntry.id))
        return [(kind, entry) for kind, entry in rows]

    def add(self, kind: str, entries: list[str], by: str | None, at: datetime) -> None:
        self.session.add_all(WordListEntry(kind=kind, entry=e, created_at=at, created_by=by) for e in entries)
        self.session.flush()

    def remove(self, kind: str, entry_ids: list[int]) -> None:
        if entry_ids:
            self.session.execute(delete(WordListEntry).where(WordListEntry.kind == kind,
                                                             WordListEntry.id.in_(entry_ids)))

    def clear(self, kind: str) -> None:
        self.session.execute(delete(WordListEntry).where(WordListEntry.kind == kind))

    def versions(self) -> dict[str, int]:
        """Each list's version (a list never changed has none): one small query, made every few seconds."""
        rows = self.session.execute(select(WordListVersion.kind, WordListVersion.version))
        return {kind: version for kind, version in rows}

    def version(self, kind: str, for_update: bool = False) -> WordListVersion | None:
        """The version row; with ``for_update`` it is created if missing and locked, so that writers of
        one list take turns (the last one to commit saw the others' changes)."""
        if for_update:
            self.session.execute(dialect_insert(self.session, WordListVersion)
                                 .values(kind=kind, version=0, updated_at=utcnow())
                                 .on_conflict_do_nothing(index_elements=["kind"]))
        query = select(WordListVersion).where(WordListVersion.kind == kind)
        if for_update:
            query = query.with_for_update()
        return self.session.scalars(query).first()

    def bump(self, row: WordListVersion, by: str | None, at: datetime) -> None:
        row.version = row.version + 1
        row.updated_at = at
        row.updated_by = by


def missing_sqlite_file(url: str) -> str | None:
    """The path of an SQLite database file that does not exist (opening it would create an empty
    one), else None: `civility score` then scores without word lists instead."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return None if Path(parsed.database).exists() else parsed.database
    return None
