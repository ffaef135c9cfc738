"""Prometheus metrics: request counts and latency per endpoint, plus gauges read at scrape time."""

from __future__ import annotations

import contextlib
import time

from flask import Flask, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from civility.infra.presence import live_workers
from civility.moderation import backlog


class BacklogCollector:
    """Scoring backlog, queue sizes and live workers, computed when Prometheus scrapes."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        svc = self.app.extensions["civility"]
        waiting = GaugeMetricFamily("civility_scoring_backlog", "Comments waiting for a score")
        oldest = GaugeMetricFamily("civility_scoring_oldest_seconds", "Age of the oldest comment waiting for a score")
        statuses = GaugeMetricFamily("civility_comments", "Comments by status", labels=["status"])
        workers = GaugeMetricFamily("civility_live_workers", "Scoring workers seen in the last minute")
        try:
            now = backlog(svc.db)
            waiting.add_metric([], now.waiting)
            oldest.add_metric([], now.oldest_seconds)
            for status, n in now.statuses.items():
                statuses.add_metric([status], n)
        except Exception:  # noqa: BLE001 - a scrape during an outage reports what it can
            pass
        with contextlib.suppress(Exception):  # likewise when Redis is down
            workers.add_metric([], len(live_workers(svc.redis, svc.settings)))
        yield from (waiting, oldest, statuses, workers)


# Labels come from fixed sets, so made-up methods or paths cannot grow the registry without end.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetrics:
    """Request counts and latency per endpoint: recorded by Flask's hooks, and by
    ``service.fast_lane`` for the requests it answers before Flask."""

    def __init__(self, app: Flask):
        self.registry = CollectorRegistry()
        self.requests = Counter("civility_http_requests_total", "HTTP requests", ["endpoint", "method", "status"],
                                registry=self.registry)
        self.latency = Histogram("civility_http_request_seconds", "HTTP request latency", ["endpoint"],
                                 registry=self.registry,
                                 buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self.registry.register(BacklogCollector(app))

    def record(self, endpoint: str, method: str, status: int, seconds: float | None) -> None:
        self.requests.labels(endpoint, method if method in METHODS else "other", str(status)).inc()
        if seconds is not None:
            self.latency.labels(endpoint).observe(seconds)


def install(app: Flask) -> HttpMetrics:
    metrics = HttpMetrics(app)

    @app.before_request
    def _start_timer():
        g._civility_started = time.perf_counter()

    @app.after_request
    def _record(response):
        started = g.get("_civility_started")
        # The route's name, never the raw path.
        metrics.record(request.endpoint or "unknown", request.method, response.status_code,
                       None if started is None else time.perf_counter() - started)
        return response

    return metrics
