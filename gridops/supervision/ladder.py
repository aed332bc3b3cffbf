"""The escalation ladder of a running stage: when each step comes, in the stage's own clock.

Step 0 is the yellow warning (即将超期) at the city's yellow share of the stage's budget;
steps 1–3 are the timeout order levels: 1 past the due time, 2 after a further share of the
limit (at least some working days), 3 some working days after level 2 (domain.md §6).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from gridops.supervision.policy import EscalationPolicy, hour_clock
from gridops.worktime import CityClock, ClockType

LAST_STEP = 3


def _hours(delta: timedelta) -> Decimal:
    return Decimal(delta // timedelta(microseconds=1)) / Decimal(3_600_000_000)


def _after(city: CityClock, start: datetime, amount: timedelta, clock: ClockType) -> datetime:
    """``amount`` of ``clock``'s time after ``start``."""
    if amount <= timedelta(0):
        return start
    return city.due_at(start, _hours(amount), hour_clock(clock))


def step_times(
    city: CityClock, policy: EscalationPolicy, started_at: datetime, due_at: datetime, clock: str
) -> tuple[datetime, datetime, datetime, datetime]:
    """The instants of steps 0–3 of a stage that started at ``started_at`` and is due at ``due_at``."""
    clock = ClockType(clock)
    budget = city.elapsed(started_at, due_at, clock) if due_at > started_at else timedelta(0)
    thresholds = city.thresholds[clock]
    yellow = _after(city, started_at, budget * thresholds.yellow, clock)
    red = due_at if thresholds.red == 1 or not budget else _after(city, started_at, budget * thresholds.red, clock)
    level2 = _after(city, red, budget * policy.level2_share, clock)
    if policy.level2_min_working_days:
        level2 = max(level2, city.due_at(red, policy.level2_min_working_days, ClockType.WORKING_DAYS))
    level3 = city.due_at(level2, policy.level3_working_days, ClockType.WORKING_DAYS)
    return min(yellow, red), red, level2, level3
