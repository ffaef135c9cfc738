"""The console's "Word lists" tab: moderators read the lists, admins edit them, and the real worker
holds a comment with the entry as its reason."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.browser.support import (
    AXE_JS,
    assert_accessible,
    assert_clean,
    expect,
    item,
    new_article,
    only_article,
    sign_in,
)
from tests.helpers import wait_until


@pytest.fixture
def admin(live):
    """An admin's token in live.tokens; both lists are emptied again afterwards (the service is shared)."""
    from civility.moderators import create_moderator

    name = f"admin-{uuid.uuid4().hex[:6]}"
    live.tokens[name] = create_moderator(live.app.extensions["civility"].db, name, "admin")
    yield name
    for kind in ("reject", "hold"):
        status, body = live.api("PUT", f"/moderation/wordlists/{kind}", {"entries": []}, token=live.tokens[name])
        assert status == 200, body


def open_word_lists(page):
    page.get_by_role("tab", name="Word lists").click()
    expect(page.get_by_role("tab", name="Word lists")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("tabpanel", name="Word lists")).to_be_visible()
    expect(page.locator("#queue-panel")).to_be_hidden()


def test_moderators_read_the_lists_and_admins_edit_them(tab, open_tab, live, admin):
    article = new_article("wordlists")
    status, _ = live.api("PUT", "/moderation/wordlists/reject", {"entries": ["kill yourself"]},
                         token=live.tokens[admin])
    assert status == 200

    # A moderator sees the lists, read-only.
    page = sign_in(tab, live)
    open_word_lists(page)
    reject = page.get_by_label(re.compile("^Reject"))
    expect(reject).to_have_value("kill yourself")
    expect(reject).to_have_attribute("readonly", "")
    expect(page.locator("#wl-readonly")).to_have_text("Only admins can change the word lists.")
    expect(page.get_by_role("button", name="Save the hold list")).to_be_hidden()
    page.keyboard.press("j")  # the queue's shortcuts are off here
    expect(page.locator("#queue-panel")).to_be_hidden()
    assert_clean(tab)

    # An admin edits the hold list; a bad entry is named, and nothing is saved.
    page = sign_in(open_tab(), live, who=admin)
    open_word_lists(page)
    hold = page.get_by_label(re.compile("^Hold"))
    expect(page.locator("#wl-hold-meta")).to_have_text(re.compile(r"^\d+ entr"))
    hold.fill("vermin\n\ngo back to *\n*")
    page.get_by_role("button", name="Save the hold list").click()
    expect(page.locator("#wl-hold-error")).to_have_text('Not saved: entry 3 ("*"): needs at least 2 letters or digits')
    hold.fill("vermin\n\ngo back to *")
    page.get_by_role("button", name="Save the hold list").click()
    expect(page.locator("#wl-notice")).to_have_text(re.compile(r"^Saved the hold list: 2 entries \(version \d+\)\.$"))
    expect(page.locator("#wl-hold-meta")).to_contain_text(f"by moderator:{admin}")
    expect(hold).to_have_value("vermin\ngo back to *")

    # The worker (another process) applies it within seconds: probe until a comment is held by it.
    probes = iter(range(100))

    def held_by_the_list():
        comment = live.post_comment(article, f"Such v3rm1n, take {next(probes)}.", name="Probe")
        return live.wait_for(comment["id"], "published", "flagged") == "flagged" and comment

    probe = wait_until(held_by_the_list, 30, interval=0.2, message="the worker to apply the hold list")
    page.get_by_role("tab", name=re.compile("Flagged")).click()
    only_article(page, article)
    reasons = item(page, probe["body"]).locator(".reasons")
    expect(reasons).to_have_text('word list (hold): "vermin"')

    # A moderator who reopens the tab sees the new list.
    tab.page.get_by_role("tab", name=re.compile("Pending")).click()
    open_word_lists(tab.page)
    expect(tab.page.get_by_label(re.compile("^Hold"))).to_have_value("vermin\ngo back to *")


def test_the_word_lists_tab_passes_axe(open_tab, live, admin):
    assert AXE_JS.exists(), f"axe-core is not installed at {AXE_JS}: run `make browser`"
    live.api("PUT", "/moderation/wordlists/hold", {"entries": ["vermin", "kill*"]}, token=live.tokens[admin])
    for who in ("alice", admin):
        tab = open_tab(bypass_csp=True)
        page = sign_in(tab, live, who=who)
        open_word_lists(page)
        expect(page.get_by_label(re.compile("^Hold"))).to_have_value("vermin\nkill*")
        assert_accessible(page)
