"""/docs in a real browser: Swagger UI renders the API from this origin alone, under its strict CSP."""

from __future__ import annotations

from tests.browser.support import assert_clean, expect

# Runs before the page's own scripts (Playwright injects it outside the page's CSP) and records
# every Content-Security-Policy violation the page reports.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") +
                              " at " + e.sourceFile + ":" + e.lineNumber);
});
"""


def test_swagger_ui_renders_the_operations_without_any_csp_violation(open_tab, live):
    tab = open_tab(bypass_csp=False)
    page = tab.page
    page.add_init_script(RECORD_VIOLATIONS)
    response = page.goto(live.base + "/docs")
    assert response.status == 200
    assert "default-src 'none'" in response.headers["content-security-policy"]

    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/trending")).to_be_visible()
    expect(page.locator(".info .title")).to_contain_text("civility")

    # Open an operation and run it from the page: the request goes to this origin (connect-src 'self').
    trending = page.locator(".opblock-get", has=page.locator(".opblock-summary-path", has_text="/api/v1/trending"))
    trending.locator(".opblock-summary").click()
    trending.get_by_role("button", name="Try it out").click()
    trending.get_by_role("button", name="Execute").click()
    expect(trending.locator(".live-responses-table tbody .response-col_status").first).to_have_text("200")
    # The schemas render too: open one, all the way down.
    error_model = page.locator(".models article.json-schema-2020-12", has=page.get_by_text("ErrorOut", exact=True))
    error_model.get_by_role("button", name="Expand all").first.click()
    expect(error_model.get_by_text("message", exact=True).first).to_be_visible()

    # A moderator may authorize the page (the modal's form runs under form-action 'none'); the token
    # stays in the page's memory, never in storage that /moderate shares.
    page.locator(".auth-wrapper .authorize").click()
    modal = page.locator(".dialog-ux .modal-ux")
    modal.locator("input").first.fill(live.tokens["alice"])
    modal.locator(".auth-btn-wrapper .authorize").click()
    expect(modal.get_by_role("heading", name="Authorized")).to_be_visible()
    modal.get_by_role("button", name="Close", exact=True).click()
    expect(modal).to_be_hidden()
    stored = page.evaluate("JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")
    assert live.tokens["alice"] not in stored

    assert page.evaluate("window.__cspViolations") == []
    assert_clean(tab)
    off_origin = [url for url in tab.requests if not url.startswith(live.base + "/") and not url.startswith("data:")]
    assert off_origin == [], off_origin
    assert live.base + "/docs/assets/swagger-ui-bundle.js" in tab.requests
    assert live.base + "/openapi.json" in tab.requests
