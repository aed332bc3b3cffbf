"""A hand-built month of cases (June 2026) whose every indicator is worked out by hand.

Cases are written as rows with the exact times and counters the workflow would leave, so
each figure in tests/test_indicators.py can be checked against the table below.

| case | source  | grid  | reported | registered (due)   | dispatched → unit  | handle due | handled | closed (on time) | state      |
|------|---------|-------|----------|--------------------|--------------------|------------|---------|------------------|------------|
| A    | patrol  | 1     | 6/2 10   | 6/2 10:30 (11:00)  | 6/2 11 → unit      | 6/3 15     | 6/3 10  | 6/3 14 (yes)     | closed     |
| B    | patrol  | 1     | 6/4 10   | 6/4 12 (11:00)     | 6/4 14 → unit      | 6/5 18     | 6/6 10  | 6/6 12 (no)      | closed     |
| C    | leader  | 1     | 6/10 8   | 6/10 9 (10:00)     | 6/10 10 → unit     | 6/12 18    | —       | —                | handling   |
| D    | patrol  | 1     | 6/15 9   | 6/15 9:30 (10:00)  | 6/15 10 → unit     | 6/20 18    | —       | —  (paused 6/18) | suspended  |
| E    | hotline | 1     | 6/20 8   | 6/20 9 (10:00)     | 6/20 10 → other    | 7/10 18    | 6/24 10 | 6/25 10 (yes)    | closed     |
| F    | patrol  | 4     | 6/25 9   | —                  | —                  | —          | —       | —                | cancelled  |
| G    | patrol  | 1     | 5/20 9   | 5/20 9:30 (10:00)  | 5/20 10 → unit     | 5/25 18    | —       | —                | handling   |
| H    | patrol  | 1     | 6/5 9    | —                  | —                  | —          | —       | —                | merged     |
| I    | public  | other | 6/8 9    | —                  | —                  | —          | —       | —                | verifying  |
| J    | patrol  | 2     | 6/28 9   | —                  | —                  | —          | —       | —                | reported   |
| K    | patrol  | 1     | 6/26 9   | 6/26 9:30 (10:00)  | 6/26 10 → unit     | 6/29 18    | 6/28 10 | 7/2 10 (yes)     | closed     |
| L    | hotline | 1     | 5/1 9    | 5/1 9:30 (10:00)   | 5/1 10 → unit      | 5/4 18     | 5/4 10  | 5/5 10 (yes)     | closed     |
| M    | patrol  | 2     | 6/7 10   | 6/7 10 (11:00)     | — (self-handled)   | —          | —       | 6/7 10 (yes)     | closed     |

Events in June: dispatches A, B (to other 6/4 12:30, returned 6/4 13:00, again to unit
6/4 14:00), C, D, E (to unit 6/20 9:30, re-dispatched to other 10:00), K; checks A pass
6/3, B fail 6/5 then pass 6/6, C fail 6/11, G's third failure 6/12 (its second was 5/28),
E pass 6/25. Hotline: E followed up 6/26 satisfied, L followed up 6/3 dissatisfied; E has
two contacts in June, one a repeat; L one contact in May.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from gridops.cases.models import Case, CaseEvent, CasePause
from gridops.catalogue.models import SmallClass
from gridops.extensions import db
from gridops.hotline.models import HotlineContact, HotlineOrder
from tests.case_factories import World, make_world

CITY = timezone(timedelta(hours=8))


def local(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A time of 2026 in the city, as aware UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=CITY).astimezone(timezone.utc)


@dataclass
class June:
    world: World
    cases: dict[str, Case]


def make_june() -> June:
    world = make_world()
    areas, unit, other = world.areas, world.unit, world.other_unit
    users = world.users
    other_community = db.session.scalar(
        select(type(areas["city"])).where(type(areas["city"]).code == "411303001001")
    )
    small_class = db.session.scalar(select(SmallClass).where(SmallClass.code == "0102", SmallClass.case_type == "event"))
    cases: dict[str, Case] = {}

    def add(name, source, where, reported, state, *, reporter="grid_worker", **fields):
        area = other_community if where == "other" else areas[f"grid{where}"]
        case = Case(
            number=f"20260601{len(cases) + 1:04d}",
            source=source,
            case_type="event",
            small_class_id=small_class.id,
            area_id=area.id,
            area_path=area.path,
            unit_grid_id=None if where == "other" else area.id,
            reporter_id=users[reporter].id,
            state=state,
            reported_at=reported,
            **fields,
        )
        db.session.add(case)
        db.session.flush()
        cases[name] = case
        return case

    add("A", "patrol", 1, local(6, 2, 10), "closed",
        registered_at=local(6, 2, 10, 30), register_due_at=local(6, 2, 11),
        dispatched_at=local(6, 2, 11), holder_department_id=unit.id, handle_due_at=local(6, 3, 15),
        handled_at=local(6, 3, 10), closed_at=local(6, 3, 14), closed_on_time=True, dispatch_count=1)
    add("B", "patrol", 1, local(6, 4, 10), "closed",
        registered_at=local(6, 4, 12), register_due_at=local(6, 4, 11),
        dispatched_at=local(6, 4, 14), holder_department_id=unit.id, handle_due_at=local(6, 5, 18),
        handled_at=local(6, 6, 10), closed_at=local(6, 6, 12), closed_on_time=False,
        dispatch_count=2, return_count=1, rework_count=1)
    add("C", "leader", 1, local(6, 10, 8), "handling", reporter="leader",
        registered_at=local(6, 10, 9), register_due_at=local(6, 10, 10),
        dispatched_at=local(6, 10, 10), holder_department_id=unit.id, handle_due_at=local(6, 12, 18),
        dispatch_count=1, rework_count=1)
    add("D", "patrol", 1, local(6, 15, 9), "suspended",
        registered_at=local(6, 15, 9, 30), register_due_at=local(6, 15, 10),
        dispatched_at=local(6, 15, 10), holder_department_id=unit.id, handle_due_at=local(6, 20, 18),
        dispatch_count=1)
    add("E", "hotline", 1, local(6, 20, 8), "closed", reporter="hotline_operator",
        registered_at=local(6, 20, 9), register_due_at=local(6, 20, 10),
        dispatched_at=local(6, 20, 10), holder_department_id=other.id, handle_due_at=local(7, 10, 18),
        handled_at=local(6, 24, 10), closed_at=local(6, 25, 10), closed_on_time=True, dispatch_count=2)
    add("F", "patrol", 4, local(6, 25, 9), "cancelled")
    add("G", "patrol", 1, local(5, 20, 9), "handling",
        registered_at=local(5, 20, 9, 30), register_due_at=local(5, 20, 10),
        dispatched_at=local(5, 20, 10), holder_department_id=unit.id, handle_due_at=local(5, 25, 18),
        dispatch_count=1, rework_count=3)
    add("H", "patrol", 1, local(6, 5, 9), "merged", merged_into_id=cases["A"].id)
    add("I", "public", "other", local(6, 8, 9), "verifying", reporter="hotline_operator")
    add("J", "patrol", 2, local(6, 28, 9), "reported", register_due_at=local(6, 28, 10))
    add("K", "patrol", 1, local(6, 26, 9), "closed",
        registered_at=local(6, 26, 9, 30), register_due_at=local(6, 26, 10),
        dispatched_at=local(6, 26, 10), holder_department_id=unit.id, handle_due_at=local(6, 29, 18),
        handled_at=local(6, 28, 10), closed_at=local(7, 2, 10), closed_on_time=True, dispatch_count=1)
    add("L", "hotline", 1, local(5, 1, 9), "closed", reporter="hotline_operator",
        registered_at=local(5, 1, 9, 30), register_due_at=local(5, 1, 10),
        dispatched_at=local(5, 1, 10), holder_department_id=unit.id, handle_due_at=local(5, 4, 18),
        handled_at=local(5, 4, 10), closed_at=local(5, 5, 10), closed_on_time=True, dispatch_count=1)
    add("M", "patrol", 2, local(6, 7, 10), "closed",
        registered_at=local(6, 7, 10), register_due_at=local(6, 7, 11),
        closed_at=local(6, 7, 10), closed_on_time=True, self_handled=True)

    db.session.add(CasePause(case_id=cases["D"].id, started_at=local(6, 18, 9)))

    def event(name, action, at, **payload):
        db.session.add(CaseEvent(case_id=cases[name].id, at=at, action=action, payload=payload or None))

    event("A", "dispatch", local(6, 2, 11), unit_id=unit.id)
    event("B", "dispatch", local(6, 4, 12, 30), unit_id=other.id)
    event("B", "approve_return", local(6, 4, 13), from_unit_id=other.id, dispatch_inaccurate=True)
    event("B", "dispatch", local(6, 4, 14), unit_id=unit.id)
    event("C", "dispatch", local(6, 10, 10), unit_id=unit.id)
    event("D", "dispatch", local(6, 15, 10), unit_id=unit.id)
    event("E", "dispatch", local(6, 20, 9, 30), unit_id=unit.id)
    event("E", "redispatch", local(6, 20, 10), unit_id=other.id, from_unit_id=unit.id)
    event("K", "dispatch", local(6, 26, 10), unit_id=unit.id)
    event("G", "dispatch", local(5, 20, 10), unit_id=unit.id)
    event("L", "dispatch", local(5, 1, 10), unit_id=unit.id)
    event("A", "check_pass", local(6, 3, 14))
    event("B", "check_fail", local(6, 5, 9), rework=1)
    event("B", "check_pass", local(6, 6, 12))
    event("C", "check_fail", local(6, 11, 9), rework=1)
    event("G", "check_fail", local(5, 28, 9), rework=2)
    event("G", "check_fail", local(6, 12, 9), rework=3)
    event("E", "check_pass", local(6, 25, 10))
    event("K", "check_pass", local(7, 2, 10))

    def order(name, reply_due_at, replied_at, followup_due_at, followed_up_at, satisfaction):
        db.session.add(HotlineOrder(
            case_id=cases[name].id, reply_limit_kind="general", reply_due_at=reply_due_at, replied_at=replied_at,
            followup_due_at=followup_due_at, followed_up_at=followed_up_at, satisfaction=satisfaction,
        ))

    # E: replied in time, called back late; L: replied late (in June), called back in time.
    order("E", local(6, 22, 9), local(6, 21, 9), local(6, 25, 18), local(6, 26, 9), "satisfied")
    order("L", local(5, 8, 9), local(6, 2, 9), local(6, 5, 18), local(6, 3, 9), "dissatisfied")

    def contact(name, at, repeat=False):
        db.session.add(HotlineContact(case_id=cases[name].id, phone="+8613800000000", channel="phone",
                                      content="路边垃圾", contacted_at=at, repeat=repeat))

    contact("E", local(6, 20, 8))
    contact("E", local(6, 21, 8), repeat=True)
    contact("L", local(5, 1, 9))
    db.session.flush()
    return June(world, cases)
