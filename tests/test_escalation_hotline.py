"""The 12345 reply chain: reminder before the deadline, reminder notice the day after, written criticism."""

from __future__ import annotations

from sqlalchemy import select

from gridops.extensions import db
from gridops.hotline.services import reply_to_caller
from gridops.supervision.models import EscalationWatch, SupervisionOrder
from gridops.supervision.queries import inbox_orders
from gridops.supervision.hotline_chain import KINDS, STAGE
from gridops.supervision.services import sweep_escalations
from tests.case_factories import T0, make_world
from tests.test_escalation import local
from tests.test_hotline_services import complaint


def _watch(case):
    db.session.expire_all()
    return db.session.get(EscalationWatch, (case.id, "hotline_reply"))


def _orders(case):
    rows = db.session.execute(
        select(SupervisionOrder.kind, SupervisionOrder.basis_at)
        .where(SupervisionOrder.case_id == case.id, SupervisionOrder.stage == STAGE)
        .order_by(SupervisionOrder.id)
    )
    return [tuple(row) for row in rows]


def chain(now) -> dict:
    """The reply chain's orders a sweep at ``now`` writes, by kind (the complaint's on-site
    verification, watched alongside, is left out)."""
    result = sweep_escalations(now)
    return {KINDS[level]: n for (stage, level), n in result.orders.items() if stage == STAGE}


def test_each_step_of_the_chain_comes_once_at_its_instant(app):
    world = make_world()
    # Monday 1 June 10:00, a utility complaint: the caller must hear back within 24 hours (Tue 10:00).
    case = complaint(world, reply_limit_kind="utility").case
    due = local(2026, 6, 2, 10)
    assert _watch(case).due_at == due
    # The first sweep computes the reminder's instant: 80 % of the 24 hours, Tuesday 05:12.
    assert chain(T0) == {}
    assert _watch(case).next_at == local(2026, 6, 2, 5, 12)
    assert chain(local(2026, 6, 2, 5, 11)) == {}
    assert chain(local(2026, 6, 2, 5, 12)) == {"hotline_reminder": 1}
    # The reminder notice: the next working day's first office hour (Wednesday 08:00) …
    assert chain(local(2026, 6, 3, 7, 59)) == {}
    assert chain(local(2026, 6, 3, 8)) == {"hotline_notice": 1}
    notice = db.session.scalar(select(SupervisionOrder).where(SupervisionOrder.kind == "hotline_notice"))
    assert notice.stage == STAGE
    assert notice.reply_required and {r.role for r in notice.recipients} == {"hotline_operator", "shift_leader"}
    # … and written criticism five working days after it (Thu 4, Fri 5, Mon 8, Tue 9, Wed 10 June).
    assert chain(local(2026, 6, 10, 17, 59)) == {}
    assert chain(local(2026, 6, 10, 18)) == {"hotline_criticism": 1}
    assert _orders(case) == [("hotline_reminder", due), ("hotline_notice", due), ("hotline_criticism", due)]
    assert _watch(case) is None
    assert chain(local(2026, 7, 1, 9)) == {}


def test_an_answered_caller_ends_the_chain(app):
    world = make_world()
    result = complaint(world, reply_limit_kind="utility")
    sweep_escalations(local(2026, 6, 2, 5, 30))
    reply_to_caller(result.order, world.user("hotline_operator"), note="已派单处理", now=local(2026, 6, 2, 6))
    assert _watch(result.case) is None
    assert chain(local(2026, 6, 20, 9)) == {}
    assert [kind for kind, _ in _orders(result.case)] == ["hotline_reminder"]


def test_catch_up_writes_the_missed_steps_once(app):
    world = make_world()
    case = complaint(world, reply_limit_kind="emergency").case  # 2 hours: due Monday 12:00
    assert chain(local(2026, 6, 4, 9)) == {"hotline_reminder": 1, "hotline_notice": 1}
    assert chain(local(2026, 6, 4, 9)) == {}
    assert _watch(case).next_at == local(2026, 6, 9, 18)


def test_the_hotline_desk_sees_the_reminder_in_its_inbox(app):
    world = make_world()
    complaint(world, reply_limit_kind="utility")
    sweep_escalations(local(2026, 6, 2, 5, 12))
    kinds = [o.kind for o in db.session.scalars(inbox_orders(world.user("hotline_operator")))]
    assert kinds == ["hotline_reminder"]
    assert list(db.session.scalars(inbox_orders(world.outsiders["hotline_operator"]))) == []
