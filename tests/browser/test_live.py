"""Live threads in the browser: two readers on one article, the "N new comments" button fed by the
event stream, changes applied in place, and polling when the stream is refused.

Each test runs on its own API server (`sibling`), so its streams have that process's stream slots
to themselves."""

from __future__ import annotations

import re

from tests.browser.support import (
    assert_accessible,
    assert_clean,
    comment,
    comment_id,
    expect,
    new_article,
    reader,
    write,
)

# The requirement: a comment published in one tab shows in the other within 2 seconds.
LIVE_MS = 2000


def open_widget(tab, site, article):
    """The news site's article page; returns the widget once its stream answered."""
    page = tab.page
    with page.expect_response(lambda r: r.url.endswith("/events")) as stream:
        page.goto(site.host.url(article))
    root = page.locator(f'[data-civility-article="{article}"]')
    expect(root.locator(".cv-title")).to_be_visible()
    return root, stream.value.status


def test_a_comment_published_in_one_tab_appears_in_the_other(open_tab, live, sibling):
    site = sibling()
    article = new_article("live")
    live.published(article, "An earlier comment, already there.", name="Bea")
    writer, watcher = open_tab(), open_tab(bypass_csp=True)  # the watcher's page also runs axe-core
    mine, status = open_widget(writer, site, article)
    assert status == 200
    theirs, status = open_widget(watcher, site, article)
    assert status == 200
    earlier = comment(theirs, "An earlier comment")
    before = earlier.bounding_box()

    write(mine, "Live from the other tab: a kind comment.", name="Ann")
    live.wait_for(comment_id(mine, "Live from the other tab"), "published")
    fresh = theirs.get_by_role("button", name="1 new comment")
    expect(fresh).to_be_visible(timeout=LIVE_MS)
    # Announced politely, and nothing moved under the reader's eyes.
    expect(theirs.locator("[aria-live=polite]", has=watcher.page.locator(".cv-fresh"))).to_have_count(1)
    assert earlier.bounding_box() == before
    expect(theirs.locator(".cv-c")).to_have_count(1)
    # The writer's own comment is no news to the writer.
    expect(mine.locator(".cv-fresh")).to_be_hidden()
    assert_accessible(watcher.page)

    fresh.click()
    expect(comment(theirs, "Live from the other tab")).to_be_visible()
    expect(theirs.locator(".cv-title")).to_have_text("2 comments")
    expect(fresh).to_be_hidden()
    assert_clean(writer)
    assert_clean(watcher)


def test_two_new_comments_are_counted_in_the_plural(open_tab, live, sibling):
    site = sibling()
    article = new_article("live")
    root, _ = open_widget(open_tab(), site, article)
    live.published(article, "One more view on the exchange.", name="Cal")
    expect(root.get_by_role("button", name="1 new comment")).to_be_visible(timeout=LIVE_MS)
    live.published(article, "And another one, from a relative.", name="Dee")
    expect(root.get_by_role("button", name="2 new comments")).to_be_visible(timeout=LIVE_MS)


def test_votes_edits_and_removals_update_the_shown_comment_in_place(open_tab, live, sibling):
    site = sibling()
    article = new_article("live")
    kept = live.published(article, "This one gets votes.", name="Bea")
    gone = live.published(article, "This one will be deleted by its author.", name="Cal")
    tab = open_tab()
    root, _ = open_widget(tab, site, article)
    card = comment(root, "This one gets votes").locator(":scope > article")
    expect(card.locator(".cv-votes")).to_have_text("0")

    assert live.api("POST", f"/comments/{kept['id']}/votes", {"value": 1}, headers=reader(31))[0] == 200
    expect(card.locator(".cv-votes")).to_have_text("1", timeout=LIVE_MS)
    author = {"X-Edit-Token": gone["edit_token"], **reader(250)}
    status, _ = live.api("DELETE", f"/comments/{gone['id']}", headers=author)
    assert status in (200, 204)
    expect(comment(root, "will be deleted by its author")).to_have_count(0, timeout=LIVE_MS)
    expect(root.locator(".cv-title")).to_have_text("1 comment")
    expect(root.locator(".cv-fresh")).to_be_hidden()
    assert_clean(tab, expected=(404,))  # re-reading the removed comment: that 404 is how the widget learns it is gone


def test_without_the_stream_the_widget_polls_and_shows_the_same_button(open_tab, live, sibling):
    site = sibling()
    article = new_article("live")
    tab = open_tab()
    page = tab.page
    refused = {"error": {"code": "unavailable", "message": "live events are unavailable", "details": {}}}
    page.route(re.compile(r".*/events$"), lambda route: route.fulfill(
        status=503, json=refused, headers={"Access-Control-Allow-Origin": "*", "Retry-After": "30"}))
    # The polling timer runs on a clock the test moves, so the test need not wait 30 seconds.
    page.clock.install()
    root, status = open_widget(tab, site, article)
    assert status == 503
    live.published(article, "Posted while the stream was down.", name="Eve")
    fresh = root.get_by_role("button", name="1 new comment")
    expect(fresh).to_be_hidden()
    page.clock.run_for(31_000)
    expect(fresh).to_be_visible()
    fresh.click()
    expect(comment(root, "Posted while the stream was down")).to_be_visible()
    assert_clean(tab, expected=(503,))
