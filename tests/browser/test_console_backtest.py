"""The console's Backtest panel and the scorer named in its header, in a real browser."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Error as PlaywrightError

from tests.browser.support import ABUSE, assert_accessible, assert_clean, expect, new_article, sign_in

DETOXIFY = {"name": "detoxify", "version": "original/detoxify-0.5.2", "fallback": False, "warning": None}


def decide(live, comment_id: int, action: str) -> None:
    status, answer = live.api("POST", f"/moderation/comments/{comment_id}/decision", {"action": action},
                              token=live.tokens["alice"])
    assert status == 200, answer


def test_the_header_names_the_fallback_scorer_and_a_banner_warns(tab, live):
    # The live worker runs the profanity fallback.
    page = sign_in(tab, live)
    scorer = re.compile(r"^Scorer: profanity alt-profanity-check-\S+ \(fallback\)$")
    expect(page.locator("#scorer")).to_have_text(scorer)
    banner = page.locator("#scorer-banner")
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("role", "alert")
    expect(banner).to_contain_text("Scoring with the fallback scorer.")
    expect(banner).to_contain_text("recognises offensive words")
    page.get_by_role("button", name="Sign out").click()
    expect(banner).to_be_hidden()
    assert_clean(tab)


def test_an_answer_that_arrives_after_sign_out_leaves_the_sign_in_screen_alone(tab, live):
    page = tab.page
    held = []

    def hold(route):
        held.append(route)  # answered only when the test says so

    page.route("**/api/v1/moderation/stats", hold)

    def release_held():
        deadline = time.monotonic() + 15
        while not held:
            assert time.monotonic() < deadline, "the console never asked for the scorer"
            page.wait_for_timeout(20)  # lets Playwright dispatch the route handler
        while held:
            route = held.pop()
            with page.expect_response("**/api/v1/moderation/stats") as answer:
                route.fulfill(response=route.fetch())
            answer.value.finished()
        page.evaluate("() => new Promise(done => setTimeout(() => setTimeout(done)))")  # the page's handlers run

    sign_in(tab, live)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Moderator token")).to_be_visible()
    release_held()
    expect(page.locator("#scorer-banner")).to_be_hidden()
    expect(page.get_by_label("Moderator token")).to_be_visible()

    # The same held answer, delivered while signed in, does raise the banner.
    sign_in(tab, live)
    release_held()
    expect(page.locator("#scorer-banner")).to_be_visible()
    page.unroute("**/api/v1/moderation/stats", hold)
    assert_clean(tab)


def test_no_banner_when_a_real_model_decides(tab, live):
    page = tab.page

    def stats(route):
        try:
            response = route.fetch()
            route.fulfill(response=response, json={**response.json(), "scorer": DETOXIFY})
        except PlaywrightError:
            pass  # the console's periodic refresh outlived the page: nothing to answer

    page.route("**/api/v1/moderation/stats", stats)
    sign_in(tab, live)
    expect(page.locator("#scorer")).to_have_text("Scorer: detoxify original/detoxify-0.5.2")
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#scorer-banner")).to_be_hidden()
    assert_clean(tab)
    # A refresh still in flight must not be answered by this handler once the test is over.
    page.unroute("**/api/v1/moderation/stats", stats)


def test_the_backtest_panel_reports_on_past_decisions(open_tab, live):
    article = new_article("backtest")
    decide(live, live.held(article, ABUSE, name="Troll")["id"], "reject")
    decide(live, live.published(article, "A calm remark about the exchange.", name="Calm")["id"], "approve")
    tab = open_tab(bypass_csp=True)  # for axe-core
    page = sign_in(tab, live)
    panel = page.locator("#backtest")
    page.get_by_text("Backtest: the current thresholds").click()
    table = panel.get_by_role("table")
    expect(table).to_be_visible()
    overall = table.get_by_role("row", name=re.compile("^Overall \\(the policy\\)"))
    expect(overall).to_have_count(1)
    expect(overall.get_by_role("cell").first).to_have_text(re.compile(r"^\d+$"))
    profanity = table.get_by_role("row", name=re.compile("^profanity"))
    expect(profanity.get_by_role("cell").nth(2)).to_have_text("0.70")  # its hold threshold
    expect(profanity.get_by_role("cell").nth(6)).to_have_text(re.compile(r"^(0\.\d{4}|1\.0000|not reachable)$"))
    expect(panel.locator("#bt-summary")).to_contain_text(re.compile(r"\d+ rejected, \d+ approved by moderators"))
    expect(panel.locator("#bt-warning")).to_contain_text("fallback scorer")
    assert_accessible(page)

    panel.get_by_label("Target precision").fill("0.5")
    panel.get_by_role("button", name="Run backtest").click()
    expect(table.get_by_role("columnheader", name="Hold at for precision 0.50")).to_be_visible()
    panel.get_by_label("Decisions since").fill("2999-01-01")
    panel.get_by_role("button", name="Run backtest").click()
    expect(panel.locator("#bt-summary")).to_contain_text(re.compile(r"^0 decided comments since"))
    expect(table.get_by_role("row", name=re.compile("^profanity"))).to_have_count(0)
    panel.get_by_label("Target precision").fill("5")
    panel.get_by_role("button", name="Run backtest").click()
    expect(panel.get_by_role("status")).to_have_text("The backtest failed: invalid fields: target_precision")
    assert_accessible(page)
    assert_clean(tab, expected=(422,))
