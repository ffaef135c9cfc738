"""Group commit (civility/store/group_commit.py): concurrent writes of a process committed together."""

from __future__ import annotations

import concurrent.futures
import threading
import time

import pytest
from sqlalchemy import text

from civility.store.db import Database
from civility.store.group_commit import MAX_GROUP, GroupCommit
from civility.store.migrate import upgrade


class Transactions:
    """``together`` and ``alone`` for a GroupCommit, keeping each transaction's units: a unit is a
    function of the (here, absent) connection."""

    def __init__(self, first_holds: threading.Event | None = None):
        self.groups: list[list] = []
        self.alone_runs: list = []
        self.first_holds = first_holds
        self.started = threading.Event()

    def together(self, units):
        self.groups.append(units)
        self.started.set()
        if self.first_holds is not None and len(self.groups) == 1:
            assert self.first_holds.wait(10)
        return [unit(None) for unit in units]

    def alone(self, unit):
        self.alone_runs.append(unit)
        return unit(None)


def until_queued(group: GroupCommit, count: int) -> None:
    deadline = time.monotonic() + 10
    while group.queued < count:
        assert time.monotonic() < deadline, f"{group.queued} writes queued, not {count}"
        time.sleep(0.001)


def test_writes_queued_behind_a_transaction_commit_together_and_each_caller_gets_its_own_result():
    release = threading.Event()
    transactions = Transactions(first_holds=release)
    group = GroupCommit(transactions.together, transactions.alone)
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        first = pool.submit(group, lambda _: "first")
        assert transactions.started.wait(10)
        queued = [pool.submit(group, lambda _, n=n: n * 10) for n in range(5)]
        until_queued(group, 5)  # the five wait for the first transaction
        release.set()
        assert first.result(10) == "first"
        assert [f.result(10) for f in queued] == [0, 10, 20, 30, 40]
    assert [len(g) for g in transactions.groups] == [1, 5]


def test_a_unit_that_fails_fails_only_its_own_caller():
    release = threading.Event()
    transactions = Transactions(first_holds=release)
    group = GroupCommit(transactions.together, transactions.alone)

    def refused(_):
        raise ValueError("this one is refused")

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        first = pool.submit(group, lambda _: "first")
        assert transactions.started.wait(10)
        fine = pool.submit(group, lambda _: "fine")
        bad = pool.submit(group, refused)
        also_fine = pool.submit(group, lambda _: "also fine")
        until_queued(group, 3)
        release.set()
        assert first.result(10) == "first"
        assert fine.result(10) == "fine" and also_fine.result(10) == "also fine"
        with pytest.raises(ValueError, match="refused"):
            bad.result(10)
    # The failed group's units ran again one by one.
    assert len(transactions.alone_runs) == 3


def test_many_threads_each_get_their_answer_and_groups_stay_bounded():
    transactions = Transactions()
    group = GroupCommit(transactions.together, transactions.alone)
    with concurrent.futures.ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(lambda n: group(lambda _: n), range(2000)))
    assert answers == list(range(2000))
    assert sum(len(g) for g in transactions.groups) == 2000
    assert max(len(g) for g in transactions.groups) <= MAX_GROUP


def test_grouped_writes_on_sqlite_see_each_other_and_are_all_committed(tmp_path):
    url = f"sqlite:///{tmp_path / 'group.db'}"
    upgrade(url)
    db = Database(url)
    with db.transaction() as session:
        session.execute(text("CREATE TABLE tally (n INTEGER NOT NULL UNIQUE)"))

    def add(n):
        def unit(connection):
            # Inserted unless there already: a unit sees the rows of those committed with it.
            return bool(connection.dbapi_connection.execute(
                "INSERT INTO tally (n) SELECT ? WHERE NOT EXISTS (SELECT 1 FROM tally WHERE n = ?)",
                (n, n)).rowcount)
        return db.grouped(unit)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        inserted = list(pool.map(add, [n % 100 for n in range(400)]))
    assert sum(inserted) == 100
    with db.read() as session:
        assert session.execute(text("SELECT count(*) FROM tally")).scalar() == 100
    db.dispose()
