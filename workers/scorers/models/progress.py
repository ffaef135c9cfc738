"""Progress of a download, an import or a copy: none, a line every few seconds, or a tqdm bar."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, Protocol


class Progress(Protocol):
    def start(self, label: str, total: int | None, done: int) -> None: ...
    def update(self, count: int) -> None: ...
    def finish(self) -> None: ...


class NoProgress:
    def start(self, label: str, total: int | None, done: int) -> None:
        pass

    def update(self, count: int) -> None:
        pass

    def finish(self) -> None:
        pass


class LineProgress:
    """A line every ``interval`` seconds (a worker's log, a Docker build): no carriage returns."""

    def __init__(self, emit: Callable[[str], None], interval: float = 5.0, verb: str = "pulling"):
        self.emit = emit
        self.interval = interval
        self.verb = verb
        self.label = ""
        self.total: int | None = None
        self.done = 0
        self.last = 0.0

    def start(self, label: str, total: int | None, done: int) -> None:
        self.label, self.total, self.done, self.last = label, total, done, time.monotonic()
        resumed = f", resuming at {done / 1e6:.1f} MB" if done else ""
        size = f" ({total / 1e6:.1f} MB{resumed})" if total else resumed
        self.emit(f"{self.verb} {label}{size}")

    def update(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            share = f"{100 * self.done / self.total:.0f}% " if self.total else ""
            self.emit(f"{self.verb} {self.label}: {share}({self.done / 1e6:.1f} MB)")

    def finish(self) -> None:
        pass


class TqdmProgress:
    def __init__(self) -> None:
        self.bar: Any = None

    def start(self, label: str, total: int | None, done: int) -> None:
        from tqdm import tqdm

        self.finish()
        self.bar = tqdm(total=total, initial=done, desc=label, unit="B", unit_scale=True, unit_divisor=1024,
                        file=sys.stderr, leave=True)

    def update(self, count: int) -> None:
        if self.bar is not None:
            self.bar.update(count)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
