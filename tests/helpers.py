"""Helpers shared by the tests: requests, polling, settings and real worker processes.

Test modules import from here (never from each other or from conftest); fixtures live in conftest.
"""

from __future__ import annotations

import copy
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from werkzeug.test import Client

from civility.config import Settings
from civility.store.models import Comment

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = "world/pow-exchange-2026"
ABUSE = "you are a fucking idiot and a piece of shit"
FINAL = {"published", "flagged", "rejected"}


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.05, message="condition"):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout}s waiting for {detail}")
        time.sleep(interval)


# -- requests through Flask's test client ----------------------------------------------------------
def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def post(client, body="A measured, thoughtful comment.", name="Ann", article=ARTICLE, headers=None, **extra):
    payload = {"body": body, "author_name": name, **extra}
    return client.post(f"/api/v1/articles/{article}/comments", json=payload, headers=headers or {})


def as_client(n: int) -> dict:
    """Request kwargs for the n-th distinct reader: another network (another /24), another browser."""
    return {"environ_base": {"REMOTE_ADDR": f"203.0.{n % 256}.{10 + n // 256}"},
            "headers": {"User-Agent": f"Browser/{n}"}}


def assert_error(response, status, code=None):
    """The contract's error shape, with this status (and code), and never a stack trace."""
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.json["error"]
    assert set(error) == {"code", "message", "details"}
    if code:
        assert error["code"] == code
    assert "Traceback" not in response.get_data(as_text=True)
    return error


# -- the database --------------------------------------------------------------------------------
def statuses(db) -> Counter:
    with db.read() as session:
        return Counter(dict(session.execute(select(Comment.status, func.count()).group_by(Comment.status)).all()))


def all_final(db, expected: int) -> bool:
    """Exactly ``expected`` comments, each decided (published, flagged or rejected)."""
    counts = statuses(db)
    return sum(counts.values()) == expected and sum(counts[s] for s in FINAL) == expected


# -- settings and real processes -----------------------------------------------------------------
def make_settings(database_url: str, redis_url: str, redis_prefix: str, **overrides) -> Settings:
    values = dict(database_url=database_url, redis_url=redis_url, redis_prefix=redis_prefix,
                  scorer="profanity", rate_limits=None, sweep_interval_seconds=1)
    values.update(overrides)
    return Settings.from_env({}, **values)


def settings_env(settings: Settings, **extra: str) -> dict:
    """The environment a child process needs to run with ``settings``."""
    env = dict(os.environ)
    env.update({
        "CIVILITY_DATABASE_URL": settings.database_url,
        "CIVILITY_REDIS_URL": settings.redis_url,
        "CIVILITY_REDIS_PREFIX": settings.redis_prefix,
        "CIVILITY_SCORER": settings.scorer,
        "CIVILITY_MODERATION_MODE": settings.moderation_mode,
        "CIVILITY_SWEEP_INTERVAL_SECONDS": str(settings.sweep_interval_seconds),
        "CIVILITY_SCORING_DEADLINE_SECONDS": str(settings.scoring_deadline_seconds),
        "CIVILITY_RATE_LIMITS": "off",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    })
    env.update(extra)
    return env


class WorkerProcess:
    """A real ``civility worker`` in its own process group (so its RQ scheduler goes with it)."""

    def __init__(self, env: dict, log_path: Path, args: tuple[str, ...] = ()):
        self.log_path = log_path
        self.log = open(log_path, "wb")  # noqa: SIM115 - stays open for the process's lifetime
        self.process = subprocess.Popen([sys.executable, "-m", "service.cli", "worker", *args], env=env, cwd=ROOT,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, sig)
            self.process.wait(20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            # A warm shutdown that does not finish in time ends the hard way.
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(20)

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")


# -- a real gunicorn, as `make dev` runs it ------------------------------------------------------------
def free_port(family: socket.AddressFamily = socket.AF_INET, host: str = "127.0.0.1") -> int:
    with socket.socket(family) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ipv6_loopback() -> bool:
    try:
        free_port(socket.AF_INET6, "::1")
        return True
    except OSError:
        return False


@dataclass
class Gunicorn:
    port: int
    port6: int | None  # also on [::1] where the machine has IPv6 and it was asked for
    log_path: Path
    master_pid: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_bytes().decode("utf-8", "replace")


@contextmanager
def running_gunicorn(settings: Settings, log_path: Path, workers: int = 1, threads: int = 2, ipv6: bool = False,
                     **extra_env: str) -> Iterator[Gunicorn]:
    """gunicorn with the config module `make dev` uses (service.gunicorn_conf), until the block ends."""
    port = free_port()
    port6 = free_port(socket.AF_INET6, "::1") if ipv6 and ipv6_loopback() else None
    binds = ["--bind", f"127.0.0.1:{port}"] + (["--bind", f"[::1]:{port6}"] if port6 else [])
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:service.gunicorn_conf", *binds,
             "--workers", str(workers), "--threads", str(threads), "service:create_app()"],
            cwd=ROOT, env=settings_env(settings, **extra_env), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
    server = Gunicorn(port, port6, log_path, process.pid)
    try:
        def ready():
            if process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {process.returncode}:\n{server.log()}")
            try:
                with urllib.request.urlopen(f"{server.base}/healthz", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False

        wait_until(ready, 60, 0.1, message=lambda: f"gunicorn to answer /healthz:\n{server.log()}")
        yield server
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM the process group ``process`` leads; SIGKILL it if it has not exited after 20 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def raw_request(port: int, data: bytes, host: str = "127.0.0.1") -> bytes:
    """``data`` as sent, over a fresh connection; everything the server answers until it closes."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.settimeout(20)
        s.connect((host, port))
        s.sendall(data)
        received = []
        while chunk := s.recv(65536):
            received.append(chunk)
    return b"".join(received)


def descendants(pid: int) -> set[int]:
    """Every live descendant of ``pid``, from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
    found, frontier = set(), {pid}
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                found.add(child)
                frontier.add(child)
    return found


def process_alive(pid: int) -> bool:
    """Running (not gone, not a zombie), from /proc."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


class Lanes:
    """An app's fast lane with nothing behind it (its Flask replaced by one that records being
    asked), and Flask with nothing in front of it: tests/test_fast_lane.py, tests/test_post_lane.py."""

    def __init__(self, app):
        self.flask_asked = 0
        lane = copy.copy(app.wsgi_app)
        flask = app.wsgi_app.flask_wsgi

        def flask_behind(environ, start_response):
            self.flask_asked += 1
            return flask(environ, start_response)

        lane.flask_wsgi = flask_behind
        self.lane, self.flask = Client(lane), Client(flask)

    def both(self, path, **kwargs):
        """A GET sent both ways: (the lane's answer, Flask's, whether the lane gave its own)."""
        asked = self.flask_asked
        fast = self.lane.get(path, **kwargs)
        answered_by_lane = self.flask_asked == asked
        return fast, self.flask.get(path, **kwargs), answered_by_lane

    def post(self, client, path, **kwargs):
        """A POST sent one way: (the answer, whether the lane gave it)."""
        asked = self.flask_asked
        answer = client.post(path, **kwargs)
        return answer, client is self.lane and self.flask_asked == asked
