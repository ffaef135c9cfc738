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


def install(app: Flask) -> CollectorRegistry:
    registry = CollectorRegistry()
    requests = Counter("civility_http_requests_total", "HTTP requests", ["endpoint", "method", "status"],
                       registry=registry)
    latency = Histogram("civility_http_request_seconds", "HTTP request latency", ["endpoint"],
                        registry=registry, buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
    registry.register(BacklogCollector(app))

    @app.before_request
    def _start_timer():
        g._civility_started = time.perf_counter()

    @app.after_request
    def _record(response):
        endpoint = request.endpoint or "unknown"  # the route's name, never the raw path
        method = request.method if request.method in METHODS else "other"
        requests.labels(endpoint, method, str(response.status_code)).inc()
        started = g.get("_civility_started")
        if started is not None:
            latency.labels(endpoint).observe(time.perf_counter() - started)
        return response

    return registry
