"""Workers announce themselves and their scorer in Redis; the API reads it for /readyz and stats."""

from __future__ import annotations

import json
from typing import Any

from redis import Redis

from civility.config import Settings


def worker_key(settings: Settings, name: str) -> str:
    return f"{settings.redis_prefix}:worker:{name}"


def announce(redis: Redis, settings: Settings, name: str, info: dict, ttl: int) -> None:
    redis.set(worker_key(settings, name), json.dumps(info), ex=ttl)


def live_workers(redis: Redis, settings: Settings) -> list[dict[str, Any]]:
    keys = sorted(redis.scan_iter(match=worker_key(settings, "*"), count=100))
    values: list[Any] = redis.mget(keys) if keys else []  # type: ignore[assignment]
    return [json.loads(v) for v in values if v]
