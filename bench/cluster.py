"""Benchmark: the production layout on one machine, through a worker kill and a Redis failover.

    .venv/bin/python bench/cluster.py [--duration 60] [--fast-recovery] [--postgres URL]

PostgreSQL (a database of its own, ``civility_cluster_bench``, made and dropped on the
``TEST_DATABASE_URL`` server, default postgresql://postgres@127.0.0.1:5432/test), a Redis master, its
replica and a Sentinel (``CIVILITY_REDIS_URL=redis+sentinel://...``), two API processes (gunicorn,
1 worker x 4 threads each, rate limits off) and two ``civility worker`` processes (the profanity
scorer, pre-moderation). Client processes send a steady mix of thread reads, comment posts, shares
and votes to both APIs. Halfway through, one worker is SIGKILLed and the Redis master too; the
Sentinel promotes the replica. A worker that exits unasked (other than the one killed) is started
again, as the deploy files' restart policies do, and counted.

Reported: requests/s, p50 and p99 per kind; the oldest unscored comment seen (sampled from the
database every second, drain included); "lost N" (acknowledged posts missing from the database or
still unscored at the drain deadline) and "doubled N" (one post stored twice, or one revision scored
twice); and ``others``, the CPU used by processes outside the benchmark (PostgreSQL backends serving
its database count as its own).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import cluster_load
from bench.cluster_cpu import OwnCPU
from bench.harness import exit_on_sigterm, free_port, stop_process_group
from civility.infra.sentinel_cluster import SentinelCluster
from civility.store.db import normalise_url

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "civility_cluster_bench"
NOISY = 0.10
FAST_RECOVERY = {"CIVILITY_JOB_TIMEOUT_SECONDS": "20", "CIVILITY_WORKER_TTL": "15",
                 "CIVILITY_MAINTENANCE_INTERVAL": "10", "CIVILITY_SCORING_DEADLINE_SECONDS": "20",
                 "CIVILITY_SWEEP_INTERVAL_SECONDS": "5"}
SEED_ARTICLES, SEED_COMMENTS = 5, 40
RESTART_DELAY = 2.0


def conninfo(url: str, database: str | None = None) -> str:
    parsed = make_url(normalise_url(url)).set(drivername="postgresql")
    return (parsed.set(database=database) if database else parsed).render_as_string(hide_password=False)


@contextlib.contextmanager
def own_database(admin_url: str):
    with psycopg.connect(conninfo(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    try:
        yield conninfo(admin_url, DATABASE)
    finally:
        with psycopg.connect(conninfo(admin_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


class Processes:
    """Every process the benchmark starts, each leading its own group, stopped in reverse order."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.started: list[subprocess.Popen] = []

    def start(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child holds it
        with log:
            process = subprocess.Popen(args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.started):
            stop_process_group(process)


def api(processes: Processes, name: str, env: dict) -> int:
    port = free_port()
    process = processes.start(name, [sys.executable, "-m", "gunicorn", "-c", "python:service.gunicorn_conf",
                                     "--workers", "1", "--threads", "4", "--worker-class", "gthread",
                                     "--keep-alive", "5", "--log-level", "warning", "--access-logfile", "/dev/null",
                                     "--bind", f"127.0.0.1:{port}", "service:create_app()"], env)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return port
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start; see {processes.logs}/{name}.log") from None
            time.sleep(0.2)


def worker(processes: Processes, name: str, env: dict) -> subprocess.Popen:
    return processes.start(name, [sys.executable, "-m", "service.cli", "worker"], env)


def seed(port: int, conn) -> tuple[list[str], list[int]]:
    import http.client
    import json

    articles = [f"bench/read-{k}" for k in range(SEED_ARTICLES)]
    ids = []
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for n in range(SEED_COMMENTS):
        body = json.dumps({"body": f"A calm and useful remark about the tram line, number {n}.",
                           "author_name": "Seed"}).encode()
        client.request("POST", f"/api/v1/articles/{articles[n % SEED_ARTICLES]}/comments", body=body,
                       headers={"Content-Type": "application/json", "X-Forwarded-For": "192.0.2.1"})
        response = client.getresponse()
        ids.append(json.loads(response.read())["id"])
    client.close()
    wait_for(lambda: pending(conn) == 0, 120, "the workers to score the seeded comments")
    return articles, ids


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)


def pending(conn, ids: list[int] | None = None) -> int:
    if ids is None:
        return conn.execute("SELECT count(*) FROM comments WHERE status = 'pending'").fetchone()[0]
    return conn.execute("SELECT count(*) FROM comments WHERE status = 'pending' AND id = ANY(%s)", (ids,)).fetchone()[0]


def backlog_age(conn) -> float:
    age = conn.execute("SELECT EXTRACT(EPOCH FROM now() - min(created_at)) FROM comments "
                       "WHERE status = 'pending'").fetchone()[0]
    return float(age or 0.0)


def check(conn, acknowledged: list[int]) -> dict:
    found = {row[0] for row in conn.execute("SELECT id FROM comments WHERE id = ANY(%s)", (acknowledged,))}
    unscored = pending(conn, acknowledged)
    stored_twice = conn.execute("SELECT count(*) FROM (SELECT body FROM comments WHERE article_id LIKE "
                                "'bench/post-%%' GROUP BY body HAVING count(*) > 1) AS twice").fetchone()[0]
    scored_twice = conn.execute("SELECT count(*) FROM (SELECT comment_id, details->>'revision' FROM comment_events "
                                "WHERE action = 'score' GROUP BY 1, 2 HAVING count(*) > 1) AS twice").fetchone()[0]
    return {"missing": len(set(acknowledged) - found), "unscored": unscored, "stored_twice": stored_twice,
            "scored_twice": scored_twice}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def report(requests, duration: float, fault_at: float) -> None:
    print(f"{'kind':<6} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} "
          f"{'of them 503':>11} {'req/s before / after the fault':>31}")
    for kind in cluster_load.KINDS:
        rows = [r for r in requests if r[0] == kind]
        latencies = [r[2] for r in rows]
        failed = [r for r in rows if not 200 <= r[3] < 300]
        before = sum(1 for r in rows if r[1] < fault_at) / fault_at
        after = sum(1 for r in rows if r[1] >= fault_at) / (duration - fault_at)
        print(f"{kind:<6} {len(rows):>8} {len(rows) / duration:>7.1f} {percentile(latencies, 0.5):>8.1f} "
              f"{percentile(latencies, 0.99):>8.1f} {len(failed):>8} {sum(1 for r in failed if r[3] == 503):>11} "
              f"{before:>15.1f} / {after:.1f}")


def run(args) -> None:
    exit_on_sigterm()
    with contextlib.ExitStack() as outer:
        logs = Path(tempfile.mkdtemp(prefix="civility-cluster-"))
        if not args.keep_logs:
            outer.callback(shutil.rmtree, logs, ignore_errors=True)
        print(f"logs in {logs}" + ("" if args.keep_logs else " (removed at the end; --keep-logs keeps them)"),
              flush=True)
        measure(args, logs)


def measure(args, logs: Path) -> None:
    processes = Processes(logs)
    cluster = SentinelCluster(logs / "redis", service="civility")
    with own_database(args.postgres) as db_url, contextlib.ExitStack() as stack:
        stack.callback(cluster.stop)
        stack.callback(processes.stop_all)
        cluster.start()
        env = {**os.environ, "CIVILITY_DATABASE_URL": db_url, "CIVILITY_REDIS_URL": cluster.url(0),
               "CIVILITY_REDIS_PREFIX": "bench", "CIVILITY_RATE_LIMITS": "off", "CIVILITY_SCORER": "profanity",
               "CIVILITY_MODERATION_MODE": "pre", "CIVILITY_TRUSTED_PROXIES": "1",
               **(FAST_RECOVERY if args.fast_recovery else {})}
        subprocess.run([sys.executable, "-m", "service.cli", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        ports = [api(processes, f"api-{n}", env) for n in range(2)]
        workers = {f"worker-{n}": worker(processes, f"worker-{n}", env) for n in range(2)}
        conn = stack.enter_context(psycopg.connect(db_url, autocommit=True))
        articles, vote_ids = seed(ports[0], conn)

        cpu = OwnCPU(conn, DATABASE)
        plan = cluster_load.Plan(ports, articles, vote_ids, args.duration, time.time() + 3)
        pool, result = cluster_load.start(plan, args.processes, args.threads)
        stack.callback(pool.terminate)
        fault_at, killed, failover_s, restarts, oldest = args.duration / 2, None, None, 0, 0.0
        while not result.ready():
            now = time.time() - plan.started_at
            if killed is None and now >= fault_at:
                killed = "worker-0"
                os.killpg(workers[killed].pid, signal.SIGKILL)
                cluster.kill_master()
                print(f"t={now:.1f} s: SIGKILLed {killed} and the Redis master", flush=True)
            if killed and failover_s is None and cluster.master_address() == ("127.0.0.1", cluster.replica_port):
                failover_s = now - fault_at
            restarts += restart_exited(processes, workers, env, killed)
            oldest = max(oldest, backlog_age(conn))
            cpu.sample()
            time.sleep(0.5)
        others = cpu.others()  # over the load only: the drain leaves the machine to others
        outcome = cluster_load.Outcome()
        for part in result.get():
            outcome.merge(part)
        pool.close()

        drain_started = time.monotonic()
        while pending(conn, outcome.acknowledged) and time.monotonic() - drain_started < args.drain:
            restarts += restart_exited(processes, workers, env, killed)
            oldest = max(oldest, backlog_age(conn))
            time.sleep(1)
        drained = time.monotonic() - drain_started
        found = check(conn, outcome.acknowledged)

    print()
    report(outcome.requests, args.duration, fault_at)
    print(f"\ncomment posts acknowledged: {len(outcome.acknowledged)}; every one scored "
          f"{drained:.0f} s after the load ended" if not found["unscored"] else
          f"\ncomment posts acknowledged: {len(outcome.acknowledged)}; still unscored after {args.drain} s")
    print(f"failover: the Sentinel named the new master {failover_s:.1f} s after the kill" if failover_s is not None
          else "failover: not seen during the load")
    print(f"workers that exited unasked and were started again: {restarts}")
    print(f"oldest unscored comment seen: {oldest:.1f} s")
    print(f"lost {found['missing'] + found['unscored']} (missing {found['missing']}, unscored {found['unscored']}), "
          f"doubled {found['stored_twice'] + found['scored_twice']} (stored twice {found['stored_twice']}, "
          f"one revision scored twice {found['scored_twice']})")
    print(f"recovery settings: {'fast: ' + str(FAST_RECOVERY) if args.fast_recovery else 'the defaults'}")
    print(f"others: {others:.0%} of the machine's CPU during the load")
    if others > NOISY:
        print(f"WARNING: other processes took {others:.0%} of the CPU (over {NOISY:.0%}): the figures are unreliable")


def restart_exited(processes: Processes, workers: dict, env: dict, killed: str | None) -> int:
    """Start again a worker that exited unasked, at most every RESTART_DELAY seconds (a restart policy)."""
    restarted = 0
    for name, process in workers.items():
        if name != killed and process.poll() is not None and time.monotonic() >= _restart_after.get(name, 0.0):
            workers[name] = worker(processes, name, env)
            _restart_after[name] = time.monotonic() + RESTART_DELAY
            restarted += 1
    return restarted


_restart_after: dict[str, float] = {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--drain", type=float, default=300.0, help="seconds to wait for the backlog afterwards")
    parser.add_argument("--processes", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="connections per client process (default 4)")
    parser.add_argument("--fast-recovery", action="store_true",
                        help="shorter job timeout, worker TTL, maintenance interval and scoring deadline")
    parser.add_argument("--keep-logs", action="store_true", help="keep the servers' logs and say where")
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL",
                                                             "postgresql://postgres@127.0.0.1:5432/test"),
                        help="the PostgreSQL server (its database is not touched; ours is made and dropped)")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
