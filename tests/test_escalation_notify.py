"""Sending orders out: the outbox written with the order, delivery after commit, retries and backoff."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import func, select

from gridops.extensions import db
from gridops.supervision.models import OutboxMessage
from gridops.supervision.notify import GATEWAY_KEY, MAX_ATTEMPTS, WebhookGateway, backoff, deliver_due
from gridops.supervision.services import sweep_escalations
from tests.case_factories import T0, make_case, make_world
from tests.test_escalation import local


class FakeGateway:
    """Records what it is asked to send; fails the first ``failures`` sends."""

    def __init__(self, failures: int = 0):
        self.sent: list[dict] = []
        self.failures = failures

    def send(self, message: dict) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("SMS platform unreachable")
        self.sent.append(message)


@pytest.fixture
def gateway(app):
    """A fake gateway switched on for the test."""
    fake = FakeGateway()
    app.extensions[GATEWAY_KEY] = fake
    yield fake
    app.extensions.pop(GATEWAY_KEY, None)


def test_without_a_gateway_no_outbox_message_is_written(app):
    make_case("handling", now=T0)
    assert sweep_escalations(local(2026, 6, 1, 16)).created == 2
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert deliver_due(local(2026, 6, 1, 16)).as_dict() == {"sent": 0, "retried": 0, "failed": 0}


def test_each_new_order_is_sent_once_with_the_staff_to_reach(app, gateway):
    world = make_world()
    world.user("unit_staff").phone = "13800000001"
    world.user("shift_leader").phone = "13800000002"
    case = make_case("handling", world=world, now=T0)
    sweep_escalations(local(2026, 6, 1, 16))
    db.session.commit()
    assert deliver_due(local(2026, 6, 1, 16, 1)).sent == 2
    assert deliver_due(local(2026, 6, 1, 16, 2)).sent == 0
    by_level = {m["level"]: m for m in gateway.sent}
    assert by_level[0]["case_number"] == case.number and by_level[0]["kind"] == "warning"
    assert [r["phone"] for r in by_level[0]["recipients"]] == ["13800000001"]
    # Level 1 reaches the unit and the shift leader whose area holds the case, not the outsider.
    assert sorted(r["phone"] for r in by_level[1]["recipients"]) == ["13800000001", "13800000002"]
    assert world.outsiders["shift_leader"].id not in {r["user_id"] for r in by_level[1]["recipients"]}


def test_failures_are_retried_with_backoff_then_given_up(app, gateway):
    make_case("handling", now=T0)
    sweep_escalations(local(2026, 6, 1, 15, 12))  # the yellow warning only
    gateway.failures = MAX_ATTEMPTS
    now = local(2026, 6, 1, 15, 13)
    waits = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        result = deliver_due(now)
        message = db.session.scalar(select(OutboxMessage))
        assert message.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert result.retried == 1 and message.status == "pending"
            assert deliver_due(message.next_attempt_at - timedelta(seconds=1)).as_dict()["retried"] == 0
            waits.append(message.next_attempt_at - now)
            now = message.next_attempt_at
        else:
            assert result.failed == 1 and message.status == "failed"
            assert "unreachable" in message.last_error
    assert waits == [backoff(n) for n in range(1, MAX_ATTEMPTS)]
    assert waits[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert gateway.sent == []


def test_a_retry_that_succeeds_is_sent_once(app, gateway):
    make_case("handling", now=T0)
    sweep_escalations(local(2026, 6, 1, 15, 12))
    gateway.failures = 1
    assert deliver_due(local(2026, 6, 1, 15, 13)).retried == 1
    assert deliver_due(local(2026, 6, 1, 15, 14)).sent == 1
    assert deliver_due(local(2026, 6, 1, 15, 30)).sent == 0
    assert len(gateway.sent) == 1


def test_webhook_gateway_posts_json_with_the_token():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["Authorization"], json.loads(body)))
            self.send_response(500 if len(received) == 1 else 204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        gateway = WebhookGateway(f"http://127.0.0.1:{server.server_port}/sms", token="s3cret", timeout=5)
        with pytest.raises(Exception):
            gateway.send({"order_id": 1})
        gateway.send({"order_id": 1})
    finally:
        server.shutdown()
        server.server_close()
    assert received == [("Bearer s3cret", {"order_id": 1})] * 2
