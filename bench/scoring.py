"""Benchmark: scoring throughput of a real ``civility worker`` against raw ``Detoxify.predict``.
From the repository root:

    .venv/bin/python bench/scoring.py [--comments 300] [--batch-size 16] [--idle 20] [--sweep] [--quick]

1. It builds a randomly initialised model with Detoxify ``original``'s exact architecture
   (bert-base-uncased, 6 labels; ``workers/scorers/synthetic.py``), so the compute cost is the real
   model's. Its tokenizer vocabulary is rewritten so that the comments split into as many tokens as
   bert-base-uncased would give (see ``bench/scoring_corpus.py``; ``--vocab synthetic`` keeps the
   letter-by-letter one, about 3.5x more tokens).
2. Raw throughput: ``Detoxify.predict`` on the same comments in batches of ``--batch-size``, in
   their posting order (unsorted), and for reference length-sorted over the whole set; with
   ``--sweep``, also on the first 64 comments in batches of 8, 16 and 32. The unsorted figure is
   measured again after the worker ran, and the baseline is the mean of the two: on a shared
   machine other processes can take CPU at any time, so each phase also prints the share of the
   CPU that others took meanwhile.
3. The worker: the comments (realistic, 20 to 80 words) are posted through the real API under
   gunicorn (SQLite, a private Redis, pre-moderation), so a backlog waits on the queue; then ONE
   ``python -m service.cli worker`` starts, loads the model and drains it. Its throughput is
   measured from the database: every batch writes its comments with one ``scored_at``, so
   ``(comments - first batch) / (last scored_at - first scored_at)`` is the steady rate, free of
   start-up (loading the model) and of the first batch's own scoring time, which the interval does
   not contain. The rate from the moment the worker announced itself (model loaded) to the last
   decision is printed too.
4. The worker's peak RSS (VmHWM), and the time from POST to decision at idle: comments posted one
   at a time, each polled with ``GET /api/v1/comments/{id}`` and its ``X-Edit-Token`` every 20 ms
   until it is no longer pending.

Targets: the worker at 90% of raw predict throughput or better (length-sorted batching should take
it above raw unsorted predict); POST to decision at idle p50 under 1 s.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gc
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    OtherLoad,
    civility_stack,
    exit_on_sigterm,
    gunicorn_server,
    load_average,
    memory_mb,
    post_json,
    stop_process_group,
)
from bench.scoring_corpus import realistic_comments, write_wordpiece_vocab  # noqa: E402

SWEEP_SIZES = (8, 16, 32)
SWEEP_TEXTS = 64
POLL_SECONDS = 0.02
NOISY = 0.10  # others' share of the CPU above which a run's figures are flagged as unreliable
ARTICLE = "bench/scoring"


def build_model(directory: Path, vocab: str) -> Path:
    from workers.scorers.synthetic import build_checkpoint

    path = build_checkpoint(directory, size="bert-base", vocab_size=30522)
    if vocab == "wordpiece":
        write_wordpiece_vocab(directory / "hf", 30522)
    return path


def chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


class RawPredict:
    """Comments per second of ``Detoxify.predict`` in this process, with nothing else around it."""

    def __init__(self, checkpoint: Path, texts: list[str], batch_size: int):
        from detoxify import Detoxify

        self.texts, self.batch_size = texts, batch_size
        self.model = Detoxify(checkpoint=str(checkpoint), device="cpu")
        self.tokens = [len(ids) for ids in self.model.tokenizer(texts)["input_ids"]]
        self.model.predict(texts[:batch_size])  # warm-up: first-call allocations
        self.figures: dict = {"others": {}, "sweep": {}}

    def _rate(self, batches: list[list[str]], key: str | None = None) -> float:
        others = OtherLoad()
        started = time.perf_counter()
        for batch in batches:
            self.model.predict(batch)
        rate = sum(map(len, batches)) / (time.perf_counter() - started)
        if key:
            self.figures[key] = rate
            self.figures["others"][key] = others.share()
        return rate

    def before(self, sweep: bool) -> None:
        n, size = len(self.texts), self.batch_size
        print(f"raw predict: {n} comments in posting order, batches of {size} ...", flush=True)
        print(f"  {self._rate(chunks(self.texts, size), 'unsorted'):.2f} comments/s", flush=True)
        print(f"raw predict: the same comments length-sorted over the whole set, batches of {size} ...", flush=True)
        print(f"  {self._rate(chunks(sorted(self.texts, key=len), size), 'sorted'):.2f} comments/s", flush=True)
        if sweep:
            subset = self.texts[:SWEEP_TEXTS]
            for batch_size in SWEEP_SIZES:
                others = OtherLoad()
                rate = self._rate(chunks(subset, batch_size))
                self.figures["sweep"][batch_size] = (rate, others.share())
                print(f"  batch size {batch_size:>2} on the first {len(subset)} comments: {rate:.2f} comments/s",
                      flush=True)

    def after(self) -> None:
        """The unsorted figure again, after the worker ran: on a shared machine, a check on drift."""
        print(f"raw predict again: {len(self.texts)} comments in posting order, batches of {self.batch_size} ...",
              flush=True)
        print(f"  {self._rate(chunks(self.texts, self.batch_size), 'unsorted_after'):.2f} comments/s", flush=True)

    def close(self) -> None:
        del self.model
        gc.collect()


class Api:
    """A keep-alive connection per thread to the civility API."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post_comment(self, text: str, n: int) -> dict:
        path, body, headers = post_json(f"/api/v1/articles/{ARTICLE}/comments",
                                        {"body": text, "author_name": f"Reader {n % 41}"},
                                        {"User-Agent": f"bench-reader-{n}"})
        self.conn.request("POST", path, body=body, headers=headers)
        response = self.conn.getresponse()
        payload = response.read()
        if response.status != 202:
            raise RuntimeError(f"POST answered {response.status}: {payload[:300]!r}")
        return json.loads(payload)

    def status(self, comment_id: int, edit_token: str) -> str:
        self.conn.request("GET", f"/api/v1/comments/{comment_id}", headers={"X-Edit-Token": edit_token})
        response = self.conn.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET comment answered {response.status}: {payload[:300]!r}")
        return json.loads(payload)["status"]

    def close(self) -> None:
        self.conn.close()


def post_backlog(port: int, texts: list[str], threads: int = 4) -> list[dict]:
    def run(part):
        api = Api(port)
        try:
            return [api.post_comment(text, n) for n, text in part]
        finally:
            api.close()

    numbered = list(enumerate(texts))
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        parts = list(pool.map(run, [numbered[t::threads] for t in range(threads)]))
    return [c for part in parts for c in part]


class Database:
    """Read-only look-ups in the benchmark's SQLite database, through civility's own models."""

    def __init__(self, url: str):
        from sqlalchemy import create_engine

        self.engine = create_engine(url)

    def decided(self, ids: list[int]) -> int:
        from sqlalchemy import func, select

        from civility.store.models import Comment

        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).where(Comment.id.in_(ids), Comment.status != "pending")).scalar()

    def rows(self, ids: list[int]) -> list:
        from sqlalchemy import select

        from civility.store.models import Comment

        with self.engine.connect() as conn:
            return list(conn.execute(select(Comment.id, Comment.created_at, Comment.scored_at, Comment.status,
                                            Comment.reasons, Comment.scorer_name).where(Comment.id.in_(ids))))


def wait_for_worker(redis, prefix: str, worker: subprocess.Popen, timeout: float) -> float:
    """Wait until the worker announces itself in Redis (it does once its model is loaded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if next(redis.scan_iter(match=f"{prefix}:worker:*", count=100), None) is not None:
            return time.time()
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited with {worker.returncode} before it was ready")
        time.sleep(0.05)
    raise RuntimeError("the worker did not announce itself in time")


def drain(db: Database, ids: list[int], worker: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_report = time.monotonic()
    while True:
        done = db.decided(ids)
        if done == len(ids):
            return
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited with {worker.returncode}; {done}/{len(ids)} decided")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the backlog was not drained in {timeout:.0f} s: {done}/{len(ids)} decided")
        if time.monotonic() - last_report > 15:
            print(f"  ... {done}/{len(ids)} decided", flush=True)
            last_report = time.monotonic()
        time.sleep(0.25)


def wait_queue_empty(redis, queue_name: str, timeout: float = 120) -> None:
    """The backlog leaves behind jobs whose comment a batch already scored; let the worker get through them."""
    from rq import Queue

    queue = Queue(queue_name, connection=redis)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (queue.count or queue.started_job_registry.count):
        time.sleep(0.1)
    time.sleep(1.0)


def idle_latency(port: int, texts: list[str], timeout: float = 30) -> list[tuple[int, float]]:
    """(comment id, seconds) from sending the POST to seeing the decision, one comment at a time."""
    api = Api(port)
    out = []
    try:
        for n, text in enumerate(texts):
            started = time.perf_counter()
            created = api.post_comment(text, 10_000 + n)
            while api.status(created["id"], created["edit_token"]) == "pending":
                if time.perf_counter() - started > timeout:
                    raise RuntimeError(f"comment {created['id']} was not decided in {timeout} s")
                time.sleep(POLL_SECONDS)
            out.append((created["id"], time.perf_counter() - started))
            time.sleep(0.5)  # back to idle
    finally:
        api.close()
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comments", type=int, default=300, help="size of the backlog (default 300)")
    parser.add_argument("--batch-size", type=int, default=16,
                        help="CIVILITY_BATCH_SIZE for the worker and the raw predict batches (default 16)")
    parser.add_argument("--idle", type=int, default=20, help="comments for the POST-to-decision latency (default 20)")
    parser.add_argument("--sweep", action="store_true",
                        help="also measure raw predict at batch sizes 8, 16 and 32 (about a minute more)")
    parser.add_argument("--vocab", choices=("wordpiece", "synthetic"), default="wordpiece",
                        help="tokenizer vocabulary (default: wordpiece, bert-base-uncased's token counts)")
    parser.add_argument("--no-recheck", action="store_true",
                        help="skip measuring raw predict again after the worker (a check on drift)")
    parser.add_argument("--worker-log", metavar="PATH", help="keep a copy of the worker's log in PATH")
    parser.add_argument("--quick", action="store_true",
                        help="64 comments, 5 idle posts, no sweep, no recheck: a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.comments, args.idle, args.sweep, args.no_recheck = 64, 5, False, True
    exit_on_sigterm()
    os.environ["HF_HUB_OFFLINE"] = os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bars in the report
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    started = time.monotonic()

    import torch

    print(f"load average at start: {load_average()}; torch {torch.__version__}, {torch.get_num_threads()} threads",
          flush=True)
    texts = realistic_comments(args.comments + args.idle, seed=7)
    backlog, idle_texts = texts[:args.comments], texts[args.comments:]

    with tempfile.TemporaryDirectory(prefix="civility-bench-model-") as model_dir:
        t = time.perf_counter()
        checkpoint = build_model(Path(model_dir), args.vocab)
        print(f"built a random bert-base Detoxify checkpoint in {time.perf_counter() - t:.1f} s", flush=True)
        raw = RawPredict(checkpoint, backlog, args.batch_size)
        raw.before(sweep=args.sweep)
        # The raw model stays loaded (idle) while the worker runs, so the check afterwards needs no reload.
        worker_figures = run_worker(checkpoint, backlog, idle_texts, args)
        if not args.no_recheck:
            raw.after()
        raw.close()

    report(args, backlog, raw.figures | {"tokens": raw.tokens}, worker_figures)
    print(f"\nload average at end: {load_average()}; total time {time.monotonic() - started:.0f} s")


def run_worker(checkpoint: Path, backlog: list[str], idle_texts: list[str], args) -> dict:
    from redis import Redis

    extra = {
        "CIVILITY_SCORER": "detoxify",
        "CIVILITY_DETOXIFY_CHECKPOINT": str(checkpoint),
        "CIVILITY_BATCH_SIZE": str(args.batch_size),
        "CIVILITY_MODERATION_MODE": "pre",
        "CIVILITY_RATE_LIMITS": "off",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    figures: dict = {}
    with civility_stack(extra) as env, gunicorn_server("service:create_app()", env, "/healthz") as api:
        prefix = env.get("CIVILITY_REDIS_PREFIX", "civility")
        redis = Redis.from_url(env["CIVILITY_REDIS_URL"])
        db = Database(env["CIVILITY_DATABASE_URL"])
        t = time.perf_counter()
        created = post_backlog(api.port, backlog)
        ids = [c["id"] for c in created]
        print(f"posted a backlog of {len(ids)} comments through the API in {time.perf_counter() - t:.1f} s "
              f"(queue: {len(ids)} jobs)", flush=True)

        log_path = Path(env["CIVILITY_DATABASE_URL"].removeprefix("sqlite:///")).parent / "worker.log"
        with open(log_path, "wb") as log:
            worker = subprocess.Popen([sys.executable, "-m", "service.cli", "worker"], cwd=ROOT, env=env,
                                      stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
            try:
                spawned = time.time()
                print("started one worker; waiting for it to load the model ...", flush=True)
                ready = wait_for_worker(redis, prefix, worker, timeout=180)
                figures["startup"] = ready - spawned
                print(f"  ready after {figures['startup']:.1f} s; draining ...", flush=True)
                others = OtherLoad(worker.pid, os.getpid(), api.pid, *api.worker_pids())
                drain(db, ids, worker, timeout=60 + 2.0 * len(ids))
                figures["others"] = others.share()
                figures["ready"] = ready
                figures["rows"] = db.rows(ids)
                figures["rss_after_drain"] = memory_mb(worker.pid, "VmRSS")
                wait_queue_empty(redis, f"{prefix}-scoring")
                if idle_texts:
                    print(f"POST to decision at idle, {len(idle_texts)} comments one at a time ...", flush=True)
                    latencies = idle_latency(api.port, idle_texts)
                    figures["idle"] = [s for _, s in latencies]
                    by_id = {r.id: r for r in db.rows([i for i, _ in latencies])}
                    figures["idle_server"] = [(by_id[i].scored_at - by_id[i].created_at).total_seconds()
                                              for i, _ in latencies]
                figures["peak_rss"] = memory_mb(worker.pid, "VmHWM")
                figures["rss_now"] = memory_mb(worker.pid, "VmRSS")
            except Exception:
                log.flush()
                print("--- worker log (last lines) ---\n" + "\n".join(
                    log_path.read_text(errors="replace").splitlines()[-30:]), file=sys.stderr)
                raise
            finally:
                stop_process_group(worker)
                if args.worker_log:
                    log.flush()
                    shutil.copyfile(log_path, args.worker_log)
    return figures


def report(args, backlog: list[str], raw: dict, fig: dict) -> None:
    words = [len(t.split()) for t in backlog]
    tokens = raw["tokens"]
    rows = fig["rows"]
    n = len(rows)
    batches: dict = {}
    for row in rows:
        batches.setdefault(row.scored_at, []).append(row)
    times = sorted(batches)
    first, last = times[0], times[-1]
    span = (last - first).total_seconds()
    steady = (n - len(batches[first])) / span if span > 0 else float("nan")
    from_ready = n / (last.timestamp() - fig["ready"])
    failed = sum(1 for r in rows if any("scoring failed" in reason for reason in (r.reasons or [])))
    statuses: dict = {}
    for row in rows:
        statuses[row.status] = statuses.get(row.status, 0) + 1
    scorers = {r.scorer_name for r in rows}

    print("\n" + "=" * 100)
    print("Detoxify `original` architecture (bert-base-uncased, 12 layers, 6 labels), random weights, CPU, "
          f"{os.cpu_count()} cores")
    print(f"{n} comments, {min(words)}-{max(words)} words (mean {statistics.mean(words):.0f}); "
          f"{args.vocab} vocabulary: {min(tokens)}-{max(tokens)} tokens (mean {statistics.mean(tokens):.0f})")
    print()
    label = f"raw Detoxify.predict, batches of {args.batch_size}"
    print(f"{label + ', in posting order (unsorted)':<66} {raw['unsorted']:6.2f} comments/s"
          f"   others {raw['others']['unsorted']:.0%}")
    if "unsorted_after" in raw:
        print(f"{'  the same, measured again after the worker':<66} {raw['unsorted_after']:6.2f} comments/s"
              f"   others {raw['others']['unsorted_after']:.0%}")
    print(f"{label + f', length-sorted over all {n}':<66} {raw['sorted']:6.2f} comments/s"
          f"   others {raw['others']['sorted']:.0%}   (the most sorting can give)")
    if raw["sweep"]:
        print(f"raw Detoxify.predict on the first {min(SWEEP_TEXTS, n)}, unsorted, by batch size: "
              + ",  ".join(f"{size}: {rate:.2f} (others {others:.0%})" for size, (rate, others) in raw["sweep"].items())
              + " comments/s")
    print(f"\nworker draining {n} comments (API -> Redis -> worker -> database), batch size {args.batch_size}:")
    drained = last.timestamp() - fig["ready"]
    steady_label = f"  steady: {n - len(batches[first])} comments in {span:.1f} s after the first batch"
    ready_label = f"  from its ready signal to the last decision ({drained:.1f} s)"
    print(f"{steady_label:<66} {steady:6.2f} comments/s   others {fig['others']:.0%}")
    print(f"{ready_label:<66} {from_ready:6.2f} comments/s")
    print(f"  {len(batches)} batches (sizes {min(map(len, batches.values()))}-{max(map(len, batches.values()))}); "
          f"start-up (loading the model) {fig['startup']:.1f} s; scorer {', '.join(map(str, scorers))}; "
          f"decisions {statuses}; scoring failed: {failed}")

    print("(others: the share of the machine's CPU that processes outside this benchmark used meanwhile)")

    def line(label, value, target_text, ok):
        print(f"{label:<58} {value:>10}   {target_text:<9} {'met' if ok else 'NOT MET'}")

    print("\ntarget" + " " * 53 + "measured   target    verdict")
    baseline = raw["unsorted"]
    if "unsorted_after" in raw:
        baseline = (raw["unsorted"] + raw["unsorted_after"]) / 2
        drift = abs(raw["unsorted"] - raw["unsorted_after"]) / baseline
        print(f"raw predict (unsorted) baseline: the mean of before and after, {baseline:.2f} comments/s"
              + (f"; they differ by {drift:.0%}: a busy machine, rerun when it is quiet" if drift > 0.15 else ""))
    r1 = steady / baseline
    line("worker / raw predict (unsorted)", f"{r1:.1%}", ">= 90%", r1 >= 0.9)
    line("worker above raw unsorted predict (length-sorted batches)", f"{r1:.1%}", "> 100%", r1 > 1.0)
    r2 = steady / raw["sorted"]
    print(f"{'worker / raw predict (sorted over the whole backlog)':<58} {r2:>10.1%}")
    if fig.get("idle"):
        idle, server = fig["idle"], fig["idle_server"]
        p50 = pct(idle, 0.5) * 1000
        line(f"POST to decision at idle, p50 ({len(idle)} comments)", f"{p50:.0f} ms", "< 1000 ms", p50 < 1000)
        print(f"  client side (POST sent -> decision seen, polled every {POLL_SECONDS * 1000:.0f} ms): "
              f"p50 {p50:.0f} ms, p90 {pct(idle, 0.9) * 1000:.0f} ms, max {max(idle) * 1000:.0f} ms")
        print(f"  server side (created_at -> scored_at): p50 {pct(server, 0.5) * 1000:.0f} ms, "
              f"p90 {pct(server, 0.9) * 1000:.0f} ms")
    print(f"worker peak RSS (VmHWM): {fig['peak_rss']:.0f} MB; RSS after the drain {fig['rss_after_drain']:.0f} MB, "
          f"at the end {fig['rss_now']:.0f} MB")
    busiest = max([*raw["others"].values(), fig["others"]])
    if busiest > NOISY:
        print(f"\nWARNING: other processes took up to {busiest:.0%} of the CPU during a measurement; "
              "these figures are not reliable. Rerun on a quiet machine.")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("\ninterrupted: every server and worker it started has been stopped", file=sys.stderr)
        sys.exit(130)
