"""The ``civility worker`` process: one RQ SimpleWorker, one scorer, and a periodic sweeper thread."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid

from rq import Queue, SimpleWorker
from rq.worker import DequeueStrategy

from civility import webhooks
from civility.infra import runtime
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
    # Flags and deletions the scoring jobs record are delivered through the outbox (civility/webhooks.py).
    webhook_queue = WebhookQueue(rt.redis, rt.settings)
    webhooks.install(rt.db, webhook_queue.enqueue)
    # Recovery after a worker is SIGKILLed: its heartbeat lapses after the worker TTL, and the next
    # maintenance pass on a live worker re-queues its started job. The sweeper is the second net.
    worker = SimpleWorker(queues, connection=rt.redis, name=name, worker_ttl=rt.settings.worker_ttl,
                          maintenance_interval=rt.settings.maintenance_interval,
                          job_monitoring_interval=JOB_MONITORING_INTERVAL)
    sweeper = Sweeper(name, details)
    if burst:
        sweeper.tick()
    else:
        sweeper.start()
    try:
        return worker.work(burst=burst, with_scheduler=not burst, logging_level="INFO",
                           dequeue_strategy=DequeueStrategy.ROUND_ROBIN)
    finally:
        sweeper.stopped.set()
        with contextlib.suppress(Exception):  # the announcement expires by itself
            rt.redis.delete(f"{rt.settings.redis_prefix}:worker:{name}")
