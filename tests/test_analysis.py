"""On-demand scores (civility.analysis) from real `civility worker` processes through a real Redis."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time

import pytest

from civility.analysis import AnalysisUnavailable
from civility.infra.analysis import RedisAnalyzer, requests_key, stats
from civility.infra.presence import live_workers
from civility.infra.runtime import redis_from_url
from tests.helpers import ABUSE, ROOT, all_final, post, settings_env, wait_until

BENIGN = "Thank you for reporting on the prisoner exchange so carefully."


def started(worker_process, settings, redis_client, **env):
    worker = worker_process(settings, **env)
    wait_until(lambda: live_workers(redis_client, settings), 90,
               message=lambda: f"the worker to announce itself\n{worker.output()}")
    return worker


def test_scores_come_back_for_each_text_in_order(settings, worker_process, redis_client):
    started(worker_process, settings, redis_client)
    analysis = RedisAnalyzer(redis_client, settings).analyze([BENIGN, ABUSE, "", BENIGN], timeout=10)
    assert analysis.scorer == "profanity" and analysis.fallback is True
    assert analysis.version.endswith("(fallback)")
    assert len(analysis.scores) == 4 and all(set(s) == {"profanity"} for s in analysis.scores)
    benign, abusive, empty, again = (s["profanity"] for s in analysis.scores)
    assert abusive > 0.5 > benign and benign == again and 0 <= empty <= 1
    # doNotStore: neither the request nor its result stays in Redis.
    assert redis_client.llen(requests_key(settings)) == 0
    assert not [k for k in redis_client.scan_iter(match=f"{settings.redis_prefix}:analyze-result:*")]


def test_without_a_worker_the_caller_hears_within_its_deadline(settings, redis_client):
    analyzer = RedisAnalyzer(redis_client, settings)
    begun = time.monotonic()
    with pytest.raises(AnalysisUnavailable, match="no worker answered"):
        analyzer.analyze([BENIGN], timeout=1.5)
    assert time.monotonic() - begun < 1.5 + 1
    # The waiting request expires by itself within seconds (doNotStore).
    assert 0 < redis_client.ttl(requests_key(settings)) <= 10


def test_with_redis_down_the_caller_hears_at_once(settings):
    dead = redis_from_url("redis://127.0.0.1:1/0")
    begun = time.monotonic()
    with pytest.raises(AnalysisUnavailable, match="Redis"):
        RedisAnalyzer(dead, settings).analyze([BENIGN], timeout=2)
    assert time.monotonic() - begun < 2 + 1


def test_concurrent_requests_share_model_calls(settings, worker_process, redis_client):
    worker = started(worker_process, settings, redis_client)
    analyzer = RedisAnalyzer(redis_client, settings)
    clients, rounds = 16, 4
    barrier = threading.Barrier(clients)
    answers: dict[int, list] = {}
    failures: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait(10)
            for r in range(rounds):
                texts = [ABUSE if (n + r) % 2 else BENIGN, f"comment {n}-{r}"]
                answers[n * rounds + r] = [texts, analyzer.analyze(texts, timeout=30)]
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures, failures
    assert len(answers) == clients * rounds
    for texts, analysis in answers.values():
        assert len(analysis.scores) == 2
        assert (analysis.scores[0]["profanity"] > 0.5) == (texts[0] == ABUSE)
    counters = stats(redis_client, settings)
    assert counters["requests"] == clients * rounds
    assert counters["calls"] < counters["requests"], counters

    def batches() -> list[int]:  # the worker logs each scorer call as it finishes
        return [int(m) for m in re.findall(r"analyze: (\d+) requests", worker.output())]

    wait_until(lambda: sum(batches()) == clients * rounds, 10, message=lambda: f"the log of every batch: {batches()}")
    assert max(batches()) > 1


def test_comment_scoring_completes_while_analyze_traffic_runs(client, db, settings, worker_process, redis_client):
    started(worker_process, settings, redis_client)
    analyzer = RedisAnalyzer(redis_client, settings)
    stop = threading.Event()
    served: list[int] = []
    failures: list[BaseException] = []

    def load() -> None:
        try:
            while not stop.is_set():
                served.append(len(analyzer.analyze([BENIGN, ABUSE], timeout=30).scores))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(served) >= 20, 30, message="analyze traffic to flow")
        for n in range(6):
            assert post(client, ABUSE if n % 2 else BENIGN).status_code in (201, 202)
        wait_until(lambda: all_final(db, 6), 60, message="the comments to be scored under analyze traffic")
        before = len(served)
        wait_until(lambda: len(served) > before + 10, 30, message="analyze traffic to keep flowing")
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not failures, failures


SCRIPT = """
import json, sys
from service import create_app
app = create_app()
analysis = app.extensions["civility"].analyzer.analyze(["a first text", "a second one"], 60)
print(json.dumps({"labels": sorted(analysis.scores[0]), "n": len(analysis.scores), "scorer": analysis.scorer,
                  "loaded": sorted(m for m in ("torch", "detoxify", "transformers") if m in sys.modules)}))
"""


def test_the_api_process_never_loads_a_model(settings_factory, worker_process, redis_client, tiny_checkpoint):
    # A real Detoxify-format model in the worker; the API process gets its scores and imports none of it.
    settings = settings_factory(scorer="detoxify")
    env = {"CIVILITY_DETOXIFY_CHECKPOINT": str(tiny_checkpoint)}
    started(worker_process, settings, redis_client, **env)
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=settings_env(settings, **env),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"labels": sorted(["toxicity", "severe_toxicity", "obscene", "threat", "insult",
                                        "identity_attack"]), "n": 2, "scorer": "detoxify", "loaded": []}
