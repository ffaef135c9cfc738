"""Webhook endpoints and their deliveries (the outbox a delivery job works from)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, cast, delete, exists, func, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from civility.store.driver import DriverStatement, driver_connection
from civility.store.models import WebhookDelivery, WebhookEndpoint

# Every new comment asks (civility.store.driver: on SQLite it runs under the write lock).
_ENABLED_ENDPOINTS = DriverStatement(
    select(WebhookEndpoint.id, WebhookEndpoint.events).where(WebhookEndpoint.disabled_at.is_(None)))

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


def any_subscribed(event: str) -> ColumnElement[bool]:
    """PostgreSQL: whether an enabled endpoint subscribes to ``event``, for a statement that writes
    only when none does. The same rule as ``WebhookRepository.subscribed``, in SQL."""
    return exists().where(WebhookEndpoint.disabled_at.is_(None),
                          cast(WebhookEndpoint.events, JSONB).contains([event]))


class WebhookRepository:
    def __init__(self, session: Session):
        self.session = session

    def add_endpoint(self, url: str, events: list[str], secret: str, now: datetime) -> WebhookEndpoint:
        endpoint = WebhookEndpoint(url=url, events=events, secret=secret, created_at=now, consecutive_failures=0)
        self.session.add(endpoint)
        self.session.flush()
        return endpoint

    def endpoints(self) -> list[WebhookEndpoint]:
        return list(self.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))

    def endpoint(self, endpoint_id: int, for_update: bool = False) -> WebhookEndpoint | None:
        stmt = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
        return self.session.scalars(stmt.with_for_update() if for_update else stmt).first()

    def remove_endpoint(self, endpoint_id: int) -> bool:
        if self.endpoint(endpoint_id) is None:
            return False
        self.session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id))
        self.session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))
        return True

    def subscribed(self, event: str) -> list[int]:
        """The ids of the enabled endpoints subscribed to ``event`` (the lists are short: filtered
        here)."""
        rows = driver_connection(self.session).run(_ENABLED_ENDPOINTS, {})
        return [endpoint_id for endpoint_id, events in rows if event in (events or [])]

    def add_delivery(self, endpoint_id: int, event: str, payload: dict[str, Any], now: datetime,
                     due: datetime) -> WebhookDelivery:
        delivery = WebhookDelivery(endpoint_id=endpoint_id, event=event, payload=payload, state=PENDING,
                                   attempts=0, created_at=now, next_attempt_at=due)
        self.session.add(delivery)
        self.session.flush()
        return delivery

    def delivery(self, delivery_id: int, for_update: bool = False) -> WebhookDelivery | None:
        stmt = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
        return self.session.scalars(stmt.with_for_update() if for_update else stmt).first()

    def deliveries(self, endpoint_id: int, limit: int) -> list[WebhookDelivery]:
        stmt = (select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
                .order_by(WebhookDelivery.id.desc()).limit(limit))
        return list(self.session.scalars(stmt))

    def due(self, before: datetime, limit: int) -> list[WebhookDelivery]:
        """Pending deliveries whose due time passed: their job was lost (or never enqueued)."""
        stmt = (select(WebhookDelivery)
                .where(WebhookDelivery.state == PENDING,
                       or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= before))
                .order_by(WebhookDelivery.id).limit(limit))
        return list(self.session.scalars(stmt))

    def last_success(self, endpoint_id: int) -> datetime | None:
        return self.session.scalar(select(func.max(WebhookDelivery.delivered_at))
                                   .where(WebhookDelivery.endpoint_id == endpoint_id))
