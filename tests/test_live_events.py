"""Live thread events (Server-Sent Events) over real servers: the API's own bounded route under
gunicorn, and `civility live` as its own process, both fed by real Redis pub/sub after real writes."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from civility.infra.live_events import HEARTBEAT, KINDS, RESYNC, frame_of, opening
from civility.infra.thread_cache import live_message
from civility.thread_changes import CHANGED, EDITED, PUBLISHED, REMOVED, VOTES, ThreadChange
from tests.helpers import ROOT, free_port, running_gunicorn, settings_env, stop_group, wait_until

ARTICLE = "world/live-thread"
DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


class Stream:
    """An SSE client on a plain HTTP connection: `next_event()` returns the next `data:` as JSON."""

    def __init__(self, port: int, path: str, headers: dict | None = None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.conn.request("GET", path, headers={"Accept": "text/event-stream", **(headers or {})})
        self.sock = self.conn.sock  # http.client lets go of it once the response says it ends with the connection
        self.response = self.conn.getresponse()
        self.lines: list[bytes] = []

    def next_event(self, seconds: float = 10.0) -> dict:
        deadline = time.monotonic() + seconds
        data = None
        while time.monotonic() < deadline:
            # A timeout ends the test: the socket cannot be read after one.
            self.sock.settimeout(max(0.1, deadline - time.monotonic()))
            line = self.response.readline()
            if not line:
                raise AssertionError("the stream ended")
            self.lines.append(line)
            if line.startswith(b"data: "):
                data = json.loads(line[6:])
            elif line in (b"\n", b"\r\n") and data is not None:
                return data
        raise AssertionError(f"no event within {seconds}s; read {self.lines}")

    def events_until(self, wanted: dict, seconds: float = 10.0) -> list[dict]:
        seen: list[dict] = []
        while wanted not in seen:
            seen.append(self.next_event(seconds))
        return seen

    def close(self) -> None:
        self.response.close()
        self.conn.close()


def _error(port: int, path: str) -> tuple[int, dict, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        conn.close()


@dataclass
class LiveProcess:
    port: int
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def civility_live(settings, log_path: Path, *args: str, **extra_env: str) -> Iterator[LiveProcess]:
    """`civility live` in its own process group, until the block ends."""
    port = free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "service.cli", "live", "--port", str(port), *args],
                                   cwd=ROOT, env=settings_env(settings, **extra_env), stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    live = LiveProcess(port, process, log_path)
    try:
        def healthy():
            if process.poll() is not None:
                raise AssertionError(f"civility live exited with {process.returncode}:\n{live.log()}")
            try:
                return _error(port, "/healthz")[0] == 200
            except OSError:
                return False

        wait_until(healthy, 30, 0.1, message=lambda: f"civility live to answer:\n{live.log()}")
        yield live
    finally:
        stop_group(process)


def _post(client, body: str, n: int = 1) -> dict:
    response = client.post(f"/api/v1/articles/{ARTICLE}/comments", json={"body": body, "author_name": "Ann"},
                           headers={"X-Forwarded-For": f"203.0.{n}.10"})
    assert response.status_code in (201, 202), response.get_json()
    return response.get_json()


def _streams_open(live: LiveProcess) -> int:
    return _error(live.port, "/healthz")[2]["streams"]


# -- the frames -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", [PUBLISHED, EDITED, REMOVED, VOTES, CHANGED])
def test_every_thread_change_kind_maps_to_an_event(kind):
    frame = frame_of(live_message(ThreadChange(ARTICLE, 42, kind)))
    assert frame is not None and frame.endswith(b"\n\n")
    data = [line for line in frame.split(b"\n") if line.startswith(b"data: ")]
    assert json.loads(data[0][6:]) == {"type": kind, "comment_id": 42}
    assert set(KINDS) == {PUBLISHED, EDITED, REMOVED, VOTES, CHANGED}


@pytest.mark.parametrize("message", [b"not json", b'{"type": "other", "comment_id": 1}', b'{"type": "edited"}',
                                     b'{"type": "edited", "comment_id": "1\\n\\ndata: x"}'])
def test_anything_else_on_the_channel_is_dropped(message):
    assert frame_of(message) is None


def test_a_reconnecting_client_is_told_to_read_the_thread_again():
    assert RESYNC.encode() not in opening(None)
    assert b'"type":"resync"' in opening("1234")


# -- civility live: its own process ----------------------------------------------------------------
def test_live_process_streams_every_kind_of_change_after_real_writes(app_factory, tmp_path):
    app = app_factory(moderation_mode="post", trusted_proxies=1)
    writer = app.test_client()
    with civility_live(app.extensions["civility"].settings, tmp_path / "live.log") as live:
        stream = Stream(live.port, f"/api/v1/articles/{ARTICLE}/events")
        other = Stream(live.port, "/api/v1/articles/world/another-thread/events")
        try:
            assert stream.response.status == 200
            assert stream.response.getheader("Content-Type") == "text/event-stream"
            assert stream.response.getheader("Cache-Control") == "no-cache"
            assert stream.response.getheader("X-Accel-Buffering") == "no"
            wait_until(lambda: _streams_open(live) == 2, 10)

            posted = _post(writer, "A first comment on the live thread")
            cid, author = posted["id"], {"X-Edit-Token": posted["edit_token"], "X-Forwarded-For": "203.0.1.10"}
            stream.events_until({"type": PUBLISHED, "comment_id": cid})
            assert writer.post(f"/api/v1/comments/{cid}/votes", json={"value": 1},
                               headers={"X-Forwarded-For": "203.0.9.10"}).status_code == 200
            stream.events_until({"type": VOTES, "comment_id": cid})
            assert writer.patch(f"/api/v1/comments/{cid}", json={"body": "An edited comment on the live thread"},
                                headers=author).status_code == 200
            stream.events_until({"type": EDITED, "comment_id": cid})
            assert writer.delete(f"/api/v1/comments/{cid}", headers=author).status_code in (200, 204)
            stream.events_until({"type": REMOVED, "comment_id": cid})
        finally:
            stream.close()
            other.close()
        # The other thread's reader heard nothing but the opening.
        assert not any(line.startswith(b"data: ") for line in other.lines)
        wait_until(lambda: _streams_open(live) == 0, 10, message="closed streams to be dropped")


def test_live_process_refuses_a_bad_article_id_and_a_dead_redis(settings_factory, tmp_path):
    with civility_live(settings_factory(), tmp_path / "live.log") as live:
        status, headers, body = _error(live.port, "/api/v1/articles/bad%20id/events")
        assert status == 422 and body["error"]["code"] == "invalid" and "article_id" in body["error"]["details"]
        assert _error(live.port, "/api/v1/articles/" + "x" * 200 + "/events")[0] == 422
        assert _error(live.port, "/api/v1/elsewhere")[0] == 404
    with civility_live(settings_factory(redis_url=DEAD_REDIS), tmp_path / "dead.log") as live:
        status, headers, body = _error(live.port, f"/api/v1/articles/{ARTICLE}/events")
        assert status == 503 and body["error"]["code"] == "unavailable"
        assert headers["Retry-After"]


def test_live_process_ends_its_streams_when_redis_fails_then_refuses(settings_factory, tmp_path):
    from civility.infra.redis_server import RedisServer

    redis = RedisServer(tmp_path / "redis").start()
    try:
        with civility_live(settings_factory(redis_url=redis.url), tmp_path / "live.log") as live:
            stream = Stream(live.port, f"/api/v1/articles/{ARTICLE}/events")
            try:
                assert stream.response.status == 200
                wait_until(lambda: _streams_open(live) == 1, 10)
                redis.stop()
                # The stream ends (read() returns at its end); a browser reconnects, and is told to poll.
                assert b"data: " not in stream.response.read()
                assert _streams_open(live) == 0
                assert _error(live.port, f"/api/v1/articles/{ARTICLE}/events")[0] == 503
            finally:
                stream.close()
    finally:
        redis.stop()


def test_live_process_answers_503_beyond_its_stream_limit(settings_factory, tmp_path):
    with civility_live(settings_factory(), tmp_path / "live.log", "--max-streams", "1") as live:
        first = Stream(live.port, f"/api/v1/articles/{ARTICLE}/events")
        try:
            assert first.response.status == 200
            wait_until(lambda: _streams_open(live) == 1, 10)
            assert _error(live.port, f"/api/v1/articles/{ARTICLE}/events")[0] == 503
        finally:
            first.close()


def test_live_process_allows_only_listed_origins(settings_factory, tmp_path):
    with civility_live(settings_factory(), tmp_path / "live.log",
                       CIVILITY_ALLOWED_ORIGINS="https://news.example") as live:
        for origin, allowed in (("https://news.example", "https://news.example"), ("https://evil.example", None)):
            stream = Stream(live.port, f"/api/v1/articles/{ARTICLE}/events", {"Origin": origin})
            try:
                assert stream.response.getheader("Access-Control-Allow-Origin") == allowed
            finally:
                stream.close()


# -- the API's own route, under gunicorn ------------------------------------------------------------
def test_api_route_streams_an_event_after_a_real_write(settings_factory, tmp_path):
    settings = settings_factory(moderation_mode="post")
    with running_gunicorn(settings, tmp_path / "gunicorn.log", threads=4) as server:
        stream = Stream(server.port, f"/api/v1/articles/{ARTICLE}/events", {"Last-Event-ID": "17"})
        try:
            assert stream.response.status == 200
            assert stream.response.getheader("Content-Type").startswith("text/event-stream")
            assert stream.response.getheader("Cache-Control") == "no-cache"
            assert stream.response.getheader("X-Accel-Buffering") == "no"
            assert stream.next_event() == {"type": RESYNC}
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.request("POST", f"/api/v1/articles/{ARTICLE}/comments", headers={"Content-Type": "application/json"},
                         body=json.dumps({"body": "Hello from another reader", "author_name": "Ann"}))
            response = conn.getresponse()
            posted = json.loads(response.read())
            conn.close()
            assert response.status == 201
            assert stream.events_until({"type": PUBLISHED, "comment_id": posted["id"]})
        finally:
            stream.close()


def test_api_route_refuses_a_bad_article_id_and_too_many_streams(settings_factory, tmp_path):
    settings = settings_factory()
    limit = settings.live_streams_per_process
    with running_gunicorn(settings, tmp_path / "gunicorn.log", threads=limit + 2) as server:
        status, _, body = _error(server.port, "/api/v1/articles/bad%20id/events")
        assert status == 422 and "article_id" in body["error"]["details"]
        streams = [Stream(server.port, f"/api/v1/articles/{ARTICLE}/events") for _ in range(limit)]
        try:
            assert [s.response.status for s in streams] == [200] * limit
            status, headers, body = _error(server.port, f"/api/v1/articles/{ARTICLE}/events")
            assert status == 503 and body["error"]["code"] == "unavailable" and headers["Retry-After"]
            # The threads the streams leave are still serving the API.
            assert _error(server.port, f"/api/v1/articles/{ARTICLE}/comments")[0] == 200
            # A reader who leaves frees the slot without waiting for the next heartbeat.
            streams.pop().close()

            def reopened():
                stream = Stream(server.port, f"/api/v1/articles/{ARTICLE}/events")
                if stream.response.status == 200:
                    return stream
                stream.close()
                return None

            streams.append(wait_until(reopened, 5, 0.1, message="the freed slot"))
        finally:
            for s in streams:
                s.close()


def test_api_route_answers_503_when_redis_is_down(settings_factory, tmp_path):
    from service import create_app

    app = create_app(settings_factory(redis_url=DEAD_REDIS))
    try:
        response = app.test_client().get(f"/api/v1/articles/{ARTICLE}/events")
        assert response.status_code == 503
        assert response.get_json()["error"]["code"] == "unavailable"
        # The slot went back: a later try still gets a 503 for Redis, not for "too many streams".
        again = app.test_client().get(f"/api/v1/articles/{ARTICLE}/events").get_json()
        assert "unavailable" in again["error"]["message"]
    finally:
        app.extensions["civility"].db.dispose()
        app.extensions["civility"].redis.close()


def test_the_route_is_in_the_openapi_document(client):
    operation = client.get("/openapi.json").get_json()["paths"]["/api/v1/articles/{article_id}/events"]["get"]
    assert "text/event-stream" in operation["responses"]["200"]["content"]
    assert {"422", "503"} <= set(operation["responses"])


def test_heartbeat_is_a_comment_line():
    assert HEARTBEAT.startswith(b":") and HEARTBEAT.endswith(b"\n\n")
