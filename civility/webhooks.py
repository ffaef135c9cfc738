"""Signed webhooks on moderation events: who is told what, the payload, the signature, the URL policy.

A service calls one of the ``*_event`` functions inside its unit of work: one ``webhook_deliveries``
row per subscribed endpoint is written in the same transaction as the change (an outbox, so nothing
is lost). After the commit, ``install``'s hook enqueues a delivery job per row; the sweeper enqueues
again any pending delivery that is late by more than ``webhook_grace_seconds`` (its job was lost).
A delivery job calls ``begin_attempt``, POSTs (workers/webhooks.py) and calls ``finish_attempt``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from civility.config import Settings
from civility.errors import Invalid, NotFound
from civility.lifecycle import Event
from civility.store.db import Database
from civility.store.models import Comment, WebhookDelivery, WebhookEndpoint, utcnow
from civility.store.webhooks import DELIVERED, FAILED, PENDING, WebhookRepository

log = logging.getLogger(__name__)

COMMENT_CREATED = "comment.created"
EVENTS = (COMMENT_CREATED, "comment.flagged", "comment.reported", "comment.decided", "comment.deleted",
          "reader.erased")
SIGNATURE_HEADER = "Civility-Signature"
ID_HEADER = "Civility-Webhook-Id"
EVENT_HEADER = "Civility-Event"
CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 10.0
# An attempt in progress holds its delivery this long (the longest a request can take, and then some).
LEASE_SECONDS = int(CONNECT_TIMEOUT + READ_TIMEOUT) + 5
# No delivery succeeded for this long, and one failed for good: the endpoint is disabled.
DISABLE_AFTER = timedelta(days=1)
MAX_DELIVERIES_SHOWN = 100
_SESSION_KEY = "civility_webhook_deliveries"


# -- the URL policy ---------------------------------------------------------------------------------
def check_url(url: str, allow_private: bool,
              resolve: Callable[..., list[Any]] = socket.getaddrinfo) -> list[str]:
    """The addresses ``url`` resolves to, every one checked; Invalid if the URL may not be called.

    https only (http too with ``allow_private``); every address must be global (not private,
    loopback, link-local, multicast, reserved...) unless ``allow_private``. Checked when an endpoint
    is added and again before each delivery, which then connects to a checked address (no rebinding).
    """
    def refuse(why: str) -> Invalid:
        return Invalid("invalid url", {"url": [why]})

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise refuse(f"not a URL: {exc}") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise refuse(f"the scheme must be {' or '.join(schemes)}")
    if not parts.hostname or parts.username or parts.password:
        raise refuse("a host is required, and no user or password")
    try:
        infos = resolve(parts.hostname, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise refuse(f"the host does not resolve: {exc}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise refuse("the host does not resolve")
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        mapped = getattr(ip, "ipv4_mapped", None)
        ip = mapped or ip
        if not allow_private and (not ip.is_global or ip.is_multicast):
            raise refuse(f"{parts.hostname} resolves to {address}, which is not a public address")
    return addresses


# -- the signature -----------------------------------------------------------------------------------
def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Civility-Signature`` header: ``t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """What a receiver does (see the README): check the HMAC and that the timestamp is recent."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return abs(now - timestamp) <= tolerance and hmac.compare_digest(expected, fields.get("v1", ""))


def body(delivery: WebhookDelivery) -> bytes:
    """The JSON body: the same bytes on every attempt, with the delivery id receivers dedupe on."""
    document = {"id": str(delivery.id), "event": delivery.event,
                "created_at": delivery.created_at.isoformat(), "data": delivery.payload}
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


# -- recording events (inside the caller's transaction) -------------------------------------------
def subscribers(session: Session, event: str) -> list[int]:
    """The enabled endpoints subscribed to ``event``: for ``emit``, looked up ahead of the writes of a
    ``Database.transaction(reads_first=True)``."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    return WebhookRepository(session).subscribed(event)


def emit(session: Session, event: str, data: dict[str, Any], now: datetime | None = None,
         endpoints: list[int] | None = None) -> int:
    """One pending delivery per enabled endpoint subscribed to ``event`` (``endpoints``, when
    ``subscribers`` found them already), in ``session``'s transaction."""
    if endpoints is None:
        endpoints = subscribers(session, event)
    now = now or utcnow()
    repo = WebhookRepository(session)
    ids = [repo.add_delivery(endpoint_id, event, data, now, now).id for endpoint_id in endpoints]
    session.info.setdefault(_SESSION_KEY, []).extend(ids)
    return len(ids)


def _comment(comment: Comment, with_body: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {"id": comment.id, "article_id": comment.article_id, "parent_id": comment.parent_id,
                            "author_name": comment.author_name, "status": str(comment.status),
                            "created_at": comment.created_at.isoformat() if comment.created_at else None}
    if with_body:
        data["body"] = comment.body
    return data


def comment_created(session: Session, comment: Comment, event: Event, endpoints: list[int] | None = None) -> None:
    emit(session, COMMENT_CREATED, {"comment": _comment(comment), "actor": event.actor}, event.at, endpoints)


def comment_flagged(session: Session, comment: Comment, event: Event) -> None:
    """A score (or a scoring failure) held the comment for the moderators."""
    if event.to_status == "flagged" and event.from_status != "flagged":
        emit(session, "comment.flagged", {"comment": _comment(comment), "reasons": list(comment.reasons or []),
                                          "scores": comment.scores, "actor": event.actor}, event.at)


def comment_reported(session: Session, comment: Comment, event: Event, reports: int) -> None:
    emit(session, "comment.reported", {"comment": _comment(comment), "reason": event.reason,
                                       "open_reports": reports}, event.at)


def comment_decided(session: Session, comment: Comment, event: Event, moderator: str) -> None:
    emit(session, "comment.decided", {"comment": _comment(comment), "outcome": str(event.action),
                                      "status": str(event.to_status), "moderator": moderator,
                                      "reason": event.reason}, event.at)


def comment_deleted(session: Session, comment: Comment, event: Event) -> None:
    emit(session, "comment.deleted", {"comment": _comment(comment, with_body=False), "actor": event.actor},
         event.at)


def reader_erased(session: Session, reader: str, details: dict[str, Any] | None = None) -> None:
    """For the readers' data rights: call inside the erasure's transaction (``reader``: who, as stored)."""
    emit(session, "reader.erased", {"reader": reader, **(details or {})})


def take_deliveries(session: Session) -> list[int]:
    """The deliveries the committed transaction recorded, to enqueue (once: the notes are removed)."""
    return session.info.pop(_SESSION_KEY, [])


# -- delivering ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Attempt:
    delivery_id: int
    url: str
    secret: str
    event: str
    body: bytes
    number: int


def begin_attempt(db: Database, delivery_id: int) -> Attempt | None:
    """Take the delivery for one attempt (a lease), or None: done, not due, or its endpoint is gone."""
    now = utcnow()
    with db.transaction() as session:
        repo = WebhookRepository(session)
        delivery = repo.delivery(delivery_id, for_update=True)
        if delivery is None or delivery.state != PENDING:
            return None
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now + timedelta(seconds=1):
            return None  # another attempt holds it, or its retry is not due yet
        endpoint = repo.endpoint(delivery.endpoint_id)
        if endpoint is None or endpoint.disabled_at is not None:
            delivery.state, delivery.next_attempt_at = FAILED, None
            delivery.last_error = "the endpoint is disabled"
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = now + timedelta(seconds=LEASE_SECONDS)
        return Attempt(delivery.id, endpoint.url, endpoint.secret, delivery.event, body(delivery),
                       delivery.attempts)


def finish_attempt(db: Database, settings: Settings, delivery_id: int, status_code: int | None,
                   error: str | None) -> bool:
    """Record an attempt's outcome; True if the delivery will be retried."""
    now = utcnow()
    ok = error is None and status_code is not None and 200 <= status_code < 300
    with db.transaction() as session:
        repo = WebhookRepository(session)
        delivery = repo.delivery(delivery_id, for_update=True)
        if delivery is None or delivery.state != PENDING:
            return False
        endpoint = repo.endpoint(delivery.endpoint_id, for_update=True)
        delivery.last_status_code, delivery.last_error = status_code, None if ok else (error or "")[:500]
        if ok:
            delivery.state, delivery.delivered_at, delivery.next_attempt_at = DELIVERED, now, None
            if endpoint is not None:
                endpoint.consecutive_failures = 0
            return False
        if endpoint is not None:
            endpoint.consecutive_failures += 1
        intervals = settings.webhook_retry_intervals
        if delivery.attempts <= len(intervals):
            delivery.next_attempt_at = now + timedelta(seconds=intervals[delivery.attempts - 1])
            return True
        delivery.state, delivery.next_attempt_at = FAILED, None
        last = repo.last_success(delivery.endpoint_id)
        if endpoint is not None and endpoint.disabled_at is None and (last is None or last < now - DISABLE_AFTER):
            endpoint.disabled_at = now
            endpoint.disabled_reason = (f"delivery {delivery.id} failed after {delivery.attempts} attempts "
                                        f"({delivery.last_error}) and nothing was delivered for a day")
            log.warning("webhook endpoint %s disabled: %s", endpoint.id, endpoint.disabled_reason)
        return False


def lost_deliveries(db: Database, settings: Settings, limit: int = 1000) -> list[tuple[int, int]]:
    """(delivery id, attempts made) of pending deliveries late by more than the grace period."""
    before = utcnow() - timedelta(seconds=settings.webhook_grace_seconds)
    with db.read() as session:
        return [(d.id, d.attempts) for d in WebhookRepository(session).due(before, limit)]


# -- endpoints (CLI and admin API) --------------------------------------------------------------------
@dataclass
class NewEndpoint:
    endpoint: WebhookEndpoint
    secret: str


def check_events(events: list[str]) -> list[str]:
    unknown = [e for e in events if e not in EVENTS]
    if not events or unknown:
        raise Invalid("invalid events", {"events": [f"one or more of {', '.join(EVENTS)}"]})
    return list(dict.fromkeys(events))


def add_endpoint(db: Database, settings: Settings, url: str, events: list[str]) -> NewEndpoint:
    """A new endpoint; its signing secret is returned here only (shown once)."""
    events = check_events(events)
    if len(url) > 2048:
        raise Invalid("invalid url", {"url": ["at most 2048 characters"]})
    check_url(url, settings.webhook_allow_private)
    secret = "whsec_" + secrets.token_hex(24)
    with db.transaction() as session:
        endpoint = WebhookRepository(session).add_endpoint(url, events, secret, utcnow())
    return NewEndpoint(endpoint, secret)


def list_endpoints(db: Database) -> list[WebhookEndpoint]:
    with db.read() as session:
        return WebhookRepository(session).endpoints()


def remove_endpoint(db: Database, endpoint_id: int) -> None:
    """Remove an endpoint and its delivery history (pending deliveries are dropped)."""
    with db.transaction() as session:
        if not WebhookRepository(session).remove_endpoint(endpoint_id):
            raise NotFound("no such webhook endpoint")


def deliveries(db: Database, endpoint_id: int, limit: int = MAX_DELIVERIES_SHOWN) -> list[WebhookDelivery]:
    with db.read() as session:
        repo = WebhookRepository(session)
        if repo.endpoint(endpoint_id) is None:
            raise NotFound("no such webhook endpoint")
        return repo.deliveries(endpoint_id, limit)
