"""axe-core's WCAG 2.1 A/AA rules on our pages: no serious or critical violation.

The demo page with the widget and its comments, forms open; the console signed in, with a queue
and a history panel open. axe-core comes from npm (`make browser` installs it into the virtualenv).
"""

from __future__ import annotations

import re

import pytest

from tests.browser.support import (
    ABUSE,
    AXE_JS,
    assert_accessible,
    comment,
    expect,
    expect_published,
    item,
    new_article,
    only_article,
    reader,
    sign_in,
    widget,
    write,
)


@pytest.fixture(autouse=True)
def axe_installed():
    # Missing axe must fail, not skip: a skipped accessibility check would hide every violation.
    assert AXE_JS.exists(), f"axe-core is not installed at {AXE_JS}: run `make browser`"


def test_the_demo_page_and_the_widget_pass_axe(open_tab, live):
    article = new_article("a11y")
    first = live.published(article, "A first comment, with a link: https://example.org/report", name="Bea")
    live.published(article, "A reply to the first comment.", name="Cal", parent_id=first["id"])
    live.published(article, "Another thought on the story.", name="Dee")
    live.api("POST", f"/comments/{first['id']}/votes", {"value": 1}, headers=reader(1))
    live.api("POST", f"/articles/{article}/shares", {"network": "x"}, headers=reader(2))
    tab = open_tab(bypass_csp=True)
    page = tab.page
    page.goto(live.base + "/embed/demo?article=" + article)
    root = page.locator("[data-civility-article]")
    expect(root.locator(".cv-title")).to_have_text("3 comments")
    expect(root.locator(".cv-share-total")).to_have_text("1 share")
    # The reader's own comments: one awaiting review or published, one held with its notice.
    write(root, "My own comment on the exchange.", name="Eve")
    write(root, ABUSE, name="Eve")
    expect(comment(root, ABUSE).locator(".cv-badge")).to_have_text("Held for review")
    assert_accessible(page)

    expect_published(comment(root, "My own comment"))
    thread = comment(root, "A first comment")
    card = thread.locator(":scope > article")
    card.get_by_role("button", name="Reply").click()
    expect(thread.get_by_label("Your reply")).to_be_focused()
    other = comment(root, "Another thought").locator(":scope > article")
    other.get_by_role("button", name="Report").click()
    expect(other.locator("form.cv-report")).to_be_visible()
    mine = comment(root, "My own comment").locator(":scope > article")
    mine.get_by_role("button", name="Edit").click()
    expect(mine.get_by_label("Edit your comment")).to_be_visible()
    root.locator("form.cv-form").first.get_by_role("button", name="Post comment").click()  # an error message
    expect(root.locator("form.cv-form .cv-error").first).not_to_be_empty()
    assert_accessible(page)


def test_the_widget_in_its_default_style_passes_axe(open_tab, live):
    article = new_article("a11y")
    first = live.published(article, "A comment in the default style.", name="Fay")
    live.published(article, "And a reply to it.", name="Gus", parent_id=first["id"])
    tab = open_tab(bypass_csp=True)
    root = widget(tab, live, article)
    expect(root.locator(".cv-title")).to_have_text("2 comments")
    write(root, ABUSE, name="Hal")
    expect(comment(root, ABUSE).locator(".cv-badge")).to_have_text("Held for review")
    comment(root, "default style").locator(":scope > article").get_by_role("button", name="Report").click()
    assert_accessible(tab.page)


def test_the_console_passes_axe(open_tab, live):
    article = new_article("a11y")
    live.held(article, ABUSE, name="Troll")
    live.held(article, "shut up you stupid fucking moron", name="Other")
    tab = open_tab(bypass_csp=True)
    page = tab.page
    page.goto(live.base + "/moderate")
    expect(page.get_by_label("Moderator token")).to_be_visible()
    assert_accessible(page)

    sign_in(tab, live)
    only_article(page, article)
    expect(page.locator("#queue > li")).to_have_count(2)
    one = item(page, "moron")
    one.get_by_role("button", name="History").click()
    expect(one.locator(".history")).to_contain_text("pending → flagged")
    one.locator(".pick").check()
    expect(page.locator("#selected-count")).to_have_text("1 selected")
    expect(page.locator("#refreshed")).to_have_text(re.compile("Updated"))
    assert_accessible(page)

    page.get_by_role("tab", name=re.compile("Pending")).click()
    expect(page.locator("#empty")).to_be_visible()
    assert_accessible(page)
