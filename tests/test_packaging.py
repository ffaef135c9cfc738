"""The API carries no model: `pip install civility` leaves the scorers' packages to the `worker` extra, the
API never imports them, and a worker without them stops with one line that names the extra."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib

from tests.helpers import ARTICLE, ROOT

# Top-level modules only the scorers import, and the distributions that bring them.
SCORER_MODULES = ("torch", "transformers", "detoxify", "profanity_check", "sklearn", "tokenizers", "safetensors")
SCORER_PACKAGES = {"torch", "transformers", "detoxify", "alt-profanity-check", "scikit-learn", "protobuf"}

API_SESSION = """
import json, sys
from tests.helpers import make_settings
from service import create_app
import service.cli  # the `civility` command the API image runs (db upgrade, sweep, readers, ...)

settings = make_settings(sys.argv[1], sys.argv[2], sys.argv[3], analyze_timeout=0.5)
app = create_app(settings)
client = app.test_client()
article = sys.argv[4]
statuses = {
    "healthz": client.get("/healthz").status_code,
    "post": client.post(f"/api/v1/articles/{article}/comments",
                        json={"body": "A measured, thoughtful comment.", "author_name": "Ann"}).status_code,
    "thread": client.get(f"/api/v1/articles/{article}/comments").status_code,
    # the nudge scores through Redis and a worker; with none running it answers 503, loading nothing
    "check": client.post(f"/api/v1/articles/{article}/comments/check",
                         json={"body": "you idiot", "author_name": "Ann"}).status_code,
}
loaded = sorted(name for name in sys.modules if name.split(".")[0] in sys.argv[5].split(","))
print(json.dumps({"statuses": statuses, "loaded": loaded}))
"""


def test_the_api_never_imports_a_scorer_package(sqlite_url, redis_url, redis_prefix):
    result = subprocess.run(
        [sys.executable, "-c", API_SESSION, sqlite_url, redis_url, redis_prefix, ARTICLE, ",".join(SCORER_MODULES)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["statuses"] == {"healthz": 200, "post": 202, "thread": 200, "check": 503}
    assert report["loaded"] == []


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def test_the_scorer_packages_are_in_the_worker_extra_only():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert not _names(project["dependencies"]) & SCORER_PACKAGES
    assert {"torch", "transformers", "detoxify", "alt-profanity-check"} <= _names(extras["worker"])
    for name, requirements in extras.items():
        if name != "worker":
            assert not _names(requirements) & SCORER_PACKAGES, name


# sys.modules[name] = None is how Python marks a module as not importable: the interpreter then behaves
# as the API's install does, where these packages are absent.
WITHOUT_SCORERS = """
import sys
sys.modules.update(dict.fromkeys(["torch", "transformers", "detoxify", "profanity_check"]))
from service.cli import main
main(sys.argv[1:], prog_name="civility")
"""


def test_a_worker_without_the_extra_stops_with_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CIVILITY_DATABASE_URL": f"sqlite:///{tmp_path}/c.db",
           "CIVILITY_REDIS_URL": "redis://127.0.0.1:1/0", "CIVILITY_SCORER": "auto"}
    for args in (["worker"], ["worker", "--processes", "2"], ["score", "hello"]):
        result = subprocess.run([sys.executable, "-c", WITHOUT_SCORERS, *args], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (args, result.stderr)
        assert "torch, transformers, detoxify, alt-profanity-check" in lines[0]
        assert "pip install 'civility[worker]'" in lines[0]
