"""Pages served by the service itself: the embeddable widget, the demo article and the console.

The widget runs on other sites' pages, so its files are public and cacheable, and may be loaded
cross-origin. The demo page and the console are ours: a strict CSP with no inline script or style.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, render_template, request, send_from_directory

bp = Blueprint("pages", __name__)

STATIC = Path(__file__).resolve().parent / "static"
DEMO_ARTICLE = "world/pow-exchange-2026"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'self'")


def _asset(name: str, mimetype: str, max_age: int = 300) -> Response:
    response = send_from_directory(STATIC, name, mimetype=mimetype, max_age=max_age)
    # Sites that isolate themselves (COEP) may still load the widget's own files.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
    return response


def _page(html: str, csp: str) -> Response:
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = csp
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/widget.js")
def widget_js():
    return _asset("widget.js", "text/javascript; charset=utf-8")


@bp.get("/widget.css")
def widget_css():
    return _asset("widget.css", "text/css; charset=utf-8")


@bp.get("/embed/demo")
def demo():
    article = request.args.get("article", DEMO_ARTICLE)
    return _page(render_template("demo.html", article_id=article), CSP)


@bp.get("/moderate")
def moderate():
    response = _page(render_template("moderate.html"), CSP)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response
