"""``civility worker --processes N``: N scorer processes, each its own ``civility worker``, under one supervisor.

Each child is a whole worker (its own RQ worker name, scorer, scheduler and sweeper thread) leading its own
process group, so that stopping it stops what it forked (RQ's scheduler). The cores are shared among the
children: each gets ``CIVILITY_TORCH_THREADS`` (and OpenMP/MKL's variables) before it imports torch.
A child that exits unasked is restarted after a back-off. SIGTERM or SIGINT: every child gets SIGTERM (RQ's
warm shutdown: the job in progress finishes), then SIGKILL for its whole group after the grace period.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from civility.config import Settings
from workers.scorers.device import thread_env, threads_for

log = logging.getLogger(__name__)

# Back-off before restarting a child: doubles per quick crash, back to the first once a child ran this long.
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
STABLE_SECONDS = 60.0


@dataclass
class Child:
    slot: int
    process: subprocess.Popen | None = None
    started: float = 0.0
    crashes: int = 0
    restart_at: float = 0.0
    done: bool = False  # a --burst child that finished its queue


def _kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # gone already
        os.killpg(pid, sig)


class Pool:
    def __init__(self, settings: Settings, processes: int, burst: bool = False, grace: float | None = None):
        self.processes = processes
        self.burst = burst
        # Long enough for the job in progress to finish: its own timeout, and a little more.
        self.grace = grace if grace is not None else settings.job_timeout_seconds + 5.0
        self.threads = threads_for(settings, processes)
        self.env = {**os.environ, **thread_env(self.threads)}
        self.children = [Child(slot) for slot in range(processes)]
        self.stopping = threading.Event()

    def _start(self, child: Child) -> None:
        args = [sys.executable, "-m", "service.cli", "worker"] + (["--burst"] if self.burst else [])
        child.process = subprocess.Popen(args, env=self.env, start_new_session=True)
        child.started = time.monotonic()
        log.info("worker %d started (pid %d, %d torch threads)", child.slot, child.process.pid, self.threads)

    def _reap(self, child: Child, now: float) -> None:
        """A child that exited unasked: clear its group (its scheduler) and schedule its restart."""
        assert child.process is not None
        code = child.process.returncode
        _kill_group(child.process.pid, signal.SIGKILL)
        child.process = None
        if self.burst and code == 0:
            child.done = True
            return
        if now - child.started >= STABLE_SECONDS:
            child.crashes = 0
        delay = RESTART_DELAYS[min(child.crashes, len(RESTART_DELAYS) - 1)]
        child.crashes += 1
        child.restart_at = now + delay
        log.warning("worker %d exited with code %s; restarting it in %.0f s", child.slot, code, delay)

    def run(self) -> int:
        def request_stop(signum, _frame):
            self.stopping.set()

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        log.info("starting %d scorer processes, %d torch threads each", self.processes, self.threads)
        try:
            for child in self.children:
                self._start(child)
            while not self.stopping.is_set():
                now = time.monotonic()
                for child in self.children:
                    if child.process is not None and child.process.poll() is not None:
                        self._reap(child, now)
                    elif child.process is None and not child.done and now >= child.restart_at:
                        self._start(child)
                if all(child.done for child in self.children):
                    return 0
                self.stopping.wait(0.2)
            return 0
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self) -> None:
        running = [c.process for c in self.children if c.process is not None]
        if running:
            log.info("stopping %d scorer processes (the jobs in progress finish, at most %.0f s)", len(running),
                     self.grace)
        for process in running:
            if process.poll() is None:
                _kill_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d did not stop within %.0f s: killing it", process.pid, self.grace)
            # Whatever is left in its group (the child, or RQ's scheduler) goes now.
            _kill_group(process.pid, signal.SIGKILL)
            process.wait()
        for child in self.children:
            child.process = None


def run_pool(settings: Settings, processes: int, burst: bool = False) -> int:
    return Pool(settings, processes, burst).run()
