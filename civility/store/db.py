"""Engines and sessions. SQLite runs in WAL mode so the API and a worker can write side by side."""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
import select
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from civility.store.driver import DriverConnection
from civility.store.group_commit import GroupCommit

log = logging.getLogger(__name__)
T = TypeVar("T")

# SQLite copies the WAL's pages back into the database file (a checkpoint) when a commit leaves the
# WAL over 1,000 pages: inside that commit, under the write lock, with two fsyncs; with comments,
# every 75 or so. Each process checkpoints after every CHECKPOINT_EVERY of its writes instead, once
# the lock is released, which keeps the WAL under that mark (SQLite's own stays, as a safety net).
CHECKPOINT_EVERY = 32
# The session's key for how its SQLite write transaction begins (Database.transaction).
_BEGIN_WRITES = "civility.begin_writes"


def normalise_url(url: str) -> str:
    """Accept the usual ``postgresql://`` spelling and route it to psycopg 3."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def dialect_insert(session: Session, table: Any) -> Any:
    """An INSERT with the dialect's ``ON CONFLICT`` clauses (SQLite and PostgreSQL spell them alike)."""
    return (pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert)(table)


def make_engine(url: str, pool_size: int | None = None, *, max_overflow: int | None = None,
                pool_timeout: float | None = None, statement_timeout_ms: int = 0,
                prepared_statements: bool = True) -> Engine:
    """The engine for ``url``. The keyword settings apply to PostgreSQL only; SQLite ignores them.

    ``pool_size``, ``max_overflow``, ``pool_timeout``: the connection pool (None keeps SQLAlchemy's
    defaults). ``statement_timeout_ms``: the longest a statement may run (0: no limit).
    ``prepared_statements=False``: no server-side prepared statements, for PgBouncer in transaction
    mode; the statement timeout is then set per transaction (``SET LOCAL``), since consecutive
    transactions may run on different server connections. Otherwise it is set once per connection.
    """
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            path = Path(parsed.database)
            path.parent.mkdir(parents=True, exist_ok=True)
            # Readable by its owner only; SQLite gives the -wal and -shm files the same mode.
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # A write transaction begins later, under the write lock (Database.transaction).
            if not conn.get_execution_options().get("civility_write"):
                conn.exec_driver_sql("BEGIN")

        # pysqlite's own transaction handling must be off for the BEGIN above to take effect.
        @event.listens_for(engine, "connect", insert=True)
        def _sqlite_autocommit_off(dbapi_connection, _record):
            dbapi_connection.isolation_level = None

        return engine
    connect_args: dict[str, Any] = {"connect_timeout": 5}
    if not prepared_statements:
        # psycopg prepares a statement on the server after it ran a few times; a transaction pooler
        # would send the next EXECUTE to a server connection that never saw the PREPARE.
        connect_args["prepare_threshold"] = None
    options: dict[str, Any] = {"connect_args": connect_args}
    for name, value in (("pool_size", pool_size), ("max_overflow", max_overflow), ("pool_timeout", pool_timeout)):
        if value is not None:
            options[name] = value
    engine = create_engine(url, **options)

    # Stale connections are caught at checkout without SQLAlchemy's pre-ping, which costs a round
    # trip per checkout (docs/benchmarks.md); the pool then retries with another connection.
    @event.listens_for(engine, "checkout")
    def _discard_closed_by_server(dbapi_connection, _record, _proxy):
        if closed_by_server(dbapi_connection):
            raise DisconnectionError("the server closed this pooled connection")

    if statement_timeout_ms > 0:
        # Not the startup parameter ``options=-c statement_timeout=...``: PgBouncer refuses it unless
        # its ignore_startup_parameters lists it, and then drops it.
        setting = f"statement_timeout = {int(statement_timeout_ms)}"
        if prepared_statements:
            @event.listens_for(engine, "connect")
            def _statement_timeout(dbapi_connection, _record):
                autocommit = dbapi_connection.autocommit
                dbapi_connection.autocommit = True
                try:
                    dbapi_connection.execute(f"SET {setting}")
                finally:
                    dbapi_connection.autocommit = autocommit
        else:
            @event.listens_for(engine, "begin")
            def _statement_timeout_per_transaction(conn):
                conn.exec_driver_sql(f"SET LOCAL {setting}")
    return engine


def closed_by_server(dbapi_connection: Any) -> bool:
    """Whether the server has closed this idle psycopg connection: a restart, pg_terminate_backend,
    an idle timeout. The server says goodbye before closing, so the socket of an idle connection,
    which otherwise has nothing to read, then reads as ready. A connection whose network path died
    silently is not seen here (nor was it by a pre-ping): its next statement fails once the
    operating system gives up, and the connection is then invalidated."""
    if dbapi_connection.closed or dbapi_connection.broken:
        return True
    try:
        fd = dbapi_connection.pgconn.socket
    except Exception:  # noqa: BLE001 - psycopg raises when libpq has no socket: closed
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


class SQLiteWriteLock:
    """Queue SQLite writers on a lock file instead of SQLite's busy handler.

    SQLite allows one writer at a time. When a second process finds the database locked, its busy
    handler sleeps with growing back-off (1, 2, 5, 10 ... 100 ms), which turns contention into long
    stalls. A blocking flock wakes the next writer as soon as the lock is released. The thread lock
    covers threads of one process, which share the flock.
    """

    def __init__(self, database_path: str):
        self.path = database_path + ".write-lock"
        self._thread_lock = threading.Lock()
        self._fd: int | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._thread_lock:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


class Database:
    def __init__(self, url: str, pool_size: int | None = None, *, max_overflow: int | None = None,
                 pool_timeout: float | None = None, statement_timeout_ms: int = 0,
                 prepared_statements: bool = True):
        """Without the keywords (tests, tools): SQLAlchemy's pool defaults and no statement timeout.
        The service builds its database from the settings in ``civility.infra.runtime.database``."""
        self.url = normalise_url(url)
        self.engine = make_engine(url, pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout,
                                  statement_timeout_ms=statement_timeout_ms,
                                  prepared_statements=prepared_statements)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Behind PgBouncer (no prepared statements) the statement timeout is set per transaction.
        self._timeout_per_transaction = statement_timeout_ms > 0 and not prepared_statements
        # Called with the session after each committed transaction(); a hook must not raise.
        self.after_commit: list[Callable[[Session], None]] = []
        parsed = make_url(self.url)
        self._write_lock = None
        self._writes = itertools.count(1)
        self._group: GroupCommit | None = None
        if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
            self._write_lock = SQLiteWriteLock(parsed.database)
            self._group = GroupCommit(self._together, self._alone)

    @contextmanager
    def transaction(self, *, reads_first: bool = False) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any exception.

        ``reads_first``: the unit reads, then calls ``begin_writes(session)`` and writes. The reads are
        not atomic with the writes (as no read is on PostgreSQL, where each statement reads the rows
        committed when it starts), and writes must come after ``begin_writes``. On SQLite the write
        lock is taken only there, so that the reads (and any Python work) do not hold up every other
        writer. On PostgreSQL the reads run without a transaction, and writes that are one statement
        (``begin_writes(session, one_statement=True)``) too: that statement is atomic by itself, and
        the unit then costs no BEGIN and no COMMIT, two of a new comment's five round trips (but
        behind PgBouncer, whose statement timeout is set per transaction: the unit is one there)."""
        if self._write_lock is None:
            with self._sessions() as session, session.begin():
                if reads_first and self.engine.dialect.name == "postgresql" and not self._timeout_per_transaction:
                    self._postgres_reads_first(session)
                yield session
                if session.new or session.dirty or session.deleted:
                    self.begin_writes(session)
        else:
            # Everything SQLAlchemy does to lend a connection and to end the session happens outside
            # the lock, which the other writers are waiting for: under it, BEGIN IMMEDIATE (a write
            # transaction, so a read-then-write never fails on upgrade), the work and the COMMIT.
            with self._sessions() as session, session.begin(), ExitStack() as writing:
                lent = session.connection(execution_options={"civility_write": True})
                connection = DriverConnection(lent.connection.driver_connection, lent.dialect)

                def begin_writes(one_statement: bool) -> None:
                    session.info.pop(_BEGIN_WRITES, None)
                    writing.enter_context(self._sqlite_write(connection))

                session.info[_BEGIN_WRITES] = begin_writes
                if not reads_first:
                    begin_writes(False)
                yield session
                if session.new or session.dirty or session.deleted:
                    self.begin_writes(session)
                session.flush()
        # Committed (an exception skips this): what must follow a commit, e.g. enqueueing webhook deliveries.
        for hook in self.after_commit:
            hook(session)
        self._checkpoint_now_and_then()

    @staticmethod
    def _postgres_reads_first(session: Session) -> None:
        """The session's connection in autocommit until ``begin_writes``, which ends it unless the
        writes are one statement. SQLAlchemy puts the connection back in a transaction when the pool
        takes it back (tests/test_driver_statements.py)."""
        lent = session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        dbapi_connection: Any = lent.connection.driver_connection

        def begin_writes(one_statement: bool) -> None:
            session.info.pop(_BEGIN_WRITES, None)
            if not one_statement:
                dbapi_connection.autocommit = False  # the next statement begins the transaction

        session.info[_BEGIN_WRITES] = begin_writes

    @staticmethod
    def begin_writes(session: Session, *, one_statement: bool = False) -> None:
        """In a ``transaction(reads_first=True)``: what follows writes. On SQLite take the write lock
        and begin the write transaction; on PostgreSQL begin a transaction, unless ``one_statement``
        (the writes are a single statement, atomic by itself). Once begun, nothing."""
        begin = session.info.get(_BEGIN_WRITES)
        if begin is not None:
            begin(one_statement)

    @contextmanager
    def _sqlite_write(self, connection: DriverConnection) -> Iterator[None]:
        """SQLite: one write transaction on ``connection`` under the write lock, committed at the end
        of the block, rolled back on any exception."""
        with self._write_lock.held() if self._write_lock else nullcontext():
            connection.begin_immediate()
            try:
                yield
            except BaseException:
                connection.rollback()
                raise
            connection.commit()

    def _checkpoint_now_and_then(self) -> None:
        """SQLite: after every CHECKPOINT_EVERY committed writes of this process, a checkpoint, once
        the write lock and the writer's connection are released and its after-commit hooks have run."""
        if self._write_lock is None or next(self._writes) % CHECKPOINT_EVERY:
            return
        # The write is committed: nothing here may fail its request. SQLite's own checkpoint catches up.
        try:
            pooled = self.engine.raw_connection()
            try:
                DriverConnection(pooled.driver_connection, self.engine.dialect).checkpoint()
            finally:
                pooled.close()
        except Exception as error:  # noqa: BLE001
            log.warning("WAL checkpoint failed: %s", error)

    @contextmanager
    def driver_transaction(self) -> Iterator[DriverConnection]:
        """A unit of work made only of driver statements (civility.store.driver), on the driver's
        own connection: for the hottest writes. On SQLite one transaction under the write lock, which
        is taken after the connection is; on PostgreSQL autocommit, so each statement commits by
        itself and the unit must be a single statement (behind PgBouncer, without prepared statements,
        the per-transaction statement timeout does not reach it). The after-commit hooks do not run:
        nothing here can leave work for them."""
        pooled = self.engine.raw_connection()
        dbapi_connection: Any = pooled.driver_connection
        connection = DriverConnection(dbapi_connection, self.engine.dialect)
        try:
            if self.engine.dialect.name == "postgresql":
                dbapi_connection.autocommit = True
                try:
                    yield connection
                finally:
                    if not connection.invalidated:  # back to the pool as SQLAlchemy lent it
                        dbapi_connection.autocommit = False
                return
            with self._sqlite_write(connection):
                yield connection
        except BaseException:
            if connection.invalidated:
                pooled.invalidate()
            raise
        finally:
            pooled.close()
        self._checkpoint_now_and_then()

    def grouped(self, unit: Callable[[DriverConnection], T]) -> T:
        """``unit`` (driver statements only, as in ``driver_transaction``) committed, and its result.
        On SQLite the units that threads of this process submit meanwhile are committed together,
        in one transaction under one hold of the write lock (civility.store.group_commit); a unit may
        then run twice, so it must only run statements. On PostgreSQL a unit of one statement, in
        autocommit: the server commits concurrent statements together by itself."""
        if self._group is None:
            return self._alone(unit)
        return self._group(unit)

    def _alone(self, unit: Callable[[DriverConnection], T]) -> T:
        with self.driver_transaction() as connection:
            return unit(connection)

    def _together(self, units: list[Callable[[DriverConnection], Any]]) -> list[Any]:
        with self.driver_transaction() as connection:
            return [unit(connection) for unit in units]

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads only. On PostgreSQL its statements run without a transaction: each
        reads the rows committed when it starts, as it would in a READ COMMITTED transaction, and the
        read costs no BEGIN and no ROLLBACK (two of a thread page's six round trips). Behind PgBouncer,
        whose statement timeout is set per transaction, it is one transaction."""
        with self._sessions() as session:
            if self.engine.dialect.name == "postgresql" and not self._timeout_per_transaction:
                session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            yield session

    def ping(self) -> None:
        """Raises if the database cannot be reached (readiness)."""
        with self._sessions() as session:
            session.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
