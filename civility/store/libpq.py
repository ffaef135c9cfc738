"""PostgreSQL: a driver statement (civility.store.driver) run by libpq itself, through psycopg's
wrapper of it (``psycopg.pq``) and psycopg's adaptation of values (``Transformer``).

psycopg's cursor spends about 60 µs of Python per statement around what libpq does (converting the
query, its prepared-statement bookkeeping, a generator polling the socket): a fifth of what a share
costs civility in process (docs/benchmarks.md). libpq's blocking call waits with the GIL released.
What psycopg would send is sent here too: the same parameters, dumped by the connection's adapters,
to a statement prepared on the server once per connection (unnamed where prepared statements are
off, for PgBouncer in transaction mode). Rows are loaded by the connection's loaders, and errors
raised as psycopg raises them.

Only in autocommit, as a share and a new comment's one statement run: psycopg deallocates every
prepared statement, these too, after any rollback, and only outside a transaction can a statement
that found its preparation gone be sent again. Elsewhere (in a transaction, in a process where gevent
patched the sockets) ``run`` answers None and the cursor runs the statement.
"""

from __future__ import annotations

import functools
import itertools
import re
import sys
import weakref
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer

_PLACEHOLDER = re.compile(r"%%|%\(([^)]+)\)s")  # psycopg's named placeholders, and its escaped %
_NO_SUCH_STATEMENT = b"26000"  # invalid_sql_statement_name: the server lost what was prepared
_names = itertools.count(1)


@functools.cache
def _numbered(sql: str) -> tuple[bytes, tuple[str, ...]]:
    """``sql`` (psycopg's ``%(name)s`` style) with libpq's ``$n`` placeholders, and the parameter
    name each ``$n`` takes."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PLACEHOLDER.sub(number, sql).encode(), tuple(names)


# The statements prepared on each connection, by SQL and parameter types (as psycopg keys its own).
_prepared: weakref.WeakKeyDictionary[psycopg.Connection[Any], dict[tuple[bytes, Any], bytes]] = (
    weakref.WeakKeyDictionary())


def run(connection: psycopg.Connection[Any], sql: str, arguments: Mapping[str, Any]) -> list[tuple] | None:
    """The rows of ``sql`` with ``arguments`` (none for a statement without rows), or None where
    psycopg's cursor must run it. Raises psycopg's errors."""
    pgconn = connection.pgconn
    if not (connection.autocommit and pgconn.transaction_status == pq.TransactionStatus.IDLE):
        return None
    if "gevent.monkey" in sys.modules:  # libpq's wait would block every greenlet; psycopg's yields
        return None
    numbered, names = _numbered(sql)
    transformer = Transformer(connection)  # one per query, as a cursor has
    # Any: psycopg types exec_prepared's parameters without None, though it takes None for NULL.
    params: Any = transformer.dump_sequence([arguments[name] for name in names], [PyFormat.AUTO] * len(names))
    if connection.prepare_threshold is None:
        result = pgconn.exec_params(numbered, params, transformer.types, transformer.formats)
    else:
        result = pgconn.exec_prepared(_prepared_name(connection, numbered, transformer.types), params,
                                      transformer.formats)
        if result.error_field(pq.DiagnosticField.SQLSTATE) == _NO_SUCH_STATEMENT:
            # psycopg deallocates every prepared statement after a rollback: prepare it again.
            # In autocommit the failed statement did nothing, so it is simply sent again.
            _prepared.pop(connection, None)
            result = pgconn.exec_prepared(_prepared_name(connection, numbered, transformer.types), params,
                                          transformer.formats)
    _check(connection, result)
    if result.status != pq.ExecStatus.TUPLES_OK:
        return []
    transformer.set_pgresult(result)
    return transformer.load_rows(0, result.ntuples, tuple)


def _prepared_name(connection: psycopg.Connection[Any], numbered: bytes, types: Any) -> bytes:
    prepared = _prepared.get(connection)
    if prepared is None:
        prepared = _prepared[connection] = {}
    name = prepared.get((numbered, types))
    if name is None:
        name = f"civility_{next(_names)}".encode()
        _check(connection, connection.pgconn.prepare(name, numbered, types))
        prepared[numbered, types] = name
    return name


def _check(connection: psycopg.Connection[Any], result: pq.abc.PGresult) -> None:
    if result.status in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
        return
    encoding = connection.info.encoding
    if connection.pgconn.status == pq.ConnStatus.BAD:  # lost, as psycopg reports it
        raise psycopg.OperationalError(pq.error_message(connection.pgconn, encoding))
    raise psycopg.errors.error_from_result(result, encoding=encoding)
