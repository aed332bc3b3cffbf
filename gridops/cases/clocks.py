"""Stage clocks of a case: due times per stage (domain.md §6) and the colour computed on read.

Each open state has one running stage with a clock type and a due time: verification
(24 urgent hours from the report), registration (a city setting: 1 working hour, 2 in the
urban-rural fringe), dispatch and signing (1 working hour each),
handling (the filing standard's limit from dispatch, moved by extensions and suspensions)
and the on-site check (2 working hours from feedback). A suspended case's clock stands
still, so its colour is the one it had when it was suspended.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from gridops.cases.models import Case, CasePause
from gridops.cases.states import State
from gridops.extensions import db
from gridops.catalogue.services import get_city_clock
from gridops.worktime import CityClock, ClockType, Colour
from gridops.worktime.store import registration_limits

REGISTER_CLOCK = ClockType.WORKING_HOURS
DISPATCH_LIMIT = (1, ClockType.WORKING_HOURS)
SIGN_LIMIT = (1, ClockType.WORKING_HOURS)
CHECK_LIMIT = (2, ClockType.WORKING_HOURS)
#: Urgent hours are continuous time, so this stage's due time is plain arithmetic (also in SQL).
VERIFY_HOURS = 24
VERIFY_LIMIT = (VERIFY_HOURS, ClockType.URGENT_HOURS)


def city_clock() -> CityClock:
    """The city's configured clock (calendar overrides, office hours, warning thresholds)."""
    return get_city_clock()


def stage_due(start: datetime, limit: tuple[int, ClockType]) -> datetime:
    """When a stage of ``limit`` (value, clock) started at ``start`` is due."""
    value, clock = limit
    return city_clock().due_at(start, value, clock)


def register_limit(in_fringe: bool) -> tuple[float, ClockType]:
    """The registration limit (a city setting) for a case in the urban-rural fringe or not."""
    return registration_limits().hours(in_fringe), REGISTER_CLOCK


def handling_limit(case: Case) -> tuple[int, ClockType]:
    """The handling limit of the case's filing standard (or its small class's first active one)."""
    standard = case.standard
    if standard is None:
        standard = next(s for s in case.small_class.standards if s.active)
    return standard.limit_value, ClockType(standard.limit_clock)


def pauses_of(case: Case) -> list[tuple[datetime, datetime | None]]:
    """The case's suspension intervals, oldest first (an open one ends with None)."""
    rows = db.session.execute(
        select(CasePause.started_at, CasePause.ended_at)
        .where(CasePause.case_id == case.id)
        .order_by(CasePause.started_at)
    )
    return [(started, ended) for started, ended in rows]


def shift_past_pause(due: datetime, clock: ClockType, started: datetime, ended: datetime) -> datetime:
    """``due`` moved later by a suspension from ``started`` to ``ended``, measured on ``clock``.

    The clock time left at the suspension is counted again from its end, so an extended due
    time moves as faithfully as the standard's one. A case already overdue stays where it was.
    """
    if due <= started:
        return due
    city = city_clock()
    remaining = city.elapsed(started, due, clock)
    if remaining <= timedelta(0):
        return ended
    hours = Decimal(remaining // timedelta(microseconds=1)) / Decimal(3_600_000_000)
    hour_clock = ClockType.WORKING_HOURS if clock.counts_working_time else ClockType.URGENT_HOURS
    return city.due_at(ended, hours, hour_clock)


def current_stage(case: Case) -> tuple[datetime, datetime, ClockType] | None:
    """(start, due, clock) of the stage the case is in now; None when no clock runs for it."""
    state = case.state_enum
    if state is State.VERIFYING:
        return case.reported_at, case.reported_at + timedelta(hours=VERIFY_HOURS), VERIFY_LIMIT[1]
    if state is State.REPORTED and case.register_due_at:
        return case.reported_at, case.register_due_at, REGISTER_CLOCK
    if state is State.REGISTERED and case.dispatch_due_at:
        return case.registered_at, case.dispatch_due_at, DISPATCH_LIMIT[1]
    if state is State.DISPATCHED and case.sign_due_at:
        return case.dispatched_at, case.sign_due_at, SIGN_LIMIT[1]
    if state in (State.HANDLING, State.SUSPENDED) and case.handle_due_at:
        return case.dispatched_at, case.handle_due_at, handling_limit(case)[1]
    if state is State.HANDLED and case.check_due_at:
        return case.handled_at, case.check_due_at, CHECK_LIMIT[1]
    return None


#: The fixed limit of each stage other than registration (a city setting) and handling (the standard's).
FIXED_LIMITS = {
    State.VERIFYING: VERIFY_LIMIT,
    State.REGISTERED: DISPATCH_LIMIT,
    State.DISPATCHED: SIGN_LIMIT,
    State.HANDLED: CHECK_LIMIT,
}


def case_colour(case: Case, now: datetime) -> str:
    """green / yellow / red for the current stage, computed at ``now``; "" when no clock runs.

    Yellow once the clock time left is at most the city's yellow share of the stage's budget
    (by default 20 % left), red once past the due time. The budget is the stage's limit; for
    handling it is the clock time from dispatch to the due time, so extensions and suspensions
    count, and a suspended case keeps the colour it had when it was suspended.
    """
    stage = current_stage(case)
    if stage is None:
        return ""
    start, due, clock = stage
    city = city_clock()
    state = case.state_enum
    if state in FIXED_LIMITS:
        budget = timedelta(hours=FIXED_LIMITS[state][0])
    elif state is State.REPORTED:
        budget = timedelta(hours=register_limit(case.in_fringe)[0])
    else:
        pauses = []
        for started, ended in pauses_of(case):
            if ended is None:
                now = min(now, started)
            else:
                pauses.append((started, ended))
        budget = city.elapsed(start, due, clock, paused=pauses) if due > start else timedelta(0)
    if now > due:
        return Colour.RED.value
    left = city.elapsed(now, due, clock)
    if left <= budget * (1 - city.thresholds[clock].yellow):
        return Colour.YELLOW.value
    return Colour.GREEN.value
