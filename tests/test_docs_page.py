"""/docs: our own Swagger UI page, its files served from this origin, its CSP, and the switch."""

from __future__ import annotations

import re

import pytest

from tests.helpers import assert_error

SCRIPTS = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S | re.I)


@pytest.fixture(params=["sqlite"])
def database_url(request, sqlite_url):
    # The page touches no table: one database is enough.
    return sqlite_url


def csp_of(response) -> dict[str, str]:
    directives = (part.strip().split(None, 1) for part in response.headers["Content-Security-Policy"].split(";"))
    return {d[0]: (d[1] if len(d) > 1 else "") for d in directives if d and d[0]}


def test_docs_page_is_locked_down(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    csp = csp_of(response)
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == "'self'"  # never 'unsafe-inline' nor 'unsafe-eval'
    assert "'unsafe" not in csp["script-src"]
    assert csp["connect-src"] == "'self'"
    assert csp["img-src"] == "'self' data:"
    assert csp["style-src"] == "'self'"  # Swagger UI sets styles through the CSSOM, which CSP allows
    assert csp["frame-ancestors"] == "'none'"
    assert csp["base-uri"] == "'none'"
    assert csp["form-action"] == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_docs_page_loads_nothing_from_elsewhere_and_has_no_inline_script(client):
    html = client.get("/docs").get_data(as_text=True)
    assert "http" not in html.lower()  # no absolute URL at all, so no CDN
    assert "//" not in html  # nor a protocol-relative one
    scripts = SCRIPTS.findall(html)
    assert [attrs for attrs, _ in scripts] == [' src="/docs/assets/swagger-ui-bundle.js"',
                                                ' src="/docs/assets/docs.js"']
    assert all(body.strip() == "" for _, body in scripts)
    assert "<style" not in html.lower() and " style=" not in html.lower()
    assert not re.search(r"\son[a-z]+=", html, re.I)  # no inline event handlers either
    assert 'href="/docs/assets/swagger-ui.css"' in html
    assert 'data-spec-url="/openapi.json"' in html


@pytest.mark.parametrize(("name", "mimetype", "marker"), [
    ("swagger-ui-bundle.js", "text/javascript", "SwaggerUIBundle"),
    ("swagger-ui.css", "text/css", ".swagger-ui"),
    ("docs.js", "text/javascript", "/openapi.json"),
])
def test_assets_are_served_from_the_package(client, name, mimetype, marker):
    response = client.get(f"/docs/assets/{name}")
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert marker in response.get_data(as_text=True)
    assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert "max-age=" in response.headers["Cache-Control"]


@pytest.mark.parametrize("name", [
    "index.html", "swagger-initializer.js", "oauth2-redirect.html", "swagger-ui-bundle.js.map", "__init__.py",
    "widget.js", "console.js", "..%2f__init__.py", "%2e%2e%2fdocs.js", "..", "SWAGGER-UI.CSS", "docs.js%00",
])
def test_assets_refuse_any_other_name(client, name):
    assert_error(client.get(f"/docs/assets/{name}"), 404, "not_found")


@pytest.mark.parametrize("path", ["/docs/assets/../__init__.py", "/docs/assets/vendor/swagger-ui.css",
                                  "/docs/assets/", "/docs/oauth2-redirect"])
def test_no_other_path_under_docs(client, path):
    assert client.get(path).status_code == 404


def test_docs_can_be_turned_off_but_the_openapi_document_stays(app_factory):
    client = app_factory(api_docs=False).test_client()
    for path in ("/docs", "/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css",
                 "/docs/assets/docs.js"):
        assert_error(client.get(path), 404, "not_found")
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    assert "/api/v1/articles/{article_id}/comments" in spec.json["paths"]


def test_the_pages_are_not_in_the_openapi_document(client):
    paths = client.get("/openapi.json").json["paths"]
    assert not [p for p in paths if p.startswith("/docs")]
