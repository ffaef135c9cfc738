"""Readiness: can this process serve, and who scores? Each check reports; none raises."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SCORER_FIELDS = ("name", "version", "fallback", "warning")


def readiness(ping_database: Callable[[], Any], ping_redis: Callable[[], Any],
              live_workers: Callable[[], list[dict[str, Any]]]) -> tuple[bool, dict[str, Any]]:
    """(ready, body): the database and Redis answer, and a worker announced itself recently."""
    checks: dict[str, dict[str, Any]] = {}
    workers: list[dict[str, Any]] = []
    checks["database"] = _check(ping_database)
    checks["redis"] = _check(ping_redis)
    if checks["redis"]["ok"]:
        try:
            workers = live_workers()
        except Exception:  # noqa: BLE001 - Redis went away between the two calls
            workers = []
    checks["worker"] = {"ok": bool(workers), "count": len(workers)}
    scorer = {k: workers[0].get(k) if workers else None for k in SCORER_FIELDS}
    ready = all(c["ok"] for c in checks.values())
    return ready, {"status": "ready" if ready else "not_ready", "checks": checks, "scorer": scorer}


def _check(ping: Callable[[], Any]) -> dict[str, Any]:
    try:
        ping()
    except Exception as exc:  # noqa: BLE001 - readiness reports an outage, it never raises
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True}
