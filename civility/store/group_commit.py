"""Concurrent writes of one process committed together, in one SQLite transaction (group commit).

SQLite takes one writer at a time. Every transaction pays for the write lock (a thread lock, then
the file lock that queues the processes), BEGIN IMMEDIATE and COMMIT, and under load a process's
threads queue for that lock one by one, trading the GIL on every statement run under it. With a
``GroupCommit`` the first writer leads: it takes the units of work queued so far, its own first,
and runs them in order in one transaction while the others wait for their results; then it hands
the lead to the first unit queued since, and returns. Each unit sees the writes of the units before
it, as it would had each committed by itself. If the group's transaction fails, each of its units
runs again in a transaction of its own, so a unit that fails fails only its own caller.

A unit is a function of the driver connection that only runs statements on it: it may run twice
(once in a group that failed), and its caller gets its result only once it is committed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from civility.store.driver import DriverConnection

T = TypeVar("T")
Unit = Callable[[DriverConnection], Any]

# At most this many units per transaction: a leader's wait for its own answer stays short.
MAX_GROUP = 32


class _Waiting(Generic[T]):
    __slots__ = ("unit", "result", "error", "answered", "leads", "wake")

    def __init__(self, unit: Callable[[DriverConnection], T]):
        self.unit = unit
        self.result: T | None = None
        self.error: BaseException | None = None
        self.answered = False
        self.leads = False
        self.wake = threading.Event()

    def answer(self) -> T:
        if self.error is not None:
            raise self.error
        if not self.answered:
            raise RuntimeError("the write was not run: its group's leader stopped first")
        return self.result  # type: ignore[return-value]


class GroupCommit:
    def __init__(self, together: Callable[[list[Unit]], list[Any]], alone: Callable[[Unit], Any]):
        """``together``: runs the units in one transaction and returns their results in order;
        ``alone``: runs one unit in a transaction of its own."""
        self._together, self._alone = together, alone
        self._lock = threading.Lock()
        self._queue: list[_Waiting] = []
        self._leading = False

    @property
    def queued(self) -> int:
        """Units waiting for a transaction (not those in one)."""
        with self._lock:
            return len(self._queue)

    def __call__(self, unit: Callable[[DriverConnection], T]) -> T:
        """``unit``'s result once it is committed; its exception if it failed."""
        me: _Waiting[T] = _Waiting(unit)
        with self._lock:
            self._queue.append(me)
            follows, self._leading = self._leading, True
        if follows:
            me.wake.wait()
            if not me.leads:
                return me.answer()
        with self._lock:
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
        try:
            self._write(group)
        finally:
            with self._lock:
                after = self._queue[0] if self._queue else None
                if after is None:
                    self._leading = False
                else:
                    after.leads = True
            for waiting in group:
                waiting.wake.set()
            if after is not None:
                after.wake.set()
        return me.answer()

    def _write(self, group: list[_Waiting]) -> None:
        try:
            results = self._together([waiting.unit for waiting in group])
        except Exception as error:  # noqa: BLE001 - each unit gets its own answer below
            if len(group) == 1:
                group[0].error = error
                return
            for waiting in group:
                try:
                    waiting.result, waiting.answered = self._alone(waiting.unit), True
                except Exception as own:  # noqa: BLE001 - this unit's caller raises it
                    waiting.error = own
            return
        for waiting, result in zip(group, results, strict=True):
            waiting.result, waiting.answered = result, True
