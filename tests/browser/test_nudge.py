"""The nudge before posting, in a real browser: the widget asks POST .../comments/check first, warns once
when the comment would be held, and posts anyway on the second press; without an answer it just posts."""

from __future__ import annotations

import re
import time

import pytest

from civility.analysis import AnalysisUnavailable
from tests.browser.support import (
    ABUSE,
    assert_accessible,
    assert_clean,
    comment,
    expect,
    new_article,
    sign_in,
    widget,
)

NUDGE = re.compile(r"^This may break the discussion guidelines: .+\. Edit it, or post anyway\.$")


class Unavailable:
    def __init__(self, delay: float = 0.0):
        self.delay = delay

    def analyze(self, texts, timeout):
        time.sleep(self.delay)
        raise AnalysisUnavailable("no worker answered")


@pytest.fixture
def analyzer(live):
    """Swap the live app's analyzer for the test; the real one (the live worker) is put back after."""
    services = live.app.extensions["civility"]
    real = services.analyzer

    def use(fake):
        services.analyzer = fake

    yield use
    services.analyzer = real


def _nudges(live) -> dict:
    return live.api("GET", "/moderation/stats", token=live.tokens["alice"])[1]["nudges"]["today"]


def _form(root):
    form = root.locator("form.cv-form").first
    return form, form.get_by_label("Your comment"), form.get_by_role("button", name="Post comment")


def _press(send):
    send.click()
    expect(send).to_be_enabled()


def test_an_abusive_comment_is_nudged_once_then_posted_anyway(open_tab, live):
    tab = open_tab(bypass_csp=True)  # axe is injected below
    before = _nudges(live)
    root = widget(tab, live, new_article("nudge"))
    form, text, send = _form(root)
    form.get_by_label("Name").fill("Troll")
    text.fill(ABUSE)
    _press(send)
    nudge = form.locator(".cv-nudge")
    expect(nudge).to_have_text(NUDGE)
    expect(nudge).to_have_attribute("role", "alert")
    expect(root.locator(".cv-c")).to_have_count(0)  # nothing posted yet
    assert_accessible(tab.page)
    _press(send)  # the second press posts anyway, to the moderators as usual
    expect(comment(root, ABUSE).locator(".cv-badge")).to_have_text(re.compile("Awaiting review|Held for review"))
    expect(nudge).to_be_hidden()
    expect(text).to_have_value("")
    after = _nudges(live)
    assert after["nudged"] == before["nudged"] + 1 and after["posted_anyway"] == before["posted_anyway"] + 1
    assert after["revised"] == before["revised"]
    assert_clean(tab)


def test_editing_after_a_nudge_posts_the_revised_comment(tab, live):
    before = _nudges(live)
    root = widget(tab, live, new_article("nudge"))
    form, text, send = _form(root)
    form.get_by_label("Name").fill("Ann")
    text.fill(ABUSE)
    _press(send)
    expect(form.locator(".cv-nudge")).to_be_visible()
    text.fill("I disagree with you, strongly.")
    _press(send)
    expect(comment(root, "I disagree with you, strongly.")).to_be_visible()
    expect(form.locator(".cv-nudge")).to_be_hidden()
    # The next comment is checked afresh: a fine one posts at once, without a nudge.
    text.fill("And thanks for the report.")
    _press(send)
    expect(comment(root, "And thanks for the report.")).to_be_visible()
    after = _nudges(live)
    assert after["revised"] == before["revised"] + 1 and after["nudged"] == before["nudged"] + 1
    assert_clean(tab)


@pytest.mark.parametrize("delay", [0.0, 4.0], ids=["503", "slow"])
def test_without_an_answer_in_time_the_widget_posts_normally(tab, live, analyzer, delay):
    analyzer(Unavailable(delay))
    root = widget(tab, live, new_article("nudge"))
    form, text, send = _form(root)
    form.get_by_label("Name").fill("Bo")
    text.fill(ABUSE)
    started = time.monotonic()
    _press(send)
    expect(comment(root, ABUSE)).to_be_visible()
    expect(form.locator(".cv-nudge")).to_be_hidden()
    if delay:
        assert time.monotonic() - started < delay  # the widget gave up after ~2.5 s, not the server
    assert_clean(tab, expected=(503,))


def test_the_console_shows_the_nudge_counts(tab, live):
    page = sign_in(tab, live)
    today = _nudges(live)
    expect(page.locator("#nudges")).to_contain_text(
        f"Nudges today: {today['nudged']} nudged, {today['revised']} revised, {today['posted_anyway']} posted anyway")
    expect(page.locator("#nudges")).to_contain_text("last 7 days:")
    assert_clean(tab)
