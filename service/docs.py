"""/docs: the OpenAPI document in Swagger UI, every file of it served from this origin.

The page shares an origin with /moderate, whose moderator token sits in sessionStorage, so it loads
nothing from elsewhere: Swagger UI's script and stylesheet are the dist files that the pinned
`flask-swagger-ui` package ships (we use its files, not its blueprint), the start-up code is our
own static/docs.js, and the page runs under a CSP that allows only this origin's script files (no
inline script, no eval) and forbids framing. Only the files named in ASSETS are served under
/docs/assets/; any other name is a 404.

`CIVILITY_API_DOCS=0` (Settings.api_docs) turns the page and its files off; /openapi.json stays.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from flask import Blueprint, abort, render_template, send_from_directory

from service.context import services
from service.pages import _page

bp = Blueprint("docs", __name__)

# Swagger UI 5 (it reads OpenAPI 3.1, which /openapi.json is); `swagger-ui-bundle` holds Swagger UI 4,
# which cannot. The package is installed as files on disk, as pip installs it.
BUNDLE = Path(str(files("flask_swagger_ui") / "dist"))
STATIC = Path(__file__).resolve().parent / "static"

# name under /docs/assets/ -> (folder, mimetype). Nothing else is ever served from these folders.
ASSETS: dict[str, tuple[Path, str]] = {
    "swagger-ui-bundle.js": (BUNDLE, "text/javascript"),
    "swagger-ui.css": (BUNDLE, "text/css"),
    "docs.js": (STATIC, "text/javascript"),
}

# No 'unsafe-inline' anywhere: Swagger UI (React) sets element styles through the CSSOM, which CSP
# does not restrict; its stylesheet draws icons as data: images. tests/browser/test_docs_page.py
# renders the page in Chromium under exactly this policy and fails on any violation.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def _require_enabled() -> None:
    # Called by each view: a blueprint before_request hook would break APIFlask's spec generation,
    # which expects every blueprint with hooks to be an APIBlueprint.
    if not services().settings.api_docs:
        abort(404)


@bp.get("/docs")
def docs():
    _require_enabled()
    response = _page(render_template("docs.html"), CSP)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/docs/assets/<name>")
def asset(name: str):
    _require_enabled()
    if name not in ASSETS:
        abort(404)
    folder, mimetype = ASSETS[name]
    response = send_from_directory(folder, name, mimetype=mimetype, max_age=3600)
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
