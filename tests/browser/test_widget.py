"""The reader's side: the widget embedded on another origin, in a real browser."""

from __future__ import annotations

import gzip
import json
import re
import urllib.error
import urllib.request

from civility.engagement import NETWORKS, REPORT_REASONS
from civility.text import MAX_BODY_CHARS, MAX_NAME_CHARS
from tests.browser.support import (
    ABUSE,
    assert_clean,
    comment,
    expect,
    expect_published,
    new_article,
    reader,
    widget,
    write,
)

WIDGET_BUDGET = 15 * 1024


def test_assets_are_small_typed_and_the_pages_locked_down(live):
    with urllib.request.urlopen(live.base + "/widget.js") as r:
        js = r.read()
        assert r.headers["Content-Type"].startswith("text/javascript")
        assert r.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert len(gzip.compress(js)) <= WIDGET_BUDGET, f"widget.js is {len(gzip.compress(js))} bytes gzipped"
    assert b"innerHTML" not in js
    with urllib.request.urlopen(live.base + "/widget.css") as r:
        assert r.headers["Content-Type"].startswith("text/css")
    for path in ("/embed/demo", "/moderate"):
        with urllib.request.urlopen(live.base + path) as r:
            csp = r.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp
            assert r.headers["Content-Type"].startswith("text/html")
            assert b"<script>" not in r.read()  # no inline script anywhere


def _served_config(base: str) -> dict:
    with urllib.request.urlopen(base + "/widget.js") as r:
        js = r.read().decode()
    assert "__CIVILITY_CONFIG__" not in js
    return json.loads(re.search(r"var CONFIG = (\{.*?\});", js).group(1))


def test_the_widget_gets_its_limits_and_lists_from_the_server(tab, live):
    assert _served_config(live.base) == {
        "max_body_chars": MAX_BODY_CHARS, "max_name_chars": MAX_NAME_CHARS,
        "edit_window_seconds": live.settings.edit_window_seconds,
        "networks": list(NETWORKS), "report_reasons": list(REPORT_REASONS)}
    root = widget(tab, live, new_article())
    form = root.locator("form.cv-form").first
    expect(form.get_by_label("Your comment")).to_have_attribute("maxlength", str(MAX_BODY_CHARS))
    expect(form.get_by_label("Name")).to_have_attribute("maxlength", str(MAX_NAME_CHARS))
    expect(form.locator(".cv-count")).to_have_text(f"0 / {MAX_BODY_CHARS} characters")
    # Every network the server counts and the widget can link to; "other" is for API clients only.
    shown = root.locator("[data-network]").evaluate_all("els => els.map(e => e.dataset.network)")
    assert shown == [n for n in NETWORKS if n != "other"]
    assert tab.page.evaluate("window.Civility.config.report_reasons") == list(REPORT_REASONS)
    # A cache or a conditional request gets the same bytes back.
    with urllib.request.urlopen(live.base + "/widget.js") as r:
        etag = r.headers["ETag"]
    request = urllib.request.Request(live.base + "/widget.js", headers={"If-None-Match": etag})
    try:
        urllib.request.urlopen(request)
        raise AssertionError("expected 304 Not Modified")
    except urllib.error.HTTPError as exc:
        assert exc.code == 304


def test_a_changed_edit_window_reaches_the_widget(tab, live, sibling):
    short = sibling(edit_window_seconds=4)
    assert _served_config(short.base)["edit_window_seconds"] == 4
    assert _served_config(live.base)["edit_window_seconds"] == live.settings.edit_window_seconds  # its own copy
    article = new_article()
    tab.page.goto(short.host.url(article))
    root = tab.page.locator(f'[data-civility-article="{article}"]')
    write(root, "Edit me while you can.")
    mine = comment(root, "Edit me while you can.")
    expect(mine.get_by_role("button", name="Edit")).to_be_visible()
    expect_published(mine)
    created = live.api("GET", f"/articles/{article}/comments")[1]["items"][0]["created_at"]
    tab.page.wait_for_function("t => Date.now() > Date.parse(t) + 4500", arg=created, timeout=10_000)
    tab.page.reload()
    expect_published(mine)
    expect(mine.get_by_role("button", name="Delete")).to_have_count(0)
    expect(mine.get_by_role("button", name="Edit")).to_have_count(0)
    assert_clean(tab)


def test_a_comment_awaits_review_then_is_published(tab, open_tab, live):
    article = new_article()
    root = widget(tab, live, article)
    expect(root.locator(".cv-title")).to_have_text("No comments yet")
    form = root.locator("form.cv-form").first
    form.get_by_label("Your comment").fill("Good to see them home.")
    expect(form.locator(".cv-count")).to_have_text("22 / 5000 characters")
    write(root, "Good to see them home at last. Thank you for the careful report.")
    mine = comment(root, "Good to see them home at last")
    # Shown to its author at once, marked, then published once the worker has scored it.
    expect(mine.locator(".cv-badge")).to_have_text("Awaiting review")
    expect_published(mine)
    expect(mine.locator(".cv-badge")).to_be_hidden()
    expect(root.locator(".cv-title")).to_have_text("1 comment")
    expect(mine.locator(".cv-author")).to_have_text("Ann")
    expect(form.get_by_label("Your comment")).to_have_value("")
    # Another reader (no local storage) sees it too.
    other = open_tab()
    expect(comment(widget(other, live, article), "Good to see them home at last")).to_be_visible()
    assert_clean(tab)
    assert_clean(other)


def test_an_abusive_comment_is_held_with_a_polite_notice(tab, open_tab, live):
    article = new_article()
    live.published(article, "A civil first comment.")
    root = widget(tab, live, article)
    write(root, ABUSE, name="Troll")
    mine = comment(root, ABUSE)
    expect(mine.locator(".cv-badge")).to_have_text("Held for review")
    expect(mine.locator(".cv-notice")).to_contain_text("a moderator will review your comment")
    expect(root.locator(".cv-title")).to_have_text("1 comment")
    # The author still sees it after a reload (the edit token is in localStorage) ...
    tab.page.reload()
    expect(comment(root, ABUSE).locator(".cv-badge")).to_have_text("Held for review")
    # ... and nobody else does.
    other = widget(open_tab(), live, article)
    expect(comment(other, "A civil first comment.")).to_be_visible()
    expect(other.get_by_text("fucking")).to_have_count(0)
    assert_clean(tab)


def test_reply_vote_and_report(tab, live):
    article = new_article()
    parent = live.published(article, "The exchange took months to negotiate.", name="Bea")
    root = widget(tab, live, article)
    thread = comment(root, "The exchange took months")
    thread.get_by_role("button", name="Reply").click()
    reply_form = thread.locator("form.cv-form")
    expect(reply_form.get_by_label("Your reply")).to_be_visible()
    reply_form.get_by_label("Name").fill("Cal")
    reply_form.get_by_label("Your reply").fill("And the families waited all night.")
    reply_form.get_by_role("button", name="Post reply").click()
    expect(reply_form).to_have_count(0)
    reply = thread.locator(".cv-replies .cv-c", has_text="families waited")
    expect(reply.locator(".cv-badge")).to_have_text("Awaiting review")
    expect_published(reply)
    status, listing = live.api("GET", f"/articles/{article}/comments")
    assert [r["body"] for r in listing["items"][0]["replies"]] == ["And the families waited all night."]
    assert listing["items"][0]["replies"][0]["parent_id"] == parent["id"]

    card = thread.locator(":scope > article")
    card.get_by_role("button", name="Upvote").click()
    expect(card.locator(".cv-votes")).to_have_text("1")
    expect(card.get_by_role("button", name="Upvote")).to_have_attribute("aria-pressed", "true")
    card.get_by_role("button", name="Upvote").click()  # a second press takes the vote back
    expect(card.locator(".cv-votes")).to_have_text("0")
    card.get_by_role("button", name="Downvote").click()
    expect(card.locator(".cv-votes")).to_have_text("-1")

    card.get_by_role("button", name="Report").click()
    report = card.locator("form.cv-report")
    report.get_by_role("button", name="Send report").click()
    expect(report.locator(".cv-error")).to_have_text("Please choose a reason.")
    report.get_by_label("Off topic").check()
    report.get_by_label("Details (optional)").fill("Not about the story")
    report.get_by_role("button", name="Send report").click()
    expect(card.locator(".cv-notice")).to_have_text("Thank you. A moderator will take a look.")
    expect(card.get_by_role("button", name="Report")).to_have_count(0)
    # A live refresh of the card (after a vote sent from elsewhere) keeps the thanks.
    live.api("POST", f"/comments/{parent['id']}/votes", {"value": 1}, headers={"X-Forwarded-For": "198.51.100.9"})
    expect(card.locator(".cv-votes")).not_to_have_text("-1")
    expect(card.locator(".cv-notice")).to_have_text("Thank you. A moderator will take a look.")
    assert_clean(tab)


def test_edit_and_delete_within_the_window(tab, live):
    article = new_article()
    root = widget(tab, live, article)
    write(root, "First thoughts on the exchange.")
    mine = comment(root, "First thoughts")
    expect_published(mine)
    mine.get_by_role("button", name="Edit").click()
    mine.get_by_label("Edit your comment").fill("Second thoughts on the exchange.")
    mine.get_by_role("button", name="Save").click()
    edited = comment(root, "Second thoughts")
    expect(edited.locator(".cv-time")).to_contain_text("edited")
    expect_published(edited)  # re-scored, then published again
    expect(root.locator(".cv-title")).to_have_text("1 comment")
    status, listing = live.api("GET", f"/articles/{article}/comments")
    assert [c["body"] for c in listing["items"]] == ["Second thoughts on the exchange."]

    edited.get_by_role("button", name="Delete").click()
    edited.get_by_role("button", name="Yes, delete").click()
    expect(root.locator(".cv-c")).to_have_count(0)
    expect(root.locator(".cv-title")).to_have_text("No comments yet")
    assert live.api("GET", f"/articles/{article}/comments")[1]["items"] == []
    tab.page.reload()
    expect(root.locator(".cv-title")).to_have_text("No comments yet")
    assert_clean(tab)


def test_sorting_and_load_more(tab, live):
    article = new_article()
    ids = [live.post_comment(article, f"Comment number {i}.", name=f"R{i}")["id"] for i in range(23)]
    replies = [live.post_comment(article, f"Reply number {i}.", name="Replier", parent_id=ids[0])["id"]
               for i in range(5)]
    for comment_id in ids + replies:
        live.wait_for(comment_id, "published")
    root = widget(tab, live, article)
    expect(root.locator(".cv-title")).to_have_text("28 comments")  # replies count too
    top = root.locator(".cv-list > .cv-c")
    expect(top).to_have_count(20)
    expect(top.first.locator(":scope > article .cv-body")).to_have_text("Comment number 0.")
    first_replies = top.first.locator(".cv-replies .cv-c")
    expect(first_replies).to_have_count(3)
    top.first.get_by_role("button", name="Show 2 more replies").click()
    expect(first_replies).to_have_count(5)
    expect(first_replies.last.locator(".cv-body")).to_have_text("Reply number 4.")
    root.get_by_role("button", name="Load more comments").click()
    expect(top).to_have_count(23)
    expect(root.get_by_role("button", name="Load more comments")).to_be_hidden()

    root.get_by_label("Sort").select_option("newest")
    expect(top.first.locator(":scope > article .cv-body")).to_have_text("Comment number 22.")
    assert live.api("POST", f"/comments/{ids[7]}/votes", {"value": 1}, headers=reader(1))[0] == 200
    root.get_by_label("Sort").select_option("top")
    expect(top.first.locator(":scope > article .cv-body")).to_have_text("Comment number 7.")
    assert_clean(tab)


def test_share_links_make_no_request_until_clicked_and_count(tab, live):
    article = new_article()
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.host.origin)
    root = widget(tab, live, article)
    share = root.get_by_role("group", name="Share this article")
    expect(share.locator(".cv-share-total")).to_have_text("Share")
    for name in ("Facebook", "X", "LinkedIn", "Reddit", "WhatsApp", "Telegram", "Mastodon", "Bluesky"):
        expect(share.get_by_role("link", name=re.compile(f"^Share on {name} ", re.I))).to_be_visible()
    expect(share.get_by_role("link", name="Share by email")).to_have_attribute("href", re.compile("^mailto:"))
    # Privacy first: nothing but the host page and the comment service was contacted.
    assert all(u.startswith((live.base, live.host.origin, "data:")) for u in tab.requests), tab.requests

    share.get_by_role("button", name=re.compile("Copy link")).click()
    expect(share.locator(".cv-share-total")).to_have_text("1 share")
    expect(share.locator('[data-network="copy_link"] .cv-n')).to_have_text("1")
    assert tab.page.evaluate("navigator.clipboard.readText()") == f"https://news.example/{article}"

    link = share.get_by_role("link", name=re.compile("^Share on X "))
    assert "x.com/intent" in link.get_attribute("href")
    with tab.context.expect_page() as popup:
        link.click()
    popup.value.close()
    expect(share.locator(".cv-share-total")).to_have_text("2 shares")
    expect(share.locator('[data-network="x"] .cv-n')).to_have_text("1")
    counts = live.api("GET", f"/articles/{article}/shares")[1]
    assert counts["total"] == 2 and counts["networks"]["x"] == 1 and counts["networks"]["copy_link"] == 1


def test_errors_are_shown_as_readable_messages(tab, live):
    article = new_article()
    root = widget(tab, live, article)
    url = re.compile(r".*/api/v1/articles/.*/comments$")
    answers = iter([
        (429, {"Retry-After": "30"}, {"error": {"code": "rate_limited", "message": "too many", "details": {}}}),
        (422, {}, {"error": {"code": "invalid", "message": "invalid fields: body",
                             "details": {"body": ["must be 1 to 5000 characters"]}}}),
        (503, {}, {"error": {"code": "unavailable", "message": "down", "details": {}}}),
    ])

    def fake(route):
        if route.request.method != "POST":
            return route.fallback()
        status, headers, body = next(answers)
        route.fulfill(status=status, headers={"Access-Control-Allow-Origin": "*",
                                              "Access-Control-Expose-Headers": "Retry-After", **headers},
                      content_type="application/json", body=json.dumps(body))

    tab.page.route(url, fake)
    error = root.locator("form.cv-form .cv-error").first
    write(root, "Hello")
    expect(error).to_have_text("You are doing that too often. Please wait 30 seconds and try again.")
    write(root, "Hello")
    expect(error).to_have_text("Please check your input. Comment: must be 1 to 5000 characters.")
    write(root, "Hello")
    expect(error).to_have_text("Comments are temporarily unavailable. Please try again shortly.")
    tab.page.unroute(url)
    tab.page.route(url, lambda route: route.abort() if route.request.method == "POST" else route.fallback())
    write(root, "Hello")
    expect(error).to_have_text("Could not reach the comment service. Check your connection and try again.")
    form = root.locator("form.cv-form").first
    form.get_by_label("Your comment").fill("   ")
    form.get_by_role("button", name="Post comment").click()
    expect(error).to_have_text("Please write something first.")


def test_an_origin_off_the_allowlist_cannot_use_the_api(tab, live):
    article = new_article()
    live.published(article, "Visible only to allowed sites.")
    tab.page.goto(live.stranger.url(article, csp=False))
    root = tab.page.locator(f'[data-civility-article="{article}"]')
    expect(root.locator(".cv-status")).to_have_text(re.compile("Could not reach the comment service"))
    expect(root.locator(".cv-c")).to_have_count(0)


def test_keyboard_only_posting_with_labelled_controls(tab, live):
    article = new_article()
    root = widget(tab, live, article)
    for label in ("Name", "Your comment", "Sort"):
        expect(root.get_by_label(label, exact=True)).to_have_count(1)
    root.get_by_label("Name").focus()
    tab.page.keyboard.type("Keyboard Kim")
    tab.page.keyboard.press("Tab")
    tab.page.keyboard.type("Typed without a mouse.")
    tab.page.keyboard.press("Tab")
    tab.page.keyboard.press("Enter")
    mine = comment(root, "Typed without a mouse.")
    expect_published(mine)
    mine.get_by_role("button", name="Reply").focus()
    tab.page.keyboard.press("Enter")
    expect(mine.get_by_label("Your reply")).to_be_focused()
    assert_clean(tab)


def test_the_demo_page_runs_the_widget_under_its_strict_csp(tab, live):
    tab.page.goto(live.base + "/embed/demo?article=" + new_article("demo"))
    expect(tab.page.get_by_role("heading", level=1)).to_contain_text("prisoners of war")
    expect(tab.page.locator(".standfirst")).to_be_visible()
    root = tab.page.locator("[data-civility-article]")
    expect(root.locator(".cv-title")).to_have_text("No comments yet")
    write(root, "Posted from the demo page.")
    expect_published(comment(root, "Posted from the demo page."))
    assert_clean(tab)  # a CSP violation would show up as a console error
