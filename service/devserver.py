"""``civility dev``: the whole service on one machine, every part a child process we stop ourselves."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from civility.config import Settings
from civility.infra.presence import live_workers
from civility.infra.redis_server import RedisServer
from civility.infra.runtime import database, redis_from_url
from civility.moderators import ADMIN, any_moderators, create_moderator
from civility.store.migrate import upgrade


def _spawn(args: list[str], env: dict) -> subprocess.Popen:
    # Each child leads its own process group so stopping it also stops anything it started
    # (the RQ scheduler, gunicorn's workers).
    return subprocess.Popen(args, env=env, start_new_session=True)


def _stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def describe_scorer(info: dict) -> str:
    """One line from a worker's announcement: which scorer, and how it came to be (cached, pulled, fallback)."""
    line = f"{info.get('name')} {info.get('version')}"
    if info.get("origin") and info.get("origin") != "fallback":
        line += f" ({info['origin']})"
    if info.get("fallback") and info.get("warning"):
        line += f"\n    warning: {info['warning']}"
    return line


def _report_scorer(settings: Settings, stopped: threading.Event) -> None:
    """Print what the worker announces once it is up, without holding anything else back."""
    redis = redis_from_url(settings.require_redis_url())
    try:
        while not stopped.wait(0.5):
            with contextlib.suppress(Exception):  # Redis not there yet, or stopping
                workers = live_workers(redis, settings)
                if workers:
                    print(f"  scorer           {describe_scorer(workers[0])}", flush=True)
                    return
    finally:
        redis.close()


def run_dev(port: int) -> int:
    var = Path("var").resolve()
    var.mkdir(exist_ok=True)
    env = dict(os.environ)
    redis = None
    if not env.get("CIVILITY_REDIS_URL"):
        redis = RedisServer(var).start()
        env["CIVILITY_REDIS_URL"] = redis.url
    os.environ.update(env)

    children: list[subprocess.Popen] = []
    stopping = False
    stopped = threading.Event()

    def request_stop(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        # The children run from this directory, so the default database lands in var/ too.
        settings = Settings.from_env(env)
        upgrade(settings.database_url)
        db = database(settings)
        token = None if any_moderators(db) else create_moderator(db, "admin", ADMIN)
        db.dispose()

        python = sys.executable
        children.append(_spawn([python, "-m", "service.cli", "worker"], env))
        # The shared gunicorn settings (service/gunicorn_conf.py): escaped logs without client addresses.
        # The API serves the widget's live streams itself here (a few per process, docs/live.md); an
        # open stream never finishes, so Ctrl-C waits for them only briefly.
        children.append(_spawn([python, "-m", "gunicorn", "-c", "python:service.gunicorn_conf",
                                "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
                                "--graceful-timeout", "3", "--log-level", "warning", "service:create_app()"], env))
        base = f"http://127.0.0.1:{port}"
        print(f"""
civility is running
  demo article     {base}/embed/demo
  API docs         {base}/docs
  moderator console {base}/moderate
  readiness        {base}/readyz
  database         {settings.database_url}
  redis            {env['CIVILITY_REDIS_URL']}
  scorer           shown below once the worker is up (without cached weights it may first pull the model:
                   its progress is in the worker's log lines)""", flush=True)
        if token:
            print(f"""
  first run: an admin moderator was created. Its token (shown once, keep it):
    {token}
  more moderators: civility moderators create NAME [--role moderator|admin]""", flush=True)
        print("\nCtrl-C stops everything.\n", flush=True)
        threading.Thread(target=_report_scorer, args=(settings, stopped), daemon=True,
                         name="civility-dev-scorer").start()
        while not stopping:
            for child in children:
                if child.poll() is not None:
                    print(f"a child process exited ({child.args[2:4]}, code {child.returncode}); stopping",
                          file=sys.stderr, flush=True)
                    return 1
            time.sleep(0.3)
        return 0
    finally:
        stopped.set()
        for child in reversed(children):
            _stop(child)
        if redis is not None:
            redis.stop()
        print("civility stopped", flush=True)
