"""SQLite's WAL is copied back into the database file every few writes of a process, once the write
lock is released, instead of inside a commit under the lock (civility.store.db.CHECKPOINT_EVERY)."""

import fcntl
import os

from sqlalchemy import event, select

from civility.store.db import CHECKPOINT_EVERY, Database
from civility.store.engagement import add_share
from civility.store.migrate import upgrade
from civility.store.models import ShareEvent, utcnow


def test_the_wal_is_checkpointed_every_few_writes_with_the_write_lock_free(tmp_path):
    path = tmp_path / "civility.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    db = Database(url)
    lock_file = os.open(f"{path}.write-lock", os.O_RDWR | os.O_CREAT, 0o600)
    checkpoints: list[bool] = []  # for each checkpoint: was the write lock free?

    def lock_is_free() -> bool:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(lock_file, fcntl.LOCK_UN)
        return True

    def traced(sql: str) -> None:
        if "wal_checkpoint" in sql:
            checkpoints.append(lock_is_free())

    event.listen(db.engine, "connect", lambda dbapi_connection, _record: dbapi_connection.set_trace_callback(traced))
    for n in range(3 * CHECKPOINT_EVERY):
        if n % 2:
            with db.driver_transaction() as connection:
                add_share(connection, "news/a", "x", f"reader-{n}", utcnow())
        else:
            with db.transaction() as session:
                session.add(ShareEvent(article_id="news/b", network="x", client=f"reader-{n}", created_at=utcnow()))
    assert checkpoints == [True, True, True]
    with db.read() as session:
        assert len(session.scalars(select(ShareEvent)).all()) == 3 * CHECKPOINT_EVERY
    os.close(lock_file)
    db.dispose()
