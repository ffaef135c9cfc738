"""What the browser tests share: Playwright's `expect`, and the moves a reader and a moderator make."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "docs" / "screenshots"
ABUSE = "you are a fucking idiot and a piece of shit"
TIMEOUT_MS = 15_000

try:
    from playwright import sync_api
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
except ImportError:  # the test extras are not installed: the browser fixtures skip
    sync_api = expect = None


def new_article(name: str = "story") -> str:
    return f"test/{name}-{uuid.uuid4().hex[:8]}"


# -- a reader ----------------------------------------------------------------------------------------
def widget(tab, live, article, csp=True):
    tab.page.goto(live.host.url(article, csp))
    root = tab.page.locator(f'[data-civility-article="{article}"]')
    expect(root.locator(".cv-title")).to_be_visible()
    return root


def write(root, text, name="Ann"):
    form = root.locator("form.cv-form").first
    form.get_by_label("Name").fill(name)
    form.get_by_label("Your comment").fill(text)
    form.get_by_role("button", name="Post comment").click()


def comment(root, text):
    return root.locator(".cv-c", has=root.page.locator(".cv-body", has_text=text)).last


def expect_published(item):
    expect(item).to_have_class(re.compile(r"\bcv-published\b"))


def assert_clean(tab, expected=()):
    """No console error (but the failed responses a test provoked on purpose), no dialog."""
    errors = [e for e in tab.errors if not any(f"status of {code}" in e for code in expected)]
    assert errors == [], errors
    assert tab.dialogs == [], tab.dialogs


def comment_id(root, text) -> int:
    return int(comment(root, text).get_attribute("data-id"))


# -- a moderator -------------------------------------------------------------------------------------
def sign_in(tab, live, who="alice", paused=False):
    page = tab.page
    if paused:
        # Auto-refresh runs on timers; a paused clock lets a test decide when it fires.
        page.clock.install(time=datetime.now())
    page.goto(live.base + "/moderate")
    if paused:
        page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 1)  # seconds in Python
    page.get_by_label("Moderator token").fill(live.tokens[who])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("tab", name=re.compile("Flagged"))).to_have_attribute("aria-selected", "true")
    return page


def only_article(page, article):
    field = page.get_by_label("Article", exact=True)
    field.fill(article)
    field.press("Enter")
    field.press("Escape")  # back to the page, where the shortcuts live


def item(page, text):
    return page.locator("#queue > li", has_text=text)
