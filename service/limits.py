"""Rate limits per action, with Flask-Limiter on the same Redis as the queue (one Limiter per app)."""

from __future__ import annotations

import hashlib
import time

from flask import request
from flask_limiter import Limiter
from limits import parse_many
from werkzeug.wrappers import Response

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


def client_key(address: str | None) -> str:
    # The reader's network (IPv4 address, IPv6 /64): rotating addresses inside one /64 gains nothing.
    network, _ = reader_networks(address)
    return hashlib.sha256(network.encode()).hexdigest()[:24]


def _client_key() -> str:
    return client_key(request.remote_addr)


def key_prefix(settings: Settings) -> str:
    return f"{settings.redis_prefix}-limits"


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
        RATELIMIT_KEY_PREFIX=key_prefix(settings),
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


class ActionLimit:
    """An action's limits applied outside Flask, as Flask-Limiter applies them to the action's view:
    the same counters, in the same order, with the same headers. For service/post_lane.py, which
    answers shares and comments before Flask; tests/test_post_lane.py holds the two to the same answers."""

    def __init__(self, limiter: Limiter, settings: Settings, action: str, endpoint: str):
        assert settings.rate_limits is not None
        self.strategy = limiter.limiter
        # Flask-Limiter's order: by window granularity (second, minute, hour...), otherwise as written.
        self.items = sorted(parse_many(settings.rate_limits[action]))
        self.prefix = key_prefix(settings)
        self.scope = f"{endpoint}:{action}"

    def hit(self, address: str | None) -> tuple[bool, dict[str, str]]:
        """Count a request from ``address``: (allowed, the rate-limit headers of its answer). Stops
        at the first limit breached, whose window then fills the headers."""
        args = (self.prefix, client_key(address), self.scope)
        shown = self.items[0]
        allowed = True
        for item in self.items:
            if not self.strategy.hit(item, *args):
                shown, allowed = item, False
                break
        reset_at, remaining = self.strategy.get_window_stats(shown, *args)
        return allowed, {"X-RateLimit-Limit": str(shown.amount), "X-RateLimit-Remaining": str(remaining),
                         "X-RateLimit-Reset": str(int(reset_at + 1))}

    @staticmethod
    def add_headers(response: Response, limit_headers: dict[str, str]) -> None:
        """What Flask-Limiter adds to an answer, and what create_app's hook then keeps of its
        Retry-After: only a refusal (429) or an outage (503) is told when to retry, the later of its
        own delay and the window's reset."""
        response.headers.update(limit_headers)
        if response.status_code in (429, 503):
            retry_at = int(limit_headers["X-RateLimit-Reset"])
            own = response.headers.get("Retry-After", "")
            if own.isdigit():
                retry_at = max(int(time.time() + int(own)), retry_at)
            response.headers["Retry-After"] = str(int(retry_at - time.time()))
