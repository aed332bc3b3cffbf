"""The supervision inbox: who sees which order, unread counts, replies, leader supervision, pages and API."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gridops.auth.tokens import issue_token
from gridops.errors import NotAllowed, ValidationFailed
from gridops.extensions import db
from gridops.supervision.models import SupervisionOrder, SupervisionRecipient
from gridops.supervision.queries import inbox_counts, inbox_orders, is_recipient, recipient_users
from gridops.supervision.services import mark_read, reply_to_order, sweep_escalations
from tests.case_factories import T0, act, make_case, make_world
from tests.factories import PASSWORD
from tests.test_escalation import local


@pytest.fixture
def escalated(app):
    """A world whose handling case has reached level 3 (orders of every level), committed."""
    world = make_world()
    case = make_case("handling", world=world, now=T0)
    sweep_escalations(local(2026, 6, 10, 9))
    db.session.commit()
    return world, case


def _levels(user) -> list[tuple[str, int]]:
    return sorted((o.kind, o.level) for o in db.session.scalars(inbox_orders(user)))


def test_each_order_reaches_its_recipients_and_no_one_else(escalated):
    world, _case = escalated
    assert _levels(world.user("unit_staff")) == [("timeout", 1), ("timeout", 2), ("warning", 0)]
    assert _levels(world.user("shift_leader")) == [("timeout", 1)]
    assert _levels(world.user("leader")) == [("timeout", 3)]
    # The area lead leads the subdistrict: two levels above the unit grid, level 3.
    assert _levels(world.user("area_lead")) == [("timeout", 3)]
    for role in ("unit_staff", "shift_leader", "area_lead"):
        assert _levels(world.outsiders[role]) == [], role
    for role in ("grid_worker", "dispatcher", "intake_operator", "evaluator", "admin", "hotline_operator"):
        assert _levels(world.user(role)) == [], role


def test_unread_and_awaiting_reply_counts(escalated):
    world, _case = escalated
    staff = world.user("unit_staff")
    assert inbox_counts(staff) == type(inbox_counts(staff))(unread=3, awaiting_reply=2, total=3)
    first = db.session.scalars(inbox_orders(staff)).first()
    assert mark_read(first, staff) is True
    assert mark_read(first, staff) is False
    assert inbox_counts(staff).unread == 2
    # Reading is per user: the shift leader's count is untouched.
    assert inbox_counts(world.user("shift_leader")).unread == 1


def test_a_recipient_replies_and_the_order_is_answered(escalated):
    world, _case = escalated
    staff, leader = world.user("unit_staff"), world.user("leader")
    level1 = db.session.scalar(select(SupervisionOrder).where(SupervisionOrder.level == 1))
    with pytest.raises(NotAllowed):
        reply_to_order(level1, leader, "不是我")
    with pytest.raises(ValidationFailed):
        reply_to_order(level1, staff, "   ")
    reply_to_order(level1, staff, "已安排清运，今天 17:00 前完成", now=local(2026, 6, 10, 10))
    assert level1.replied_at == local(2026, 6, 10, 10)
    assert inbox_counts(staff).awaiting_reply == 1
    warning = db.session.scalar(select(SupervisionOrder).where(SupervisionOrder.level == 0))
    with pytest.raises(ValidationFailed):
        reply_to_order(warning, staff, "收到")


def test_leader_supervision_writes_an_order_with_the_instruction(app):
    world = make_world()
    case = make_case("handling", world=world, now=T0)
    act(world, case, "supervise", "leader", instruction="今天必须清运完毕", now=local(2026, 6, 1, 11))
    order = db.session.scalar(select(SupervisionOrder).where(SupervisionOrder.kind == "leader"))
    assert order.instruction == "今天必须清运完毕"
    assert order.created_by_id == world.user("leader").id
    assert order.reply_required and order.reply_due_at == local(2026, 6, 2, 11)
    addressees = {(r.department_id, r.area_id, r.role) for r in order.recipients}
    assert addressees == {(world.unit.id, None, None), (None, None, "shift_leader"),
                          (None, world.areas["community"].id, None)}
    # The leader sees it (to follow the replies) but is not a recipient who must reply.
    assert _levels(world.user("leader")) == [("leader", 1)]
    assert not is_recipient(world.user("leader"), order)
    assert is_recipient(world.user("unit_staff"), order)
    assert {u.id for u in recipient_users(order)} == {world.user("unit_staff").id, world.user("shift_leader").id}
    assert case.supervised


def test_inbox_page_lists_orders_and_the_nav_counts_unread(escalated, client, auth):
    world, case = escalated
    auth.login("unit_staff", PASSWORD)
    page = client.get("/supervision/inbox")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert case.number in html
    assert html.count('class="badge badge-new"') == 3
    assert 'class="nav-badge">3<' in html
    unread = client.get("/supervision/inbox?tab=awaiting_reply").get_data(as_text=True)
    assert unread.count('class="sv-item ') == 2


def test_order_page_marks_read_and_takes_a_reply(escalated, client, auth):
    world, case = escalated
    level1 = db.session.scalar(select(SupervisionOrder).where(SupervisionOrder.level == 1))
    auth.login("unit_staff", PASSWORD)
    page = client.get(f"/supervision/orders/{level1.id}")
    assert page.status_code == 200
    assert 'name="body"' in page.get_data(as_text=True)
    assert 'class="nav-badge">2<' in page.get_data(as_text=True)
    empty = client.post(f"/supervision/orders/{level1.id}", data={"body": ""})
    assert empty.status_code == 422
    sent = client.post(f"/supervision/orders/{level1.id}", data={"body": "已清运"}, follow_redirects=True)
    assert sent.status_code == 200 and "已清运" in sent.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(SupervisionOrder, level1.id).replied_at is not None


def test_order_pages_are_closed_to_others(escalated, client, auth):
    world, _case = escalated
    level1 = db.session.scalar(select(SupervisionOrder).where(SupervisionOrder.level == 1))
    auth.login("outside_unit_staff", PASSWORD)
    assert client.get(f"/supervision/orders/{level1.id}").status_code == 404
    assert client.post(f"/supervision/orders/{level1.id}", data={"body": "x"}).status_code == 404
    auth.logout()
    auth.login("evaluator", PASSWORD)
    assert client.get("/supervision/inbox").status_code == 403
    auth.logout()
    # The grid worker has an inbox (for the on-site stages) but is not addressed by the unit's orders.
    auth.login("grid_worker", PASSWORD)
    assert client.get(f"/supervision/orders/{level1.id}").status_code == 404
    auth.logout()
    # The leader sees level 3 but is not addressed by level 1.
    auth.login("leader", PASSWORD)
    assert client.get(f"/supervision/orders/{level1.id}").status_code == 404


def test_api_lists_reads_and_replies(escalated, client):
    world, case = escalated
    headers = {"Authorization": f"Bearer {issue_token(world.user('unit_staff'), 'test')[1]}"}
    db.session.commit()
    counts = client.get("/api/v1/supervision/counts", headers=headers).get_json()
    assert counts == {"unread": 3, "awaiting_reply": 2, "total": 3}
    listed = client.get("/api/v1/supervision/orders?filter=awaiting_reply", headers=headers).get_json()
    assert [item["level"] for item in listed["items"]] and all(i["reply_required"] for i in listed["items"])
    order_id = next(i["id"] for i in listed["items"] if i["level"] == 1)
    detail = client.get(f"/api/v1/supervision/orders/{order_id}", headers=headers).get_json()
    assert detail["case"]["number"] == case.number and detail["unread"] is True and detail["replies"] == []
    assert client.get(f"/api/v1/supervision/orders/{order_id}", headers=headers).get_json()["unread"] is False
    reply = client.post(f"/api/v1/supervision/orders/{order_id}/replies", json={"body": "已清运"}, headers=headers)
    assert reply.status_code == 201 and reply.get_json()["replies"][0]["body"] == "已清运"
    assert client.get("/api/v1/supervision/counts", headers=headers).get_json() == {
        "unread": 2, "awaiting_reply": 1, "total": 3}
    assert client.get("/api/v1/supervision/orders?filter=x", headers=headers).status_code == 422
    assert client.get("/api/v1/supervision/orders/999999", headers=headers).status_code == 404


def test_api_refuses_roles_without_an_inbox(escalated, client):
    world, _case = escalated
    headers = {"Authorization": f"Bearer {issue_token(world.user('evaluator'), 'test')[1]}"}
    db.session.commit()
    response = client.get("/api/v1/supervision/orders", headers=headers)
    assert response.status_code == 403 and response.get_json()["error"] == "not_allowed"


def test_recipients_are_recorded_per_order(escalated):
    rows = db.session.scalars(select(SupervisionRecipient)).all()
    assert len(rows) == 1 + 2 + 2 + 2
