"""A signed-in reader's own data from the widget: download it, and delete it only after an explicit
second step. The page passes the reader's identity token (the demo page's `?identity=`)."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from pathlib import Path

import jwt

from tests.browser.support import assert_accessible, assert_clean, comment, expect, new_article, reader

SSO_SECRET = "your-data-test-secret-" + "s" * 20


def identity(sub: str, name: str) -> str:
    return jwt.encode({"sub": sub, "name": name, "exp": int(time.time()) + 3600}, SSO_SECRET, algorithm="HS256")


def post_as(live, site, article: str, token: str, body: str, parent_id: int | None = None) -> int:
    """Post through the sibling server (the one that knows SSO_SECRET) as the signed-in reader."""
    payload = {"body": body, **({"parent_id": parent_id} if parent_id else {})}
    request = urllib.request.Request(f"{site.base}/api/v1/articles/{article}/comments", method="POST",
                                     data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        comment_id = json.loads(response.read())["id"]
    live.wait_for(comment_id, "published")
    return comment_id


def test_deleting_my_data_needs_a_confirmation_and_leaves_placeholders(open_tab, live, sibling):
    site = sibling(sso_secret=SSO_SECRET)
    article = new_article("mydata")
    token = identity("reader-ida", "Ida")
    answered = post_as(live, site, article, token, "My first comment, which gets a reply.")
    alone = post_as(live, site, article, token, "My second comment, on its own.")
    live.published(article, "A reply from somebody else.", name="Bea", parent_id=answered)
    live.published(article, "Somebody else's own comment.", name="Cal")

    tab = open_tab(bypass_csp=True)  # for axe-core
    page = tab.page
    page.goto(f"{site.base}/embed/demo?article={urllib.parse.quote(article)}&identity={token}")
    root = page.locator("[data-civility-article]")
    expect(root.locator(".cv-title")).to_have_text("4 comments")
    toggle = root.get_by_role("button", name="Your data")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")

    with page.expect_download() as download:
        root.get_by_role("button", name="Download my data").click()
    exported = json.loads(Path(download.value.path()).read_text())
    assert download.value.suggested_filename == "my-comments-data.json"
    assert sorted(c["id"] for c in exported["comments"]) == sorted([answered, alone])

    # The first click only asks; Cancel deletes nothing.
    root.get_by_role("button", name="Delete my data").click()
    confirm = root.get_by_role("group", name="Confirm deleting your data")
    expect(confirm).to_contain_text("This cannot be undone")
    expect(confirm.get_by_role("button", name="Yes, delete my data")).to_be_focused()
    assert_accessible(page)
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    expect(root.get_by_role("status").filter(has_text="Nothing was deleted")).to_be_visible()
    assert live.status_of(answered) == "published" and live.status_of(alone) == "published"
    expect(comment(root, "My first comment")).to_be_visible()

    # Confirmed: erased, reported, and the thread shows what is left.
    root.get_by_role("button", name="Delete my data").click()
    confirm.get_by_role("button", name="Yes, delete my data").click()
    expect(root.get_by_role("status").filter(has_text="Your data was deleted")).to_contain_text("2 comments")
    assert live.status_of(answered) == "deleted" and live.status_of(alone) == "deleted"
    placeholder = root.locator(f'.cv-c[data-id="{answered}"]')
    expect(placeholder.locator(":scope > article .cv-body")).to_have_text("This comment was deleted.")
    expect(placeholder.locator(".cv-replies")).to_contain_text("A reply from somebody else.")
    expect(root.get_by_text("My second comment")).to_have_count(0)
    expect(root.get_by_text("My first comment")).to_have_count(0)
    expect(comment(root, "Somebody else's own comment")).to_be_visible()
    assert_clean(tab)


def test_without_an_identity_token_there_is_no_your_data_control(tab, live):
    article = new_article("mydata")
    live.api("POST", f"/articles/{article}/comments", {"body": "Hello there.", "author_name": "A"}, headers=reader(7))
    tab.page.goto(f"{live.base}/embed/demo?article={urllib.parse.quote(article)}")
    root = tab.page.locator("[data-civility-article]")
    expect(root.locator(".cv-title")).to_be_visible()
    expect(root.get_by_role("button", name="Your data")).to_have_count(0)
