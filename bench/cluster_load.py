"""The mixed load of bench/cluster.py: client processes, each with keep-alive connections to the API
processes in turn, sending thread reads, comment posts, shares and votes in fixed proportions.

Every request is recorded as (kind, seconds since the load began, latency, status); a comment post's
answer also gives the comment's id when it was acknowledged (201 or 202), and its body carries a
token unique to the post, so the database can be checked for a post stored twice.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing as mp
import random
import time
from dataclasses import dataclass, field

KINDS = ("read", "post", "share", "vote")
WEIGHTS = (60, 15, 15, 10)
POST_ARTICLES = 10
CONNECTION_ERROR = 0  # the status recorded when no answer came back


@dataclass
class Plan:
    ports: list[int]
    read_articles: list[str]
    vote_ids: list[int]
    duration: float
    started_at: float  # time.time() at which every process begins


@dataclass
class Outcome:
    requests: list[tuple[str, float, float, int]] = field(default_factory=list)
    acknowledged: list[int] = field(default_factory=list)

    def merge(self, other: Outcome) -> None:
        self.requests += other.requests
        self.acknowledged += other.acknowledged


def _request(kind: str, rng: random.Random, plan: Plan, token: str) -> tuple[str, str, bytes | None, dict]:
    reader = {"X-Forwarded-For": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
              "User-Agent": f"cluster-bench/{rng.randrange(1000)}"}
    if kind == "read":
        return "GET", f"/api/v1/articles/{rng.choice(plan.read_articles)}/comments?limit=50", None, reader
    if kind == "vote":
        body = {"value": rng.choice((1, -1))}
        path = f"/api/v1/comments/{rng.choice(plan.vote_ids)}/votes"
    elif kind == "share":
        body = {"network": "x"}
        path = f"/api/v1/articles/{rng.choice(plan.read_articles)}/shares"
    else:
        body = {"body": f"A measured comment on the council budget and the new tram line, ref {token}.",
                "author_name": "Bench"}
        path = f"/api/v1/articles/bench/post-{rng.randrange(POST_ARTICLES)}/comments"
    return "POST", path, json.dumps(body).encode(), {"Content-Type": "application/json", **reader}


def _connection(args: tuple[Plan, int]) -> Outcome:
    plan, number = args
    rng = random.Random(number)
    port = plan.ports[number % len(plan.ports)]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    outcome = Outcome()
    time.sleep(max(0.0, plan.started_at - time.time()))
    end, i = plan.started_at + plan.duration, 0
    while time.time() < end:
        kind = rng.choices(KINDS, WEIGHTS)[0]
        method, path, body, headers = _request(kind, rng, plan, f"{number}-{i}")
        i += 1
        sent = time.time()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            answer, status = response.read(), response.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            answer, status = b"", CONNECTION_ERROR
        outcome.requests.append((kind, sent - plan.started_at, time.time() - sent, status))
        if kind == "post" and status in (201, 202):
            outcome.acknowledged.append(json.loads(answer)["id"])
    conn.close()
    return outcome


def _process(args: tuple[Plan, int, int]) -> Outcome:
    from concurrent.futures import ThreadPoolExecutor

    plan, first, threads = args
    total = Outcome()
    with ThreadPoolExecutor(threads) as pool:
        for part in pool.map(_connection, [(plan, first + t) for t in range(threads)]):
            total.merge(part)
    return total


def start(plan: Plan, processes: int, threads: int):
    """Start the load; returns (pool, async result). The caller waits, closes and joins the pool."""
    pool = mp.get_context("spawn").Pool(processes)
    result = pool.map_async(_process, [(plan, p * threads, threads) for p in range(processes)])
    return pool, result
