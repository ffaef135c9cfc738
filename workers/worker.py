"""The ``civility worker`` process: one RQ SimpleWorker, one scorer, and a periodic sweeper thread."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid

from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested
from rq.worker import DequeueStrategy

from civility.infra import after_commit, runtime
from civility.infra.jobqueue import ScoringQueue, WebhookQueue
from civility.infra.presence import announce
from civility.sweeper import sweep, sweep_webhooks
from workers.jobs import get_scorer

log = logging.getLogger(__name__)

# RQ's heartbeat while a job runs; the worker TTL and maintenance interval are settings.
JOB_MONITORING_INTERVAL = 10


class Sweeper(threading.Thread):
    """Announces the worker every interval and, holding a Redis lock so one worker does it, sweeps."""

    def __init__(self, worker_name: str, info: dict):
        super().__init__(name="civility-sweeper", daemon=True)
        self.worker_name = worker_name
        self.info = info
        self.stopped = threading.Event()

    def tick(self) -> None:
        rt = runtime.current()
        interval = rt.settings.sweep_interval_seconds
        announce(rt.redis, rt.settings, self.worker_name, self.info, ttl=max(30, 3 * interval))
        lock = rt.redis.lock(f"{rt.settings.redis_prefix}:sweep-lock", timeout=max(30, interval * 2),
                             blocking=False)
        if lock.acquire():
            try:
                sweep(rt.db, rt.settings, ScoringQueue(rt.redis, rt.settings))
                sweep_webhooks(rt.db, rt.settings, WebhookQueue(rt.redis, rt.settings))
            finally:
                with contextlib.suppress(Exception):  # the lock expires by itself
                    lock.release()

    def run(self) -> None:
        interval = runtime.current().settings.sweep_interval_seconds
        while not self.stopped.is_set():
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001 - an outage must not kill the thread
                log.warning("sweep failed: %s: %s", type(exc).__name__, exc)
            self.stopped.wait(interval)


def _stop_was_asked(worker: SimpleWorker) -> bool:
    """A SIGTERM or SIGINT reached RQ's handler (RQ keeps no public flag for it)."""
    return worker._stop_requested or worker._shutdown_requested_date is not None


def run_worker(burst: bool = False) -> bool:
    rt = runtime.current()
    _, info = get_scorer()  # load the model before taking the first job
    name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    details = info.as_dict() | {"worker": name, "pid": os.getpid()}
    # The analyze queue (on-demand scores a caller waits for) comes first. Round robin: after an analyze
    # job a waiting scoring job goes next, so steady analyze traffic cannot starve comment scoring, and an
    # analyze request never waits for more than the one scoring job in progress.
    queues = [Queue(rt.settings.analyze_queue_name(), connection=rt.redis),
              Queue(rt.settings.rq_queue_name(), connection=rt.redis),
              Queue(rt.settings.webhook_queue_name(), connection=rt.redis)]  # webhook deliveries last
    # Flags and deletions the scoring jobs record are delivered through the outbox (civility/webhooks.py);
    # publications refresh the cached thread pages and reach live readers.
    after_commit.install(rt.db, rt.redis, rt.settings)
    sweeper = Sweeper(name, details)
    if burst:
        sweeper.tick()
    else:
        sweeper.start()
    try:
        attempt, worker = 0, None
        while True:
            try:
                # Recovery after a worker is SIGKILLed: its heartbeat lapses after the worker TTL, and the
                # next maintenance pass on a live worker re-queues its started job. The sweeper is the
                # second net.
                worker = SimpleWorker(queues, connection=rt.redis, name=f"{name}-{attempt}" if attempt else name,
                                      worker_ttl=rt.settings.worker_ttl,
                                      maintenance_interval=rt.settings.maintenance_interval,
                                      job_monitoring_interval=JOB_MONITORING_INTERVAL)
                worked = worker.work(burst=burst, with_scheduler=not burst, logging_level="INFO",
                                     dequeue_strategy=DequeueStrategy.ROUND_ROBIN)
            except StopRequested:  # SIGTERM between two loops, through the last loop's handler
                return False
            except RedisError as exc:  # from RQ's start or its own clean-up while Redis is away
                if burst:
                    raise
                log.warning("the RQ loop failed: %s: %s", type(exc).__name__, exc)
                worked = False
            # RQ's loop also returns (exit code 0) on any Redis error outside its dequeue, e.g. a heartbeat
            # sent to a master that just failed over; only a stop that was asked for ends the worker.
            if burst or (worker is not None and _stop_was_asked(worker)):
                return worked
            attempt += 1
            log.warning("the RQ loop stopped (Redis unreachable?); starting it again in 1 s")
            try:
                if sweeper.stopped.wait(1) or (worker is not None and _stop_was_asked(worker)):
                    return worked
            except StopRequested:  # SIGTERM during the pause, through RQ's handler
                return worked
    finally:
        sweeper.stopped.set()
        with contextlib.suppress(Exception):  # the announcement expires by itself
            rt.redis.delete(f"{rt.settings.redis_prefix}:worker:{name}")
