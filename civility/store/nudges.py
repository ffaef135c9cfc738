"""Daily counts of the nudge before posting (table ``nudge_counts``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from civility.store.db import dialect_insert
from civility.store.models import NudgeCount


class NudgeRepository:
    def __init__(self, session: Session):
        self.session = session

    def bump(self, day: str, kind: str, n: int = 1) -> None:
        stmt = dialect_insert(self.session, NudgeCount).values(day=day, kind=kind, count=n)
        stmt = stmt.on_conflict_do_update(index_elements=["day", "kind"], set_={"count": NudgeCount.count + n})
        self.session.execute(stmt)

    def counts_since(self, first_day: str) -> dict[str, dict[str, int]]:
        """day (YYYY-MM-DD) -> kind -> count, for ``first_day`` and later."""
        result: dict[str, dict[str, int]] = {}
        rows = self.session.execute(select(NudgeCount.day, NudgeCount.kind, NudgeCount.count)
                                    .where(NudgeCount.day >= first_day))
        for day, kind, count in rows:
            result.setdefault(day, {})[kind] = count
        return result
