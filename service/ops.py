"""Operations: liveness, readiness and metrics."""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from civility.health import readiness
from civility.infra.presence import live_workers
from service.auth import may_see_operations
from service.context import services
from service.errors import error_response

bp = APIBlueprint("ops", __name__, tag="Operations")


@bp.get("/healthz")
@bp.doc(summary="The process is alive")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
@bp.doc(summary="Ready or not; with the metrics token or from an allowed network, the database, Redis, "
                "live workers and the scorer they run", responses={200: "Ready", 503: "Not ready"})
def readyz():
    svc = services()
    ready, body = readiness(svc.db.ping, svc.redis.ping, lambda: live_workers(svc.redis, svc.settings))
    if not may_see_operations():
        body = {"status": body["status"]}
    return body, 200 if ready else 503


@bp.get("/metrics")
@bp.doc(summary="Prometheus metrics (with the metrics token or from an allowed network)", responses={
    403: "Neither the metrics token nor an allowed network", 200: {
    "description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}})
def metrics():
    if not may_see_operations():
        return error_response(403, "metrics need CIVILITY_METRICS_TOKEN or a client on CIVILITY_METRICS_NETWORKS")
    registry = current_app.extensions["civility_metrics"].registry
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
