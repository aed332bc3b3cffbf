"""Calendars and the four clock types of domain.md §6, as pure functions of their configuration.

Public API
----------
``WorkCalendar(overrides=(), *, extra_years=())``
    Working days per the State Council calendar, adjusted working weekends (调休) included,
    seeded from the ``chinesecalendar`` library for ``OFFICIAL_YEARS`` (2004–2026 in release
    1.11). ``DayOverride(day, working, note)`` entries win over it. A year the library does not
    know yet is *entered* once an administrator lists it in ``extra_years`` after entering its
    holidays and adjusted working days as overrides (other days: Monday–Friday). Any other
    year follows Monday–Friday *provisionally* (``DayInfo.source == "provisional"``,
    ``is_provisional(year)``) so that deadlines never block; warnings ask for its holidays.
    ``is_working_day(day)``, ``day_info(day) -> DayInfo``.

``WorkSchedule(hours=DEFAULT_HOURS, seasons=())``
    Office hours of a working day (default 08:00–12:00, 14:00–18:00); a ``Season(name,
    first=(month, day), last=(month, day), hours)`` replaces them on its dates each year and
    may run across New Year. Intervals must be ordered and disjoint, seasons must not overlap
    (``ValidationFailed``). ``from_dict``/``to_dict`` give the stored JSON form;
    ``hours_on(day)``.

``CityClock(calendar=None, schedule=None, *, timezone="Asia/Shanghai", thresholds=None)``
    The city's clocks. ``clock`` arguments are ``ClockType`` members or their values
    ``urgent_hours``, ``working_hours``, ``working_days``, ``natural_days``; ``limit`` is in
    hours or whole days accordingly. Datetimes go in aware (naive ones raise
    ``ValidationFailed``) and come out in UTC; ``paused`` is an iterable of (start, end)
    suspensions, excluded from elapsed time and pushing due times later.

    - ``due_at(start, limit, clock, *, paused=()) -> datetime``: the earliest instant the
      limit is used up. Hour limits count clock time (working time only inside the office
      hours of working days). Day limits follow the civil-code period rule: the start day does
      not count and the period ends with the N-th day after it — for ``working_days`` at the
      end of the office hours of the N-th working day after the start's local date (dispatched
      Monday 10:00 with 1 working day: due Tuesday 18:00; Friday evening or Saturday: due
      Monday 18:00), for ``natural_days`` at midnight ending the N-th calendar day after it.
    - ``elapsed(start, end, clock, *, paused=()) -> timedelta``: clock time, i.e. wall time
      for ``urgent_hours``/``natural_days`` and working time for ``working_hours``/
      ``working_days``. It is additive over adjacent spans; for hour clocks
      ``elapsed(s, due_at(s, L)) == L`` hours exactly.
    - ``fraction_used(start, limit, clock, at, *, paused=()) -> float``: elapsed clock time
      over the limit's budget (the clock time from ``start`` to the unpaused due time), so
      1.0 exactly at ``due_at``; this is how day clocks convert to their unit.
    - ``threshold_at(start, limit, clock, fraction, *, paused=()) -> datetime``: when a
      fraction of the limit is used (0.8 for a reminder, 1.5 for escalation).
    - ``status_colour(start, limit, clock, now, *, paused=(), thresholds=None) -> Colour``:
      green before ``threshold_at(yellow)``, yellow from it, red once ``now`` is past
      ``threshold_at(red)``. ``Thresholds(yellow=0.8, red=1.0)``, per clock type in the
      constructor's ``thresholds`` mapping, or per call.
    - ``working_intervals(day)``: a local date's office hours in UTC (empty if not working).
    - ``provisional_years(today=None, *, years_ahead=1)``: the years from today's to
      ``years_ahead`` later that still run on the provisional Monday–Friday rule.

Each call is O(log days + years spanned): per-year tables of cumulative working time are
built once per ``CityClock`` (keep one per city configuration and reuse it).
"""

from gridops.worktime.calendars import (
    OFFICIAL_YEARS,
    DayInfo,
    DayOverride,
    WorkCalendar,
)
from gridops.worktime.clocks import DEFAULT_TIMEZONE, CityClock, ClockType, Colour, Thresholds
from gridops.worktime.schedules import DEFAULT_HOURS, Season, WorkSchedule

__all__ = [
    "DEFAULT_HOURS",
    "DEFAULT_TIMEZONE",
    "OFFICIAL_YEARS",
    "CityClock",
    "ClockType",
    "Colour",
    "DayInfo",
    "DayOverride",
    "Season",
    "Thresholds",
    "WorkCalendar",
    "WorkSchedule",
]
