"""Operations: liveness, readiness and metrics."""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from civility.health import readiness
from civility.infra.presence import live_workers
from service.context import services

bp = APIBlueprint("ops", __name__, tag="Operations")


@bp.get("/healthz")
@bp.doc(summary="The process is alive")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
@bp.doc(summary="Database, Redis, a live worker and the scorer it runs",
        responses={200: "Ready", 503: "Not ready"})
def readyz():
    svc = services()
    ready, body = readiness(svc.db.ping, svc.redis.ping, lambda: live_workers(svc.redis, svc.settings))
    return body, 200 if ready else 503


@bp.get("/metrics")
@bp.doc(summary="Prometheus metrics", responses={200: {
    "description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}})
def metrics():
    registry = current_app.extensions["civility_metrics"]
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
