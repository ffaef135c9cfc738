"""Browser tests: Debian's chromium, driven by Playwright, against the real service.

One live service for the package (API in a thread, a real `civility worker` process, real Redis,
SQLite): starting a worker costs seconds, so the tests share it and keep apart by using their
own article IDs. A second loopback origin plays the news site that embeds the widget.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from redis import Redis
from werkzeug.serving import make_server

from tests.browser.support import ABUSE, CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, reader, sync_api
from tests.helpers import WorkerProcess, make_settings, settings_env, wait_until

# -- the embedding news site (another origin) ----------------------------------------------------
HOST_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="icon" href="data:,"><link rel="canonical" href="https://news.example/{article}"></head>
<body><h1>{title}</h1><p>An article on another origin.</p>
<div data-civility-article="{article}"></div>
<script src="{api}/widget.js" async></script></body></html>"""


class HostSite:
    """A plain news site on its own loopback origin. `/article?id=..&csp=1` embeds the widget; every
    request path is recorded, so a test can prove a payload never made the browser fetch anything."""

    def __init__(self, api_origin: str = ""):
        self.api_origin = api_origin
        self.requests: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                site.requests.append(self.path)
                url = urlsplit(self.path)
                if url.path != "/article":
                    self.send_response(204)
                    self.end_headers()
                    return
                query = parse_qs(url.query)
                article = query.get("id", ["test/none"])[0]
                body = HOST_PAGE.format(title="Host site", article=article, api=site.api_origin).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                if query.get("csp") == ["1"]:
                    # What a careful news site would send: only the comment service may run or style.
                    api = site.api_origin
                    self.send_header("Content-Security-Policy",
                                     f"default-src 'none'; script-src {api}; style-src {api}; connect-src {api}; "
                                     f"img-src 'self' data:; base-uri 'none'; form-action 'none'")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, article: str, csp: bool = True) -> str:
        return f"{self.origin}/article?id={article}" + ("&csp=1" if csp else "")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# -- the live service --------------------------------------------------------------------------------
@dataclass
class Live:
    base: str
    settings: object
    app: object
    worker: WorkerProcess
    host: HostSite
    stranger: HostSite  # an origin that is not on the allowlist
    tokens: dict = field(default_factory=dict)

    def api(self, method: str, path: str, body=None, token: str | None = None, headers: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + "/api/v1" + path, data=data, method=method)
        if body is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
                return response.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, (json.loads(raw) if raw else None)

    def post_comment(self, article: str, body: str, name: str = "Reader", parent_id: int | None = None) -> dict:
        payload = {"body": body, "author_name": name, **({"parent_id": parent_id} if parent_id else {})}
        # Written by another reader than the browser (which is 127.0.0.1), so the browser may vote.
        status, comment = self.api("POST", f"/articles/{article}/comments", payload, headers=reader(250))
        assert status in (201, 202), comment
        return comment

    def status_of(self, comment_id: int) -> str:
        return self.api("GET", f"/comments/{comment_id}", token=self.tokens["alice"])[1]["status"]

    def wait_for(self, comment_id: int, *statuses: str) -> str:
        return wait_until(lambda: (s := self.status_of(comment_id)) in statuses and s, 30,
                          message=f"comment {comment_id} to become {statuses}\n{self.worker.output()[-2000:]}")

    def published(self, article: str, body: str, name: str = "Reader", parent_id: int | None = None) -> dict:
        comment = self.post_comment(article, body, name, parent_id)
        self.wait_for(comment["id"], "published")
        return comment

    def held(self, article: str, body: str = ABUSE, name: str = "Angry") -> dict:
        comment = self.post_comment(article, body, name)
        self.wait_for(comment["id"], "flagged")
        return comment


def _get(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture(scope="package")
def live(tmp_path_factory, redis_url, session_prefix):
    from civility.moderators import create_moderator
    from civility.store.migrate import upgrade
    from service import create_app

    tmp = tmp_path_factory.mktemp("browser")
    database_url = f"sqlite:///{tmp / 'civility.db'}"
    upgrade(database_url)
    prefix = f"{session_prefix}-browser"
    # The embedding site's port must be known before the app (its CORS allowlist) is built.
    host, stranger = HostSite(), HostSite()
    # One trusted proxy: tests act as distinct readers with X-Forwarded-For (see reader()).
    settings = make_settings(database_url, redis_url, prefix, allowed_origins=(host.origin,), trusted_proxies=1)
    app = create_app(settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    host.api_origin = stranger.api_origin = base
    threading.Thread(target=server.serve_forever, daemon=True).start()
    worker = WorkerProcess(settings_env(settings), Path(tmp) / "worker.log")
    try:
        live = Live(base=base, settings=settings, app=app, worker=worker, host=host, stranger=stranger)
        db = app.extensions["civility"].db
        live.tokens = {"alice": create_moderator(db, "alice", "moderator"),
                       "bob": create_moderator(db, "bob", "moderator")}
        _wait_ready(base, worker)
        yield live
    finally:
        worker.kill(signal.SIGTERM)
        worker.kill()
        worker.log.close()
        server.shutdown()
        server.server_close()
        host.close()
        stranger.close()
        svc = app.extensions["civility"]
        svc.db.dispose()
        svc.redis.close()
        client = Redis.from_url(redis_url)
        for pattern in (f"{prefix}*", f"rq:*{prefix}*"):
            keys = list(client.scan_iter(match=pattern, count=500))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start:start + 500])
        client.close()


@dataclass
class Sibling:
    """A second API server on the live service's database, Redis and worker, with other settings."""

    base: str
    host: HostSite  # a news site on its allowlist


@pytest.fixture
def sibling(live):
    """`sibling(edit_window_seconds=5)` -> a Sibling whose app runs with those settings changed."""
    from service import create_app

    started = []

    def factory(**overrides) -> Sibling:
        host = HostSite()
        app = create_app(replace(live.settings, allowed_origins=(host.origin,), **overrides))
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        host.api_origin = f"http://127.0.0.1:{server.server_port}"
        started.append((app, server, host))
        return Sibling(base=host.api_origin, host=host)

    yield factory
    for app, server, host in started:
        server.shutdown()
        server.server_close()
        host.close()
        app.extensions["civility"].db.dispose()
        app.extensions["civility"].redis.close()


def _wait_ready(base: str, worker: WorkerProcess) -> None:
    def ready():
        try:
            return _get(base + "/readyz").get("status") == "ready"
        except urllib.error.HTTPError:
            return False

    wait_until(ready, 60, interval=0.2, message=f"the service to be ready\n{worker.output()}")


# -- the browser -------------------------------------------------------------------------------------
LOOPBACK = re.compile(r"^https?://127\.0\.0\.1[:/]")


@pytest.fixture(scope="package")
def chromium():
    if sync_api is None or not os.path.exists(CHROMIUM):
        pytest.skip(f"needs Playwright and {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Tab:
    """A page plus what it said: console errors, uncaught exceptions, dialogs, requests it made."""

    def __init__(self, context):
        self.context = context
        self.page = context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("dialog", self._dialog)
        context.on("request", lambda r: self.requests.append(r.url))

    def _dialog(self, dialog):
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()


@pytest.fixture
def open_tab(chromium, live):
    """`open_tab()` -> a Tab in a fresh browser context (its own storage: another reader)."""
    contexts = []

    def factory(viewport=None, bypass_csp=False) -> Tab:
        # bypass_csp: only for tests that inject a script of their own (axe-core) into a CSP-locked page.
        context = chromium.new_context(viewport=viewport or {"width": 1100, "height": 900}, bypass_csp=bypass_csp)
        context.set_default_timeout(TIMEOUT_MS)
        # The sandbox has no internet, and a test must never reach out: anything off loopback is cut.
        context.route(lambda url: not LOOPBACK.match(url), lambda route: route.abort())
        contexts.append(context)
        return Tab(context)

    yield factory
    for context in contexts:
        context.close()


@pytest.fixture
def tab(open_tab) -> Tab:
    return open_tab()
