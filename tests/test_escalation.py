"""Escalation: the ladder's instants in working time, the sweep's orders, exactly once, catch-up."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from gridops.cases.models import Case
from gridops.extensions import db
from gridops.supervision.ladder import step_times
from gridops.supervision.models import EscalationWatch, SupervisionOrder, SupervisionRecipient
from gridops.supervision.policy import EscalationPolicy, escalation_policy, set_escalation_policy
from gridops.supervision.services import sweep_escalations
from gridops.worktime import CityClock
from tests.case_factories import T0, act, make_case, make_world

CITY = ZoneInfo("Asia/Shanghai")


def local(*args) -> datetime:
    """An instant given in the city's local time, as UTC."""
    return datetime(*args, tzinfo=CITY).astimezone(timezone.utc)


# ---------------------------------------------------------------------------------------------
# The ladder (pure: the city clock with the official calendar and default office hours)


@pytest.mark.parametrize(
    ("started", "due", "clock", "expected"),
    [
        pytest.param(
            # 4 working hours from Monday 10:00: due 16:00 after the lunch break; yellow at 3.2 h
            # (15:12); level 2 one working day after the due time (more than 50 % = 2 h);
            # level 3 three working days after level 2.
            local(2026, 6, 1, 10), local(2026, 6, 1, 16), "working_hours",
            [local(2026, 6, 1, 15, 12), local(2026, 6, 1, 16), local(2026, 6, 2, 18), local(2026, 6, 5, 18)],
            id="lunch-break",
        ),
        pytest.param(
            # Thursday 16:00 before the Dragon Boat holiday (Fri 19 – Sun 21 June 2026): the
            # clock sleeps over the night and the holiday; due Monday 10:00.
            local(2026, 6, 18, 16), local(2026, 6, 22, 10), "working_hours",
            [local(2026, 6, 22, 9, 12), local(2026, 6, 22, 10), local(2026, 6, 23, 18), local(2026, 6, 26, 18)],
            id="night-and-holiday",
        ),
        pytest.param(
            # Wednesday 30 September 17:00, into the National Day week: due Thursday 8 October
            # 11:00; Saturday 10 October is an adjusted working day (调休), so level 3 after
            # Fri 9 (level 2) counts Sat 10, Mon 12, Tue 13.
            local(2026, 9, 30, 17), local(2026, 10, 8, 11), "working_hours",
            [local(2026, 10, 8, 10, 12), local(2026, 10, 8, 11), local(2026, 10, 9, 18), local(2026, 10, 13, 18)],
            id="golden-week-and-adjusted-saturday",
        ),
        pytest.param(
            # 5 working days from Monday 1 June 10:00: due Monday 8 June 18:00, a budget of 46
            # working hours; 50 % (23 h) is more than one working day: level 2 Thursday 11 June
            # 17:00; level 3 Tuesday 16 June 18:00. Yellow at 36.8 h: Friday 5 June 16:48.
            local(2026, 6, 1, 10), local(2026, 6, 8, 18), "working_days",
            [local(2026, 6, 5, 16, 48), local(2026, 6, 8, 18), local(2026, 6, 11, 17), local(2026, 6, 16, 18)],
            id="working-days-share",
        ),
        pytest.param(
            # Urgent hours run day and night: 2 h from Saturday 23:00 is due Sunday 01:00; yellow
            # at 00:36; level 2 is still at least one working day: Monday 18:00.
            local(2026, 6, 6, 23), local(2026, 6, 7, 1), "urgent_hours",
            [local(2026, 6, 7, 0, 36), local(2026, 6, 7, 1), local(2026, 6, 8, 18), local(2026, 6, 11, 18)],
            id="urgent-hours-weekend",
        ),
    ],
)
def test_ladder_instants_follow_working_time(started, due, clock, expected):
    assert list(step_times(CityClock(), EscalationPolicy(), started, due, clock)) == expected


def test_ladder_reads_configured_policy():
    policy = EscalationPolicy(level2_share=0.5, level2_min_working_days=0, level3_working_days=1)
    times = step_times(CityClock(), policy, local(2026, 6, 1, 10), local(2026, 6, 1, 16), "working_hours")
    # Without the one-working-day floor level 2 is 2 working hours after 16:00; level 3 the next day.
    assert times[2:] == (local(2026, 6, 1, 18), local(2026, 6, 2, 18))


def test_policy_is_city_data(app):
    set_escalation_policy(None, {"level3_working_days": 5, "reply_hours": {"timeout1": 2}})
    policy = escalation_policy()
    assert policy.level3_working_days == 5
    assert policy.reply_limit("timeout", 1) == 2
    assert policy.reply_limit("timeout", 2) == 8


@pytest.mark.parametrize(
    "data",
    [{"level2_share": -1}, {"level3_working_days": 0}, {"nonsense": 1}, {"reply_hours": {"timeout1": "x"}}],
)
def test_policy_refuses_bad_values(app, data):
    from gridops.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        set_escalation_policy(None, data)


# ---------------------------------------------------------------------------------------------
# The sweep on real cases (T0: Monday 1 June 2026 10:00; exposed garbage, 4 working hours)


def _orders(case: Case) -> list[tuple[str, int]]:
    rows = db.session.execute(
        select(SupervisionOrder.kind, SupervisionOrder.level)
        .where(SupervisionOrder.case_id == case.id)
        .order_by(SupervisionOrder.level)
    )
    return [tuple(row) for row in rows]


def _recipients(case: Case, level: int) -> set:
    rows = db.session.execute(
        select(SupervisionRecipient.department_id, SupervisionRecipient.area_id, SupervisionRecipient.role)
        .join(SupervisionOrder)
        .where(SupervisionOrder.case_id == case.id, SupervisionOrder.level == level)
    )
    return {tuple(row) for row in rows}


def _watch(case: Case) -> EscalationWatch | None:
    db.session.expire_all()
    return db.session.get(EscalationWatch, (case.id, "handling"))


def test_dispatch_starts_the_watch_at_the_yellow_instant(app):
    case = make_case("dispatched", now=T0)
    watch = _watch(case)
    assert (watch.next_step, watch.next_at, watch.due_at) == (0, local(2026, 6, 1, 15, 12), local(2026, 6, 1, 16))


def test_each_level_at_its_instant_with_its_recipients(app):
    world = make_world()
    case = make_case("handling", world=world, now=T0)
    areas = world.areas
    assert sweep_escalations(local(2026, 6, 1, 15, 11)).created == 0
    assert sweep_escalations(local(2026, 6, 1, 15, 12)).orders == {("handling", 0): 1}
    assert _recipients(case, 0) == {(world.unit.id, None, None)}
    assert sweep_escalations(local(2026, 6, 1, 15, 59)).created == 0
    assert sweep_escalations(local(2026, 6, 1, 16)).orders == {("handling", 1): 1}
    assert _recipients(case, 1) == {(world.unit.id, None, None), (None, None, "shift_leader")}
    # The night and the next working day pass before level 2 (one working day after the due time).
    assert sweep_escalations(local(2026, 6, 2, 17, 59)).created == 0
    assert sweep_escalations(local(2026, 6, 2, 18)).orders == {("handling", 2): 1}
    # The unit has no parent unit, so its own head is addressed; the next area up is the community.
    assert _recipients(case, 2) == {(world.unit.id, None, None), (None, areas["community"].id, None)}
    assert sweep_escalations(local(2026, 6, 5, 17)).created == 0
    assert sweep_escalations(local(2026, 6, 5, 18)).orders == {("handling", 3): 1}
    assert _recipients(case, 3) == {(None, None, "leader"), (None, areas["subdistrict"].id, None)}
    assert _orders(case) == [("warning", 0), ("timeout", 1), ("timeout", 2), ("timeout", 3)]
    assert _watch(case) is None
    order = db.session.scalar(select(SupervisionOrder).where(SupervisionOrder.case_id == case.id, SupervisionOrder.level == 1))
    # Level 1 asks for a reply within 4 working hours of the sweep (16:00 → next day 10:00).
    assert order.reply_required and order.reply_due_at == local(2026, 6, 2, 10)
    assert order.basis_at == local(2026, 6, 1, 16)


def test_a_long_limit_is_looked_at_again_until_its_exact_level_2(app):
    """After level 1 the sweep looks again at the working-day floor; the 50 % share may come later."""
    world = make_world()
    # Illegal outdoor advertising: 5 working days from Monday 1 June 10:00, due Monday 8 June 18:00;
    # level 2 (50 % = 23 working hours) Thursday 11 June 17:00, after the floor (Tuesday 9 June 18:00).
    case = make_case("handling", world=world, small_class_code="0203", now=T0)
    assert case.handle_due_at == local(2026, 6, 8, 18)
    assert sweep_escalations(local(2026, 6, 8, 18)).orders == {("handling", 0): 1, ("handling", 1): 1}
    assert _watch(case).next_at == local(2026, 6, 9, 18)
    assert sweep_escalations(local(2026, 6, 9, 18)).created == 0
    assert _watch(case).next_at == local(2026, 6, 11, 17)
    assert sweep_escalations(local(2026, 6, 11, 16, 59)).examined == 0
    assert sweep_escalations(local(2026, 6, 11, 17)).orders == {("handling", 2): 1}
    assert _watch(case).next_at == local(2026, 6, 16, 18)


def test_catch_up_after_downtime_writes_every_missed_level_once(app):
    case = make_case("handling", now=T0)
    result = sweep_escalations(local(2026, 6, 10, 9))
    assert result.orders == {("handling", 0): 1, ("handling", 1): 1, ("handling", 2): 1, ("handling", 3): 1}
    assert sweep_escalations(local(2026, 6, 10, 9)).created == 0
    assert sweep_escalations(local(2026, 6, 30, 9)).created == 0
    assert len(_orders(case)) == 4


def test_rerunning_over_the_same_period_creates_nothing_twice(app):
    case = make_case("handling", now=T0)
    for _ in range(3):
        sweep_escalations(local(2026, 6, 1, 16, 30))
    db.session.commit()
    sweep_escalations(local(2026, 6, 1, 16, 30))
    assert _orders(case) == [("warning", 0), ("timeout", 1)]


def test_a_reset_watch_cannot_duplicate_an_order(app):
    """Even a watch put back by hand to an earlier step cannot write an order twice: the key refuses."""
    from sqlalchemy.exc import IntegrityError

    case = make_case("handling", now=T0)
    sweep_escalations(local(2026, 6, 1, 16))
    db.session.commit()
    watch = _watch(case)
    watch.next_step, watch.next_at = 1, local(2026, 6, 1, 16)
    db.session.commit()
    with pytest.raises(IntegrityError):
        sweep_escalations(local(2026, 6, 1, 16, 30))
    db.session.rollback()
    assert _orders(case) == [("warning", 0), ("timeout", 1)]


def test_sweep_reads_only_due_watches(app):
    world = make_world()
    due = make_case("handling", world=world, now=T0)
    later_cases = [make_case("handling", world=world, now=local(2026, 6, 3, 10)) for _ in range(3)]
    result = sweep_escalations(local(2026, 6, 1, 16))
    assert result.examined == 1
    assert len(_orders(due)) == 2
    assert all(_orders(c) == [] for c in later_cases)


def test_sweep_works_in_batches(app):
    world = make_world()
    cases = [make_case("handling", world=world, now=T0) for _ in range(5)]
    result = sweep_escalations(local(2026, 6, 1, 16), batch_size=2)
    assert result.examined == 5
    assert result.orders == {("handling", 0): 5, ("handling", 1): 5}
    assert all(_watch(c).next_step == 2 for c in cases)


def test_closing_ends_the_watch_and_no_order_follows(app):
    world = make_world()
    case = make_case("closed", world=world, now=T0)
    assert _watch(case) is None
    assert db.session.scalar(select(func.count()).select_from(EscalationWatch)) == 0
    assert sweep_escalations(local(2026, 6, 30, 9)).created == 0


def test_suspension_stops_and_resumption_restarts_the_ladder(app):
    world = make_world()
    case = make_case("suspended", world=world, now=T0)
    assert _watch(case) is None
    assert sweep_escalations(local(2026, 6, 1, 17)).created == 0
    # Resumed Tuesday 10:00: the 4 working hours left at the suspension count again from then.
    act(world, case, "resume", "shift_leader", note="资金到位", now=local(2026, 6, 2, 10))
    watch = _watch(case)
    assert watch.due_at == case.handle_due_at == local(2026, 6, 2, 16)
    assert watch.next_step == 0


def test_approved_extension_starts_a_new_cycle(app):
    world = make_world()
    case = make_case("handling", world=world, now=T0)
    sweep_escalations(local(2026, 6, 1, 15, 30))
    act(world, case, "request_extension", "unit_staff", reason="需要吊车", due_at=local(2026, 6, 3, 16),
        now=local(2026, 6, 1, 15, 40))
    act(world, case, "approve_extension", "shift_leader", now=local(2026, 6, 1, 15, 50))
    assert _watch(case).due_at == local(2026, 6, 3, 16)
    assert sweep_escalations(local(2026, 6, 1, 16, 30)).created == 0
    sweep_escalations(local(2026, 6, 3, 16))
    orders = db.session.execute(
        select(SupervisionOrder.level, SupervisionOrder.basis_at).where(SupervisionOrder.case_id == case.id)
        .order_by(SupervisionOrder.id)
    ).all()
    assert [tuple(o) for o in orders] == [
        (0, local(2026, 6, 1, 16)), (0, local(2026, 6, 3, 16)), (1, local(2026, 6, 3, 16)),
    ]


def test_a_case_that_moved_on_unseen_is_rewatched_from_its_real_due_time(app):
    case = make_case("handling", now=T0)
    # Simulate a change made outside the services (data repair): the watch is stale.
    db.session.execute(
        EscalationWatch.__table__.update().values(due_at=local(2026, 6, 1, 12), next_at=local(2026, 6, 1, 11))
    )
    result = sweep_escalations(local(2026, 6, 1, 11))
    assert result.created == 0
    assert _watch(case).due_at == local(2026, 6, 1, 16)


def test_sweep_without_due_watches_reads_one_range_per_stage(app):
    make_case("handling", now=T0)
    from sqlalchemy import event

    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        sweep_escalations(local(2026, 6, 1, 11))
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    watch_reads = [s for s in statements if "escalation_watch" in s]
    # The handling stage and the hotline reply chain: one index range each, nothing else.
    assert len(watch_reads) == 2
    assert all("escalation_watch.next_at <=" in s for s in watch_reads)


def test_orders_count_in_the_database_not_just_the_result(app):
    make_case("handling", now=T0)
    sweep_escalations(local(2026, 6, 1, 16))
    assert db.session.scalar(select(func.count()).select_from(SupervisionOrder)) == 2
    assert db.session.scalar(select(func.count()).select_from(SupervisionRecipient)) == 3


def test_bulk_writes_line_up_with_their_rows(app):
    """The sweep's bulk insert returns each row's id in the order of the rows (recipients hang on
    them), and the bulk update sets each row's own values (PostgreSQL: arrays, SQLite: executemany)."""
    from gridops.db import bulk_insert, bulk_update

    world = make_world()
    cases = [make_case("handling", world=world, now=T0) for _ in range(3)]
    table = SupervisionOrder.__table__
    rows = [
        dict(case_id=case.id, kind="timeout", level=level, basis_at=T0, instruction="", reply_required=False,
             reply_due_at=None, created_at=T0, department_id=None)
        for level in (3, 1, 2) for case in reversed(cases)
    ]
    ids = bulk_insert(table, rows, returning=table.c.id)
    stored = {
        id_: (case_id, level)
        for id_, case_id, level in db.session.execute(select(table.c.id, table.c.case_id, table.c.level))
    }
    assert [stored[id_] for id_ in ids] == [(row["case_id"], row["level"]) for row in rows]
    moves = [dict(case_id=case.id, stage="handling", next_step=n, next_at=T0 + timedelta(days=n))
             for n, case in enumerate(cases, start=1)]
    bulk_update(EscalationWatch.__table__, moves, keys=["case_id", "stage"])
    assert [(_watch(case).next_step, _watch(case).next_at) for case in cases] == [
        (n, T0 + timedelta(days=n)) for n in (1, 2, 3)
    ]
