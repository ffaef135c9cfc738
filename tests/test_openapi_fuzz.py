"""Schemathesis against our own /openapi.json, over real HTTP: at least 2,000 generated requests
over the public and moderation routes (with a moderator token). No 5xx, no response outside the
schema, no stack trace."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading

import pytest
from werkzeug.serving import make_server

from civility.infra.presence import live_workers
from civility.moderators import create_moderator
from tests.helpers import ROOT, wait_until

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

MIN_REQUESTS = 2000
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance," \
         "no_stack_trace"


@pytest.fixture
def live_api(app_factory, worker_process):
    # A real worker, so that routes which ask one for scores (the nudge check, Perspective's
    # analyze) answer rather than wait out their deadline with a 503. The deadline is generous
    # because that worker is also scoring every comment the fuzzer posts, on a shared CI machine.
    app = app_factory(sso_secret="s" * 40, analyze_timeout=30.0)
    svc = app.extensions["civility"]
    worker_process(svc.settings)
    wait_until(lambda: live_workers(svc.redis, svc.settings), 60, 0.2, message="the worker to announce itself")
    client = app.test_client()
    for i in range(5):  # real comments, so routes with ids sometimes reach past 404
        client.post("/api/v1/articles/a/comments", json={"body": f"seed {i}", "author_name": "seed"})
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", create_moderator(svc.db, "fuzzer", "admin")
    server.shutdown()


# About a minute alone, two or more beside the suite's other processes on two cores.
@pytest.mark.timeout(600)
def test_schemathesis_finds_no_5xx_no_schema_breaks_no_stack_traces(live_api, tmp_path):
    base, token = live_api
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{base}/openapi.json", "--checks", CHECKS,
         "--max-examples", "100", "--include-path-regex", "^/api/v1/", "--seed", "1",
         "--exclude-path-regex", "/events$",  # an endless text/event-stream; tests/test_live_events.py covers it
         "--phases", "examples,coverage,fuzzing",
         "-H", f"Authorization: Bearer {token}", "--no-color"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    generated = re.search(r"(\d+) generated", output)
    assert result.returncode == 0, output[-6000:]
    assert generated and int(generated.group(1)) >= MIN_REQUESTS, output[-3000:]
