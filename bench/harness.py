"""Shared benchmark plumbing: private Redis + SQLite, gunicorn servers, and a load generator that
runs in separate processes (so the client never shares the server's interpreter)."""

from __future__ import annotations

import contextlib
import http.client
import json
import multiprocessing as mp
import os
import platform
import re
import runpy
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The settings `make dev` and the Docker image use (service/gunicorn_conf.py: the private logger and
# the access-log format), so the servers measured pay for the same logging; then the benchmark's own.
GUNICORN_CONF = ["-c", "python:service.gunicorn_conf"]
GUNICORN = [*GUNICORN_CONF, "--workers", "2", "--threads", "4", "--worker-class", "gthread",
            "--log-level", "warning", "--keep-alive", "5"]


PLAIN_CONF = """import sys

accesslog = {accesslog!r}
access_log_format = {access_log_format!r}
control_socket_disable = True


def post_fork(server, worker):
    sys.setswitchinterval({interval!r})
"""


def gunicorn_args(python: str = sys.executable, folder: Path | None = None) -> list[str]:
    """``GUNICORN`` for ``python``. Another interpreter (Isso's virtualenv) cannot import civility, so
    the config module gives way to its plain equivalent, written in ``folder``: the same access log
    and the same thread switch interval, with gunicorn's own logger."""
    if python == sys.executable:
        return list(GUNICORN)
    if folder is None:
        raise ValueError("another interpreter needs a folder for its gunicorn config")
    conf = runpy.run_path(str(ROOT / "service" / "gunicorn_conf.py"))  # the file alone, not the package
    path = folder / "gunicorn_conf.py"
    path.write_text(PLAIN_CONF.format(accesslog=conf["accesslog"], access_log_format=conf["access_log_format"],
                                      interval=conf["SWITCH_INTERVAL_SECONDS"]))
    return ["-c", str(path), *GUNICORN[len(GUNICORN_CONF):]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def civility_stack(extra_env: dict | None = None):
    """A private Redis, a migrated SQLite database, and the environment to run civility with."""
    sys.path.insert(0, str(ROOT))
    from civility.infra.redis_server import RedisServer
    from civility.store.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="civility-bench-") as tmp:
        redis = RedisServer(Path(tmp) / "redis").start()
        db_url = f"sqlite:///{tmp}/bench.db"
        upgrade(db_url)
        env = {**os.environ, "CIVILITY_DATABASE_URL": db_url, "CIVILITY_REDIS_URL": redis.url,
               "CIVILITY_RATE_LIMITS": "off", "CIVILITY_SCORER": "profanity", **(extra_env or {})}
        try:
            yield env
        finally:
            redis.stop()


@contextmanager
def gunicorn(app_spec: str, env: dict, ready_path: str):
    """Serve ``app_spec`` under the shared gunicorn settings; yields the port."""
    with gunicorn_server(app_spec, env, ready_path) as server:
        yield server.port


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")

    def row(self) -> str:
        return (f"{self.name:<34} {self.rps:>9.0f} req/s   p50 {self.pct(0.5):>7.2f} ms   "
                f"p99 {self.pct(0.99):>7.2f} ms   errors {self.errors}")


def _client_loop(args):
    port, method, make_request, duration, connection_id = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies, errors, i = [], 0, 0
    end = time.perf_counter() + duration
    while time.perf_counter() < end:
        request = make_request(connection_id, i)
        # (path, body, headers) with the scenario's method, or (method, path, body, headers) for a mix.
        verb, (path, body, headers) = (method, request) if len(request) == 3 else (request[0], request[1:])
        i += 1
        started = time.perf_counter()
        try:
            conn.request(verb, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status >= 400:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            continue
        latencies.append(time.perf_counter() - started)
    conn.close()
    return latencies, errors


def _process_worker(args):
    port, method, make_request, duration, threads, offset = args
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(_client_loop, [(port, method, make_request, duration, offset + t)
                                            for t in range(threads)]))


def load(name: str, port: int, method: str, make_request, duration: float = 6.0, processes: int = 2,
         threads: int = 4, warmup: float = 1.0) -> Result:
    """Drive the server from ``processes`` client processes with ``threads`` keep-alive connections each."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(processes) as pool:
        if warmup:
            pool.map(_process_worker, [(port, method, make_request, warmup, threads, 1000 * p + 500)
                                       for p in range(processes)])
        started = time.perf_counter()
        parts = pool.map(_process_worker, [(port, method, make_request, duration, threads, 1000 * p)
                                           for p in range(processes)])
        elapsed = time.perf_counter() - started
    latencies = [lat for proc in parts for lats, _ in proc for lat in lats]
    errors = sum(err for proc in parts for _, err in proc)
    return Result(name, len(latencies), elapsed, latencies, errors)


def sequential(name: str, port: int, method: str, make_request, count: int = 300) -> Result:
    """One connection, one request at a time: latency at low load."""
    latencies, errors = [], 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for i in range(count + 20):
        path, body, headers = make_request(0, i)
        started = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        if i >= 20:  # the first requests warm the connection and caches
            latencies.append(time.perf_counter() - started)
            errors += response.status >= 400
    conn.close()
    return Result(name, count, sum(latencies), latencies, errors)


def post_json(path: str, payload: dict, headers: dict | None = None):
    # bytes, not str: http.client sends a str body in a second packet, and Nagle plus delayed ACKs
    # would then add tens of milliseconds to every POST.
    return path, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})}


def ratio(part: Result, whole: Result) -> float:
    return part.rps / whole.rps if whole.rps else 0.0


def median(values):
    return statistics.median(values) if values else float("nan")


# --- helpers for bench/api.py and bench/scoring.py (additive) ----------------------------------------


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so ``finally`` blocks stop every server we started."""
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(143))


@dataclass
class Server:
    port: int
    pid: int  # the gunicorn master; it leads its own process group
    log_path: Path | None = None

    def worker_pids(self) -> list[int]:
        return child_pids(self.pid)


@contextmanager
def gunicorn_server(app_spec: str, env: dict, ready_path: str, python: str = sys.executable,
                    cwd: Path | str = ROOT, log_path: Path | None = None, timeout: float = 60):
    """Serve ``app_spec`` under the shared gunicorn settings, with any interpreter or folder; yields
    a ``Server`` whose master PID lets the caller read its workers' memory."""
    port = free_port()
    log = open(log_path, "ab") if log_path else None  # noqa: SIM115 - open while the server runs
    # Without a log file the access log (stdout, a line a request) is written, then discarded; the
    # error log (stderr) still reaches the terminal.
    conf_dir = None if python == sys.executable else tempfile.TemporaryDirectory(prefix="civility-bench-gunicorn-")
    args = gunicorn_args(python, Path(conf_dir.name) if conf_dir else None)
    process = subprocess.Popen([python, "-m", "gunicorn", *args, "--bind", f"127.0.0.1:{port}", app_spec],
                               cwd=cwd, env=env, start_new_session=True, stdin=subprocess.DEVNULL,
                               stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT if log else None)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(base + ready_path, timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{app_spec} did not start" + _log_tail(log_path)) from None
                time.sleep(0.2)
        # One worker answering is not all of them: gunicorn forks them one after another, and a
        # measurement started before the last is forked runs on fewer cores (a ceiling once read a
        # third of itself that way).
        workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 1
        while len(child_pids(process.pid)) < workers:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{app_spec} did not start its {workers} workers" + _log_tail(log_path))
            time.sleep(0.1)
        yield Server(port, process.pid, log_path)
    finally:
        stop_process_group(process)
        if log:
            log.close()
        if conf_dir:
            conf_dir.cleanup()


def _log_tail(log_path: Path | None) -> str:
    """A failed server's last exception and last line, for an error message: its log may be in a
    folder about to be removed."""
    if log_path is None or not log_path.exists():
        return ""
    lines = log_path.read_text(errors="replace").strip().splitlines()
    raised = [line.strip() for line in lines if re.match(r"\s*[\w.]+(Error|Exception): ", line)]
    return f" ({log_path}: {' | '.join(raised[-1:] + lines[-1:])})"


def stop_process_group(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM the process group ``process`` leads, then SIGKILL it if it lingers."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    # Children that outlived their leader (a gunicorn worker, RQ's scheduler) are still in the group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc), e.g. the workers of a gunicorn master."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces; the parent PID follows the state.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            children.append(int(entry))
    return sorted(children)


def memory_mb(pid: int, field: str = "VmRSS") -> float:
    """A /proc/PID/status memory field in MB (VmRSS: now; VmHWM: the peak resident set)."""
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def machine() -> str:
    """The processor, cores, kernel and Python of this run. The VM under these benchmarks has changed
    processor between sessions (docs/benchmarks.md), and the ratios moved with it."""
    cpu = "unknown processor"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as handle:
        # The last CPU's fields; the VM's are all alike.
        fields = {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in handle)}
        model, family, number = fields.get("model name", ""), fields.get("cpu family"), fields.get("model")
        cpu = f"{model} (family {family}, model {number})" if family and number else model or cpu
    return (f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
            f"{platform.python_implementation()} {platform.python_version()}")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


class OtherLoad:
    """How much of the machine's CPU went to processes other than ``pids`` (and their reaped
    children) since this was made: the noise in a measurement on a shared machine (0.0: none;
    0.5: half of every core)."""

    def __init__(self, *pids: int):
        self.pids = pids or (os.getpid(),)
        self.start = self._sample()

    def _sample(self) -> tuple[int, int, int]:
        with open("/proc/stat") as handle:
            values = [int(v) for v in handle.readline().split()[1:]]
        total = sum(values[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
        # Interrupts are left out: on loopback they are mostly the benchmark's own network traffic.
        busy = total - values[3] - values[4] - values[5] - values[6]
        own = 0
        for pid in self.pids:
            try:
                with open(f"/proc/{pid}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                # utime + stime (all threads) + cutime + cstime (children it has waited for)
                own += sum(int(v) for v in fields[11:15])
            except OSError:
                pass
        return total, busy, own

    def share(self, *started: int) -> float:
        """``started``: more processes of one's own, started since (all their CPU is one's own)."""
        self.pids = (*self.pids, *started)
        total, busy, own = self._sample()
        elapsed = total - self.start[0]
        return max(0.0, (busy - self.start[1]) - (own - self.start[2])) / elapsed if elapsed else 0.0
