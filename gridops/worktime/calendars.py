"""Which dates are working days: the State Council calendar (with 调休) plus administrators' overrides."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import chinese_calendar
from chinese_calendar import Holiday
from chinese_calendar import constants as _official

from gridops.errors import ValidationFailed

#: Years the installed ``chinesecalendar`` release knows, both ends included.
OFFICIAL_YEARS = range(min(_official.holidays).year, max(_official.holidays).year + 1)


@dataclass(frozen=True)
class DayOverride:
    """An administrator's ruling on one date: working or not, and why."""

    day: date
    working: bool
    note: str = ""


@dataclass(frozen=True)
class DayInfo:
    """What the calendar says about a date and why.

    ``source`` is ``official`` (the State Council calendar), ``override``, ``entered`` (the
    Monday–Friday rule of a year an administrator has entered) or ``provisional`` (Monday–Friday
    in a year nobody has entered yet, until its holidays are); ``holiday`` is the festival the date belongs to or,
    on an adjusted working day, the festival it makes up for (``holiday.chinese`` names it).
    """

    day: date
    working: bool
    source: str
    holiday: Holiday | None = None
    note: str = ""


class WorkCalendar:
    """Working days: overrides first, then the official calendar, then Monday–Friday.

    ``extra_years`` are years the library does not know that an administrator has entered:
    their holidays and adjusted working Saturdays/Sundays come as overrides, every other day
    follows Monday–Friday. Any other year outside ``OFFICIAL_YEARS`` also follows Monday–Friday,
    but provisionally (``is_provisional``), so clocks never stop while warnings ask for it.
    """

    def __init__(self, overrides: Iterable[DayOverride] = (), *, extra_years: Iterable[int] = ()):
        self.extra_years = frozenset(extra_years)
        self.known_years = frozenset(OFFICIAL_YEARS) | self.extra_years
        self.overrides: dict[date, DayOverride] = {}
        for override in overrides:
            if not isinstance(override.day, date) or isinstance(override.day, datetime):
                raise ValidationFailed.field("overrides", f"{override.day!r} is not a date")
            if override.day in self.overrides:
                raise ValidationFailed.field("overrides", f"{override.day} is given twice")
            self.overrides[override.day] = override

    def is_provisional(self, year: int) -> bool:
        """Whether ``year`` is neither in the official calendar nor entered by an administrator."""
        return year not in self.known_years

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day."""
        override = self.overrides.get(day)
        if override is not None:
            return override.working
        if day.year in OFFICIAL_YEARS:
            return chinese_calendar.is_workday(day)
        return day.weekday() < 5

    def day_info(self, day: date) -> DayInfo:
        """The ruling on ``day`` with its source, festival and override note."""
        working = self.is_working_day(day)
        override = self.overrides.get(day)
        if override is not None:
            return DayInfo(day, working, "override", note=override.note)
        if day.year in self.extra_years and day.year not in OFFICIAL_YEARS:
            return DayInfo(day, working, "entered")
        if day.year not in OFFICIAL_YEARS:
            return DayInfo(day, working, "provisional")
        name = (_official.workdays if working else _official.holidays).get(day)
        return DayInfo(day, working, "official", Holiday(name) if name else None)
