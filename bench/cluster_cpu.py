"""The ``others`` figure of bench/cluster.py: CPU used by processes outside the benchmark.

Like ``harness.OtherLoad``, but the benchmark's processes change while it runs (a worker is killed
and started again, PostgreSQL opens backends for its pools), so its own CPU is summed per process
over every process seen: its descendants and the PostgreSQL backends connected to its database.
"""

from __future__ import annotations

import os
from pathlib import Path


def _cpu_ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime of all its threads


def _machine() -> tuple[int, int]:
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    total = sum(values[:8])
    return total, total - values[3] - values[4]


def _descendants(root: int) -> set[int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
    found, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in found]
        found.update(children)
        frontier += children
    return found


class OwnCPU:
    def __init__(self, conn, database: str):
        self.conn, self.database = conn, database
        self.start_machine = _machine()
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.sample()
        self.first = dict(self.last)  # what processes already running had used before the start

    def _pids(self) -> set[int]:
        rows = self.conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,))
        return _descendants(os.getpid()) | {row[0] for row in rows}

    def sample(self) -> None:
        for pid in self._pids():
            ticks = _cpu_ticks(pid)
            if ticks is not None:
                self.last[pid] = ticks

    def others(self) -> float:
        self.sample()
        total, busy = _machine()
        elapsed = total - self.start_machine[0]
        own = sum(ticks - self.first.get(pid, 0) for pid, ticks in self.last.items())
        return max(0.0, (busy - self.start_machine[1]) - own) / elapsed if elapsed else 0.0
