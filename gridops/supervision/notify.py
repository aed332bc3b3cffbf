"""Sending orders out: the in-app channel and an e-mail/SMS gateway adapter behind an outbox.

The in-app channel is the inbox itself: an order's recipient rows are written with the order
and its unread state is per user, so it is delivered by the commit that writes it. For the
gateway, the same transaction writes an ``OutboxMessage``; ``deliver_due(now)`` (a scheduler
job, after the commit by construction) sends the due messages, retrying failures with
exponential backoff until ``MAX_ATTEMPTS``.

The gateway is chosen by configuration: ``GRIDOPS_NOTIFY_GATEWAY`` ``off`` (default: no
outbox messages are written) or ``webhook`` (JSON POSTed to ``GRIDOPS_NOTIFY_WEBHOOK_URL``,
with ``GRIDOPS_NOTIFY_WEBHOOK_TOKEN`` as a bearer token if set — the SMS/e-mail platform
behind it fans out to the listed phones). Tests put their own gateway object in
``app.extensions["gridops.notify_gateway"]``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import requests
from flask import current_app
from sqlalchemy import select

from gridops.extensions import db
from gridops.supervision.models import OutboxMessage, SupervisionOrder
from gridops.supervision.queries import recipient_users

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BATCH = 200
GATEWAY_KEY = "gridops.notify_gateway"


class Gateway(Protocol):
    """Sends one message; raises on failure (the outbox retries)."""

    def send(self, message: dict) -> None: ...


class WebhookGateway:
    """POSTs each message as JSON to an HTTP endpoint (an SMS/e-mail platform's webhook)."""

    def __init__(self, url: str, token: str = "", timeout: float = 10.0):
        self.url = url
        self.token = token
        self.timeout = timeout

    def send(self, message: dict) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = requests.post(self.url, json=message, headers=headers, timeout=self.timeout)
        response.raise_for_status()


def configured_gateway() -> Gateway | None:
    """The gateway the configuration asks for (None when switched off)."""
    override = current_app.extensions.get(GATEWAY_KEY)
    if override is not None:
        return override
    kind = current_app.config.get("GRIDOPS_NOTIFY_GATEWAY", "off")
    if kind == "webhook":
        return WebhookGateway(
            current_app.config["GRIDOPS_NOTIFY_WEBHOOK_URL"], current_app.config.get("GRIDOPS_NOTIFY_WEBHOOK_TOKEN", "")
        )
    return None


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after ``attempts`` failures: 1, 2, 4 … minutes, at most an hour."""
    return timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


def message_for(order: SupervisionOrder) -> dict:
    """What the gateway receives about an order: no caller data, only the case and the staff to reach."""
    case = order.case
    return {
        "order_id": order.id,
        "case_number": case.number,
        "kind": order.kind,
        "stage": order.stage,
        "level": order.level,
        "instruction": order.instruction,
        "reply_due_at": order.reply_due_at.isoformat() if order.reply_due_at else None,
        "recipients": [
            {"user_id": user.id, "name": user.full_name, "phone": user.phone}
            for user in recipient_users(order)
        ],
    }


@dataclass
class DeliveryResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0

    def as_dict(self) -> dict:
        return {"sent": self.sent, "retried": self.retried, "failed": self.failed}


def deliver_due(now: datetime, *, batch: int = BATCH) -> DeliveryResult:
    """Send the outbox messages due by ``now``; failures wait (backoff) and give up after MAX_ATTEMPTS."""
    result = DeliveryResult()
    gateway = configured_gateway()
    if gateway is None:
        return result
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(batch)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    for message in db.session.scalars(stmt).all():
        message.attempts += 1
        try:
            order = db.session.get(SupervisionOrder, message.order_id) if message.order_id else None
            gateway.send(message_for(order) if order is not None else dict(message.payload))
        except Exception as exc:  # any gateway failure is retried, never lost
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if message.attempts >= MAX_ATTEMPTS:
                message.status = "failed"
                result.failed += 1
                log.warning("outbox message %s failed for good: %s", message.id, message.last_error)
            else:
                message.next_attempt_at = now + backoff(message.attempts)
                result.retried += 1
        else:
            message.status = "sent"
            message.sent_at = now
            message.last_error = ""
            result.sent += 1
    db.session.flush()
    return result
