"""Benchmark: idle live streams held by one `civility live` process, their memory, and fan-out.

Opens N idle Server-Sent Events streams to one process (all on one article: the widest fan-out),
reports the server's resident memory before and after and per stream, then publishes events the
way a writing process does and checks every stream receives every one (latency from PUBLISH to the
event read by the client: p50, p99, max). Run from the repository root:

    .venv/bin/python bench/live.py [--streams 1000 5000] [--events 20]

The client is this process, one asyncio loop on one core reading every socket, so its own
scheduling is part of the latencies measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, civility_stack, free_port

ARTICLE = "world/bench-live"
OPEN_AT_ONCE = 200


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def healthz(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        return json.loads(response.read())


def wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


class Tally:
    """How many streams have each event, and when the last one got it."""

    def __init__(self, streams: int):
        self.streams = streams
        self.counts: dict[int, int] = {}
        self.done: dict[int, asyncio.Event] = {}

    def event(self, n: int) -> asyncio.Event:
        return self.done.setdefault(n, asyncio.Event())

    def got(self, n: int) -> None:
        self.counts[n] = self.counts.get(n, 0) + 1
        if self.counts[n] == self.streams:
            self.event(n).set()


class Client:
    """One idle stream: reads events and notes when each arrived."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self.arrived: dict[int, float] = {}

    async def read(self, tally: Tally) -> None:
        while True:
            line = await self.reader.readline()
            if not line:
                return
            if line.startswith(b"data: "):
                n = json.loads(line[6:])["comment_id"]
                self.arrived[n] = time.monotonic()
                tally.got(n)


async def open_stream(port: int) -> Client:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /api/v1/articles/{ARTICLE}/events HTTP/1.1\r\nHost: bench\r\n"
                 f"Accept: text/event-stream\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.decode(errors="replace"))
    await reader.readuntil(b"\n\n")  # the opening retry: line
    return Client(reader, writer)


async def measure(port: int, pid: int, streams: int, events: int, redis_url: str) -> dict:
    from redis.asyncio import Redis

    before = rss_kib(pid)
    clients: list[Client] = []
    started = time.monotonic()
    for start in range(0, streams, OPEN_AT_ONCE):
        batch = min(OPEN_AT_ONCE, streams - start)
        clients += await asyncio.gather(*(open_stream(port) for _ in range(batch)))
    opened = time.monotonic() - started
    await asyncio.sleep(1)  # let the server settle
    held = (await asyncio.to_thread(healthz, port))["streams"]
    after = rss_kib(pid)
    tally = Tally(streams)
    readers = [asyncio.create_task(c.read(tally)) for c in clients]

    redis = Redis.from_url(redis_url)
    channel = f"{prefix()}:live:{ARTICLE}"
    latencies: list[float] = []
    missing = 0
    for n in range(1, events + 1):
        sent = time.monotonic()
        await redis.publish(channel, json.dumps({"type": "published", "article_id": ARTICLE, "comment_id": n}))
        with contextlib.suppress(TimeoutError):  # counted as missing below
            await asyncio.wait_for(tally.event(n).wait(), 10)
        got = [c.arrived[n] - sent for c in clients if n in c.arrived]
        missing += streams - len(got)
        latencies += got
    await redis.aclose()
    for task in readers:
        task.cancel()
    for c in clients:
        c.writer.close()
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")

    return {"streams": streams, "held_by_server": held, "open_seconds": round(opened, 2),
            "rss_before_mib": round(before / 1024, 1), "rss_after_mib": round(after / 1024, 1),
            "kib_per_stream": round((after - before) / streams, 1), "events": events,
            "deliveries_missing": missing, "fanout_p50_ms": round(pct(0.50), 1), "fanout_p99_ms": round(pct(0.99), 1),
            "fanout_max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
            "fanout_mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None}


def prefix() -> str:
    return "benchlive"


def run_one(env: dict, streams: int, events: int) -> dict:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "service.cli", "live", "--port", str(port),
                               "--max-streams", str(streams + 10)],
                              cwd=ROOT, env={**env, "CIVILITY_REDIS_PREFIX": prefix()},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _up(port), 30, "civility live to start")
        return asyncio.run(measure(port, server.pid, streams, events, env["CIVILITY_REDIS_URL"]))
    finally:
        server.terminate()
        server.wait(20)


def _up(port: int) -> bool:
    try:
        return healthz(port)["status"] == "ok"
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--events", type=int, default=20)
    args = parser.parse_args()
    limit = raise_fd_limit()
    print(f"open-file limit: {limit}", flush=True)
    with civility_stack() as env:
        for streams in args.streams:
            if streams + 100 > limit:
                print(f"skipping {streams} streams: the open-file limit is {limit}", flush=True)
                continue
            print(json.dumps(run_one(env, streams, args.events)), flush=True)


if __name__ == "__main__":
    main()
