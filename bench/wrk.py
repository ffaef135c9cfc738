"""Load from ``wrk`` (C, epoll): a client that costs the server's CPU far less than a Python one.

``make wrk`` installs Debian's wrk. A scenario is a list of requests that wrk's connections take in
turn (a Lua script built here holds them); ``{n}`` in a path, body or header becomes a number unique
to that request, so that posts are distinct, and ``{ip}`` in a header (X-Forwarded-For) an address
unique to it, so that every request comes from another reader. ``wrk_load`` runs wrk as fast as it
goes, or with ``think_ms`` a random (exponential) think time per connection between requests, a
closed-loop approximation of a steady arrival rate: the caller reads the rate reached.
"""

from __future__ import annotations

import itertools
import json
import random
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.harness import Result

THREADS, CONNECTIONS = 2, 16

_SCRIPT = """
local requests = %(requests)s
local counter = 0
local offset = 0
local think_ms = %(think_ms)f
local threads = 0

function setup(thread)
  thread:set("first", %(first)d + threads * %(per_thread)d)
  threads = threads + 1
end

function init(args)
  -- "first" is the global setup gave this thread ("offset" is this chunk's local)
  offset = tonumber(first) or 0
  math.randomseed(offset)
end

function request()
  counter = counter + 1
  local r = requests[((counter + offset) %% #requests) + 1]
  local k = offset + counter
  local n = tostring(offset) .. "-" .. tostring(counter)
  local ip = string.format("10.%%d.%%d.%%d", math.floor(k / 65536) %% 256, math.floor(k / 256) %% 256, k %% 256)
  local body = r.body and string.gsub(r.body, "{n}", n) or nil
  local path = string.gsub(r.path, "{n}", n)
  local headers = {}
  for name, value in pairs(r.headers) do headers[name] = string.gsub(string.gsub(value, "{ip}", ip), "{n}", n) end
  return wrk.format(r.method, path, headers, body)
end

if think_ms > 0 then
  function delay()
    return -math.log(1 - math.random()) * think_ms
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests": %%d, "duration_us": %%d, "status_errors": %%d, "socket_errors": %%d, ' ..
    '"p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "mean_us": %%f}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
"""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: str | None = None
    headers: dict[str, str] | None = None


def available() -> bool:
    return shutil.which("wrk") is not None


def _lua(value) -> str:
    """A Python value as a Lua literal (strings JSON-escaped, which Lua reads alike for ASCII)."""
    if value is None:
        return "nil"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=True)
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "{" + ", ".join(_lua(v) for v in value) + "}"
    return repr(value)


# Each wrk run (a warm-up is one) gets its own block of request numbers, and each of its threads a
# part of the block, so that no two requests of a benchmark share a number, nor an address: one
# from an earlier run would be a repeat (a share not counted again, a post's text seen before).
_BLOCK = 1 << 18  # of the 2**24 addresses 10.x.y.z: 64 runs of up to 131,072 requests a thread
_runs = itertools.count()


def script(requests: list[Request], think_ms: float = 0.0, threads: int = THREADS) -> str:
    first = next(_runs) * _BLOCK % (1 << 24)
    table = [{"method": r.method, "path": r.path, "body": r.body,
              "headers": {**({"Content-Type": "application/json"} if r.body is not None else {}),
                          **(r.headers or {})}}
             for r in requests]
    return _SCRIPT % {"requests": _lua(table), "think_ms": think_ms, "first": first,
                      "per_thread": _BLOCK // threads}


@dataclass
class WrkResult(Result):
    p50_us: float = 0.0
    p90_us: float = 0.0
    p99_us: float = 0.0
    mean_us: float = 0.0

    def pct(self, q: float) -> float:
        return {50: self.p50_us, 90: self.p90_us, 99: self.p99_us}.get(int(round(q)), self.p99_us) / 1e6

    def row(self) -> str:
        return (f"{self.name:<44} {self.rps:8.0f} req/s   p50 {self.p50_us / 1000:6.1f} ms   "
                f"p99 {self.p99_us / 1000:6.1f} ms   errors {self.errors}")


def wrk_load(name: str, port: int, requests: list[Request], duration: float, *, think_ms: float = 0.0,
             threads: int = THREADS, connections: int = CONNECTIONS, warmup: float = 1.0) -> WrkResult:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.lua"
        command = ["wrk", "-t", str(threads), "-c", str(connections), "-s", str(path), "--latency",
                   "--timeout", "10s", f"http://127.0.0.1:{port}/"]
        if warmup:
            path.write_text(script(requests, think_ms, threads))
            subprocess.run([*command[:1], "-d", f"{max(1, round(warmup))}s", *command[1:]], capture_output=True,
                           check=True)
        path.write_text(script(requests, think_ms, threads))
        run = subprocess.run([*command[:1], "-d", f"{max(1, round(duration))}s", *command[1:]], capture_output=True,
                             text=True, check=True)
    line = next((x for x in run.stdout.splitlines() if x.startswith("WRK-JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {run.stdout[-500:]} {run.stderr[-500:]}")
    data = json.loads(line[len("WRK-JSON "):])
    elapsed = data["duration_us"] / 1e6
    return WrkResult(name, data["requests"], elapsed, [], data["status_errors"] + data["socket_errors"],
                     p50_us=data["p50_us"], p90_us=data["p90_us"], p99_us=data["p99_us"], mean_us=data["mean_us"])


def shuffled(requests: list[Request], seed: int = 7) -> list[Request]:
    mixed = list(requests)
    random.Random(seed).shuffle(mixed)
    return mixed
