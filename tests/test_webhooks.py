"""Signed webhooks: the outbox, signatures, retries, a SIGKILLed worker, the URL policy, admin-only routes."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from civility import webhooks
from civility.errors import Invalid
from civility.store.webhooks import WebhookRepository
from tests.helpers import ABUSE, ROOT, assert_error, bearer, post, settings_env, wait_until

ALL_EVENTS = list(webhooks.EVENTS)
# Short retries, and a delivery counts as lost 1 s past its due time (the production schedule is in config.py).
FAST = {"CIVILITY_WEBHOOK_RETRY_INTERVALS": "1,1", "CIVILITY_WEBHOOK_GRACE_SECONDS": "1"}
DEV = {**FAST, "CIVILITY_WEBHOOK_ALLOW_PRIVATE": "1"}
# The same for the API process, which enqueues the first attempt (with its Retry schedule).
FAST_APP = {"webhook_retry_intervals": (1, 1), "webhook_grace_seconds": 1, "webhook_allow_private": True}


class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST and answers with the next scripted status."""

    def __init__(self, statuses: list[int] | None = None, hold_first: bool = False):
        self.requests: list[tuple[dict, bytes]] = []
        self.statuses = list(statuses or [])
        self.hold = threading.Event() if hold_first else None
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                data = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.requests.append((dict(self.headers), data))
                    first = len(receiver.requests) == 1
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                if first and receiver.hold is not None:
                    receiver.hold.wait(60)  # until the test has killed the worker
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks?site=news"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, name: str) -> list[tuple[dict, bytes]]:
        with self.lock:
            return [(h, b) for h, b in self.requests if json.loads(b)["event"] == name]

    def close(self):
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(*args, **kwargs) -> Receiver:
        made.append(Receiver(*args, **kwargs))
        return made[-1]

    yield make
    for r in made:
        r.close()


def add_hook(client, token, url, events=None):
    r = client.post("/api/v1/moderation/webhooks", json={"url": url, "events": events or ALL_EVENTS},
                    headers=bearer(token))
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.json


def deliveries(client, token, endpoint_id):
    r = client.get(f"/api/v1/moderation/webhooks/{endpoint_id}/deliveries", headers=bearer(token))
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.json["items"]


def verified(secret: str, headers: dict, data: bytes) -> dict:
    assert webhooks.verify(secret, headers["Civility-Signature"], data, int(time.time()))
    assert not webhooks.verify(secret + "x", headers["Civility-Signature"], data, int(time.time()))
    document = json.loads(data)
    assert headers["Civility-Webhook-Id"] == document["id"] and headers["Civility-Event"] == document["event"]
    return document


def test_signed_events_with_retries_after_500s(app_factory, worker_process, receiver, admin_token):
    app = app_factory(**FAST_APP)
    client, settings = app.test_client(), app.extensions["civility"].settings
    hook = receiver(statuses=[500, 500])  # the first delivery succeeds on its third attempt
    endpoint = add_hook(client, admin_token, hook.url)
    assert endpoint["secret"].startswith("whsec_") and "secret" not in client.get(
        "/api/v1/moderation/webhooks", headers=bearer(admin_token)).json["items"][0]
    worker = worker_process(settings, **DEV)
    benign = post(client, "A measured, thoughtful comment.").json

    # Retries come from RQ's scheduler; should it miss one, the sweeper enqueues it 30 s late (a slower pass).
    wait_until(lambda: len(hook.events("comment.created")) >= 3, 120,
               message=lambda: f"three attempts of comment.created\n{worker.output()}")
    attempts = [verified(endpoint["secret"], h, b) for h, b in hook.events("comment.created")]
    assert len({a["id"] for a in attempts}) == 1  # one delivery, retried: receivers dedupe on its id
    assert attempts[0]["data"]["comment"]["id"] == benign["id"]
    [row] = wait_until(lambda: [d for d in deliveries(client, admin_token, endpoint["id"])
                                if d["state"] == "delivered"])
    assert row["attempts"] == 3 and row["last_status_code"] == 200 and row["last_error"] is None

    abusive = post(client, ABUSE).json["id"]
    [(h, b)] = wait_until(lambda: hook.events("comment.flagged"), 60, message="comment.flagged")
    flagged = verified(endpoint["secret"], h, b)["data"]
    assert flagged["comment"]["id"] == abusive and flagged["reasons"] and flagged["scores"]
    decided = client.post(f"/api/v1/moderation/comments/{abusive}/decision", json={"action": "reject"},
                          headers=bearer(admin_token))
    assert decided.status_code == 200
    [(h, b)] = wait_until(lambda: hook.events("comment.decided"), 30, message="comment.decided")
    data = verified(endpoint["secret"], h, b)["data"]
    assert data["moderator"] == "root" and data["outcome"] == "reject" and data["status"] == "rejected"
    r = client.delete(f"/api/v1/comments/{benign['id']}", headers={"X-Edit-Token": benign["edit_token"]})
    assert r.status_code in (200, 204), r.get_data(as_text=True)
    [(h, b)] = wait_until(lambda: hook.events("comment.deleted"), 30, message="comment.deleted")
    assert "body" not in verified(endpoint["secret"], h, b)["data"]["comment"]


def test_nothing_is_lost_when_the_worker_is_killed_mid_delivery(app_factory, worker_process, receiver,
                                                                 admin_token):
    app = app_factory(**FAST_APP)
    client, settings = app.test_client(), app.extensions["civility"].settings
    hook = receiver(hold_first=True)
    endpoint = add_hook(client, admin_token, hook.url, ["comment.created"])
    first = worker_process(settings, **DEV)
    post(client, "Delivered at least once")
    wait_until(lambda: hook.requests, 60, message=lambda: f"the first delivery attempt\n{first.output()}")
    first.kill(signal.SIGKILL)  # mid-request: the receiver still holds it
    assert hook.hold is not None
    hook.hold.set()
    [row] = deliveries(client, admin_token, endpoint["id"])
    assert row["state"] == "pending" and row["attempts"] == 1

    second = worker_process(settings, **DEV)
    wait_until(lambda: len(hook.requests) >= 2, 90,
               message=lambda: f"the delivery after the kill\n{second.output()}")
    ids = {json.loads(b)["id"] for _, b in hook.requests}
    assert ids == {str(row["id"])}  # the same delivery id: a receiver can dedupe
    wait_until(lambda: deliveries(client, admin_token, endpoint["id"])[0]["state"] == "delivered", 30,
               message="the delivery to be recorded")


def test_refused_at_delivery_time_then_the_endpoint_is_disabled(app_factory, worker_process, admin_token):
    # Added while private addresses were allowed; the worker no longer allows them (as after a DNS change).
    app = app_factory(**FAST_APP | {"webhook_retry_intervals": (1,)})
    client, settings = app.test_client(), app.extensions["civility"].settings
    endpoint = add_hook(client, admin_token, "http://127.0.0.1:9/never", ["comment.created"])
    worker = worker_process(settings, CIVILITY_WEBHOOK_RETRY_INTERVALS="1", CIVILITY_WEBHOOK_GRACE_SECONDS="1")
    post(client)

    def failed():
        return [d for d in deliveries(client, admin_token, endpoint["id"]) if d["state"] == "failed"]

    [row] = wait_until(failed, 60, message=lambda: f"the delivery to fail for good\n{worker.output()}")
    assert row["attempts"] == 2 and row["last_status_code"] is None
    assert "not a public address" in row["last_error"] or "scheme" in row["last_error"]
    [listed] = client.get("/api/v1/moderation/webhooks", headers=bearer(admin_token)).json["items"]
    assert listed["disabled_at"] and "failed after 2 attempts" in listed["disabled_reason"]
    # A disabled endpoint gets no new deliveries.
    post(client, "After the endpoint was disabled")
    assert len(deliveries(client, admin_token, endpoint["id"])) == 1


def fake_resolver(*addresses: str):
    def resolve(host, port, type=0):
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in addresses]
    return resolve


@pytest.mark.parametrize("url,addresses,allowed", [
    ("https://hooks.example.com/x", ("93.184.216.34",), True),
    ("http://hooks.example.com/x", ("93.184.216.34",), False),  # https only
    ("https://hooks.example.com/x", ("93.184.216.34", "10.0.0.5"), False),  # every address is checked
    ("https://rebind.example.com/", ("127.0.0.1",), False),
    ("https://meta.example.com/", ("169.254.169.254",), False),
    ("https://v6.example.com/", ("::1",), False),
    ("https://mapped.example.com/", ("::ffff:192.168.1.1",), False),
    ("https://cgnat.example.com/", ("100.64.0.1",), False),
    ("https://user:pw@hooks.example.com/", ("93.184.216.34",), False),
    ("ftp://hooks.example.com/", ("93.184.216.34",), False),
])
def test_url_policy(url, addresses, allowed):
    resolve = fake_resolver(*addresses)
    if allowed:
        assert webhooks.check_url(url, False, resolve) == list(addresses)
    else:
        with pytest.raises(Invalid):
            webhooks.check_url(url, False, resolve)


def test_a_private_url_is_refused_without_the_setting(client, admin_token):
    for url in ("http://127.0.0.1:8080/hook", "https://127.0.0.1/hook", "https://localhost/hook",
                "https://[::1]/hook", "https://169.254.169.254/latest"):
        r = client.post("/api/v1/moderation/webhooks", json={"url": url, "events": ["comment.created"]},
                        headers=bearer(admin_token))
        assert_error(r, 422, "invalid")
    r = client.post("/api/v1/moderation/webhooks", json={"url": "https://example.com/", "events": ["nope"]},
                    headers=bearer(admin_token))
    assert_error(r, 422)
    assert client.get("/api/v1/moderation/webhooks", headers=bearer(admin_token)).json["items"] == []


def test_webhook_routes_are_for_admins_only(app_factory, moderator_token, admin_token):
    client = app_factory(webhook_allow_private=True).test_client()
    endpoint = add_hook(client, admin_token, "http://127.0.0.1:9/hook")
    routes = [("get", "/api/v1/moderation/webhooks", None),
              ("post", "/api/v1/moderation/webhooks", {"url": "http://127.0.0.1:9/", "events": ["comment.created"]}),
              ("delete", f"/api/v1/moderation/webhooks/{endpoint['id']}", None),
              ("get", f"/api/v1/moderation/webhooks/{endpoint['id']}/deliveries", None)]
    for method, path, body in routes:
        assert_error(getattr(client, method)(path, json=body, headers=bearer(moderator_token)), 403, "forbidden")
        assert getattr(client, method)(path, json=body).status_code == 401
    assert client.delete(f"/api/v1/moderation/webhooks/{endpoint['id']}",
                         headers=bearer(admin_token)).status_code == 204
    assert_error(client.delete(f"/api/v1/moderation/webhooks/{endpoint['id']}", headers=bearer(admin_token)), 404)
    assert_error(client.get("/api/v1/moderation/webhooks/99/deliveries", headers=bearer(admin_token)), 404)


def test_outbox_rows_commit_or_roll_back_with_the_change(app_factory, admin_token):
    app = app_factory(webhook_allow_private=True)
    client, db = app.test_client(), app.extensions["civility"].db
    endpoint = add_hook(client, admin_token, "http://127.0.0.1:9/hook", ["reader.erased"])
    with pytest.raises(RuntimeError), db.transaction() as session:
        webhooks.reader_erased(session, "reader-1", {"comments": 3})
        raise RuntimeError("the erasure failed")
    assert deliveries(client, admin_token, endpoint["id"]) == []
    with db.transaction() as session:
        webhooks.reader_erased(session, "reader-1", {"comments": 3})
    [row] = deliveries(client, admin_token, endpoint["id"])
    assert row["event"] == "reader.erased" and row["state"] == "pending"
    with db.read() as session:
        payload = WebhookRepository(session).delivery(row["id"]).payload
    assert payload == {"reader": "reader-1", "comments": 3}


def test_cli_add_list_remove(settings):
    env = settings_env(settings, CIVILITY_WEBHOOK_ALLOW_PRIVATE="1")

    def civility(*args):
        return subprocess.run([sys.executable, "-m", "service.cli", "webhooks", *args], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)

    added = civility("add", "http://127.0.0.1:9/hook", "--events", "comment.created,comment.decided")
    assert added.returncode == 0, added.stderr
    assert "signing secret (shown once): whsec_" in added.stdout
    listed = civility("list")
    assert "http://127.0.0.1:9/hook\tcomment.created,comment.decided\tenabled" in listed.stdout
    assert "whsec_" not in listed.stdout
    refused = civility("add", "http://127.0.0.1:9/hook", "--events", "comment.exploded")
    assert refused.returncode != 0 and "invalid events" in refused.stderr
    assert civility("remove", "1").returncode == 0
    assert civility("list").stdout == ""
    assert civility("remove", "1").returncode != 0
