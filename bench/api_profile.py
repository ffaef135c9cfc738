"""Where an API request's CPU goes: each path of bench/api.py called in this process, with no HTTP.

    .venv/bin/python bench/api_profile.py [--profile KIND] [--postgres URL] [--flask] [KIND ...]

For each kind of request it prints the CPU this process spends per request (the best of five
batches, ``time.process_time``) and the CPU Redis spends on it (from Redis's INFO): no gunicorn,
no sockets to a client, so the figures are what civility itself costs. ``--profile KIND`` adds a
``cProfile`` of that kind, by internal time. It starts a private Redis and uses a scratch SQLite
file, or a scratch PostgreSQL database with ``--postgres``, as bench/api.py does. Redis's CPU is
its own process's, so nothing else may use that Redis meanwhile.

``--flask`` sends every request to the Flask app behind the fast lane, as if there were none: the
difference is what the lane saves (for ``warm`` and ``counts`` too).

Kinds: ``hello`` (the bare Flask app of the ceiling), ``warm`` (page 1 of a 500-comment thread from
the cache, by the fast lane), ``counts`` (100 ids from the cache, by the fast lane), ``share`` and
``comment`` (POSTs, each from another reader), ``cold`` (page 1 rebuilt after a write).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redis import Redis
from werkzeug.test import EnvironBuilder

from bench.api import postgres_database
from bench.harness import civility_stack
from bench.hello_app import app as hello_app
from civility.config import Settings
from civility.infra.thread_cache import generation_key
from civility.store.migrate import upgrade

KINDS = ("hello", "warm", "counts", "share", "comment", "cold")
ARTICLE = "news/profiled-thread"
COUNT_IDS = [f"news/counted-{n}" for n in range(100)]


class Caller:
    """Calls a WSGI app the way gunicorn would, minus the socket: one environ per request."""

    def __init__(self, wsgi):
        self.wsgi = wsgi
        self.sent = 0
        self.last_status = ""

    def _start(self, status, headers, exc_info=None):
        self.last_status = status

    def call(self, method: str, path: str, payload: dict | None = None, headers: dict | None = None) -> str:
        self.sent += 1
        n = self.sent
        environ = EnvironBuilder(
            method=method, path=path, data=json.dumps(payload) if payload is not None else None,
            content_type="application/json" if payload is not None else None,
            headers={"X-Forwarded-For": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", **(headers or {})},
        ).get_environ()
        b"".join(self.wsgi(environ, self._start))
        return self.last_status


def scenarios(app, caller: Caller, redis: Redis, prefix: str) -> dict[str, Callable[[], object]]:
    gzip = {"Accept-Encoding": "gzip"}
    thread = f"/api/v1/articles/{ARTICLE}/comments"
    counts = "/api/v1/counts?" + "&".join(f"article_id={a}" for a in COUNT_IDS)
    posted = [0]

    def comment():
        posted[0] += 1
        return caller.call("POST", "/api/v1/articles/news/posted/comments",
                           {"body": f"A comment, number {posted[0]}, on the news.", "author_name": "Reader"})

    def cold():
        redis.incr(generation_key(prefix, ARTICLE))  # what a write does to the thread's pages
        return caller.call("GET", thread, headers=gzip)

    return {
        "warm": lambda: caller.call("GET", thread, headers=gzip),
        "counts": lambda: caller.call("GET", counts),
        "share": lambda: caller.call("POST", f"/api/v1/articles/{COUNT_IDS[0]}/shares", {"network": "email"}),
        "comment": comment,
        "cold": cold,
    }


def seed(caller: Caller) -> None:
    for n in range(500):
        status = caller.call("POST", f"/api/v1/articles/{ARTICLE}/comments",
                             {"body": f"Seeded comment {n} about the article.", "author_name": "Seeder"})
        if not status.startswith("201"):
            raise RuntimeError(f"seeding answered {status}")
    for article in COUNT_IDS[:20]:
        caller.call("POST", f"/api/v1/articles/{article}/shares", {"network": "email"})


def measure(name: str, request: Callable[[], object], redis: Redis, batch: int) -> str:
    def redis_cpu() -> float:
        info = redis.info("cpu")
        return info["used_cpu_sys"] + info["used_cpu_user"]

    for _ in range(max(20, batch // 10)):
        request()
    best: tuple[float, float] | None = None
    for _ in range(5):
        redis_before, before = redis_cpu(), time.process_time()
        for _ in range(batch):
            request()
        spent = ((time.process_time() - before) / batch * 1e6, (redis_cpu() - redis_before) / batch * 1e6)
        best = spent if best is None or spent[0] < best[0] else best
    assert best is not None
    return f"{name:8} {best[0]:7.0f} µs of this process per request, Redis {best[1]:4.0f} µs"


def profile(request: Callable[[], object], batch: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(batch):
        request()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
    return out.getvalue()


def run(database_url: str, redis_url: str, kinds: list[str], profiled: str | None,
        flask_only: bool = False) -> None:
    from service import create_app

    prefix = "bench-profile"
    redis = Redis.from_url(redis_url)
    upgrade(database_url)
    settings = Settings.from_env({}, database_url=database_url, redis_url=redis_url, redis_prefix=prefix,
                                 scorer="profanity", rate_limits=None, moderation_mode="post", trusted_proxies=1)
    app = create_app(settings)
    caller = Caller(app.wsgi_app.flask_wsgi if flask_only else app.wsgi_app)
    try:
        seed(caller)
        hello = Caller(hello_app.wsgi_app)
        requests = {"hello": lambda: hello.call("GET", "/hello"), **scenarios(app, caller, redis, prefix)}
        batches = {"hello": 2000, "warm": 2000, "counts": 2000, "share": 300, "comment": 300, "cold": 60}
        for kind in kinds:
            print(measure(kind, requests[kind], redis, batches[kind]), flush=True)
        if profiled:
            print(f"\ncProfile of {profiled}, {batches[profiled]} requests:")
            print(profile(requests[profiled], batches[profiled]))
    finally:
        services = app.extensions["civility"]
        services.engagement.totals.flush()  # the last shares' totals, while this Redis still runs
        services.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=KINDS, help="also print a cProfile of this kind")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server to make a scratch database on")
    parser.add_argument("--flask", action="store_true", help="through Flask alone, without the fast lane")
    parser.add_argument("kinds", nargs="*", metavar="KIND", help=f"some of {', '.join(KINDS)} (default: all)")
    args = parser.parse_args()
    unknown = set(args.kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kind {', '.join(sorted(unknown))}: choose from {', '.join(KINDS)}")
    with civility_stack() as env:
        if args.postgres:
            with postgres_database(args.postgres) as url:
                run(url, env["CIVILITY_REDIS_URL"], args.kinds or list(KINDS), args.profile, args.flask)
        else:
            run(env["CIVILITY_DATABASE_URL"], env["CIVILITY_REDIS_URL"], args.kinds or list(KINDS), args.profile,
                args.flask)


if __name__ == "__main__":
    main()
