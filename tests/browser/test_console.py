"""The moderator's side: the console at /moderate, in a real browser."""

from __future__ import annotations

import re

from tests.browser.support import (
    ABUSE,
    assert_clean,
    comment,
    comment_id,
    expect,
    item,
    new_article,
    only_article,
    reader,
    sign_in,
    widget,
    write,
)


def test_sign_in_see_the_held_comment_and_reject_it_with_r(tab, open_tab, live):
    article = new_article()
    author = widget(tab, live, article)
    write(author, ABUSE, name="Troll")
    expect(comment(author, ABUSE).locator(".cv-badge")).to_have_text("Held for review")

    mod = open_tab()
    page = mod.page
    page.goto(live.base + "/moderate")
    page.get_by_label("Moderator token").fill("not-a-real-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-error")).to_have_text("That token was not accepted. Check it and try again.")
    sign_in(mod, live)
    expect(page.locator('[data-count="flagged"]')).not_to_have_text("0")
    only_article(page, article)
    held = item(page, ABUSE)
    expect(held).to_have_count(1)
    expect(page.locator("#queue > li")).to_have_count(1)
    expect(held.locator(".author")).to_have_text("Troll")
    expect(held.locator(".article")).to_have_text(f"article {article}")
    expect(held.locator(".context")).to_have_text(f"Top-level comment on {article}")
    expect(held.get_by_role("meter", name="profanity")).to_be_visible()
    expect(held.locator(".reasons")).to_contain_text(re.compile(r"profanity \d\.\d\d >= 0\.70"))
    expect(held).to_have_class(re.compile("selected"))
    held.get_by_label("Reason", exact=True).fill("personal abuse")
    held.get_by_label("Reason", exact=True).press("Escape")
    page.keyboard.press("r")
    expect(page.locator("#notice")).to_have_text(re.compile(r"Rejected comment #\d+ by Troll\."))
    expect(held).to_have_count(0)
    expect(page.locator("#empty")).to_be_visible()

    held_id = comment_id(author, ABUSE)
    assert live.status_of(held_id) == "rejected"
    events = live.api("GET", f"/moderation/comments/{held_id}/history", token=live.tokens["alice"])[1]["events"]
    assert events[-1]["action"] == "reject" and events[-1]["actor"] == "moderator:alice"
    assert events[-1]["reason"] == "personal abuse"

    # The widget never shows it: not to another reader, and its author only learns it was not published.
    reader = widget(open_tab(), live, article)
    expect(reader.locator(".cv-title")).to_have_text("No comments yet")
    expect(reader.get_by_text("idiot")).to_have_count(0)
    tab.page.reload()
    refused = author.locator(".cv-c")
    expect(refused.locator(".cv-notice")).to_have_text(re.compile("was not published"))
    expect(author.get_by_text("idiot")).to_have_count(0)
    assert_clean(mod, expected=(401,))  # the wrong token


def test_a_decision_someone_else_made_first_is_explained(tab, live):
    article = new_article()
    held = live.held(article, ABUSE + " twice", name="Repeat")
    page = sign_in(tab, live, paused=True)
    only_article(page, article)
    target = item(page, "twice")
    expect(target).to_have_class(re.compile("selected"))
    status, _ = live.api("POST", f"/moderation/comments/{held['id']}/decision",
                         {"action": "approve", "reason": "fine in context"}, token=live.tokens["bob"])
    assert status == 200
    page.keyboard.press("a")
    expect(page.locator("#notice")).to_contain_text(f"Comment #{held['id']}: already decided by bob")
    expect(target).to_have_count(0)  # refreshed: it is no longer waiting
    assert live.status_of(held["id"]) == "published"


def test_history_bulk_selection_and_sorting(tab, open_tab, live):
    article = new_article()
    first = live.held(article, ABUSE, name="First")
    second = live.held(article, "shut up you stupid fucking moron", name="Second")
    page = sign_in(tab, live)
    only_article(page, article)
    rows = page.locator("#queue > li")
    expect(rows).to_have_count(2)
    by_score = live.api("GET", f"/moderation/queue?article_id={article}&sort=score", token=live.tokens["alice"])[1]
    expect(rows.first).to_have_attribute("data-id", str(by_score["items"][0]["id"]))
    page.get_by_label("Sort").select_option("oldest")
    expect(rows.first).to_have_attribute("data-id", str(first["id"]))
    page.get_by_label("Sort").select_option("newest")
    expect(rows.first).to_have_attribute("data-id", str(second["id"]))
    page.get_by_label("Label").select_option("threat")  # the profanity scorer gives no threat score
    expect(page.locator("#empty")).to_be_visible()
    expect(rows).to_have_count(0)
    page.get_by_label("Label").select_option("profanity")
    expect(rows).to_have_count(2)

    one = item(page, "stupid")
    one.get_by_role("button", name="History").click()
    history = one.locator(".history")
    expect(history).to_contain_text("create by author:Second")
    expect(history).to_contain_text("score by")
    expect(history).to_contain_text("pending → flagged")

    page.get_by_label("Sort").focus()
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    page.keyboard.press("k")
    expect(rows.first).to_have_class(re.compile("selected"))
    expect(rows.first).to_be_focused()
    page.keyboard.press("x")
    page.keyboard.press("j")
    expect(rows.nth(1)).to_be_focused()
    page.keyboard.press("x")
    expect(page.locator("#selected-count")).to_have_text("2 selected")
    page.get_by_label("Reason", exact=True).first.fill("fair criticism, coarse words")
    page.get_by_role("button", name="Approve selected").click()
    expect(page.locator("#notice")).to_have_text("Approved 2 of 2.")
    expect(rows).to_have_count(0)
    assert live.status_of(first["id"]) == live.status_of(second["id"]) == "published"
    reader = widget(open_tab(), live, article)
    expect(reader.locator(".cv-title")).to_have_text("2 comments")
    assert_clean(tab)


def test_the_queue_refreshes_itself_and_keeps_the_session(tab, live):
    article = new_article()
    page = sign_in(tab, live, paused=True)
    only_article(page, article)
    expect(page.locator("#empty")).to_be_visible()
    before = int(page.locator('[data-count="flagged"]').inner_text())
    live.held(article, ABUSE + " again", name="Late")
    page.clock.run_for(5100)
    expect(item(page, "again")).to_be_visible()
    expect(page.locator('[data-count="flagged"]')).to_have_text(str(before + 1))
    expect(page.locator("#refreshed")).to_have_text(re.compile("Updated"))
    # The token lives in sessionStorage: a reload keeps the moderator signed in, signing out forgets it.
    page.reload()
    expect(page.get_by_role("tab", name=re.compile("Flagged"))).to_be_visible()
    expect(page.get_by_label("Moderator token")).to_be_hidden()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Moderator token")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    page.reload()
    expect(page.get_by_label("Moderator token")).to_be_visible()


def test_pending_and_reported_tabs(tab, live):
    article = new_article()
    target = live.published(article, "Reported by several readers.", name="Target")
    # Distinct readers (each from another network) until the comment reaches the reported queue,
    # where pre-moderation hides it from readers (further reports then find nothing).
    for n in range(10):
        status, body = live.api("POST", f"/comments/{target['id']}/reports", {"reason": "spam", "note": f"ad {n}"},
                                headers=reader(n))
        if status == 404 and n:  # n reports were accepted before it left the readers' view
            break
        assert status == 202, body
    page = sign_in(tab, live)
    only_article(page, article)
    page.get_by_role("tab", name=re.compile("Reported")).click()
    reported = item(page, "Reported by several readers.")
    expect(reported).to_be_visible()
    expect(reported.locator(".reports")).to_contain_text("spam")
    expect(page.locator('[data-count="reported"]')).not_to_have_text("0")
    page.get_by_role("tab", name=re.compile("Pending")).click()
    expect(page.get_by_role("tab", name=re.compile("Pending"))).to_have_attribute("aria-selected", "true")
    expect(reported).to_have_count(0)
