"""Rate limits per action, with Flask-Limiter on the same Redis as the queue (one Limiter per app)."""

from __future__ import annotations

import hashlib

from flask import request
from flask_limiter import Limiter

from civility.config import Settings
from civility.identity import reader_networks
from civility.infra.runtime import TIMEOUTS, SentinelConnection
from civility.redis_url import SENTINEL_SCHEME, is_sentinel_url, parse_sentinel_url

ACTION_ATTR = "_civility_rate_limit_action"


def rate_limited(action: str):
    """Tag a view with the action whose configured limit applies (see CIVILITY_RATE_LIMITS)."""

    def tag(view):
        setattr(view, ACTION_ATTR, action)
        return view

    return tag


def _client_key() -> str:
    # The reader's network (IPv4 address, IPv6 /64): rotating addresses inside one /64 gains nothing.
    network, _ = reader_networks(request.remote_addr)
    return hashlib.sha256(network.encode()).hexdigest()[:24]


def storage_uri(redis_url: str) -> str:
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://"):]
    if is_sentinel_url(redis_url):
        # The limits library reads the whole path as the service name: the database number and the
        # credentials go in the storage options instead.
        target = parse_sentinel_url(redis_url)
        hosts = ",".join(f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for host, port in target.sentinels)
        return f"{SENTINEL_SCHEME}://{hosts}/{target.service}"
    return redis_url


def storage_options(redis_url: str | None) -> dict:
    if not redis_url or not is_sentinel_url(redis_url):
        return {}
    target = parse_sentinel_url(redis_url)
    auth = {key: value for key, value in (("username", target.username), ("password", target.password)) if value}
    # Counts are read from the master too: a lagging replica would let a burst through.
    return {"db": target.db, "use_replicas": False, "connection_class": SentinelConnection,
            "sentinel_kwargs": {**TIMEOUTS, **auth}, **TIMEOUTS, **auth}


def configure(app, settings: Settings) -> Limiter | None:
    if settings.rate_limits is None:
        return None
    app.config.update(
        RATELIMIT_STORAGE_URI=storage_uri(settings.redis_url or "memory://"),
        RATELIMIT_STORAGE_OPTIONS=storage_options(settings.redis_url),
        RATELIMIT_KEY_PREFIX=f"{settings.redis_prefix}-limits",
        RATELIMIT_HEADERS_ENABLED=True,
        # If Redis is down a write still goes through (and is stored) rather than failing.
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_STRATEGY="moving-window",
    )
    limiter = Limiter(key_func=_client_key, app=app)
    for endpoint, view in list(app.view_functions.items()):
        action = getattr(view, ACTION_ATTR, None)
        if action and action in settings.rate_limits:
            app.view_functions[endpoint] = limiter.limit(settings.rate_limits[action], scope=action)(view)
    return limiter
