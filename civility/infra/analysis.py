"""On-demand scores from the workers, over Redis: the API never loads a model.

The protocol, both sides:

- The API (``RedisAnalyzer.analyze``) appends a request ``"<deadline> <json {id, texts}>"`` to the list
  ``{prefix}:analyze-requests`` with one Lua script, which stamps the deadline with Redis's own clock (so
  the API's and the workers' clocks never need to agree), keeps the list expiring a few seconds after its
  last request, and, when no analyze job is already waiting (the key ``{prefix}:analyze-wake``), tells the
  caller to enqueue one: ``workers.analyze.analyze_pending`` on the queue ``{prefix}-analyze``. It then
  waits with BLPOP on ``{prefix}:analyze-result:{id}`` until its deadline.
- A worker's job (``take_requests``) clears the wake key, pops waiting requests up to a batch of texts,
  skips those whose caller has given up, scores all their texts in one scorer call, and pushes each
  caller its result (``deliver``) with a TTL of seconds. If requests are still waiting afterwards it
  enqueues the next job (``requeue_if_waiting``).

Nothing here reaches the database, texts are never logged, and every key expires within seconds
(Perspective's doNotStore). The counters in ``{prefix}:analyze-stats`` (calls, requests, texts,
skipped) say how well micro-batching works.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

from civility.analysis import Analysis, AnalysisUnavailable
from civility.config import Settings

ANALYZE_JOB = "workers.analyze.analyze_pending"
RESULT_TTL = 5  # seconds a result waits for a caller that is still (or no longer) listening
LIST_TTL_MARGIN = 5  # the request list expires this long after the last request's deadline
WAKE_TTL = 10  # at most one queued job; a lost one is replaced after this long
JOB_TTL = 30  # a queued job no worker took is dropped after this long (must be >= WAKE_TTL)
MAX_WAITING = 1000  # requests beyond this many waiting are refused at once
BLOCK_SLICE = 4.0  # BLPOP in slices shorter than the client's socket timeout (5 s)

# KEYS: requests list, wake key. ARGV: timeout, payload, list ttl, wake ttl, max waiting.
# Returns -1 (too many waiting), 0 (a job is already queued) or 1 (enqueue one).
_SUBMIT = """
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[5]) then return -1 end
local t = redis.call('TIME')
local deadline = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[1])
redis.call('RPUSH', KEYS[1], string.format('%.6f', deadline) .. ' ' .. ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[4]) then return 1 end
return 0
"""


def requests_key(settings: Settings) -> str:
    return f"{settings.redis_prefix}:analyze-requests"


def result_key(settings: Settings, request_id: str) -> str:
    return f"{settings.redis_prefix}:analyze-result:{request_id}"


def wake_key(settings: Settings) -> str:
    return f"{settings.redis_prefix}:analyze-wake"


def stats_key(settings: Settings) -> str:
    return f"{settings.redis_prefix}:analyze-stats"


def enqueue_job(redis: Redis, settings: Settings) -> None:
    # No result kept, nothing in the job's arguments: the texts live only in the request list.
    Queue(settings.analyze_queue_name(), connection=redis).enqueue(
        ANALYZE_JOB, ttl=JOB_TTL, result_ttl=0, failure_ttl=300, job_timeout=settings.job_timeout_seconds)


class RedisAnalyzer:
    """``civility.analysis.Analyzer`` served by the workers through Redis (see the module docstring)."""

    def __init__(self, redis: Redis, settings: Settings):
        self.redis = redis
        self.settings = settings
        self._submit = redis.register_script(_SUBMIT)

    def analyze(self, texts: list[str], timeout: float) -> Analysis:
        started = time.monotonic()
        request_id = uuid.uuid4().hex
        payload = json.dumps({"id": request_id, "texts": list(texts)}, ensure_ascii=False)
        key = result_key(self.settings, request_id)
        try:
            verdict = self._submit(keys=[requests_key(self.settings), wake_key(self.settings)],
                                   args=[f"{timeout:.6f}", payload, math.ceil(timeout) + LIST_TTL_MARGIN,
                                         WAKE_TTL, MAX_WAITING])
            if verdict == -1:
                raise AnalysisUnavailable(f"more than {MAX_WAITING} analyze requests are waiting")
            if verdict == 1:
                enqueue_job(self.redis, self.settings)
            answer: Any = None
            while answer is None:
                remaining = timeout - (time.monotonic() - started)
                if remaining <= 0.001:
                    break
                answer = self.redis.blpop([key], timeout=min(remaining, BLOCK_SLICE))
        except RedisError as exc:
            raise AnalysisUnavailable(f"Redis is unavailable: {type(exc).__name__}: {exc}") from exc
        if answer is None:
            raise AnalysisUnavailable(f"no worker answered within {timeout:g} s")
        result = json.loads(answer[1])
        if "error" in result:
            raise AnalysisUnavailable(f"the worker could not score: {result['error']}")
        return Analysis(scores=result["scores"], scorer=result["scorer"], version=result["version"],
                        fallback=bool(result["fallback"]))


# -- the worker's side ----------------------------------------------------------------------------
@dataclass
class Request:
    id: str
    texts: list[str]
    deadline: float  # Redis server time, seconds


def take_requests(redis: Redis, settings: Settings, max_texts: int) -> tuple[list[Request], int]:
    """(requests still awaited, how many were skipped as given up): at least one request's texts, then
    more while the batch stays within ``max_texts``. An empty list when none waits."""
    redis.delete(wake_key(settings))  # from here on, a new request enqueues a new job
    key = requests_key(settings)
    taken: list[Request] = []
    skipped = 0
    count = 0
    seconds, micros = redis.time()  # type: ignore[misc]
    now = seconds + micros / 1e6
    while True:
        if taken:
            head = redis.lindex(key, 0)
            if head is None or count + _text_count(head) > max_texts:
                break
        raw: Any = redis.lpop(key)
        if raw is None:
            break
        deadline, _, body = (raw.decode() if isinstance(raw, bytes) else raw).partition(" ")
        if float(deadline) <= now:
            skipped += 1  # its caller has given up
            continue
        data = json.loads(body)
        taken.append(Request(data["id"], data["texts"], float(deadline)))
        count += len(data["texts"])
    return taken, skipped


def _text_count(raw: Any) -> int:
    body = (raw.decode() if isinstance(raw, bytes) else raw).partition(" ")[2]
    return len(json.loads(body)["texts"])


def deliver(redis: Redis, settings: Settings, answers: list[tuple[str, dict[str, Any]]]) -> None:
    """Push each (request id, result) to its caller; the result expires after seconds."""
    pipe = redis.pipeline(transaction=False)
    for request_id, result in answers:
        key = result_key(settings, request_id)
        pipe.rpush(key, json.dumps(result))
        pipe.expire(key, RESULT_TTL)
    pipe.execute()


def record_stats(redis: Redis, settings: Settings, requests: int, texts: int, skipped: int) -> None:
    pipe = redis.pipeline(transaction=False)
    key = stats_key(settings)
    if requests:
        pipe.hincrby(key, "calls", 1)
        pipe.hincrby(key, "requests", requests)
        pipe.hincrby(key, "texts", texts)
    if skipped:
        pipe.hincrby(key, "skipped", skipped)
    pipe.execute()


def stats(redis: Redis, settings: Settings) -> dict[str, int]:
    values: dict[Any, Any] = redis.hgetall(stats_key(settings))  # type: ignore[assignment]
    return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in values.items()}


def requeue_if_waiting(redis: Redis, settings: Settings) -> bool:
    """After a batch: if requests still wait and no job is queued for them, enqueue one."""
    if redis.llen(requests_key(settings)) and redis.set(wake_key(settings), "1", nx=True, ex=WAKE_TTL):
        enqueue_job(redis, settings)
        return True
    return False
