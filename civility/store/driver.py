"""The hottest writes, run on the database driver's own connection.

SQLAlchemy's machinery around a statement (the session, the connection's events, the execution
context, the result) costs several times what the database takes to run it: about 150 µs of Python
against 30 µs of SQLite for a share. On SQLite that time is spent holding the database's single
write lock, and under load the worker's other threads take turns on the GIL meanwhile, so every
microsecond in the lock became several for each writer queued behind it (docs/benchmarks.md).

``DriverStatement`` compiles a Core statement once per dialect, with SQLAlchemy's own compiler and
type processors, and runs it on the DBAPI cursor; on PostgreSQL on libpq, beneath psycopg's cursor
(civility.store.libpq). ``Database.driver_transaction`` hands out the
connection for a unit of work made only of such statements. The statements stay Core statements,
written once for both databases; only their execution is lighter.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnDefault, Insert, Table, bindparam, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from civility.store import libpq


@dataclass(frozen=True)
class _Parameter:
    name: str  # in the compiled SQL
    key: str  # in the parameters given to ``DriverStatement.run``
    fixed: Any  # the value of a bound literal (``literal(1)``), which takes no parameter
    process: Callable[[Any], Any] | None  # the column type's conversion for the driver


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: bool
    parameters: tuple[_Parameter, ...]
    # The result columns' conversions from the driver (a JSON column as text on SQLite), if any.
    results: tuple[Callable[[Any], Any] | None, ...] | None


class DriverStatement:
    """A Core statement compiled once per dialect and run on the DBAPI connection.

    The statement may take named ``bindparam`` values and bound literals; it must not need
    SQLAlchemy at run time (no expanding ``IN``, no ORM entities, no Python-side column defaults:
    give every value, ``insert_values`` helps). ``None`` is SQL NULL, in a JSON column too."""

    def __init__(self, statement: ClauseElement):
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = self._compile(dialect)
        return compiled

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiler = cast(SQLCompiler, self.statement.compile(dialect=dialect))
        by_name = {name: bind for bind, name in compiler.bind_names.items()}
        names = compiler.positiontup if compiler.positional else list(dict.fromkeys(by_name))
        parameters = []
        for name in names or ():
            bind = by_name[name]
            named = not bind.unique  # a unique (anonymous) bind holds a literal's value
            parameters.append(_Parameter(name, bind.key if named else "", None if named else bind.value,
                                         bind.type.dialect_impl(dialect).bind_processor(dialect)))
        columns = getattr(self.statement, "exported_columns", ())
        results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
        return _Compiled(compiler.string, compiler.positional, tuple(parameters),
                         results if any(results) else None)

    def rows(self, dialect: Dialect, fetched: list[tuple]) -> list[tuple]:
        """The driver's rows as SQLAlchemy would give them (converted by the columns' types)."""
        results = self.compiled(dialect).results
        if results is None:
            return fetched
        return [tuple(value if convert is None else convert(value)
                      for convert, value in zip(results, row, strict=True)) for row in fetched]

    def arguments(self, dialect: Dialect, params: Mapping[str, Any]) -> tuple[str, Sequence[Any] | dict[str, Any]]:
        """The SQL and the driver's arguments for ``params``."""
        compiled = self.compiled(dialect)
        values = []
        for p in compiled.parameters:
            value = params[p.key] if p.key else p.fixed
            values.append(p.process(value) if p.process is not None and value is not None else value)
        if compiled.positional:
            return compiled.sql, values
        return compiled.sql, {p.name: value for p, value in zip(compiled.parameters, values, strict=True)}


def insert_all(table: Table) -> Insert:
    """An INSERT of every column but the autoincremented key, each from the parameter named after it
    (``insert_values`` gives them)."""
    return insert(table).values({c.key: bindparam(c.key, type_=c.type) for c in table.c
                                 if c is not table.autoincrement_column})


def insert_values(table: Table, given: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of ``insert_all(table)``: those given, the columns' Python-side defaults for
    the others (as SQLAlchemy computes them for an insert), NULL for the rest."""
    values = {}
    for key, default in _defaults(table):
        if key in given:
            values[key] = given[key]
        elif default is None:
            values[key] = None
        else:
            values[key] = default.arg(None) if default.is_callable else default.arg
    return values


@functools.cache
def _defaults(table: Table) -> tuple[tuple[str, ColumnDefault | None], ...]:
    """(key, Python-side default or None) of each column ``insert_all`` sets, found once per table:
    a new comment's insert runs under SQLite's write lock."""
    return tuple((c.key, c.default if isinstance(c.default, ColumnDefault) else None)
                 for c in table.c if c is not table.autoincrement_column)


def driver_connection(session: Session) -> DriverConnection:
    """The driver's connection under ``session``'s transaction: driver statements run in it, with
    the session's other statements."""
    connection = session.connection()
    return DriverConnection(connection.connection.driver_connection, connection.dialect)


class DriverConnection:
    """The DBAPI connection of a ``Database.driver_transaction``."""

    def __init__(self, dbapi_connection: Any, dialect: Dialect):
        self.dbapi_connection = dbapi_connection
        self.dialect = dialect
        self.invalidated = False

    def run(self, statement: DriverStatement, params: Mapping[str, Any]) -> list[tuple]:
        """The statement's rows (none for a statement without RETURNING), converted as SQLAlchemy
        converts them. The driver's errors are raised as SQLAlchemy raises them (``DBAPIError``, e.g.
        ``OperationalError``), so that they are answered as any other database error; ``invalidated``
        tells whether the connection is lost."""
        return self.run_bound(statement, statement.arguments(self.dialect, params))

    def run_bound(self, statement: DriverStatement, bound: tuple[str, Any]) -> list[tuple]:
        """``run`` with the SQL and arguments ``statement.arguments`` gave: bound ahead of time."""
        sql, arguments = bound
        if self.dialect.name == "postgresql":
            try:
                rows = libpq.run(self.dbapi_connection, sql, arguments)
            except self.dialect.loaded_dbapi.Error as error:
                raise self._failed(error, sql, arguments, None) from error
            if rows is not None:
                return statement.rows(self.dialect, rows)
        cursor = self.dbapi_connection.cursor()
        try:
            cursor.execute(sql, arguments)
            return statement.rows(self.dialect, cursor.fetchall()) if cursor.description is not None else []
        except self.dialect.loaded_dbapi.Error as error:
            raise self._failed(error, sql, arguments, cursor) from error
        finally:
            cursor.close()

    def begin_immediate(self) -> None:
        """SQLite: begin a transaction that holds the database's write lock."""
        self._call(self.dbapi_connection.execute, "BEGIN IMMEDIATE")

    def checkpoint(self) -> None:
        """SQLite: copy the WAL's committed pages into the database file, as far as readers allow,
        without waiting for them or for writers (a PASSIVE checkpoint)."""
        self._call(lambda sql: self.dbapi_connection.execute(sql).fetchall(), "PRAGMA wal_checkpoint(PASSIVE)")

    def commit(self) -> None:
        self._call(self.dbapi_connection.commit)

    def rollback(self) -> None:
        self._call(self.dbapi_connection.rollback)

    def _call(self, method: Callable[..., Any], *args: Any) -> None:
        try:
            method(*args)
        except self.dialect.loaded_dbapi.Error as error:
            raise self._failed(error, args[0] if args else method.__name__.upper(), (), None) from error

    def _failed(self, error: Any, sql: str, arguments: Any, cursor: Any) -> Exception:
        self.invalidated = self.dialect.is_disconnect(error, self.dbapi_connection, cursor)
        return DBAPIError.instance(sql, arguments, error, self.dialect.loaded_dbapi.Error,
                                   connection_invalidated=self.invalidated, dialect=self.dialect)
