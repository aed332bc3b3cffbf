"""Escalation of every stage of a case: verification, registration, dispatch, signing, the on-site check.

Each stage's watch starts when the case enters it, raises the yellow warning and the timeout
orders of levels 1–3 at their working-time instants to the stage's owner and the linkage chain
above, ends when the case moves on, and never writes an order twice (T0: Monday 1 June 2026,
10:00 in the city).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gridops.cases.models import Case
from gridops.cases.services import file_case
from gridops.extensions import db
from gridops.supervision.models import EscalationWatch, SupervisionOrder, SupervisionRecipient
from gridops.supervision.queries import inbox_orders
from gridops.supervision.services import sweep_escalations
from gridops.territory.models import ResponsibilityGrid
from tests.case_factories import GRID1_XY, T0, act, make_case, make_staff, make_world
from tests.factories import PASSWORD
from tests.test_escalation import local
from tests.test_scheduler import _in_threads, _needs_postgres


def _watch(case, stage: str) -> EscalationWatch | None:
    db.session.expire_all()
    return db.session.get(EscalationWatch, (case.id, stage))


def _stage_orders(case, stage: str) -> list[tuple[str, int]]:
    rows = db.session.execute(
        select(SupervisionOrder.kind, SupervisionOrder.level)
        .where(SupervisionOrder.case_id == case.id, SupervisionOrder.stage == stage)
        .order_by(SupervisionOrder.level)
    )
    return [tuple(row) for row in rows]


def _recipients(case, stage: str, level: int) -> set[tuple]:
    """(department, area, role, user) of each addressee of the stage's order at ``level``."""
    r = SupervisionRecipient
    rows = db.session.execute(
        select(r.department_id, r.area_id, r.role, r.user_id)
        .join(SupervisionOrder)
        .where(SupervisionOrder.case_id == case.id, SupervisionOrder.stage == stage, SupervisionOrder.level == level)
    )
    return {tuple(row) for row in rows}


def _sweep(now, stage: str) -> dict[int, int]:
    """The orders of ``stage`` a sweep at ``now`` writes, by level."""
    return {level: n for (name, level), n in sweep_escalations(now).orders.items() if name == stage}


SHIFT_LEADERS = (None, None, "shift_leader", None)
LEADERS = (None, None, "leader", None)


def _area(world, key: str) -> tuple:
    return (None, world.areas[key].id, None, None)


def _person(user) -> tuple:
    return (None, None, None, user.id)


# ---------------------------------------------------------------------------------------------
# Registration and dispatch: the command and supervision centre's


def test_registration_climbs_the_ladder_to_the_centre_and_the_areas_above(app):
    world = make_world()
    # A patrol report filed Monday 10:00 must be registered within 1 working hour: due 11:00.
    case = make_case("reported", world=world, now=T0)
    watch = _watch(case, "registration")
    assert (watch.next_step, watch.next_at, watch.due_at) == (0, local(2026, 6, 1, 10, 48), local(2026, 6, 1, 11))
    assert _sweep(local(2026, 6, 1, 10, 47), "registration") == {}
    assert _sweep(local(2026, 6, 1, 10, 48), "registration") == {0: 1}
    intake = (None, None, "intake_operator", None)
    assert _recipients(case, "registration", 0) == {intake}
    assert _sweep(local(2026, 6, 1, 11), "registration") == {1: 1}
    assert _recipients(case, "registration", 1) == {intake, SHIFT_LEADERS}
    # Level 2: half an hour after the due time, but at least one working day: Tuesday 18:00.
    assert _sweep(local(2026, 6, 2, 17, 59), "registration") == {}
    assert _sweep(local(2026, 6, 2, 18), "registration") == {2: 1}
    assert _recipients(case, "registration", 2) == {SHIFT_LEADERS, _area(world, "community")}
    # Level 3: three working days after level 2.
    assert _sweep(local(2026, 6, 5, 17, 59), "registration") == {}
    assert _sweep(local(2026, 6, 5, 18), "registration") == {3: 1}
    assert _recipients(case, "registration", 3) == {LEADERS, _area(world, "subdistrict")}
    assert _stage_orders(case, "registration") == [("warning", 0), ("timeout", 1), ("timeout", 2), ("timeout", 3)]
    assert _watch(case, "registration") is None
    # The centre's staff of the case's district see it; a district centre elsewhere does not.
    assert {o.level for o in db.session.scalars(inbox_orders(world.user("intake_operator")))} == {0, 1}
    assert list(db.session.scalars(inbox_orders(world.outsiders["intake_operator"]))) == []
    assert list(db.session.scalars(inbox_orders(world.user("dispatcher")))) == []


def test_a_verified_report_is_due_for_registration_from_its_verification(app):
    world = make_world()
    case = make_case("verifying", world=world, now=T0)
    act(world, case, "verify", "grid_worker", photos=True, now=local(2026, 6, 1, 14, 30))
    assert _watch(case, "verification") is None
    watch = _watch(case, "registration")
    assert watch.started_at == local(2026, 6, 1, 14, 30)
    assert (watch.due_at, watch.next_at) == (local(2026, 6, 1, 15, 30), local(2026, 6, 1, 15, 18))


def test_registering_ends_the_registration_watch_and_starts_the_dispatch_one(app):
    world = make_world()
    case = make_case("reported", world=world, now=T0)
    assert _sweep(local(2026, 6, 1, 10, 50), "registration") == {0: 1}
    act(world, case, "register", "intake_operator", now=local(2026, 6, 1, 10, 55))
    assert _watch(case, "registration") is None
    # Dispatch within 1 working hour of registration: due 11:55, yellow at 11:43.
    watch = _watch(case, "dispatch")
    assert (watch.due_at, watch.next_at) == (local(2026, 6, 1, 11, 55), local(2026, 6, 1, 11, 43))
    assert _sweep(local(2026, 6, 30, 9), "registration") == {}
    assert _stage_orders(case, "registration") == [("warning", 0)]


def test_dispatch_orders_go_to_the_dispatchers(app):
    world = make_world()
    case = make_case("registered", world=world, now=T0)
    assert _sweep(local(2026, 6, 1, 11), "dispatch") == {0: 1, 1: 1}
    dispatchers = (None, None, "dispatcher", None)
    assert _recipients(case, "dispatch", 0) == {dispatchers}
    assert _recipients(case, "dispatch", 1) == {dispatchers, SHIFT_LEADERS}
    assert {o.stage for o in db.session.scalars(inbox_orders(world.user("dispatcher")))} == {"dispatch"}
    assert list(db.session.scalars(inbox_orders(world.outsiders["dispatcher"]))) == []
    # A return approved later sends the case back to dispatch with a new due time: a new cycle.
    act(world, case, "dispatch", "dispatcher", unit=True, now=local(2026, 6, 1, 11, 10))
    assert _watch(case, "dispatch") is None
    act(world, case, "request_return", "unit_staff", reason="不归我单位", now=local(2026, 6, 1, 11, 20))
    act(world, case, "approve_return", "shift_leader", now=local(2026, 6, 1, 11, 30))
    assert _watch(case, "signing") is None and _watch(case, "handling") is None
    # 1 working hour from 11:30 across the lunch break: due 14:30.
    assert _watch(case, "dispatch").due_at == local(2026, 6, 1, 14, 30)
    assert _sweep(local(2026, 6, 1, 14, 30), "dispatch") == {0: 1, 1: 1}
    bases = db.session.scalars(
        select(SupervisionOrder.basis_at).where(SupervisionOrder.stage == "dispatch").order_by(SupervisionOrder.id)
    ).all()
    assert bases == [local(2026, 6, 1, 11)] * 2 + [local(2026, 6, 1, 14, 30)] * 2


# ---------------------------------------------------------------------------------------------
# Signing: the holding unit's


def test_signing_is_watched_beside_handling_and_ends_when_the_unit_signs(app):
    world = make_world()
    case = make_case("dispatched", world=world, now=T0)
    assert _watch(case, "signing").due_at == local(2026, 6, 1, 11)
    assert _watch(case, "handling").due_at == local(2026, 6, 1, 16)
    result = sweep_escalations(local(2026, 6, 1, 11))
    assert result.orders == {("signing", 0): 1, ("signing", 1): 1}
    unit = (world.unit.id, None, None, None)
    assert _recipients(case, "signing", 0) == {unit}
    assert _recipients(case, "signing", 1) == {unit, SHIFT_LEADERS}
    act(world, case, "sign", "unit_staff", now=local(2026, 6, 1, 11, 30))
    assert _watch(case, "signing") is None
    assert _watch(case, "handling").next_step == 0
    # Level 2 of signing never comes; handling climbs on its own ladder.
    assert _sweep(local(2026, 6, 2, 18), "signing") == {}
    assert _stage_orders(case, "signing") == [("warning", 0), ("timeout", 1)]
    assert _stage_orders(case, "handling") == [("warning", 0), ("timeout", 1), ("timeout", 2)]


def test_signing_level_2_goes_to_the_units_leader(app):
    from tests.factories import make_department

    world = make_world()
    parent = make_department("SAN00", "城管局", "sanitation")
    world.unit.parent_id = parent.id
    case = make_case("dispatched", world=world, now=T0)
    assert _sweep(local(2026, 6, 2, 18), "signing") == {0: 1, 1: 1, 2: 1}
    assert _recipients(case, "signing", 2) == {(parent.id, None, None, None), _area(world, "community")}


# ---------------------------------------------------------------------------------------------
# On-site verification and check: the assigned grid worker's, and their grid chief's


@pytest.fixture
def chief(app):
    """A world whose grid worker's responsibility grid has a grid chief (网格长); (world, chief)."""
    world = make_world()
    chief = make_staff("chief", "area_lead", area=world.areas["community"])
    grid = db.session.scalar(select(ResponsibilityGrid).where(ResponsibilityGrid.code == "RG001"))
    grid.chief_id = chief.id
    db.session.flush()
    return world, chief


def test_verification_runs_24_hours_and_reaches_the_grid_worker_then_the_chief(chief):
    world, chief = chief
    # A hotline report at Monday 10:00: verification within 24 hours (day and night), due Tuesday 10:00.
    case = make_case("verifying", world=world, now=T0)
    assert case.assignee_id == world.user("grid_worker").id
    watch = _watch(case, "verification")
    assert (watch.due_at, watch.next_at, watch.clock) == (local(2026, 6, 2, 10), local(2026, 6, 2, 5, 12), "urgent_hours")
    assert _sweep(local(2026, 6, 2, 5, 12), "verification") == {0: 1}
    worker = _person(world.user("grid_worker"))
    assert _recipients(case, "verification", 0) == {worker}
    assert _sweep(local(2026, 6, 2, 10), "verification") == {1: 1}
    assert _recipients(case, "verification", 1) == {worker, SHIFT_LEADERS}
    # Level 2: 12 hours after the due time, but at least a working day: Wednesday 18:00.
    assert _sweep(local(2026, 6, 3, 17, 59), "verification") == {}
    assert _sweep(local(2026, 6, 3, 18), "verification") == {2: 1}
    assert _recipients(case, "verification", 2) == {_person(chief), _area(world, "community")}
    assert _sweep(local(2026, 6, 8, 18), "verification") == {3: 1}
    # The worker and the chief see their orders by name; another grid worker sees none.
    assert {o.level for o in db.session.scalars(inbox_orders(world.user("grid_worker")))} == {0, 1}
    assert {o.level for o in db.session.scalars(inbox_orders(chief))} >= {2}
    assert list(db.session.scalars(inbox_orders(world.outsiders["grid_worker"]))) == []


def test_a_report_in_a_grid_without_a_worker_warns_the_shift_leaders(app):
    from tests.case_factories import GRID4_XY

    world = make_world()
    case = make_case("verifying", world=world, xy=GRID4_XY, now=T0)
    assert case.assignee_id is None
    assert _sweep(local(2026, 6, 2, 10), "verification") == {0: 1, 1: 1}
    assert _recipients(case, "verification", 0) == {SHIFT_LEADERS}
    assert _recipients(case, "verification", 1) == {SHIFT_LEADERS}


def test_the_check_is_watched_from_feedback_and_ends_with_it(chief):
    world, chief = chief
    case = make_case("handled", world=world, now=T0)
    assert _watch(case, "handling") is None
    # The on-site check within 2 working hours of the feedback: due 12:00, yellow 11:36.
    watch = _watch(case, "check")
    assert (watch.due_at, watch.next_at) == (local(2026, 6, 1, 12), local(2026, 6, 1, 11, 36))
    assert _sweep(local(2026, 6, 1, 12), "check") == {0: 1, 1: 1}
    assert _recipients(case, "check", 1) == {_person(world.user("grid_worker")), SHIFT_LEADERS}
    assert _sweep(local(2026, 6, 2, 18), "check") == {2: 1}
    assert _recipients(case, "check", 2) == {_person(chief), _area(world, "community")}
    act(world, case, "check_pass", "grid_worker", photos=True, now=local(2026, 6, 3, 9))
    assert _watch(case, "check") is None
    assert _sweep(local(2026, 6, 30, 9), "check") == {}
    assert _stage_orders(case, "check") == [("warning", 0), ("timeout", 1), ("timeout", 2)]


# ---------------------------------------------------------------------------------------------
# Exactly once


def test_a_stage_entered_again_with_the_same_due_time_goes_on_from_where_it_was(app):
    """Rework after a failed check returns to handling with its old due time: the warning and
    level 1 already written are not written again; level 2 comes in its time."""
    world = make_world()
    case = make_case("handling", world=world, now=T0)
    assert _sweep(local(2026, 6, 1, 16), "handling") == {0: 1, 1: 1}
    act(world, case, "feedback", "unit_staff", photos=True, note="已清理", now=local(2026, 6, 1, 16, 30))
    act(world, case, "check_fail", "grid_worker", photos=True, reason="仍有垃圾", now=local(2026, 6, 1, 16, 40))
    watch = _watch(case, "handling")
    assert (watch.next_step, watch.next_at) == (2, local(2026, 6, 2, 18))
    assert _sweep(local(2026, 6, 2, 17), "handling") == {}
    assert _sweep(local(2026, 6, 2, 18), "handling") == {2: 1}
    assert _stage_orders(case, "handling") == [("warning", 0), ("timeout", 1), ("timeout", 2)]


def test_a_case_moved_on_without_its_watch_following_is_ended_at_the_next_look(app):
    case = make_case("reported", now=T0)
    # A change made outside the services (data repair): the case is cancelled, its watch left behind.
    db.session.execute(Case.__table__.update().where(Case.id == case.id).values(state="cancelled"))
    result = sweep_escalations(local(2026, 6, 1, 11))
    assert result.created == 0 and result.ended == 1
    assert _watch(case, "registration") is None


def test_every_stage_once_however_often_the_sweep_runs(app):
    world = make_world()
    cases = [make_case(state, world=world, now=T0) for state in ("verifying", "reported", "registered", "dispatched",
                                                                 "handled")]
    first = sweep_escalations(local(2026, 6, 10, 9))
    # Every stage's four steps (the dispatched case: signing and handling).
    assert first.created == 6 * 4
    for _ in range(2):
        assert sweep_escalations(local(2026, 6, 10, 9)).created == 0
    db.session.commit()
    assert sweep_escalations(local(2026, 7, 1, 9)).created == 0
    assert db.session.scalar(select(func.count()).select_from(SupervisionOrder)) == 24
    assert db.session.scalar(select(func.count()).select_from(EscalationWatch)) == 0
    stages = {o.case_id: set() for o in db.session.scalars(select(SupervisionOrder))}
    for order in db.session.scalars(select(SupervisionOrder)):
        stages[order.case_id].add(order.stage)
    assert [stages[c.id] for c in cases] == [
        {"verification"}, {"registration"}, {"dispatch"}, {"signing", "handling"}, {"check"},
    ]


def test_two_concurrent_sweeps_write_each_stage_order_once(app):
    _needs_postgres(app)
    world = make_world()
    for _ in range(8):
        for state in ("verifying", "reported", "registered", "dispatched", "handled"):
            make_case(state, world=world, now=T0)
    db.session.commit()
    # Tuesday 10:00: the warning and level 1 of every stage (two stages of each dispatched case).
    now = local(2026, 6, 2, 10)
    results = _in_threads(app, 2, lambda i: sweep_escalations(now, batch_size=5).created)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(results) == 8 * 6 * 2
    db.session.expire_all()
    counted = db.session.execute(
        select(SupervisionOrder.stage, func.count()).group_by(SupervisionOrder.stage)
    ).all()
    assert dict(counted) == {stage: 16 for stage in ("verification", "registration", "dispatch", "signing",
                                                     "handling", "check")}


# ---------------------------------------------------------------------------------------------
# Filing, pages, API


def test_filing_starts_the_first_watch_and_a_self_handled_report_none(app):
    from tests.case_factories import make_photos

    world = make_world()
    patrol = make_case("reported", world=world, now=T0)
    assert _watch(patrol, "registration").next_step == 0
    fixed = file_case(world.user("grid_worker"), source="patrol", case_type="event", small_class_code="0102",
                      x=GRID1_XY[0], y=GRID1_XY[1], datum="gcj02", self_handled=True, photos=make_photos(), now=T0)
    assert fixed.state == "closed"
    assert db.session.scalar(select(func.count()).select_from(EscalationWatch)
                             .where(EscalationWatch.case_id == fixed.id)) == 0


def test_orders_name_their_stage_on_the_pages_and_in_the_api(chief, client, auth):
    from gridops.auth.tokens import issue_token

    world, _chief = chief
    make_case("verifying", world=world, now=T0)
    sweep_escalations(local(2026, 6, 2, 10))
    token = issue_token(world.user("grid_worker"), "tablet")[1]
    db.session.commit()
    items = client.get("/api/v1/supervision/orders", headers={"Authorization": f"Bearer {token}"}).get_json()["items"]
    assert [(o["kind"], o["stage"], o["level"]) for o in items] == [("timeout", "verification", 1),
                                                                    ("warning", "verification", 0)]
    assert items[0]["title"] == "超时督办单（第 1 级）（现场核实）"
    assert items[0]["instruction"].startswith("现场核实自 ") and "请立即现场核实" in items[0]["instruction"]
    assert len(items[0]["recipients"]) == 2 and items[0]["recipients"][0] == "Grid_Worker"
    auth.login("grid_worker", PASSWORD)
    page = client.get("/supervision/inbox").get_data(as_text=True)
    assert "超时督办单（第 1 级）（现场核实）" in page and "即将超期提醒（现场核实）" in page


def test_the_weekly_list_counts_a_level_3_of_the_stage_the_case_is_in(app):
    from gridops.evaluation.notices import _level3_ordered

    world = make_world()
    waiting, registered = (make_case("reported", world=world, now=T0) for _ in range(2))
    assert _sweep(local(2026, 6, 5, 18), "registration") == {0: 2, 1: 2, 2: 2, 3: 2}
    act(world, registered, "register", "intake_operator", now=local(2026, 6, 5, 18, 30))
    assert _level3_ordered([waiting.id, registered.id], local(2026, 6, 7, 23)) == {waiting.id: ["registration"]}
