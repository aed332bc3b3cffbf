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
#: The escalation policy's numbers each step's instant depends on (a change of one of them may move it).
POLICY_KNOBS = {
    2: ("level2_share", "level2_min_working_days"),
    3: ("level2_share", "level2_min_working_days", "level3_working_days"),
}


def _hours(delta: timedelta) -> Decimal:
    return Decimal(delta // timedelta(microseconds=1)) / Decimal(3_600_000_000)


def _after(city: CityClock, start: datetime, amount: timedelta, clock: ClockType) -> datetime:
    """``amount`` of ``clock``'s time after ``start``."""
    if amount <= timedelta(0):
        return start
    return city.due_at(start, _hours(amount), hour_clock(clock))


class Ladder:
    """The instants of steps 0–3 of one running stage, each computed only when asked for (the sweep
    mostly needs the next one or two)."""

    __slots__ = ("city", "policy", "started_at", "due_at", "clock", "_budget", "_times", "_days")

    def __init__(
        self, city: CityClock, policy: EscalationPolicy | None, started_at: datetime, due_at: datetime, clock: str,
        days_memo: dict | None = None,
    ):
        """``policy`` times levels 2 and 3 (None will do for a ladder asked about steps 0 and 1 only)."""
        self.city = city
        self.policy = policy
        self.started_at = started_at
        self.due_at = due_at
        self.clock = ClockType(clock)
        self._budget: timedelta | None = None
        self._times: dict[int, datetime] = {}
        #: Shared by the ladders of one sweep: working-day periods end by the start's local date alone.
        self._days = {} if days_memo is None else days_memo

    def _working_days_after(self, start: datetime, count: int) -> datetime:
        key = (start.astimezone(self.city.zone).date(), count)
        if key not in self._days:
            self._days[key] = self.city.due_at(start, count, ClockType.WORKING_DAYS)
        return self._days[key]

    @property
    def budget(self) -> timedelta:
        """The stage's clock time from its start to its due time."""
        if self._budget is None:
            due, started = self.due_at, self.started_at
            self._budget = self.city.elapsed(started, due, self.clock) if due > started else timedelta(0)
        return self._budget

    def at(self, step: int) -> datetime:
        """When ``step`` comes (0 yellow, 1–3 the timeout levels)."""
        if step not in self._times:
            self._times[step] = self._compute(step)
        return self._times[step]

    def hint(self, step: int) -> datetime:
        """When the sweep should look again for ``step``: its instant if known, else a cheap lower bound.

        Level 2 is never before the working-day floor after the due time, and level 3 follows
        from level 2 by whole working days, so the floor bounds both without measuring the stage's
        budget; the sweep computes the exact instant when it gets there (and looks again later if
        that is still ahead).
        """
        if step in self._times or step < 2 or not self.policy.level2_min_working_days:
            return self.at(step)
        floor = self._working_days_after(self.at(1), self.policy.level2_min_working_days)
        if step == 2:
            return floor
        return self._working_days_after(self._times.get(2, floor), self.policy.level3_working_days)

    def _compute(self, step: int) -> datetime:
        city, policy, clock = self.city, self.policy, self.clock
        thresholds = city.thresholds[clock]
        if step == 0:
            return min(_after(city, self.started_at, self.budget * thresholds.yellow, clock), self.at(1))
        if step == 1:
            if thresholds.red == 1 or not self.budget:
                return self.due_at
            return _after(city, self.started_at, self.budget * thresholds.red, clock)
        if step == 2:
            red = self.at(1)
            level2 = _after(city, red, self.budget * policy.level2_share, clock)
            if policy.level2_min_working_days:
                level2 = max(level2, self._working_days_after(red, policy.level2_min_working_days))
            return level2
        return self._working_days_after(self.at(2), policy.level3_working_days)


def step_times(
    city: CityClock, policy: EscalationPolicy, started_at: datetime, due_at: datetime, clock: str
) -> tuple[datetime, datetime, datetime, datetime]:
    """The instants of steps 0–3 of a stage that started at ``started_at`` and is due at ``due_at``."""
    ladder = Ladder(city, policy, started_at, due_at, clock)
    return tuple(ladder.at(step) for step in range(LAST_STEP + 1))
