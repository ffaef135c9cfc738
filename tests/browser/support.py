"""What the browser tests share: Playwright's `expect`, and the moves a reader and a moderator make."""

from __future__ import annotations

import os
import re
import sys
import uuid
from datetime import datetime
from pathlib import Path

from tests.helpers import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# `make screenshots` points this at docs/screenshots; otherwise the pictures go to a temporary folder.
SCREENSHOTS_ENV = "CIVILITY_SCREENSHOTS_DIR"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
ABUSE = "you are a fucking idiot and a piece of shit"
TIMEOUT_MS = 15_000


def _axe_js() -> Path:
    """axe-core, which `make browser` installs into the virtualenv (npm install --prefix .venv/axe)."""
    for venv in (Path(sys.prefix), ROOT / ".venv"):
        path = venv / "axe" / "node_modules" / "axe-core" / "axe.min.js"
        if path.exists():
            break
    return path


AXE_JS = _axe_js()

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


def write(root, text, name="Ann", anyway=True):
    """Post through the widget's form; when the widget nudges (the text would be held), post anyway
    unless ``anyway`` is False."""
    form = root.locator("form.cv-form").first
    form.get_by_label("Name").fill(name)
    form.get_by_label("Your comment").fill(text)
    send = form.get_by_role("button", name="Post comment")
    send.click()
    # The widget disables the button while the check and the post are in flight and clears the text on
    # success: wait for the answer, so that a second write() is not wiped by the first one's reset.
    expect(send).to_be_enabled()
    if anyway and form.locator(".cv-nudge").is_visible():
        send.click()
        expect(send).to_be_enabled()


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


def screenshots_dir(tmp_path: Path) -> Path:
    """Where screenshots go: $CIVILITY_SCREENSHOTS_DIR when set (`make screenshots`), else the test's tmp_path,
    so a plain test run never touches the checkout."""
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# -- accessibility -----------------------------------------------------------------------------------
def axe_violations(page, impacts=("serious", "critical")) -> list[str]:
    """Run axe-core's WCAG 2.1 A/AA rules on the page as it is now; one line per offending element."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE_JS))  # the tab's context must bypass the page's CSP
    result = page.evaluate("""tags => axe.run(document, {runOnly: {type: "tag", values: tags},
                                                         resultTypes: ["violations"]})""", WCAG_AA)
    return [f"{v['id']} ({v['impact']}): {v['help']}: {node['target']} {node.get('failureSummary', '')}"
            for v in result["violations"] if v["impact"] in impacts for node in v["nodes"]]


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


def assert_accessible(page) -> None:
    violations = axe_violations(page)
    assert not violations, "axe-core found:\n" + "\n".join(violations)


def reader(n: int) -> dict:
    """Headers that make a request come from the n-th distinct reader (another /24 network), through
    the live server's one trusted proxy; the User-Agent alone no longer tells readers apart."""
    return {"X-Forwarded-For": f"203.0.{n % 256}.{10 + n // 256}"}
