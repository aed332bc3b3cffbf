"""The four clock types of domain.md §6: due times, elapsed clock time and warning colours.

Each clock measures time along an axis: wall time for ``urgent_hours`` and ``natural_days``,
working time (inside the schedule's intervals on working days) for ``working_hours`` and
``working_days``. A limit is turned into a *budget* on that axis; ``due_at`` is the earliest
instant at which the unpaused clock time since the start reaches the budget, ``elapsed`` is
the unpaused clock time between two instants, and a fraction of the limit is a fraction of
the budget. Per-year tables of cumulative working time make every call O(log days) plus
O(years spanned), never a walk over minutes.
"""

from __future__ import annotations

import enum
import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gridops.errors import ValidationFailed
from gridops.worktime.calendars import WorkCalendar
from gridops.worktime.schedules import WorkSchedule

UTC = timezone.utc
DEFAULT_TIMEZONE = "Asia/Shanghai"


class ClockType(str, enum.Enum):
    """How a time limit is counted (紧急工作时 / 工作时 / 工作日 / 自然日)."""

    URGENT_HOURS = "urgent_hours"
    WORKING_HOURS = "working_hours"
    WORKING_DAYS = "working_days"
    NATURAL_DAYS = "natural_days"

    @property
    def counts_working_time(self) -> bool:
        return self in (ClockType.WORKING_HOURS, ClockType.WORKING_DAYS)

    @property
    def counts_days(self) -> bool:
        return self in (ClockType.WORKING_DAYS, ClockType.NATURAL_DAYS)


class Colour(str, enum.Enum):
    """Warning level of a running limit: green, yellow (即将超期), red (超期)."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


@dataclass(frozen=True)
class Thresholds:
    """Fractions of a limit at which a case turns yellow (reached) and red (passed)."""

    yellow: float = 0.8
    red: float = 1.0

    def __post_init__(self):
        if not 0 < self.yellow <= self.red:
            raise ValidationFailed.field("thresholds", "need 0 < yellow <= red")


Pause = tuple[datetime, datetime]


@dataclass(frozen=True)
class _Year:
    """One local calendar year of the working axis: intervals per day and running totals."""

    year: int
    first_ordinal: int
    intervals: tuple[tuple[tuple[datetime, datetime], ...], ...]
    starts: tuple[timedelta, ...]
    working_days: tuple[int, ...]

    @property
    def total(self) -> timedelta:
        return self.starts[-1]


class _WallAxis:
    """Plain elapsed time."""

    @staticmethod
    def between(a: datetime, b: datetime) -> timedelta:
        return b - a

    @staticmethod
    def advance(a: datetime, amount: timedelta) -> datetime:
        return a + amount


class _WorkingAxis:
    """Working time: only inside the schedule's intervals on the calendar's working days."""

    def __init__(self, calendar: WorkCalendar, schedule: WorkSchedule, zone: ZoneInfo):
        self.calendar = calendar
        self.schedule = schedule
        self.zone = zone
        self._years: dict[int, _Year] = {}

    def year(self, year: int) -> _Year:
        """The year's table, built once."""
        table = self._years.get(year)
        if table is None:
            table = self._years[year] = self._build(year)
        return table

    def _build(self, year: int) -> _Year:
        first = date(year, 1, 1)
        intervals, starts, working_days = [], [timedelta(0)], []
        day = first
        while day.year == year:
            day_intervals = self._utc_intervals(day) if self.calendar.is_working_day(day) else ()
            if day_intervals:
                working_days.append(len(intervals))
            intervals.append(day_intervals)
            starts.append(starts[-1] + sum((e - s for s, e in day_intervals), timedelta(0)))
            day += timedelta(days=1)
        return _Year(year, first.toordinal(), tuple(intervals), tuple(starts), tuple(working_days))

    def _utc_intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The day's office hours in UTC, kept ordered and disjoint even across a daylight-saving
        jump in a configured zone (local times in the gap map backwards)."""
        result: list[tuple[datetime, datetime]] = []
        for start, end in self.schedule.hours_on(day):
            utc_start, utc_end = (
                datetime.combine(day, t, tzinfo=self.zone).astimezone(UTC) for t in (start, end)
            )
            if result:
                utc_start = max(utc_start, result[-1][1])
            if utc_end > utc_start:
                result.append((utc_start, utc_end))
        return tuple(result)

    def intervals_on(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        table = self.year(day.year)
        return table.intervals[day.toordinal() - table.first_ordinal]

    def _position(self, moment: datetime) -> tuple[int, timedelta]:
        """(local year, working time from that year's start up to ``moment``)."""
        day = moment.astimezone(self.zone).date()
        table = self.year(day.year)
        index = day.toordinal() - table.first_ordinal
        offset = table.starts[index]
        for start, end in table.intervals[index]:
            if moment <= start:
                break
            offset += min(moment, end) - start
        return day.year, offset

    def between(self, a: datetime, b: datetime) -> timedelta:
        year_a, offset_a = self._position(a)
        year_b, offset_b = self._position(b)
        total = offset_b - offset_a
        for year in range(year_a, year_b):
            total += self.year(year).total
        return total

    def advance(self, a: datetime, amount: timedelta) -> datetime:
        """The earliest instant with ``amount`` (> 0) of working time since ``a``."""
        year, offset = self._position(a)
        target = offset + amount
        table = self.year(year)
        while target > table.total:
            target -= table.total
            table = self.year(table.year + 1)
        index = bisect_left(table.starts, target) - 1
        remaining = target - table.starts[index]
        for start, end in table.intervals[index]:
            if remaining <= end - start:
                break
            remaining -= end - start
        return start + remaining

    def end_of_working_day_after(self, day: date, count: int) -> datetime:
        """The end of the ``count``-th (>= 1) working day after ``day``."""
        table = self.year(day.year)
        position = bisect_right(table.working_days, day.toordinal() - table.first_ordinal)
        while position + count > len(table.working_days):
            count -= len(table.working_days) - position
            table = self.year(table.year + 1)
            position = 0
        return table.intervals[table.working_days[position + count - 1]][-1][1]


def _aware(value, field: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValidationFailed.field(field, "must be a datetime")
    if value.utcoffset() is None:
        raise ValidationFailed.field(field, "must be timezone-aware")
    return value.astimezone(UTC)


def _clock_type(clock) -> ClockType:
    try:
        return ClockType(clock)
    except ValueError:
        raise ValidationFailed.field("clock", f"unknown clock type {clock!r}") from None


def _limit_value(limit, clock: ClockType) -> Fraction:
    if isinstance(limit, bool) or not isinstance(limit, (int, float, Decimal)):
        raise ValidationFailed.field("limit", "must be a number")
    try:
        value = Fraction(limit)
    except (ValueError, OverflowError):
        raise ValidationFailed.field("limit", "must be a finite number") from None
    if value <= 0:
        raise ValidationFailed.field("limit", "must be positive")
    if clock.counts_days and value.denominator != 1:
        raise ValidationFailed.field("limit", "must be a whole number of days")
    return value


class CityClock:
    """A city's clocks: its working-day calendar, office hours and time zone.

    Instants go in aware (any zone) and come out aware in UTC; naive datetimes are refused
    with ``ValidationFailed``. ``paused`` is an iterable of (start, end) suspensions; they may
    overlap and extend outside the measured span.
    """

    def __init__(
        self,
        calendar: WorkCalendar | None = None,
        schedule: WorkSchedule | None = None,
        *,
        timezone: str = DEFAULT_TIMEZONE,
        thresholds: dict[ClockType | str, Thresholds] | None = None,
    ):
        self.calendar = calendar or WorkCalendar()
        self.schedule = schedule or WorkSchedule()
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationFailed.field("timezone", f"unknown time zone {timezone!r}") from None
        self.thresholds = {clock: Thresholds() for clock in ClockType}
        self.thresholds.update({_clock_type(c): t for c, t in (thresholds or {}).items()})
        self._working = _WorkingAxis(self.calendar, self.schedule, self.zone)
        self._wall = _WallAxis()

    def provisional_years(self, today: date | None = None, *, years_ahead: int = 1) -> tuple[int, ...]:
        """Years from ``today``'s (local, default now) to ``years_ahead`` later whose working days
        are only provisional Monday–Friday: their holidays still need entering."""
        if today is None:
            today = datetime.now(self.zone).date()
        years = range(today.year, today.year + years_ahead + 1)
        return tuple(year for year in years if self.calendar.is_provisional(year))

    def working_intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The working intervals (UTC) of a local date; empty on a non-working day."""
        return self._working.intervals_on(day)

    def due_at(self, start: datetime, limit, clock, *, paused: Iterable[Pause] = ()) -> datetime:
        """When ``limit`` (hours or days, per ``clock``) runs out for a clock started at ``start``."""
        return self.threshold_at(start, limit, clock, 1, paused=paused)

    def threshold_at(
        self, start: datetime, limit, clock, fraction, *, paused: Iterable[Pause] = ()
    ) -> datetime:
        """The earliest instant at which ``fraction`` of the limit is used (1 = due, 0.8 = yellow)."""
        start = _aware(start, "start")
        clock = _clock_type(clock)
        if (
            isinstance(fraction, bool)
            or not isinstance(fraction, (int, float, Decimal))
            or not math.isfinite(fraction)
            or fraction < 0
        ):
            raise ValidationFailed.field("fraction", "must be a finite number, 0 or more")
        pauses = self._pauses(paused, start)
        budget = self._budget(start, limit, clock) * Fraction(fraction)
        try:
            return self._reach(start, timedelta(microseconds=round(budget)), clock, pauses)
        except OverflowError:
            raise ValidationFailed.field("limit", "is too large") from None

    def elapsed(self, start: datetime, end: datetime, clock, *, paused: Iterable[Pause] = ()) -> timedelta:
        """Clock time from ``start`` to ``end`` less pauses: wall time or working time per ``clock``."""
        start, end = _aware(start, "start"), _aware(end, "end")
        if end < start:
            raise ValidationFailed.field("end", "is before start")
        return self._elapsed(start, end, _clock_type(clock), self._pauses(paused, start, end))

    def fraction_used(
        self, start: datetime, limit, clock, at: datetime, *, paused: Iterable[Pause] = ()
    ) -> float:
        """How much of the limit is used at ``at`` (0 before the start, 1 at the due time)."""
        start, at = _aware(start, "start"), _aware(at, "at")
        clock = _clock_type(clock)
        budget = self._budget(start, limit, clock)
        if at <= start:
            return 0.0
        used = self._elapsed(start, at, clock, self._pauses(paused, start, at))
        return float(Fraction(_microseconds(used)) / budget)

    def status_colour(
        self,
        start: datetime,
        limit,
        clock,
        now: datetime,
        *,
        paused: Iterable[Pause] = (),
        thresholds: Thresholds | None = None,
    ) -> Colour:
        """Green before the yellow threshold, yellow from it, red once past the red threshold.

        Compared as instants, so a limit that ran out at 18:00 on Friday shows red on Saturday
        although no working time has passed since.
        """
        clock = _clock_type(clock)
        thresholds = thresholds or self.thresholds[clock]
        now = _aware(now, "now")
        paused = tuple(paused)
        if now > self.threshold_at(start, limit, clock, thresholds.red, paused=paused):
            return Colour.RED
        if now >= self.threshold_at(start, limit, clock, thresholds.yellow, paused=paused):
            return Colour.YELLOW
        return Colour.GREEN

    def _axis(self, clock: ClockType) -> _WallAxis | _WorkingAxis:
        return self._working if clock.counts_working_time else self._wall

    def _budget(self, start: datetime, limit, clock: ClockType) -> Fraction:
        """The limit as microseconds of clock time from ``start``.

        Day limits follow the civil-code rule for periods (民法典 art. 201, 203): the start
        day does not count, and the period ends with the last day — at the end of its office
        hours for working days, at midnight for natural days.
        """
        value = _limit_value(limit, clock)
        try:
            if clock is ClockType.WORKING_DAYS:
                local_day = start.astimezone(self.zone).date()
                end = self._working.end_of_working_day_after(local_day, int(value))
                return Fraction(_microseconds(self._working.between(start, end)))
            if clock is ClockType.NATURAL_DAYS:
                last_day = start.astimezone(self.zone).date() + timedelta(days=int(value))
                end = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=self.zone)
                return Fraction(_microseconds(end - start))
            return value * 3_600_000_000
        except OverflowError:
            raise ValidationFailed.field("limit", "is too large") from None

    def _pauses(self, paused: Iterable[Pause], start: datetime, end: datetime | None = None) -> list[Pause]:
        """Pauses clipped to [start, end], sorted and merged."""
        clipped = []
        for index, pair in enumerate(paused):
            try:
                pause_start, pause_end = pair
            except (TypeError, ValueError):
                raise ValidationFailed.field(f"paused[{index}]", "must be a (start, end) pair") from None
            pause_start = _aware(pause_start, f"paused[{index}]")
            pause_end = _aware(pause_end, f"paused[{index}]")
            if pause_end < pause_start:
                raise ValidationFailed.field(f"paused[{index}]", "ends before it starts")
            pause_start = max(pause_start, start)
            if end is not None:
                pause_end = min(pause_end, end)
            if pause_start < pause_end:
                clipped.append((pause_start, pause_end))
        merged: list[Pause] = []
        for pause_start, pause_end in sorted(clipped):
            if merged and pause_start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], pause_end))
            else:
                merged.append((pause_start, pause_end))
        return merged

    def _elapsed(self, start: datetime, end: datetime, clock: ClockType, pauses: list[Pause]) -> timedelta:
        axis = self._axis(clock)
        total = axis.between(start, end)
        for pause_start, pause_end in pauses:
            total -= axis.between(pause_start, pause_end)
        return total

    def _reach(self, start: datetime, budget: timedelta, clock: ClockType, pauses: list[Pause]) -> datetime:
        """The earliest instant by which ``budget`` of unpaused clock time has run since ``start``."""
        if budget <= timedelta(0):
            return start
        axis = self._axis(clock)
        current, remaining = start, budget
        for pause_start, pause_end in pauses:
            available = axis.between(current, pause_start)
            if available >= remaining:
                break
            remaining -= available
            current = pause_end
        return axis.advance(current, remaining)


def _microseconds(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
