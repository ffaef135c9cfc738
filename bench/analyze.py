"""Benchmark: on-demand scores (``civility.infra.analysis.RedisAnalyzer``) served by one real ``civility worker``.
From the repository root:

    .venv/bin/python bench/analyze.py [--models profanity,bert-base] [--idle 50] [--duration 20] [--clients 16]

For each model: a private Redis and SQLite (``bench.harness.civility_stack``), one
``python -m service.cli worker`` with that scorer, then, from this process, through
``RedisAnalyzer.analyze`` directly (no HTTP endpoint is measured: the Perspective-compatible one is
built separately and would add its own HTTP cost):

1. Idle latency: ``--idle`` requests of one comment, one at a time; p50 and p99.
2. Throughput: ``--clients`` threads, each sending one comment per request and the next as soon as
   it is answered, for ``--duration`` seconds; comments per second, and how many requests each
   scorer call served on average (the worker's counters in ``{prefix}:analyze-stats``).
3. Raw: the same scorer in this process, ``score()`` on the same comments in batches of
   ``--batch-size``, with nothing around it. The ratio is throughput / raw (target: 80%).

Models: ``profanity`` (the fallback) and ``bert-base``: ``workers/scorers/synthetic.py``'s
``build_checkpoint(size="bert-base")`` with the word-piece vocabulary of ``bench/scoring.py``
(Detoxify ``original``'s architecture and compute cost, random weights). Comments: the realistic
20-to-80-word comments of ``bench/scoring_corpus.py``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import OtherLoad, civility_stack, exit_on_sigterm, stop_process_group  # noqa: E402
from bench.scoring import build_model, pct  # noqa: E402
from bench.scoring_corpus import realistic_comments  # noqa: E402


def wait_for_worker(redis, prefix: str, worker: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if next(redis.scan_iter(match=f"{prefix}:worker:*", count=100), None) is not None:
            return
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited with {worker.returncode} before it was ready")
        time.sleep(0.2)
    raise RuntimeError("the worker did not announce itself in time")


def idle_latency(analyzer, texts: list[str], count: int, timeout: float) -> list[float]:
    times = []
    for i in range(count):
        started = time.perf_counter()
        analyzer.analyze([texts[i % len(texts)]], timeout)
        times.append(time.perf_counter() - started)
    return times


def throughput(analyzer, texts: list[str], clients: int, duration: float, timeout: float) -> tuple[float, int]:
    """(comments per second, failures) with ``clients`` closed-loop threads for ``duration`` seconds."""
    done = [0] * clients
    failed = [0] * clients
    stop = threading.Event()
    barrier = threading.Barrier(clients + 1)

    def run(n: int) -> None:
        barrier.wait()
        i = n
        while not stop.is_set():
            try:
                analyzer.analyze([texts[i % len(texts)]], timeout)
                done[n] += 1
            except Exception:  # noqa: BLE001 - counted
                failed[n] += 1
            i += clients

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    stop.wait(duration)
    stop.set()
    for t in threads:
        t.join(timeout + 5)
    elapsed = time.perf_counter() - started  # includes the requests in flight when it stopped
    return sum(done) / elapsed, sum(failed)


def raw_rate(scorer, texts: list[str], batch_size: int) -> float:
    scorer.score(texts[:batch_size])  # warm-up
    started = time.perf_counter()
    for i in range(0, len(texts), batch_size):
        scorer.score(texts[i:i + batch_size])
    return len(texts) / (time.perf_counter() - started)


def measure(model: str, args, texts: list[str]) -> dict:
    from civility.config import Settings
    from civility.infra.analysis import RedisAnalyzer, stats
    from civility.infra.runtime import redis_from_url

    extra = {"CIVILITY_BATCH_SIZE": str(args.batch_size), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with tempfile.TemporaryDirectory(prefix="civility-bench-model-") as tmp:
        if model == "bert-base":
            print("building the bert-base model ...", flush=True)
            checkpoint = build_model(Path(tmp), "wordpiece")
            extra |= {"CIVILITY_SCORER": "detoxify", "CIVILITY_DETOXIFY_CHECKPOINT": str(checkpoint)}
            timeout = args.timeout_bert
        else:
            extra |= {"CIVILITY_SCORER": "profanity"}
            timeout = args.timeout
        with civility_stack(extra) as env:
            settings = Settings.from_env(env)
            redis = redis_from_url(env["CIVILITY_REDIS_URL"])
            worker = subprocess.Popen([sys.executable, "-m", "service.cli", "worker"], cwd=ROOT, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                print(f"[{model}] waiting for the worker to load the scorer ...", flush=True)
                wait_for_worker(redis, settings.redis_prefix, worker)
                analyzer = RedisAnalyzer(redis, settings)
                analyzer.analyze(texts[:1], 60)  # warm-up
                others = OtherLoad(worker.pid, os.getpid())
                idle = idle_latency(analyzer, texts, args.idle if model == "profanity" else args.idle_bert, timeout)
                print(f"[{model}] idle: p50 {pct(idle, 0.5) * 1000:.0f} ms, p99 {pct(idle, 0.99) * 1000:.0f} ms "
                      f"({len(idle)} requests; others {others.share():.0%})", flush=True)
                before = stats(redis, settings)
                others = OtherLoad(worker.pid, os.getpid())
                rate, failed = throughput(analyzer, texts, args.clients, args.duration, timeout)
                after = stats(redis, settings)
                calls = after.get("calls", 0) - before.get("calls", 0)
                served = after.get("requests", 0) - before.get("requests", 0)
                per_call = served / calls if calls else 0.0
                print(f"[{model}] {args.clients} clients: {rate:.2f} comments/s, {per_call:.1f} requests per scorer "
                      f"call, {failed} failed (others {others.share():.0%})", flush=True)
            finally:
                stop_process_group(worker)
                redis.close()
        print(f"[{model}] raw score() in this process, batches of {args.batch_size} ...", flush=True)
        if model == "bert-base":
            from workers.scorers.detoxify_scorer import DetoxifyScorer

            scorer = DetoxifyScorer(checkpoint=str(checkpoint), batch_size=args.batch_size)
            raw_texts = texts[:args.raw_bert]
        else:
            from workers.scorers.profanity_scorer import ProfanityScorer

            scorer = ProfanityScorer()
            raw_texts = texts * 10
        others = OtherLoad(os.getpid())
        raw = raw_rate(scorer, raw_texts, args.batch_size)
        print(f"[{model}] raw: {raw:.2f} comments/s (others {others.share():.0%}); "
              f"analyze/raw {rate / raw:.0%}", flush=True)
    return {"p50": pct(idle, 0.5), "p99": pct(idle, 0.99), "rate": rate, "raw": raw, "per_call": per_call,
            "failed": failed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="profanity,bert-base")
    parser.add_argument("--idle", type=int, default=200, help="idle requests for profanity (default 200)")
    parser.add_argument("--idle-bert", type=int, default=30, help="idle requests for bert-base (default 30)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of concurrent load per model")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--raw-bert", type=int, default=96, help="comments for bert-base's raw rate")
    parser.add_argument("--timeout", type=float, default=2.0, help="analyze timeout for profanity (s)")
    parser.add_argument("--timeout-bert", type=float, default=30.0,
                        help="analyze timeout for bert-base (s): a batch of 16 takes ~2.5 s on 2 cores")
    args = parser.parse_args()
    exit_on_sigterm()
    texts = realistic_comments(300)
    results = {m: measure(m, args, texts) for m in args.models.split(",")}
    print("\nmodel      idle p50   idle p99   comments/s (clients)   per call   raw/s     ratio")
    for m, r in results.items():
        print(f"{m:<10} {r['p50'] * 1000:>6.0f} ms {r['p99'] * 1000:>7.0f} ms {r['rate']:>9.2f} ({args.clients})"
              f"{r['per_call']:>14.1f} {r['raw']:>9.2f} {r['rate'] / r['raw']:>8.0%}")


if __name__ == "__main__":
    main()
