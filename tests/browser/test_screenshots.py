"""Screenshots of the widget on the demo page and of the console.

A plain test run writes them into the test's temporary folder; `make screenshots` sets
CIVILITY_SCREENSHOTS_DIR=docs/screenshots to refresh the pictures in the docs.
"""

from __future__ import annotations

import re
from datetime import datetime

from tests.browser.support import comment, expect, item, only_article, reader, screenshots_dir, sign_in, write

DEMO = "world/pow-exchange-2026"


def test_screenshots_of_the_widget_and_the_console(open_tab, live, tmp_path):
    folder = screenshots_dir(tmp_path)
    mara = live.published(DEMO, "Relief for the families who got their people back today. Thinking of the ones "
                                "who left the checkpoint without a name.", name="Mara K.")
    tomasz = live.published(DEMO, "Good to see the Red Cross getting access at last. Monitors say it is still patchy "
                                  "in many places; a follow-up on that would be welcome.", name="Tomasz")
    live.published(DEMO, "The bit about the thermos of soup got me. Two years of waiting.", name="Dan",
                   parent_id=mara["id"])
    live.published(DEMO, "Same. Hoping the next exchange comes quickly.", name="Ines", parent_id=mara["id"])
    live.published(DEMO, "Does anyone know whether the civilians detained near the front were included this time?",
                   name="Aisha R.")
    for n, (comment_id, value) in enumerate([(mara["id"], 1), (mara["id"], 1), (tomasz["id"], 1), (mara["id"], 1)]):
        live.api("POST", f"/comments/{comment_id}/votes", {"value": value}, headers=reader(n))
    for n, network in enumerate(["facebook", "facebook", "x", "whatsapp", "email", "copy_link", "bluesky"]):
        live.api("POST", f"/articles/{DEMO}/shares", {"network": network}, headers=reader(n))
    held = [live.held(DEMO, "you are a fucking idiot, go and read a real newspaper", name="angry_reader"),
            live.held(DEMO, "shut up you stupid moron, this is bullshit", name="NoFilter")]
    reply = live.post_comment(DEMO, "Red Cross my ass, you are all fucking idiots", name="sceptic",
                              parent_id=tomasz["id"])
    live.wait_for(reply["id"], "flagged")

    reader_tab = open_tab({"width": 900, "height": 900})
    page = reader_tab.page
    # Paused below, so the reader's own comment stays "awaiting review" for the picture.
    page.clock.install(time=datetime.now())
    page.goto(live.base + "/embed/demo")
    page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 1)  # seconds in Python
    root = page.locator("[data-civility-article]")
    expect(root.locator(".cv-title")).to_have_text("5 comments")
    write(root, "Will the paper publish the full list of names once families have been told?", name="Lena")
    expect(comment(root, "full list of names").locator(".cv-badge")).to_have_text("Awaiting review")
    expect(root.locator(".cv-share-total")).to_have_text("7 shares")
    page.locator(".discussion").screenshot(path=str(folder / "widget.png"), animations="disabled")

    mod = open_tab({"width": 1280, "height": 1000})
    console = sign_in(mod, live)
    only_article(console, DEMO)
    expect(console.locator("#queue > li")).to_have_count(len(held) + 1)
    first = item(console, "real newspaper")
    first.get_by_role("button", name="History").click()
    expect(first.locator(".history")).to_contain_text("pending → flagged")
    second = item(console, "moron")
    second.locator(".pick").check()
    expect(console.locator("#selected-count")).to_have_text("1 selected")
    expect(console.locator("#refreshed")).to_have_text(re.compile("Updated"))
    console.screenshot(path=str(folder / "console.png"), full_page=True, animations="disabled")
    assert (folder / "widget.png").stat().st_size > 10_000
    assert (folder / "console.png").stat().st_size > 10_000
