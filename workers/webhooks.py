"""The webhook delivery job: one signed POST per attempt; a failure raises so RQ retries it later."""

from __future__ import annotations

import http.client
import logging
import socket
import time
from urllib.parse import urlsplit

from civility import webhooks
from civility.errors import Invalid
from civility.infra import runtime

log = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """Raised so that RQ schedules the next attempt (the job was enqueued with a Retry)."""


def post(url: str, address: str, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` to ``url``, connecting to ``address`` (already checked); redirects are not followed."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or ""
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(host, port, timeout=webhooks.CONNECT_TIMEOUT)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=webhooks.CONNECT_TIMEOUT)

    def connect_to_checked_address(_address, timeout, source_address):
        sock = socket.create_connection((address, port), timeout, source_address)
        sock.settimeout(webhooks.READ_TIMEOUT)
        return sock

    conn._create_connection = connect_to_checked_address  # type: ignore[attr-defined]
    try:
        path = parts.path or "/"
        conn.request("POST", f"{path}?{parts.query}" if parts.query else path, body=body, headers=headers)
        response = conn.getresponse()
        response.read(64 * 1024)
        return response.status
    finally:
        conn.close()


def deliver(delivery_id: int) -> str:
    rt = runtime.current()
    attempt = webhooks.begin_attempt(rt.db, delivery_id)
    if attempt is None:
        return "nothing to do"
    status_code: int | None = None
    error: str | None = None
    try:
        # Resolved and checked again now: the name may point elsewhere than when the endpoint was added.
        address = webhooks.check_url(attempt.url, rt.settings.webhook_allow_private)[0]
        timestamp = int(time.time())
        headers = {"Content-Type": "application/json", "User-Agent": "civility-webhooks",
                   webhooks.ID_HEADER: str(attempt.delivery_id), webhooks.EVENT_HEADER: attempt.event,
                   webhooks.SIGNATURE_HEADER: webhooks.signature(attempt.secret, timestamp, attempt.body)}
        status_code = post(attempt.url, address, attempt.body, headers)
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except Invalid as exc:
        error = "; ".join(exc.details.get("url", [exc.message]))
    except (OSError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"
    retry = webhooks.finish_attempt(rt.db, rt.settings, delivery_id, status_code, error)
    if retry:
        raise DeliveryFailed(f"delivery {delivery_id} attempt {attempt.number}: {error}")
    return "delivered" if error is None else f"failed: {error}"
