"""The `civility` command as an operator runs it, and `civility dev` as `make dev` runs it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

from civility.infra.redis_server import RedisServer
from civility.store.migrate import upgrade
from tests.helpers import ROOT, descendants, process_alive, wait_until


def civility(*args: str, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "service.cli", *args], env={**os.environ, **(env or {})},
                          cwd=cwd or ROOT, capture_output=True, text=True, timeout=180)


def test_score_prints_per_label_scores_and_the_decision():
    result = civility("score", "Thank you for this report.", "fuck off you worthless shit",
                      env={"CIVILITY_SCORER": "profanity"})
    assert result.returncode == 0, result.stderr
    assert "scorer: profanity" in result.stdout and "(fallback)" in result.stdout
    assert "decision: published" in result.stdout
    assert "decision: flagged (profanity 1.00 >= 0.70)" in result.stdout


def test_score_json_with_a_detoxify_checkpoint(tiny_checkpoint):
    result = civility("score", "--json", "hello there",
                      env={"CIVILITY_SCORER": "detoxify", "CIVILITY_DETOXIFY_CHECKPOINT": str(tiny_checkpoint),
                           "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["scorer"]["name"] == "detoxify"
    assert set(out["results"][0]["scores"]) >= {"toxicity", "insult", "threat"}
    assert out["results"][0]["decision"] in {"published", "flagged", "rejected"}


def test_db_upgrade_and_moderators_create_print_a_token_stored_only_as_hash(tmp_path):
    env = {"CIVILITY_DATABASE_URL": f"sqlite:///{tmp_path / 'ops.db'}"}
    assert civility("db", "upgrade", env=env).returncode == 0
    created = civility("moderators", "create", "carol", "--role", "admin", env=env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("civ_")
    assert token.split("_", 2)[2].encode() not in (tmp_path / "ops.db").read_bytes()
    duplicate = civility("moderators", "create", "carol", env=env)
    assert duplicate.returncode != 0 and "already exists" in duplicate.stderr
    listed = civility("moderators", "list", env=env)
    assert "carol\tadmin\tactive" in listed.stdout and token not in listed.stdout


def test_sweep_command_runs_against_redis(tmp_path, redis_url, redis_prefix):
    env = {"CIVILITY_DATABASE_URL": f"sqlite:///{tmp_path / 'ops.db'}", "CIVILITY_REDIS_URL": redis_url,
           "CIVILITY_REDIS_PREFIX": redis_prefix}
    civility("db", "upgrade", env=env)
    result = civility("sweep", env=env)
    assert result.returncode == 0, result.stderr
    assert "re-enqueued 0" in result.stdout


def without_civility_settings() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("CIVILITY_")}


def test_commands_beside_make_dev_find_its_redis_and_database_under_var(tmp_path):
    # What `make dev` leaves in the checkout: var/redis.sock and var/civility.db.
    server = RedisServer(tmp_path / "var").start()
    try:
        upgrade(f"sqlite:///{tmp_path / 'var' / 'civility.db'}")
        env = without_civility_settings()
        created = subprocess.run([sys.executable, "-m", "service.cli", "moderators", "create", "dana"], env=env,
                                 cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert created.returncode == 0, created.stderr
        swept = subprocess.run([sys.executable, "-m", "service.cli", "sweep"], env=env, cwd=tmp_path,
                               capture_output=True, text=True, timeout=120)
        assert swept.returncode == 0, swept.stderr
        assert "re-enqueued 0" in swept.stdout
    finally:
        server.stop()


@pytest.mark.parametrize("args,variable", [
    (["sweep"], "CIVILITY_REDIS_URL"),  # no Redis set and no `make dev` here
    (["worker", "--burst"], "CIVILITY_REDIS_URL"),
])
def test_a_missing_setting_is_one_line_naming_the_variable(tmp_path, args, variable):
    result = subprocess.run([sys.executable, "-m", "service.cli", *args], env=without_civility_settings(),
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and variable in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("Error:")] != []


@pytest.mark.parametrize("variable,value", [("CIVILITY_BATCH_SIZE", "many"), ("CIVILITY_MODERATION_MODE", "later"),
                                            ("CIVILITY_THRESHOLDS", "{oops"), ("CIVILITY_WORKER_TTL", "0")])
def test_a_wrong_setting_is_one_line_naming_the_variable(tmp_path, variable, value):
    result = civility("sweep", env={variable: value}, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"Error: {variable}: ")


def test_an_unknown_command_prints_the_usage_and_the_commands(tmp_path):
    result = subprocess.run([sys.executable, "-m", "service.cli", "modelz"], env=without_civility_settings(),
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "Usage: " in result.stderr and "No such command 'modelz'" in result.stderr
    for command in ("db", "models", "moderators", "score", "sweep", "worker"):
        assert f"\n  {command} " in result.stderr


def test_a_database_without_its_schema_says_to_upgrade(tmp_path, redis_url):
    result = civility("sweep", env={"CIVILITY_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}",
                                    "CIVILITY_REDIS_URL": redis_url}, cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "civility db upgrade" in result.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_dev_runs_everything_and_leaves_no_process_behind(tmp_path, sig):
    port = free_port()
    env = {**os.environ, "CIVILITY_SCORER": "profanity", "HF_HUB_OFFLINE": "1"}
    env.pop("CIVILITY_REDIS_URL", None)
    env.pop("CIVILITY_DATABASE_URL", None)
    log = open(tmp_path / "dev.log", "w+")  # noqa: SIM115 - the dev server writes to it until the end
    dev = subprocess.Popen([sys.executable, "-m", "service.cli", "dev", "--port", str(port)], cwd=tmp_path,
                           env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        def ready():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    return json.load(r)["status"] == "ready"
            except OSError:
                return False

        wait_until(ready, 90, 0.3, message="civility dev to become ready")
        output = (tmp_path / "dev.log").read_text()
        assert "/embed/demo" in output and "/moderate" in output and "/docs" in output
        assert "civ_1_" in output  # the first-run moderator token
        assert (tmp_path / "var" / "civility.db").exists()
        children = descendants(dev.pid)
        assert len(children) >= 3  # redis-server, the worker, gunicorn (and its workers)
        dev.send_signal(sig)
        assert dev.wait(60) == 0
        wait_until(lambda: not any(process_alive(p) for p in children), 20, 0.2,
                   message="every child of civility dev to exit")
    finally:
        if dev.poll() is None:
            dev.kill()
        log.close()
