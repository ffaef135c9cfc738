"""Benchmark: share POSTs and /counts for 100 articles, against a bare Flask "hello" under the same
gunicorn settings (the ceiling). Run from the repository root:

    .venv/bin/python bench/engagement.py [--duration 6]

Targets (issue 3): share POSTs at 60% of the ceiling or better; /counts with 100 ids at a p50 of
5 ms or less at low load.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import civility_stack, gunicorn, load, post_json, ratio, sequential

ARTICLES = [f"world/story-{i}" for i in range(100)]
NETWORKS = ["facebook", "x", "linkedin", "reddit", "whatsapp", "telegram", "mastodon", "bluesky", "email"]


def hello_request(_conn, _i):
    return "/hello", None, {}


def share_request(conn, i):
    # Every request is a distinct reader (its own user agent), so each one is counted.
    article = ARTICLES[i % len(ARTICLES)]
    return post_json(f"/api/v1/articles/{article}/shares", {"network": NETWORKS[i % len(NETWORKS)]},
                     {"User-Agent": f"bench-reader-{conn}-{i}"})


COUNTS_PATH = "/api/v1/counts?" + "&".join(f"article_id={a}" for a in ARTICLES)


def counts_request(_conn, _i):
    return COUNTS_PATH, None, {}


def seed(port: int) -> None:
    """Some comments and shares on every article, so /counts has real work to do."""
    for n, article in enumerate(ARTICLES):
        for k in range(2):
            body = json.dumps({"body": f"Comment {k} on {article}", "author_name": "Bench"}).encode()
            req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/articles/{article}/comments", body,
                                         {"Content-Type": "application/json"})
            urllib.request.urlopen(req).read()
        body = json.dumps({"network": "x"}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/articles/{article}/shares", body,
                                     {"Content-Type": "application/json", "User-Agent": f"seed-{n}"})
        urllib.request.urlopen(req).read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=6.0, help="seconds of load per scenario")
    args = parser.parse_args()

    with civility_stack({"CIVILITY_MODERATION_MODE": "post"}) as env:
        with gunicorn("bench.hello_app:app", env, "/hello") as port:
            hello = load("bare Flask hello (ceiling)", port, "GET", hello_request, args.duration)
        with gunicorn("service:create_app()", env, "/healthz") as port:
            seed(port)
            shares = load("POST /articles/{id}/shares", port, "POST", share_request, args.duration)
            counts = load("GET /counts (100 ids), loaded", port, "GET", counts_request, args.duration)
            counts_idle = sequential("GET /counts (100 ids), low load", port, "GET", counts_request)

    print("\ngunicorn: 2 workers x 4 threads (gthread); load: 2 client processes x 4 keep-alive connections")
    for result in (hello, shares, counts, counts_idle):
        print(result.row())
    print()
    print(f"share POSTs / ceiling:           {ratio(shares, hello):6.1%}   (target >= 60%)")
    print(f"/counts (100 ids) / ceiling:     {ratio(counts, hello):6.1%}")
    print(f"/counts (100 ids) p50, low load: {counts_idle.pct(0.5):6.2f} ms (target <= 5 ms)")


if __name__ == "__main__":
    main()
