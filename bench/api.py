"""Benchmark: the public API under gunicorn against a bare Flask "hello" (the ceiling), in one run,
on SQLite and (with ``TEST_DATABASE_URL`` or ``--postgres URL``) on PostgreSQL. From the repository root:

    make wrk && .venv/bin/python bench/api.py [--duration 8] [--rounds 3] [--postgres URL | --no-postgres]
                                              [--isso-venv DIR | --no-isso]

Load comes from ``wrk`` (bench/wrk.py) when it is installed: 2 threads, 16 keep-alive connections.
Without wrk it falls back to the Python client of bench/harness.py and says so; that client eats
much of the CPU it measures, so its ceiling reads lower and its ratios are not comparable.

Every server runs under the same gunicorn settings (2 workers x 4 threads, gthread, keep-alive 5),
with a private Redis, rate limits off and ``CIVILITY_MODERATION_MODE=post`` (a comment is published
at once, so every post changes the thread it goes to). ``CIVILITY_TRUSTED_PROXIES=1``: each request
sends its own X-Forwarded-For, so every post, share and vote comes from another reader. No worker
runs: posts enqueue their scoring jobs on Redis, as in production, and nothing scores them.

Scenarios (the issue's targets are ratios to the ceiling measured in the same run). The four
measured as a ratio (warm thread read, ``/counts``, share POST, comment POST) run in ``--rounds``
rounds, each round bracketed by the ceiling measured just before and just after it: each round's
ratio is to the mean of those two, and the verdict takes the median round, so that the machine's
speed drifting within a run weighs on a scenario and its ceiling alike (every round is printed):

- thread read, cache warm: page 1 (50) of an article with 500 published comments, replies included;
- thread read right after a write (cache cold): one vote, then one read, in turn, one connection:
  the read's latency;
- ``/counts`` with 100 ids under load, and its p50 at low load (one connection);
- share POST and comment POST, every request from another reader;
- mixed and read-heavy: 95% thread reads, 4% comment posts to that thread, 1% votes on it: the
  maximum throughput, then p99 at about 80% of it;
- page 1 of a 5,000-comment thread against a 500-comment one, every sort, uncached (requests
  carrying an edit token skip the cache): the medians of 100 sequential reads of each, taking turns;
- the API processes' RSS after the run (at least 20,000 requests each).

Isso 0.14 (a Python comment server; bench/isso_server.py installs it from PyPI into its own
virtualenv) is the reference the issue's comment floor is drawn from ("about 2x Isso"). Unless
``--no-isso``, it serves the same thread, posts and counts beside the SQLite run, under the same
gunicorn settings, and its scenarios run in the same rounds, between the same ceilings: the report
gives civility's throughput as a multiple of Isso's, round by round. Without a package registry the
comparison is skipped, and the report says why.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import functools
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import wrk
from bench.engagement import ARTICLES, NETWORKS
from bench.engagement import seed as seed_engagement
from bench.harness import (
    GUNICORN,
    OtherLoad,
    Result,
    Server,
    civility_stack,
    exit_on_sigterm,
    gunicorn_server,
    load,
    load_average,
    machine,
    memory_mb,
    ratio,
)
from bench.isso_server import ISSO_VERSION, InstallError, isso_server, isso_venv
from bench.scoring_corpus import realistic_comments
from bench.wrk import Request

PAGE = 50
SMALL, LARGE = 500, 5000
THREAD = "bench/thread-500"
BIG_THREAD = "bench/thread-5000"
POSTS = "bench/posting"
RSS_LIMIT_MB = 120
RSS_AFTER_REQUESTS = 20_000
# Tries of a scenario whose connections keep landing on one worker; the last one counts whatever
# its balance (the log shows it). Three were not always enough for `/counts` on PostgreSQL.
BALANCE_TRIES = 5
NOISY = 0.10  # others' share of the CPU above which a run's figures are flagged as unreliable
SORTS = ("oldest", "newest", "top")
TEXTS = realistic_comments(500, seed=11)


def thread_path(article: str, sort: str = "oldest") -> str:
    return f"/api/v1/articles/{article}/comments?limit={PAGE}&sort={sort}"


def _post(article: str, text: str) -> Request:
    return Request("POST", f"/api/v1/articles/{article}/comments",
                   json.dumps({"body": f"{text} (#{{n}})", "author_name": "Reader"}), {"X-Forwarded-For": "{ip}"})


def _vote(comment_id: int, value: int) -> Request:
    return Request("POST", f"/api/v1/comments/{comment_id}/votes", json.dumps({"value": value}),
                   {"X-Forwarded-For": "{ip}"})


HELLO = [Request("GET", "/hello")]
PAGE_BYTES = [Request("GET", "/page", headers={"Accept-Encoding": "gzip"})]
# Thread reads accept gzip, as every browser and CDN does.
GZIP = {"Accept-Encoding": "gzip"}
READ = [Request("GET", thread_path(THREAD), headers=GZIP)]
COUNTS = [Request("GET", "/api/v1/counts?" + "&".join(f"article_id={a}" for a in ARTICLES))]
SHARES = [Request("POST", f"/api/v1/articles/{ARTICLES[i]}/shares",
                  json.dumps({"network": NETWORKS[i % len(NETWORKS)]}), {"X-Forwarded-For": "{ip}"})
          for i in range(len(ARTICLES))]
COMMENTS = [_post(POSTS, text) for text in TEXTS]


def _isso_post(thread: str, text: str) -> Request:
    return Request("POST", f"/new?uri=/{thread}",
                   json.dumps({"text": f"{text} (#{{n}})", "author": "Reader", "title": "Posting"}))


# Isso's side: the same thread (its URI the article's id), posts to another thread, and /count for
# the 100 articles of /counts, each with two comments as on civility (bench/engagement.py's seed).
ISSO_READ_PATH = f"/?uri=/{THREAD}&limit={PAGE}&nested_limit=5"
ISSO_URIS = [f"/{article}" for article in ARTICLES]
ISSO_SCENARIOS = (
    ("read", f"Isso GET thread ({PAGE} of {SMALL})", [Request("GET", ISSO_READ_PATH, headers=GZIP)]),
    ("counts", "Isso POST /count (100 uris)", [Request("POST", "/count", json.dumps(ISSO_URIS))]),
    ("post", "Isso POST /new", [_isso_post(POSTS, text) for text in TEXTS]),
)


def mixed(comment_ids: list[int]) -> list[Request]:
    """2,000 requests: per hundred, 95 thread reads, 4 posts to that thread and 1 vote on it."""
    requests = []
    for block in range(20):
        requests += [Request("GET", thread_path(THREAD), headers=GZIP)] * 95
        requests += [_post(THREAD, TEXTS[(block * 4 + k) % len(TEXTS)]) for k in range(4)]
        requests.append(_vote(comment_ids[(block * 37) % len(comment_ids)], 1 if block % 2 else -1))
    return wrk.shuffled(requests)


# -- the Python client, when there is no wrk -------------------------------------------------------
class PythonRequests:
    """The scenario for bench/harness.py's client (picklable: its processes are spawned)."""

    def __init__(self, requests: list[Request]):
        self.requests = requests

    def __call__(self, conn: int, i: int):
        requests = self.requests
        r = requests[(conn * 7919 + i) % len(requests)]
        k = conn * 1_000_003 + i
        n, ip = f"{conn}-{i}", f"10.{k // 65536 % 256}.{k // 256 % 256}.{k % 256}"
        headers = {name: value.replace("{ip}", ip).replace("{n}", n) for name, value in (r.headers or {}).items()}
        body = r.body.replace("{n}", n).encode() if r.body is not None else None
        if body is not None:
            headers["Content-Type"] = "application/json"
        return r.method, r.path.replace("{n}", n), body, headers


class Driver:
    """Runs a scenario with wrk (or the Python client) and records the CPU others used meanwhile."""

    def __init__(self, duration: float, use_wrk: bool):
        self.duration = duration
        self.use_wrk = use_wrk
        self.others: dict[str, float] = {}
        self.served = 0

    def run(self, name: str, server, requests: list[Request], think_ms: float = 0.0,
            backing: Callable[[], list[int]] = list) -> Result:
        """``backing``: the processes besides gunicorn that serve the scenario (``backing_pids``),
        whose CPU is the server's own, not noise."""
        # Both gunicorn workers accept from one socket, and keep-alive connections stay where they
        # landed: now and then nearly all of them land on one worker, which then serves alone on one
        # core (half the throughput). Such a run measures the kernel's luck: it is run again.
        for attempt in range(BALANCE_TRIES):
            workers = server.worker_pids()
            before = [cpu_ticks(pid) for pid in workers]
            serving = backing()
            others = OtherLoad(os.getpid(), server.pid, *workers, *serving)
            if self.use_wrk:
                result: Result = wrk.wrk_load(name, server.port, requests, self.duration, think_ms=think_ms)
            else:
                result = load(name, server.port, None, PythonRequests(requests), self.duration)
            self.others[name] = others.share(*(pid for pid in backing() if pid not in serving))
            self.served += result.requests
            used = [cpu_ticks(pid) - b for pid, b in zip(workers, before, strict=True)]
            # One worker alone (the other not forked yet, or gone) is as unbalanced as it gets.
            share = min(used) / max(sum(used), 1) if len(used) > 1 else 0.0
            print(f"  {result.row()}   others {self.others[name]:4.0%}   least busy worker {share:4.0%}", flush=True)
            if share >= 0.25 or attempt == BALANCE_TRIES - 1:
                return result
            print("  (the connections landed unevenly on the two workers: running it again)", flush=True)
        raise AssertionError("unreachable")


def backing_pids(env: dict) -> list[int]:
    """The processes that serve civility besides gunicorn: its private Redis and, on PostgreSQL, the
    server's backends connected to the benchmark's database."""
    from redis import Redis

    with contextlib.closing(Redis.from_url(env["CIVILITY_REDIS_URL"])) as redis:
        pids = [int(redis.info("server")["process_id"])]
    url = env.get("CIVILITY_DATABASE_URL", "")
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(_conninfo(url)) as conn:
            pids += [pid for (pid,) in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]
    return pids


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as handle:
        return sum(int(v) for v in handle.read().rsplit(")", 1)[1].split()[11:13])


def at_80_percent(driver: Driver, label: str, server, requests: list[Request], top: Result,
                  backing: Callable[[], list[int]] = list) -> Result:
    """The mix at about 80% of ``top``'s rate: think time per connection, corrected up to twice when
    the rate reached misses 75 to 85% (the think time is a closed-loop approximation)."""
    target = 0.8 * top.rps
    think_s = max(0.0, wrk.CONNECTIONS / target - top.seconds / max(top.requests, 1) * wrk.CONNECTIONS)
    tries: list[Result] = []
    for attempt in range(3):
        result = driver.run(f"{label}, at about 80% of that" + (f" (try {attempt + 1})" if attempt else ""),
                            server, requests, think_ms=think_s * 1000, backing=backing)
        tries.append(result)
        if not driver.use_wrk or 0.75 <= result.rps / top.rps <= 0.85:
            break
        # Each connection's cycle is its think time plus the latency: lengthen or shorten the think.
        cycle = wrk.CONNECTIONS / max(result.rps, 1.0)
        think_s = max(0.0, think_s + wrk.CONNECTIONS / target - cycle)
    return min(tries, key=lambda r: abs(r.rps - target))  # the try nearest 80%, when none landed in the band


def p99_ms(result: Result) -> float:
    return result.pct(99) * 1000 if isinstance(result, wrk.WrkResult) else result.pct(0.99)


def p50_ms(result: Result) -> float:
    return result.pct(50) * 1000 if isinstance(result, wrk.WrkResult) else result.pct(0.5)


# -- seeding and sequential measurements over one connection ---------------------------------------
class Connection:
    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def send(self, method: str, path: str, payload=None, headers=None) -> tuple[int, bytes, float]:
        body = json.dumps(payload).encode() if payload is not None else None
        headers = {**({"Content-Type": "application/json"} if body else {}), **(headers or {})}
        started = time.perf_counter()
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        return response.status, data, time.perf_counter() - started

    def close(self) -> None:
        self.conn.close()


REPLIES = 100  # in every thread: two replies to each of the first 50 top-level comments


def post_all(port: int, posts: list[tuple[str, dict, dict]]) -> list[int]:
    """Each (path, payload, headers) POSTed, over four connections at once: the new ids, sorted."""
    def send(chunk: list[tuple[str, dict, dict]]) -> list[int]:
        conn, ids = Connection(port), []
        for path, payload, headers in chunk:
            status, data, _ = conn.send("POST", path, payload, headers)
            if status != 201:
                raise RuntimeError(f"seeding {path}: {status} {data[:200]!r}")
            ids.append(json.loads(data)["id"])
        conn.close()
        return ids

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        return sorted(i for ids in pool.map(send, [posts[t::4] for t in range(4)]) for i in ids)


def seed_thread(port: int, article: str, size: int) -> list[int]:
    """``size`` published comments, of which ``REPLIES`` replies to the first 50 (page 1 of the
    oldest sort looks alike whatever the thread's size: only the size differs)."""
    texts = realistic_comments(size, seed=5)
    top_level = size - REPLIES

    def posts(indices: range, parents: list[int] | None = None) -> list[tuple[str, dict, dict]]:
        return [(f"/api/v1/articles/{article}/comments",
                 {"body": texts[n], "author_name": f"Reader {n % 37}",
                  **({"parent_id": parents[n % len(parents)]} if parents else {})},
                 {"X-Forwarded-For": f"172.16.{n // 250}.{n % 250}"}) for n in indices]

    ids = post_all(port, posts(range(top_level)))
    post_all(port, posts(range(top_level, size), ids[:PAGE]))
    conn = Connection(port)
    status, data, _ = conn.send("GET", thread_path(article))
    conn.close()
    page = json.loads(data)
    if status != 200 or page["total"] != size or len(page["items"]) != PAGE:
        raise RuntimeError(f"{article}: total {page.get('total')}, a page of {len(page.get('items', []))}")
    return ids


def seed_isso(port: int) -> None:
    """Isso's copy of the 500-comment thread (the same texts, the same replies to the first 50) and
    two comments on each of the 100 threads of ``/count``."""
    texts = realistic_comments(SMALL, seed=5)
    top_level = SMALL - REPLIES

    def posts(uri: str, indices: range, parents: list[int] | None = None) -> list[tuple[str, dict, dict]]:
        return [(f"/new?uri={uri}", {"text": texts[n], "author": f"Reader {n % 37}", "title": "Thread",
                                     **({"parent": parents[n % len(parents)]} if parents else {})}, {})
                for n in indices]

    # Isso creates a thread with its first comment and answers 500 to a second one racing it: each
    # thread's first comment goes alone.
    ids = post_all(port, posts(f"/{THREAD}", range(1)))
    ids += post_all(port, posts(f"/{THREAD}", range(1, top_level)))
    post_all(port, posts(f"/{THREAD}", range(top_level, SMALL), ids[:PAGE]))
    for k in range(2):
        post_all(port, [(f"/new?uri={uri}", {"text": f"Comment {k} on {uri}", "author": "Bench", "title": "Story"},
                         {}) for uri in ISSO_URIS])
    conn = Connection(port)
    status, data, _ = conn.send("GET", ISSO_READ_PATH)
    counted = conn.send("POST", "/count", ISSO_URIS)
    conn.close()
    page = json.loads(data)
    if status != 200 or len(page["replies"]) != PAGE or counted[0] != 200 or set(json.loads(counted[1])) != {2}:
        raise RuntimeError(f"Isso's thread: {status}, a page of {len(page.get('replies', []))}; /count: {counted[:2]}")


def cold_reads(port: int, comment_ids: list[int], count: int = 200) -> list[float]:
    """A vote (a write that changes the page), then the read, in turn: the reads' latencies."""
    conn, latencies = Connection(port), []
    for i in range(count + 10):
        status, _, _ = conn.send("POST", f"/api/v1/comments/{comment_ids[i % len(comment_ids)]}/votes",
                                 {"value": 1 if i % 2 else -1}, {"X-Forwarded-For": f"192.168.{i // 250}.{i % 250}"})
        if status != 200:
            raise RuntimeError(f"the vote before a cold read answered {status}")
        status, _, seconds = conn.send("GET", thread_path(THREAD), headers=GZIP)
        if status != 200:
            raise RuntimeError(f"cold read answered {status}")
        if i >= 10:
            latencies.append(seconds)
    conn.close()
    return latencies


def sequential_gets(port: int, path: str, headers: dict | None = None, count: int = 300,
                    warmup: int = 20) -> list[float]:
    """Latencies of ``count`` GETs, one at a time on one connection, after ``warmup`` of them."""
    conn, latencies = Connection(port), []
    for i in range(count + warmup):
        status, _, seconds = conn.send("GET", path, headers=headers)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
        if i >= warmup:
            latencies.append(seconds)
    conn.close()
    return latencies


def uncached(port: int, small: str, large: str, sort: str, count: int = 100) -> tuple[float, float]:
    """Medians of ``count`` uncached reads of page 1 of each thread (an edit token skips the
    cache), one at a time on one connection, taking turns: a drift in the machine's speed during
    the measurement weighs on both alike."""
    conn, latencies = Connection(port), {small: [], large: []}
    for i in range(count + 5):
        for article in (small, large):
            status, _, seconds = conn.send("GET", thread_path(article, sort), headers={"X-Edit-Token": "bench"})
            if status != 200:
                raise RuntimeError(f"GET page 1 of {article} answered {status}")
            if i >= 5:
                latencies[article].append(seconds)
    conn.close()
    return statistics.median(latencies[small]), statistics.median(latencies[large])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


# -- the run ----------------------------------------------------------------------------------------
def _conninfo(url: str) -> str:
    """psycopg's form of a SQLAlchemy URL."""
    from sqlalchemy.engine import make_url

    from civility.store.db import normalise_url

    return make_url(normalise_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.contextmanager
def postgres_database(base_url: str):
    """A scratch database on the server of ``base_url``, migrated, dropped at the end."""
    import psycopg
    from sqlalchemy.engine import make_url

    from civility.store.db import normalise_url
    from civility.store.migrate import upgrade

    name = f"civility_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_conninfo(base_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(normalise_url(base_url)).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(_conninfo(base_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def analyse_after_seeding(url: str) -> None:
    """On PostgreSQL, what autovacuum does within a minute of a bulk load: fresh statistics. The
    seeding takes seconds, and the planner must not plan page 1 of a 5,000-comment thread from
    statistics of empty tables (it then scans every published comment to count them)."""
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(_conninfo(url), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")


# The scenarios the targets measure as a ratio to the ceiling: (results key, name, requests).
RATIO_SCENARIOS = (
    ("read", f"GET thread, warm ({PAGE} of {SMALL})", READ),
    ("counts", "GET /counts (100 ids)", COUNTS),
    ("share", "POST share", SHARES),
    ("post", "POST comment", COMMENTS),
)


@dataclass
class Round:
    """One round of a ratio scenario, and the ceilings measured right before and right after it."""
    result: Result
    before: Result
    after: Result

    @property
    def ceiling_rps(self) -> float:
        return (self.before.rps + self.after.rps) / 2

    @property
    def ratio(self) -> float:
        return self.result.rps / max(self.ceiling_rps, 1.0)


def median_round(rounds: list[Round]) -> Round:
    return sorted(rounds, key=lambda r: r.ratio)[(len(rounds) - 1) // 2]


def measure_civility(label: str, env: dict, driver: Driver, ceiling: Callable[[], Result], rounds: int,
                     isso: Isso | None = None) -> dict:
    """``ceiling`` measures the bare hello once more (its server runs throughout); ``isso``: Isso's
    scenarios run in the same rounds."""
    results: dict = {"label": label}
    # The seeding and the sequential measurements below, for the RSS reading's request count.
    driver.served = SMALL + LARGE + 3 * len(ARTICLES) + 2 * 210 + 6 * 105 + 320
    with gunicorn_server("service:create_app()", env, "/healthz") as server:
        print(f"{label}: seeding threads of {SMALL} and {LARGE} comments, 100 articles for /counts ...", flush=True)
        ids = seed_thread(server.port, THREAD, SMALL)
        seed_thread(server.port, BIG_THREAD, LARGE)
        seed_engagement(server.port)
        analyse_after_seeding(env.get("CIVILITY_DATABASE_URL", ""))
        page_file = Path(env["BENCH_PAGE_FILE"])
        if not page_file.exists():  # the page as civility sends it, for the hello app's /page
            conn = Connection(server.port)
            page_file.write_bytes(conn.send("GET", thread_path(THREAD), headers=GZIP)[1])
            conn.close()
        results["page_bytes"] = page_file.stat().st_size
        print(f"{label}: uncached page 1, every sort (medians of 100 sequential reads each, in turns) ...", flush=True)
        results["uncached"] = {sort: uncached(server.port, THREAD, BIG_THREAD, sort) for sort in SORTS}
        results["cold"] = cold_reads(server.port, ids)
        results["counts_idle"] = sequential_gets(server.port, COUNTS[0].path)
        print(f"{label}: scenarios under load ...", flush=True)
        backing = functools.partial(backing_pids, env)
        measured: dict[str, list[Round]] = {key: [] for key, _, _ in RATIO_SCENARIOS}
        reference: dict[str, list[Round]] = {key: [] for key, _, _ in ISSO_SCENARIOS} if isso else {}
        before = ceiling()
        for n in range(rounds):
            suffix = f" (round {n + 1})" if rounds > 1 else ""
            round_results = {key: driver.run(f"{label} {name}{suffix}", server, requests, backing=backing)
                             for key, name, requests in RATIO_SCENARIOS}
            isso_results = {key: driver.run(f"{name}{suffix}", isso.server(key), requests)
                            for key, name, requests in ISSO_SCENARIOS} if isso else {}
            after = ceiling()
            for key, result in round_results.items():
                measured[key].append(Round(result, before, after))
            for key, result in isso_results.items():
                reference[key].append(Round(result, before, after))
            before = after
        results["rounds"] = measured
        if isso:
            results["isso"] = reference
        mix = mixed(ids)
        top = driver.run(f"{label} mixed, as fast as it goes", server, mix, backing=backing)
        results["mixed_max"] = top
        results["mixed_80"] = at_80_percent(driver, f"{label} mixed", server, mix, top, backing)
        results["rss"] = [(pid, memory_mb(pid, "VmRSS")) for pid in server.worker_pids()]
        results["served"] = driver.served
    return results


def report_isso(rounds: dict[str, list[Round]], isso: dict[str, list[Round]]) -> None:
    """civility's requests/s over Isso's, round by round (both between the same two ceilings)."""
    print(f"   against Isso {ISSO_VERSION} in the same rounds: civility's requests/s over Isso's, the median round "
          "(each round; Isso's share of the ceiling)")
    names = {key: name for key, name, _ in RATIO_SCENARIOS}
    for key, name, _ in ISSO_SCENARIOS:
        ours = names[key]
        times = [mine.result.rps / max(theirs.result.rps, 1.0) for mine, theirs in zip(rounds[key], isso[key],
                                                                                        strict=True)]
        each = ", ".join(f"{x:.1f}x" for x in times)
        share = ", ".join(f"{r.ratio:.1%}" for r in isso[key])
        print(f"   {ours} against {name}: {statistics.median(times):.2f}x ({each}; Isso {share})")


def report(hello: Result, runs: list[dict], driver: Driver, same_bytes: Result, isso_skipped: str | None) -> None:
    client = "wrk, 2 threads x 16 connections" if driver.use_wrk else "the Python client (no wrk)"
    print(f"\nmachine: {machine()}")
    print(f"gunicorn {' '.join(GUNICORN)}; load: {client}, {driver.duration:g} s per scenario; "
          "Redis; rate limits off; post-moderation")
    print(f"ceiling: {hello.row()}")
    print(f"for scale, {same_bytes.row()}: {ratio(same_bytes, hello):.0%} of the ceiling")
    print("\ntarget                                                measured      floor      goal   verdict")

    def line(label: str, value: float, floor: float, goal: float, unit: str, lower_is_better: bool = False):
        sign = "<=" if lower_is_better else ">="
        met = value <= floor if lower_is_better else value >= floor
        # One more digit where the rounded figure would read as the floor it misses (39.96% as 40.0%).
        digits = 1 if met or round(value, {"%": 3, "ms": 1, "x": 2, "MB": 1}[unit]) != floor else 2
        shown = {"%": f"{value:9.{digits}%}", "ms": f"{value:7.{digits}f} ms", "x": f"{value:8.{digits + 1}f}x",
                 "MB": f"{value:7.{digits}f} MB"}[unit]
        fmt = {"%": "{:.0%}", "ms": "{:g} ms", "x": "{:g}x", "MB": "{:g} MB"}[unit]
        reached = value <= goal if lower_is_better else value >= goal
        verdict = "goal" if reached else ("floor" if met else "NOT MET")
        print(f"{label:<52} {shown:>11}  {sign} {fmt.format(floor):<7} {sign} {fmt.format(goal):<7} {verdict}")

    for run in runs:
        label = run["label"]
        print(f"-- {label}")
        rounds = run["rounds"]
        line("thread read (cache warm) / ceiling", median_round(rounds["read"]).ratio, 0.5, 0.8, "%")
        line("thread read after a write (cold), p50", pct(run["cold"], 0.5), 30, 15, "ms", True)
        line("/counts (100 ids) / ceiling", median_round(rounds["counts"]).ratio, 0.5, 0.8, "%")
        line("/counts (100 ids) p50 at low load", pct(run["counts_idle"], 0.5), 5, 5, "ms", True)
        line("share POST / ceiling", median_round(rounds["share"]).ratio, 0.4, 0.6, "%")
        line("comment POST / ceiling", median_round(rounds["post"]).ratio, 0.17, 0.25, "%")
        m80 = run["mixed_80"]
        line(f"mixed p99 at {m80.rps / max(run['mixed_max'].rps, 1):.0%} of max "
             f"({m80.rps:.0f} of {run['mixed_max'].rps:.0f} req/s)", p99_ms(m80), 100, 50, "ms", True)
        worst = max((r for _, r in run["rss"]), default=float("nan"))
        line(f"API worker RSS after {run['served']:,} requests (2 workers)", worst, RSS_LIMIT_MB, RSS_LIMIT_MB,
             "MB", True)
        for sort, (small, large) in run["uncached"].items():
            line(f"uncached page 1, {LARGE} vs {SMALL}, {sort} ({small * 1000:.1f} -> {large * 1000:.1f} ms)",
                 large / small, 1.2, 1.0, "x", True)
        for key, name, _ in RATIO_SCENARIOS:
            each = ", ".join(f"{r.ratio:.1%} ({r.result.rps:.0f} of {r.ceiling_rps:.0f})" for r in rounds[key])
            print(f"   {name}, each round against its ceiling: {each}")
        if "isso" in run:
            report_isso(rounds, run["isso"])
        elif run is runs[0] and isso_skipped:
            print(f"   no comparison with Isso: {isso_skipped}")
        print(f"   cold read p50 / p90: {pct(run['cold'], 0.5):.1f} / {pct(run['cold'], 0.9):.1f} ms; "
              f"/counts at low load p50 / p99: {pct(run['counts_idle'], 0.5):.2f} / "
              f"{pct(run['counts_idle'], 0.99):.2f} ms")
    busiest = max(driver.others.values(), default=0.0)
    print("(others: the share of the machine's CPU used meanwhile by processes other than the benchmark, the "
          "servers it measures, their Redis and PostgreSQL's backends for them; "
          f"the most in any scenario: {busiest:.0%})")
    if busiest > NOISY:
        print(f"\nWARNING: other processes took up to {busiest:.0%} of the CPU during a scenario; "
              "these figures are not reliable. Rerun on a quiet machine.")


@dataclass(frozen=True)
class Isso:
    """Isso's two servers. Its ``POST /count`` reads every comment in its database, so the posts of
    one round would slow the next round's counts (from 38% to 5% of the ceiling in three rounds):
    posts go to a server of their own."""
    seeded: Server  # the thread and the 100 counted threads
    posting: Server

    def server(self, key: str) -> Server:
        return self.posting if key == "post" else self.seeded


def start_isso(stack: contextlib.ExitStack, venv: str | None) -> tuple[Isso | None, str | None]:
    """Isso's servers, seeded, stopped with ``stack``; or None and why Isso cannot run."""
    try:
        python = stack.enter_context(isso_venv(venv))
        print(f"Isso {ISSO_VERSION} installed in {python.parent.parent}", flush=True)
        isso = Isso(stack.enter_context(isso_server(python)), stack.enter_context(isso_server(python)))
        print(f"Isso: seeding a thread of {SMALL} comments, 100 threads for /count ...", flush=True)
        seed_isso(isso.seeded.port)
        return isso, None
    except InstallError as exc:
        why = f"could not install Isso {ISSO_VERSION}: {exc}"
    except Exception as exc:  # noqa: BLE001 - no comparison, but still the rest of the benchmark
        why = f"Isso failed to run: {type(exc).__name__}: {exc}"
    print(f"\n*** the comparison with Isso is skipped: {why}\n", flush=True)
    return None, why


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of load per scenario (default 8)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the scenarios measured as a ratio, each between two ceilings (default 3)")
    parser.add_argument("--postgres", metavar="URL", default=os.environ.get("TEST_DATABASE_URL"),
                        help="a PostgreSQL server to measure too (default: TEST_DATABASE_URL)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--isso-venv", metavar="DIR",
                        help="keep Isso's virtualenv in DIR and reuse it next time (default: a temporary one)")
    parser.add_argument("--no-isso", action="store_true", help="skip the comparison with Isso")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    exit_on_sigterm()
    started = time.monotonic()
    use_wrk = wrk.available()
    if not use_wrk:
        print("*** wrk is not installed (`make wrk`): falling back to the Python load generator, which uses "
              "much of the CPU it measures; ratios are not comparable with wrk's.", flush=True)
    print(f"load average at start: {load_average()}", flush=True)
    driver = Driver(args.duration, use_wrk)
    runs, ceilings = [], []
    with tempfile.TemporaryDirectory() as tmp, \
            civility_stack({"CIVILITY_MODERATION_MODE": "post", "CIVILITY_TRUSTED_PROXIES": "1",
                            "BENCH_PAGE_FILE": str(Path(tmp) / "page.json.gz")}) as env, \
            gunicorn_server("bench.hello_app:app", env, "/hello") as hello_server:
        # The ceiling around each round of the ratio scenarios: this VM's speed drifts, and ratios
        # need a fair one.
        def ceiling() -> Result:
            ceilings.append(driver.run("bare Flask hello (ceiling)", hello_server, HELLO))
            return ceilings[-1]

        with contextlib.ExitStack() as isso_stack:
            isso, isso_skipped = (None, "--no-isso") if args.no_isso else start_isso(isso_stack, args.isso_venv)
            runs.append(measure_civility("SQLite", env, driver, ceiling, args.rounds, isso))
        same_bytes = driver.run(f"bare Flask sending the same page ({runs[0]['page_bytes']:,} bytes, gzip)",
                                hello_server, PAGE_BYTES)
        if args.postgres and not args.no_postgres:
            with postgres_database(args.postgres) as url:
                # Another prefix: none of the SQLite run's cached pages and counts may answer for it.
                runs.append(measure_civility("PostgreSQL", {**env, "CIVILITY_DATABASE_URL": url,
                                                            "CIVILITY_REDIS_PREFIX": "bench-pg"}, driver,
                                             ceiling, args.rounds))
    hello = sorted(ceilings, key=lambda r: r.rps)[len(ceilings) // 2]
    spread = max(r.rps for r in ceilings) / max(min(r.rps for r in ceilings), 1.0)
    print("\nceiling measurements: " + ", ".join(f"{r.rps:.0f}" for r in ceilings) + " req/s; the median is "
          "the ceiling below (the ratio scenarios: each round's own, see each scenario's rounds)")
    if spread > 1.25:
        print(f"WARNING: the ceiling varied {spread:.2f}x within this run: the machine's speed drifted; rerun.")
    report(hello, runs, driver, same_bytes, isso_skipped)
    print(f"\nload average at end: {load_average()}; total time {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("\ninterrupted: every server it started has been stopped", file=sys.stderr)
        sys.exit(130)
