"""Isso, a Python comment server from PyPI, as a point of comparison for bench/api.py.

It is installed from PyPI into its own virtualenv (by default a temporary one) and served by
gunicorn with the same settings as civility. Details that matter, from Isso's source
(isso/views/comments.py, isso/__init__.py, isso/run.py):

- The WSGI entry point is ``isso.run:application``; it reads the configuration file named by
  ``ISSO_SETTINGS``.
- ``POST /new?uri=PATH`` with a JSON body ``{"text", "author", "title"}`` creates a comment. Its
  CSRF check only wants ``Content-Type: application/json``. When the thread does not exist yet,
  Isso fetches ``host + uri`` to read the page's title, unless the body carries ``title``: we always
  send one, so Isso never needs a web site to fetch.
- ``GET /?uri=PATH&limit=50&nested_limit=5`` reads 50 top-level comments of a thread with up to 5
  replies each, as civility's ``GET /articles/{id}/comments`` reads 50 with up to 3: in the
  benchmark's thread each comment of page 1 has two replies, so both send the same comments.
- ``POST /count`` with a JSON list of URIs answers their comment counts, as civility's ``/counts``.
  It counts every comment in the database, then picks the URIs asked for.
- ``[guard] enabled = false`` turns its rate limit off (civility runs with ``CIVILITY_RATE_LIMITS=off``),
  and ``[moderation] enabled = false`` publishes at once (civility runs in post-moderation mode).
  ``notify`` is empty, so Isso does not log every new comment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from bench.harness import gunicorn_server

ISSO_VERSION = "0.14.0"  # the newest release; installs and runs on Python 3.11

CONFIG = """\
[general]
dbpath = {db}
; nothing listens there: Isso would only fetch it for a new thread's title, and we send titles
host = http://127.0.0.1:9/
notify =
gravatar = false

[moderation]
enabled = false

[guard]
enabled = false

[server]
listen = http://127.0.0.1:0
"""


class InstallError(RuntimeError):
    """Isso could not be installed (no registry, no wheel for this Python, ...)."""


def gunicorn_version() -> str:
    from importlib.metadata import version

    return version("gunicorn")


def install(venv: Path) -> Path:
    """Make ``venv`` with Isso and the same gunicorn as ours; returns its python. Raises on failure."""
    python = venv / "bin" / "python"
    wanted = [f"isso=={ISSO_VERSION}", f"gunicorn=={gunicorn_version()}"]
    if python.exists():
        check = subprocess.run([str(python), "-c", "from importlib.metadata import version as v; "
                                "print(f\"isso=={v('isso')} gunicorn=={v('gunicorn')}\")"],
                               capture_output=True, text=True)
        if check.stdout.split() == wanted:
            return python
    base = getattr(sys, "_base_executable", None) or sys.executable
    made = subprocess.run([base, "-m", "venv", str(venv)], capture_output=True, text=True)
    if made.returncode != 0:
        raise InstallError(f"python -m venv failed: {made.stderr.strip()[-300:]}")
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           *wanted], capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in (done.stderr + done.stdout).splitlines()
                 if line.strip() and not line.startswith("WARNING: Location")]
        tail = lines[-5:]
        raise InstallError(f"pip install {' '.join(wanted)} failed: " + " | ".join(tail))
    return python


@contextmanager
def isso_venv(path: str | None):
    """A virtualenv with Isso: ``path`` (kept, reused when it already has Isso) or a temporary one."""
    if path:
        yield install(Path(path).resolve())
        return
    tmp = tempfile.mkdtemp(prefix="civility-bench-isso-venv-")
    try:
        yield install(Path(tmp) / "venv")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def isso_server(python: Path):
    """Isso on a fresh SQLite database under gunicorn (civility's settings); yields a harness.Server."""
    with tempfile.TemporaryDirectory(prefix="civility-bench-isso-") as tmp:
        config = Path(tmp) / "isso.cfg"
        config.write_text(CONFIG.format(db=Path(tmp) / "comments.db"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
        env["ISSO_SETTINGS"] = str(config)
        # Each worker creates a missing database as it boots, and two doing it at once can clash on
        # the session key's row: the loser exits and gunicorn shuts down (3 of 20 servers started
        # here on 2026-12-06). Loading the app once first creates the database alone.
        made = subprocess.run([str(python), "-c", "import isso.run"], cwd=tmp, env=env, capture_output=True, text=True)
        if made.returncode != 0:
            raise RuntimeError(f"Isso could not create its database: {made.stderr.strip()[-300:]}")
        with gunicorn_server("isso.run:application", env, "/info", python=str(python), cwd=tmp,
                             log_path=Path(tmp) / "gunicorn.log") as server:
            yield server
