"""Evaluation periods (考核周期): ISO weeks, months, quarters, years and custom date ranges.

A period is a span of whole local days in the city's time zone, ``start`` inclusive and
``end`` exclusive (midnight local time). Its ``key`` is stable and sortable within a kind —
"2026-W47", "2026-11", "2026-Q4", "2026", "2026-11-03..2026-11-20" — so notices,
snapshots and URLs can name a period, and ``Period.parse(key)`` gives it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, has_app_context
from flask_babel import gettext as _

from gridops.errors import ValidationFailed
from gridops.worktime import DEFAULT_TIMEZONE

KINDS = ("week", "month", "quarter", "year", "custom")
#: Longest custom period, in days (ten years): bounds the work one request may ask for.
MAX_CUSTOM_DAYS = 3660
#: Years a period may lie in: keeps "previous" and "last year" inside the calendar.
FIRST_YEAR, LAST_YEAR = 1971, 2999

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
_CUSTOM = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


def city_zone() -> ZoneInfo:
    """The city's time zone: the app's ``GRIDOPS_TIMEZONE``, or the default outside an app."""
    name = current_app.config.get("GRIDOPS_TIMEZONE", DEFAULT_TIMEZONE) if has_app_context() else DEFAULT_TIMEZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


@dataclass(frozen=True)
class Period:
    """A span of local days ``[first_day, end_day)`` of one kind."""

    kind: str
    first_day: date
    #: The day after the last day of the period.
    end_day: date

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValidationFailed.field("period", _("must be one of %(values)s", values=", ".join(KINDS)))
        if self.first_day.year < FIRST_YEAR or self.end_day.year > LAST_YEAR:
            raise ValidationFailed.field(
                "period", _("must lie between %(first)d and %(last)d", first=FIRST_YEAR, last=LAST_YEAR)
            )
        if self.end_day <= self.first_day:
            raise ValidationFailed.field("period", _("must end after it starts"))
        if (self.end_day - self.first_day).days > MAX_CUSTOM_DAYS:
            raise ValidationFailed.field("period", _("at most %(count)d days", count=MAX_CUSTOM_DAYS))

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def week(cls, year: int, week: int) -> Period:
        """ISO week ``week`` of ISO year ``year`` (Monday to Sunday)."""
        try:
            first = date.fromisocalendar(year, week, 1)
        except ValueError:
            raise ValidationFailed.field("period", _("no such week")) from None
        return cls("week", first, first + timedelta(days=7))

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        if not 1 <= month <= 12 or not FIRST_YEAR <= year <= LAST_YEAR:
            raise ValidationFailed.field("period", _("no such month"))
        first = date(year, month, 1)
        return cls("month", first, _add_months(first, 1))

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        if not 1 <= quarter <= 4 or not FIRST_YEAR <= year <= LAST_YEAR:
            raise ValidationFailed.field("period", _("no such quarter"))
        first = date(year, 3 * quarter - 2, 1)
        return cls("quarter", first, _add_months(first, 3))

    @classmethod
    def year(cls, year: int) -> Period:
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise ValidationFailed.field("period", _("no such year"))
        return cls("year", date(year, 1, 1), date(year + 1, 1, 1))

    @classmethod
    def custom(cls, first_day: date, last_day: date) -> Period:
        """The days from ``first_day`` to ``last_day``, both included."""
        if last_day < first_day:
            raise ValidationFailed.field("period", _("must end after it starts"))
        return cls("custom", first_day, last_day + timedelta(days=1))

    @classmethod
    def containing(cls, kind: str, at: datetime | date) -> Period:
        """The period of ``kind`` (not custom) that contains the instant or local day ``at``."""
        day = at.astimezone(city_zone()).date() if isinstance(at, datetime) else at
        if kind == "week":
            iso = day.isocalendar()
            return cls.week(iso.year, iso.week)
        if kind == "month":
            return cls.month(day.year, day.month)
        if kind == "quarter":
            return cls.quarter(day.year, (day.month - 1) // 3 + 1)
        if kind == "year":
            return cls.year(day.year)
        raise ValidationFailed.field("period", _("must be one of %(values)s", values="week, month, quarter, year"))

    @classmethod
    def last_closed(cls, kind: str, now: datetime) -> Period:
        """The most recent period of ``kind`` that had ended by ``now``."""
        return cls.containing(kind, now).previous()

    @classmethod
    def parse(cls, key: str) -> Period:
        """The period named by ``key`` (see the module docstring); ValidationFailed if none."""
        if not isinstance(key, str):
            raise ValidationFailed.field("period", _("must be text"))
        key = key.strip()
        try:
            if m := _WEEK.match(key):
                return cls.week(int(m[1]), int(m[2]))
            if m := _MONTH.match(key):
                return cls.month(int(m[1]), int(m[2]))
            if m := _QUARTER.match(key):
                return cls.quarter(int(m[1]), int(m[2]))
            if m := _YEAR.match(key):
                return cls.year(int(m[1]))
            if m := _CUSTOM.match(key):
                return cls.custom(date.fromisoformat(m[1]), date.fromisoformat(m[2]))
        except ValueError:
            pass
        raise ValidationFailed.field(
            "period", _("must look like 2026-W47, 2026-11, 2026-Q4, 2026 or 2026-11-01..2026-11-15")
        )

    # -- navigation --------------------------------------------------------------------------

    def previous(self) -> Period:
        """The period of the same kind just before (a custom one: the same number of days)."""
        if self.kind == "custom":
            length = self.end_day - self.first_day
            return Period("custom", self.first_day - length, self.first_day)
        return Period.containing(self.kind, self.first_day - timedelta(days=1))

    def next(self) -> Period:
        """The period of the same kind just after."""
        if self.kind == "custom":
            length = self.end_day - self.first_day
            return Period("custom", self.end_day, self.end_day + length)
        return Period.containing(self.kind, self.end_day)

    def same_period_last_year(self) -> Period:
        """The same week number, month, quarter or year, or the same dates, a year earlier."""
        if self.kind == "week":
            year = self.first_day.isocalendar().year - 1
            week = min(self.first_day.isocalendar().week, date(year, 12, 28).isocalendar().week)
            return Period.week(year, week)
        if self.kind == "custom":
            return Period("custom", _add_months(self.first_day, -12), _add_months(self.end_day, -12))
        return Period.containing(self.kind, _add_months(self.first_day, -12))

    # -- instants ----------------------------------------------------------------------------

    @property
    def start(self) -> datetime:
        """Local midnight starting the period, in the city zone."""
        return datetime.combine(self.first_day, time.min, tzinfo=city_zone())

    @property
    def end(self) -> datetime:
        """Local midnight ending the period (exclusive), in the city zone."""
        return datetime.combine(self.end_day, time.min, tzinfo=city_zone())

    @property
    def start_utc(self) -> datetime:
        return self.start.astimezone(timezone.utc)

    @property
    def end_utc(self) -> datetime:
        return self.end.astimezone(timezone.utc)

    @property
    def last_day(self) -> date:
        return self.end_day - timedelta(days=1)

    def is_closed(self, now: datetime) -> bool:
        """The period has ended by ``now``: its figures may be frozen."""
        return now >= self.end

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end

    # -- names -------------------------------------------------------------------------------

    @property
    def key(self) -> str:
        if self.kind == "week":
            iso = self.first_day.isocalendar()
            return f"{iso.year:04d}-W{iso.week:02d}"
        if self.kind == "month":
            return f"{self.first_day.year:04d}-{self.first_day.month:02d}"
        if self.kind == "quarter":
            return f"{self.first_day.year:04d}-Q{(self.first_day.month - 1) // 3 + 1}"
        if self.kind == "year":
            return f"{self.first_day.year:04d}"
        return f"{self.first_day.isoformat()}..{self.last_day.isoformat()}"

    def __str__(self) -> str:
        return self.key

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "kind": self.kind,
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


def _add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, clamped to the month's last day (29 Feb → 28 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")
