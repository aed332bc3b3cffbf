"""A city's office hours on working days: a default set of intervals plus optional seasons."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta

from gridops.errors import ValidationFailed

Hours = tuple[tuple[time, time], ...]

DEFAULT_HOURS: Hours = ((time(8), time(12)), (time(14), time(18)))

_LEAP_YEAR = 2024


def _check_hours(hours: Iterable, where: str) -> Hours:
    """The intervals as a tuple, refused unless non-empty, each start < end, ordered and disjoint."""
    checked: list[tuple[time, time]] = []
    for index, pair in enumerate(hours):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise ValidationFailed.field(f"{where}[{index}]", "must be a (start, end) pair")
        start, end = pair
        if not all(isinstance(t, time) and t.tzinfo is None for t in (start, end)):
            raise ValidationFailed.field(f"{where}[{index}]", "start and end must be local times of day")
        if start >= end:
            raise ValidationFailed.field(f"{where}[{index}]", f"{start:%H:%M} is not before {end:%H:%M}")
        if checked and start < checked[-1][1]:
            raise ValidationFailed.field(
                f"{where}[{index}]", f"starts at {start:%H:%M}, before the previous interval ends"
            )
        checked.append((start, end))
    if not checked:
        raise ValidationFailed.field(where, "at least one working interval is needed")
    return tuple(checked)


def _check_month_day(value, where: str) -> tuple[int, int]:
    """``(month, day)`` refused unless it names a day of a (leap) year."""
    try:
        month, day = value
        date(_LEAP_YEAR, month, day)
    except (TypeError, ValueError):
        raise ValidationFailed.field(where, "must be a valid (month, day)") from None
    return month, day


@dataclass(frozen=True)
class Season:
    """Office hours for the dates from ``first`` to ``last`` (month, day) inclusive, every year.

    A season whose ``last`` comes before its ``first`` runs across New Year (e.g. winter
    1 Oct – 30 Apr).
    """

    name: str
    first: tuple[int, int]
    last: tuple[int, int]
    hours: Hours

    def __post_init__(self):
        where = f"season {self.name!r}"
        if not self.name:
            raise ValidationFailed.field("seasons", "every season needs a name")
        object.__setattr__(self, "first", _check_month_day(self.first, f"{where}.first"))
        object.__setattr__(self, "last", _check_month_day(self.last, f"{where}.last"))
        object.__setattr__(self, "hours", _check_hours(self.hours, f"{where}.hours"))

    def covers(self, day: date) -> bool:
        """Whether ``day`` falls in this season."""
        key = (day.month, day.day)
        if self.first <= self.last:
            return self.first <= key <= self.last
        return key >= self.first or key <= self.last


@dataclass(frozen=True)
class WorkSchedule:
    """Working intervals of a working day: ``hours`` unless a season covers the date."""

    hours: Hours = DEFAULT_HOURS
    seasons: tuple[Season, ...] = field(default=())

    def __post_init__(self):
        object.__setattr__(self, "hours", _check_hours(self.hours, "hours"))
        object.__setattr__(self, "seasons", tuple(self.seasons))
        day = date(_LEAP_YEAR, 1, 1)
        while day.year == _LEAP_YEAR:
            covering = [s.name for s in self.seasons if s.covers(day)]
            if len(covering) > 1:
                raise ValidationFailed.field(
                    "seasons", f"{' and '.join(covering)} both cover {day:%m-%d}"
                )
            day += timedelta(days=1)

    def hours_on(self, day: date) -> Hours:
        """The working intervals that apply on ``day`` if it is a working day."""
        for season in self.seasons:
            if season.covers(day):
                return season.hours
        return self.hours

    @classmethod
    def from_dict(cls, data: Mapping) -> WorkSchedule:
        """Read the stored form: ``{"hours": [["08:00", "12:00"], ...], "seasons": [{"name",
        "from": "MM-DD", "to": "MM-DD", "hours"}]}``."""
        unknown = sorted(str(key) for key in data if key not in ("hours", "seasons"))
        if unknown:
            raise ValidationFailed.field(unknown[0], "unknown field; a schedule has hours and seasons")
        if not isinstance(data.get("seasons", []), list):
            raise ValidationFailed.field("seasons", "must be a list of seasons")
        seasons = []
        for index, season in enumerate(data.get("seasons", ())):
            where = f"seasons[{index}]"
            if not isinstance(season, Mapping):
                raise ValidationFailed.field(where, "must be an object with name, from, to and hours")
            seasons.append(
                Season(
                    name=str(season.get("name", "")),
                    first=_parse_month_day(season.get("from"), f"{where}.from"),
                    last=_parse_month_day(season.get("to"), f"{where}.to"),
                    hours=_parse_hours(season.get("hours", ()), f"{where}.hours"),
                )
            )
        return cls(hours=_parse_hours(data.get("hours", DEFAULT_HOURS), "hours"), seasons=tuple(seasons))

    def to_dict(self) -> dict:
        """The stored form read by ``from_dict``."""
        return {
            "hours": _format_hours(self.hours),
            "seasons": [
                {
                    "name": s.name,
                    "from": f"{s.first[0]:02d}-{s.first[1]:02d}",
                    "to": f"{s.last[0]:02d}-{s.last[1]:02d}",
                    "hours": _format_hours(s.hours),
                }
                for s in self.seasons
            ],
        }


def _parse_hours(value, where: str) -> Hours:
    """``[["08:00", "12:00"], ...]`` (or times already) as checked intervals."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ValidationFailed.field(where, "must be a list of [start, end] pairs of HH:MM times")
    parsed = []
    for index, pair in enumerate(value):
        try:
            start, end = pair
            parsed.append(tuple(t if isinstance(t, time) else time.fromisoformat(t) for t in (start, end)))
        except (TypeError, ValueError):
            raise ValidationFailed.field(f"{where}[{index}]", "must be a pair of HH:MM times") from None
    return _check_hours(parsed, where)


def _parse_month_day(value, where: str) -> tuple[int, int]:
    """``"MM-DD"`` as ``(month, day)``."""
    try:
        month, day = (int(part) for part in str(value).split("-"))
    except ValueError:
        raise ValidationFailed.field(where, "must be MM-DD") from None
    return _check_month_day((month, day), where)


def _format_hours(hours: Hours) -> list[list[str]]:
    """Intervals as ``HH:MM`` strings (with seconds only where a time has them)."""
    return [[_format_time(start), _format_time(end)] for start, end in hours]


def _format_time(value: time) -> str:
    return value.isoformat("auto" if value.second or value.microsecond else "minutes")
