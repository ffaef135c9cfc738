"""Pages served by the service itself: the embeddable widget, the demo article and the console.

The widget runs on other sites' pages, so its files are public and cacheable, and may be loaded
cross-origin. The demo page and the console are ours: a strict CSP with no inline script or style.

/widget.js is rendered, not sent as is: the server's limits and lists (body and name lengths, share
networks, report reasons, the edit window) replace a placeholder in it, so the widget never
disagrees with the API it talks to.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, render_template, request, send_from_directory

from civility.engagement import NETWORKS, REPORT_REASONS
from civility.text import MAX_BODY_CHARS, MAX_NAME_CHARS
from service.context import services

bp = Blueprint("pages", __name__)

STATIC = Path(__file__).resolve().parent / "static"
DEMO_ARTICLE = "world/pow-exchange-2026"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'self'")


def _asset(name: str, mimetype: str, max_age: int = 300) -> Response:
    return _cross_origin(send_from_directory(STATIC, name, mimetype=mimetype, max_age=max_age))


def _cross_origin(response: Response) -> Response:
    # Sites that isolate themselves (COEP) may still load the widget's own files.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
    return response


# widget.js holds this string literal where the server's limits and lists go (see widget_config()).
CONFIG_PLACEHOLDER = b'"__CIVILITY_CONFIG__"'


def widget_config() -> dict:
    """What the widget must know of this server: limits, share networks, report reasons, edit window."""
    return {
        "max_body_chars": MAX_BODY_CHARS,
        "max_name_chars": MAX_NAME_CHARS,
        "edit_window_seconds": services().settings.edit_window_seconds,
        "networks": list(NETWORKS),
        "report_reasons": list(REPORT_REASONS),
    }


@cache
def _widget_source() -> bytes:
    source = (STATIC / "widget.js").read_bytes()
    if source.count(CONFIG_PLACEHOLDER) != 1:
        raise RuntimeError(f"widget.js must contain {CONFIG_PLACEHOLDER.decode()} exactly once")
    return source


@cache
def _render_widget(config_json: str) -> tuple[bytes, str]:
    """widget.js with the config object in place, and its ETag; once per process and configuration."""
    body = _widget_source().replace(CONFIG_PLACEHOLDER, config_json.encode())
    return body, hashlib.sha256(body).hexdigest()[:32]


def _page(html: str, csp: str) -> Response:
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = csp
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/widget.js")
def widget_js():
    # Keys sorted: one cache entry per distinct configuration (tests run apps with different settings).
    body, etag = _render_widget(json.dumps(widget_config(), sort_keys=True, separators=(",", ":")))
    response = Response(body, content_type="text/javascript; charset=utf-8")
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return _cross_origin(response.make_conditional(request))


@bp.get("/widget.css")
def widget_css():
    return _asset("widget.css", "text/css")


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
