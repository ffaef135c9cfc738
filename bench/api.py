"""Benchmark: the public API under gunicorn, against a bare Flask "hello" (the ceiling) and against
Isso (a Python comment server from PyPI), all measured in the same run. From the repository root:

    .venv/bin/python bench/api.py [--duration 6] [--isso-venv DIR] [--no-isso]

Scenarios, each under gunicorn with the same settings (2 workers x 4 threads, gthread) and driven
by a load generator in two other processes (4 keep-alive connections each):

- reading a thread: an article with 500 published comments, a page of 50
  (civility ``GET /api/v1/articles/{id}/comments?limit=50``; Isso ``GET /?uri=...&limit=50&nested_limit=5``);
- posting a comment (civility ``POST /api/v1/articles/{id}/comments``; Isso ``POST /new?uri=...``);
- a share POST and ``GET /counts`` with 100 article ids (civility only);
- a bare Flask app answering "hello": the ceiling.

civility runs with SQLite, a private Redis, rate limits off and ``CIVILITY_MODERATION_MODE=post``
(a comment is published at once, like Isso with moderation off). Posting still enqueues each
comment's scoring job on Redis, as in production; no worker runs, so nothing scores them here.

Targets: reads at 3x Isso or better and at 50% of the ceiling or better; posts at 2x Isso or
better; an API process under 120 MB RSS after 10,000 requests.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import http.client
import json
import os
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engagement import counts_request, hello_request, share_request
from bench.engagement import seed as seed_engagement
from bench.harness import (
    GUNICORN,
    OtherLoad,
    Result,
    civility_stack,
    exit_on_sigterm,
    gunicorn_server,
    load,
    load_average,
    memory_mb,
    post_json,
    ratio,
)
from bench.scoring_corpus import realistic_comments

THREAD_SIZE = 500
PAGE = 50
CIVILITY_THREAD = "bench/thread-500"
CIVILITY_POSTS = "bench/posting"
ISSO_THREAD = "/bench/thread-500"
ISSO_POSTS = "/bench/posting"
RSS_LIMIT_MB = 120
RSS_AFTER_REQUESTS = 10_000
NOISY = 0.10  # others' share of the CPU above which a run's figures are flagged as unreliable

# Bodies for posts under load: realistic, 20 to 80 words, and distinct per request.
TEXTS = realistic_comments(500, seed=11)


def _body(conn: int, i: int) -> str:
    return f"{TEXTS[(conn * 131 + i) % len(TEXTS)]} (#{conn}-{i})"


def get_request(path: str, _conn: int, _i: int):
    return path, None, {}


def civility_post_request(conn: int, i: int):
    # A distinct reader per request (its own user agent), as on a busy article.
    return post_json(f"/api/v1/articles/{CIVILITY_POSTS}/comments",
                     {"body": _body(conn, i), "author_name": f"Reader {conn}"},
                     {"User-Agent": f"bench-reader-{conn}-{i}"})


def isso_post_request(conn: int, i: int):
    return post_json(f"/new?uri={ISSO_POSTS}", {"text": _body(conn, i), "author": f"Reader {conn}",
                                                "title": "Posting"})


CIVILITY_READ_PATH = f"/api/v1/articles/{CIVILITY_THREAD}/comments?limit={PAGE}"
ISSO_READ_PATH = f"/?uri={ISSO_THREAD}&limit={PAGE}&nested_limit=5"


def mixed_get(conn: int, i: int):
    """Thread reads and /counts in turn (traffic before the RSS reading)."""
    return (CIVILITY_READ_PATH, None, {}) if i % 2 == 0 else counts_request(conn, i)


def mixed_post(conn: int, i: int):
    """Comment and share POSTs in turn (traffic before the RSS reading)."""
    return civility_post_request(conn, i) if i % 2 == 0 else share_request(conn, i)


def _post_many(port: int, requests: list[tuple[str, bytes, dict]], threads: int = 4) -> int:
    """Send ``requests`` (path, body, headers) as POSTs over ``threads`` connections; returns the count."""

    def run(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for path, body, headers in chunk:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            if response.status >= 400:
                raise RuntimeError(f"seeding POST {path} answered {response.status}: {payload[:200]!r}")
        conn.close()
        return len(chunk)

    chunks = [requests[t::threads] for t in range(threads)]
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(run, chunks))


def _get_json(port: int, path: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"GET {path} answered {response.status}: {body[:200]!r}")
    return json.loads(body)


def seed_civility_thread(port: int) -> int:
    texts = realistic_comments(THREAD_SIZE, seed=5)
    sent = _post_many(port, [post_json(f"/api/v1/articles/{CIVILITY_THREAD}/comments",
                                       {"body": text, "author_name": f"Reader {n % 37}"},
                                       {"User-Agent": f"seed-reader-{n}"})
                             for n, text in enumerate(texts)])
    page = _get_json(port, CIVILITY_READ_PATH)
    if page["total"] != THREAD_SIZE or len(page["items"]) != PAGE:
        raise RuntimeError(f"civility thread: total {page['total']}, page of {len(page['items'])}")
    return sent


def seed_isso_thread(port: int) -> int:
    texts = realistic_comments(THREAD_SIZE, seed=5)
    sent = _post_many(port, [post_json(f"/new?uri={ISSO_THREAD}", {"text": text, "author": f"Reader {n % 37}",
                                                                   "title": "Thread"})
                             for n, text in enumerate(texts)])
    page = _get_json(port, ISSO_READ_PATH)
    if page["total_replies"] != THREAD_SIZE or len(page["replies"]) != PAGE:
        raise RuntimeError(f"Isso thread: {page['total_replies']} comments, page of {len(page['replies'])}")
    return sent


def _rss(server) -> list[tuple[int, float, float]]:
    rows = []
    for pid in server.worker_pids():
        with contextlib.suppress(OSError):  # the worker exited meanwhile
            rows.append((pid, memory_mb(pid, "VmRSS"), memory_mb(pid, "VmHWM")))
    return rows


def run_isso(args, results: dict) -> str | None:
    """Isso's read and post scenarios into ``results``; returns why Isso was skipped, if it was."""
    from bench.isso_server import ISSO_VERSION, InstallError, isso_server, isso_venv

    try:
        with isso_venv(args.isso_venv) as python:
            print(f"Isso {ISSO_VERSION} installed in {python.parent.parent}", flush=True)
            with isso_server(python) as server:
                print(f"Isso: seeding a thread with {THREAD_SIZE} comments, then 2 scenarios ...", flush=True)
                seed_isso_thread(server.port)
                results["isso_read"] = measure(f"Isso GET thread ({PAGE} of {THREAD_SIZE})", server, "GET",
                                            partial(get_request, ISSO_READ_PATH), args.duration)
                results["isso_post"] = measure("Isso POST /new", server, "POST", isso_post_request,
                                            args.duration)
                results["isso_rss"] = _rss(server)
    except InstallError as exc:
        return f"could not install Isso {ISSO_VERSION}: {exc}"
    except Exception as exc:  # noqa: BLE001 - no Isso, but still the rest of the benchmark
        return f"Isso failed to run: {type(exc).__name__}: {exc}"
    return None


OTHERS: dict[str, float] = {}  # scenario -> share of the CPU that other processes used meanwhile


def measure(name: str, server, method: str, make_request, duration: float) -> Result:
    """``load`` plus how much CPU processes outside the benchmark took meanwhile."""
    others = OtherLoad(os.getpid(), server.pid, *server.worker_pids())
    result = load(name, server.port, method, make_request, duration)
    OTHERS[name] = others.share()
    return result


def verdict(value: float, target: float) -> str:
    return "met" if value >= target else "NOT MET"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=6.0, help="seconds of load per scenario (default 6)")
    parser.add_argument("--isso-venv", metavar="DIR",
                        help="keep Isso's virtualenv in DIR and reuse it next time (default: a temporary one)")
    parser.add_argument("--no-isso", action="store_true", help="skip the Isso comparison")
    args = parser.parse_args()
    exit_on_sigterm()
    started = time.monotonic()
    print(f"load average at start: {load_average()}", flush=True)

    results: dict = {}
    isso_skipped = "--no-isso" if args.no_isso else None
    if not args.no_isso:
        # First, so that installing it does not compete with any measurement.
        isso_skipped = run_isso(args, results)
        if isso_skipped:
            print(f"\n*** Isso comparison skipped: {isso_skipped}\n", flush=True)

    with civility_stack({"CIVILITY_MODERATION_MODE": "post"}) as env:
        with gunicorn_server("bench.hello_app:app", env, "/hello") as server:
            print("ceiling: bare Flask hello ...", flush=True)
            results["hello"] = measure("bare Flask hello (ceiling)", server, "GET", hello_request, args.duration)
            results["hello_rss"] = _rss(server)
        with gunicorn_server("service:create_app()", env, "/healthz") as server:
            print(f"civility: seeding an article with {THREAD_SIZE} comments, then 4 scenarios ...", flush=True)
            served = seed_civility_thread(server.port)
            seed_engagement(server.port)
            served += 100 * 3
            results["read"] = measure(f"GET thread ({PAGE} of {THREAD_SIZE})", server, "GET",
                                      partial(get_request, CIVILITY_READ_PATH), args.duration)
            results["post"] = measure("POST comment", server, "POST", civility_post_request, args.duration)
            results["share"] = measure("POST share", server, "POST", share_request, args.duration)
            results["counts"] = measure("GET /counts (100 ids)", server, "GET", counts_request, args.duration)
            served += sum(results[k].requests for k in ("read", "post", "share", "counts"))
            # Each API process should have served its 10,000 requests before we read its RSS: top up
            # with the same four kinds of request, GETs and POSTs in turn, if the scenarios fell short.
            workers = len(server.worker_pids()) or 2
            wanted = RSS_AFTER_REQUESTS * workers
            rates = [results[k].rps for k in ("read", "post", "share", "counts")]
            rate = max(20.0, len(rates) / sum(1 / max(r, 1.0) for r in rates))  # the mix's rate
            budget = 150.0  # seconds of top-up at most
            while served < wanted and budget > 0:
                seconds = min(budget / 2, max(3.0, (wanted - served) / rate / 2 * 1.1))
                print(f"topping up to {wanted:,} requests before reading RSS ({served:,} so far): "
                      f"2 x {seconds:.0f} s", flush=True)
                for name, method, request in (("GETs", "GET", mixed_get), ("POSTs", "POST", mixed_post)):
                    extra = load(f"top-up {name}", server.port, method, request, seconds, warmup=0)
                    served += extra.requests
                budget -= 2 * seconds
            results["wanted"] = wanted
            results["served"] = served
            results["rss"] = _rss(server)

    report(results, isso_skipped, args)
    print(f"\nload average at end: {load_average()}; total time {time.monotonic() - started:.0f} s")


def report(results: dict, isso_skipped: str | None, args) -> None:
    hello, read, post, share, counts = (results[k] for k in ("hello", "read", "post", "share", "counts"))
    isso_read: Result | None = results.get("isso_read")
    isso_post: Result | None = results.get("isso_post")
    print(f"\ngunicorn {' '.join(GUNICORN)}; load: 2 client processes x 4 keep-alive connections, "
          f"{args.duration:g} s per scenario; SQLite + Redis; rate limits off; post-moderation")
    rows = [hello, read, post, share, counts] + [r for r in (isso_read, isso_post) if r]
    for result in rows:
        print(f"{result.row()}   others {OTHERS.get(result.name, float('nan')):4.0%}")
    print("(others: the share of the machine's CPU that processes outside this benchmark used meanwhile)")

    print("\ntarget                                       measured   target   verdict")
    lines = []
    if isso_read and isso_post:
        lines.append(("thread read / Isso thread read", ratio(read, isso_read), 3.0, "x"))
    lines.append(("thread read / ceiling", ratio(read, hello), 0.5, "%"))
    lines.append(("/counts (100 ids) / ceiling", ratio(counts, hello), 0.5, "%"))
    if isso_read and isso_post:
        lines.append(("comment POST / Isso comment POST", ratio(post, isso_post), 2.0, "x"))
        lines.append(("share POST / Isso comment POST", ratio(share, isso_post), 2.0, "x"))
    for label, value, target, unit in lines:
        shown = f"{value:8.2f}x" if unit == "x" else f"{value:8.1%} "
        wanted = f">= {target:g}x" if unit == "x" else f">= {target:.0%}"
        print(f"{label:<42} {shown}   {wanted:<7}  {verdict(value, target)}")
    if not (isso_read and isso_post):
        print(f"(Isso comparison not run: {isso_skipped})")
    rss = results["rss"]
    worst = max((r for _, r, _ in rss), default=float("nan"))
    print(f"{'API process RSS after ' + format(results['served'], ',') + ' requests':<42} {worst:7.1f} MB"
          f"   <= {RSS_LIMIT_MB} MB  {'met' if worst <= RSS_LIMIT_MB else 'NOT MET'}")
    if results["served"] < results["wanted"]:
        print(f"  (fewer than the {results['wanted']:,} requests wanted, {RSS_AFTER_REQUESTS:,} per process: "
              "the top-up ran out of time)")
    print("  (the largest of the gunicorn workers; each: "
          + ", ".join(f"pid {pid}: {now:.1f} MB now, {peak:.1f} MB peak" for pid, now, peak in rss) + ")")
    for key, name in (("hello_rss", "bare Flask hello"), ("isso_rss", "Isso")):
        if results.get(key):
            print(f"  for comparison, {name} workers: "
                  + ", ".join(f"{now:.1f} MB" for _, now, _ in results[key]))
    busiest = max(OTHERS.values(), default=0.0)
    if busiest > NOISY:
        print(f"\nWARNING: other processes took up to {busiest:.0%} of the CPU during a scenario; "
              "these figures are not reliable. Rerun on a quiet machine.")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("\ninterrupted: every server and worker it started has been stopped", file=sys.stderr)
        sys.exit(130)
