"""Operations: liveness, readiness and metrics."""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from civility.presence import live_workers
from service.context import services

bp = APIBlueprint("ops", __name__, tag="Operations")


@bp.get("/healthz")
@bp.doc(summary="The process is alive")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
@bp.doc(summary="Database, Redis, a live worker and the scorer it runs", responses={503: "Not ready"})
def readyz():
    svc = services()
    checks: dict = {}
    try:
        with svc.db.read() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except Exception as exc:  # noqa: BLE001 - readiness reports, it never raises
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    workers: list = []
    try:
        svc.redis.ping()
        checks["redis"] = {"ok": True}
        workers = live_workers(svc.redis, svc.settings)
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = {"ok": False, "error": type(exc).__name__}
    checks["worker"] = {"ok": bool(workers), "count": len(workers)}
    scorer = {"name": None, "version": None, "fallback": None, "warning": None}
    if workers:
        scorer = {k: workers[0].get(k) for k in scorer}
    ready = all(c["ok"] for c in checks.values())
    body = {"status": "ready" if ready else "not_ready", "checks": checks, "scorer": scorer}
    return body, 200 if ready else 503


@bp.get("/metrics")
@bp.doc(summary="Prometheus metrics", responses={200: {
    "description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}})
def metrics():
    registry = current_app.extensions["civility_metrics"]
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
