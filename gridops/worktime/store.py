"""The city's working calendar as stored: day overrides, entered years, office hours, thresholds,
and the registration limits (ordinary areas and the urban-rural fringe).

Administrators change them through the services here (each change is kept in the catalogue
history); ``get_city_clock()`` turns them into a ``CityClock``, cached per process and
rebuilt when the settings version (a token rewritten by every change) moves on.
"""

from __future__ import annotations

import secrets
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from flask import current_app, g
from flask_babel import gettext as _
from sqlalchemy import select

from gridops.dates import check_years
from gridops.auth.models import User
from gridops.auth.permissions import is_admin
from gridops.catalogue.models import CatalogueChange
from gridops.db import utcnow
from gridops.errors import NotAllowed, ValidationFailed
from gridops.extensions import db
from gridops.versions import CLOCK_KEY, current_versions, forget_versions
from gridops.worktime.calendars import OFFICIAL_YEARS, DayOverride, WorkCalendar
from gridops.worktime.clocks import CityClock, ClockType, Thresholds
from gridops.worktime.models import CalendarDay, CitySetting
from gridops.worktime.schedules import WorkSchedule

SCHEDULE_KEY = "worktime.schedule"
THRESHOLDS_KEY = "worktime.thresholds"
ENTERED_YEARS_KEY = "worktime.entered_years"
REGISTRATION_KEY = "worktime.registration_limits"
#: Longest registration limit accepted, in working hours (a week of office hours is 40).
REGISTRATION_MAX_HOURS = 80
NOTE_MAX = 128
_EXTENSION_KEY = "gridops.city_clock"
#: Per app context (one request, one job run): the version is checked once, not per call.
_G_KEY = "_gridops_city_clock"


def _check_admin(actor: User | None) -> None:
    """``actor`` None is the command line; anyone else must be an administrator."""
    if actor is not None and not is_admin(actor):
        raise NotAllowed(_("Only administrators may change the working calendar."))


def _setting(key: str) -> CitySetting | None:
    return db.session.get(CitySetting, key)


def put_setting(key: str, value: Any, actor: User | None) -> None:
    """Store one city setting, stamped with who changed it (``actor`` None: the command line) and when."""
    row = _setting(key)
    if row is None:
        row = CitySetting(key=key)
        db.session.add(row)
    row.value = value
    row.changed_by_id = actor.id if actor is not None else None
    row.changed_at = utcnow()


def drop_setting(key: str) -> None:
    """Remove a stored city setting, so its default applies again."""
    row = _setting(key)
    if row is not None:
        db.session.delete(row)


def _bump_version(actor: User | None) -> None:
    """Give the settings a fresh version token, so every process rebuilds its clock."""
    put_setting(CLOCK_KEY, secrets.token_hex(8), actor)
    g.pop(_G_KEY, None)
    forget_versions()


def _day_entity_id(day: date) -> int:
    return int(day.strftime("%Y%m%d"))


def _day_dict(row: CalendarDay) -> dict:
    return {"day": row.day.isoformat(), "working": row.working, "note": row.note}


def _as_date(value, field: str = "day") -> date:
    if isinstance(value, datetime):
        raise ValidationFailed.field(field, _("must be a date, not a date and time"))
    if isinstance(value, date):
        return check_years(value, field)
    if isinstance(value, str):
        try:
            return check_years(date.fromisoformat(value.strip()), field)
        except ValueError:
            pass
    raise ValidationFailed.field(field, _("must be a date as YYYY-MM-DD"))


def set_calendar_day(actor: User | None, day, working, note: str = "") -> CalendarDay:
    """Rule that ``day`` is a working day or not (a holiday, an adjusted working weekend day)."""
    _check_admin(actor)
    day = _as_date(day)
    fields = {}
    if not isinstance(working, bool):
        fields["working"] = _("must be true or false")
    if not isinstance(note, str) or len(note.strip()) > NOTE_MAX or any(ord(c) < 32 for c in note):
        fields["note"] = _("must be one line of text of at most %(count)d characters", count=NOTE_MAX)
    if fields:
        raise ValidationFailed(_("Check the marked fields."), fields)
    row = db.session.get(CalendarDay, day)
    before = _day_dict(row) if row is not None else None
    if row is None:
        row = CalendarDay(day=day)
        db.session.add(row)
    row.working = working
    row.note = note.strip()
    row.changed_by_id = actor.id if actor is not None else None
    row.changed_at = utcnow()
    CatalogueChange.record("calendar_day", _day_entity_id(day), "update" if before else "create", actor, before, _day_dict(row))
    _bump_version(actor)
    db.session.flush()
    return row


def clear_calendar_day(actor: User | None, day) -> None:
    """Remove the override of ``day``, so the official (or Monday–Friday) rule applies again."""
    _check_admin(actor)
    day = _as_date(day)
    row = db.session.get(CalendarDay, day)
    if row is None:
        raise ValidationFailed.field("day", _("%(day)s has no override", day=day.isoformat()))
    CatalogueChange.record("calendar_day", _day_entity_id(day), "delete", actor, _day_dict(row), None)
    db.session.delete(row)
    _bump_version(actor)
    db.session.flush()


def entered_years() -> list[int]:
    """Years past the official calendar whose holidays an administrator has entered."""
    row = _setting(ENTERED_YEARS_KEY)
    return sorted(row.value) if row is not None else []


def enter_calendar_year(actor: User | None, year) -> list[int]:
    """Declare ``year``'s holidays and adjusted working days entered: it stops being provisional."""
    _check_admin(actor)
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2200:
        raise ValidationFailed.field("year", _("must be a year between 1900 and 2200"))
    if year in OFFICIAL_YEARS:
        raise ValidationFailed.field("year", _("%(year)d is in the official calendar already", year=year))
    before = entered_years()
    if year in before:
        raise ValidationFailed.field("year", _("%(year)d is entered already", year=year))
    after = sorted([*before, year])
    put_setting(ENTERED_YEARS_KEY, after, actor)
    CatalogueChange.record("calendar_year", year, "create", actor, {"entered_years": before}, {"entered_years": after})
    _bump_version(actor)
    db.session.flush()
    return after


def work_schedule() -> WorkSchedule:
    """The stored office hours, or the default 08:00–12:00, 14:00–18:00."""
    row = _setting(SCHEDULE_KEY)
    return WorkSchedule.from_dict(row.value) if row is not None else WorkSchedule()


def set_work_schedule(actor: User | None, data: Mapping) -> WorkSchedule:
    """Replace the office hours (``WorkSchedule.to_dict()`` form, seasons included)."""
    _check_admin(actor)
    if not isinstance(data, Mapping):
        raise ValidationFailed.field("schedule", _("must be an object with hours and seasons"))
    schedule = WorkSchedule.from_dict(data)
    before = work_schedule().to_dict()
    put_setting(SCHEDULE_KEY, schedule.to_dict(), actor)
    CatalogueChange.record("schedule", 0, "update", actor, before, schedule.to_dict())
    _bump_version(actor)
    db.session.flush()
    return schedule


def _parse_thresholds(data: Mapping) -> dict[ClockType, Thresholds]:
    clocks = {clock.value: clock for clock in ClockType}
    parsed, fields = {}, {}
    for name, value in data.items():
        field = f"thresholds.{name}"
        if name not in clocks:
            fields[field] = _("must be one of %(values)s", values=", ".join(clocks))
            continue
        if not isinstance(value, Mapping) or set(value) - {"yellow", "red"}:
            fields[field] = _("must be an object with yellow and red fractions")
            continue
        numbers = [value.get(key, default) for key, default in (("yellow", 0.8), ("red", 1.0))]
        if not all(isinstance(n, (int, float)) and not isinstance(n, bool) and 0 < n <= 10 for n in numbers):
            fields[field] = _("yellow and red must be numbers above 0 and at most 10")
            continue
        try:
            parsed[clocks[name]] = Thresholds(float(numbers[0]), float(numbers[1]))
        except ValidationFailed:
            fields[field] = _("yellow must not exceed red")
    if fields:
        raise ValidationFailed(_("Check the marked fields."), fields)
    return parsed


def _thresholds_dict(thresholds: Mapping[ClockType, Thresholds]) -> dict:
    return {clock.value: {"yellow": t.yellow, "red": t.red} for clock, t in thresholds.items()}


def warning_thresholds() -> dict[ClockType, Thresholds]:
    """The stored warning thresholds per clock type (clock types not stored use 0.8 / 1.0)."""
    row = _setting(THRESHOLDS_KEY)
    return _parse_thresholds(row.value) if row is not None else {}


def set_warning_thresholds(actor: User | None, data: Mapping) -> dict[ClockType, Thresholds]:
    """Set the yellow/red fractions of some clock types: ``{"working_hours": {"yellow": 0.75}}``."""
    _check_admin(actor)
    if not isinstance(data, Mapping):
        raise ValidationFailed.field("thresholds", _("must be an object keyed by clock type"))
    before = warning_thresholds()
    after = {**before, **_parse_thresholds(data)}
    put_setting(THRESHOLDS_KEY, _thresholds_dict(after), actor)
    CatalogueChange.record("thresholds", 0, "update", actor, _thresholds_dict(before), _thresholds_dict(after))
    _bump_version(actor)
    db.session.flush()
    return after


@dataclass(frozen=True)
class RegistrationLimits:
    """Working hours from report (or on-site verification) to registration (domain.md §6)."""

    normal: float = 1.0
    #: In urban-rural fringe areas (城乡结合部), where reports take longer to confirm.
    fringe: float = 2.0

    def hours(self, in_fringe: bool) -> float:
        return self.fringe if in_fringe else self.normal

    def to_dict(self) -> dict:
        return {"normal": self.normal, "fringe": self.fringe}


def _parse_registration(data: Mapping) -> RegistrationLimits:
    fields = {}
    values = {}
    for name in ("normal", "fringe"):
        value = data.get(name)
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                pass
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or not 0 < value <= REGISTRATION_MAX_HOURS
        ):
            fields[name] = _("must be a number of working hours above 0 and at most %(count)d",
                             count=REGISTRATION_MAX_HOURS)
        else:
            values[name] = float(value)
    unknown = set(data) - {"normal", "fringe"}
    for name in sorted(unknown):
        fields[name] = _("unknown setting")
    if fields:
        raise ValidationFailed(_("Check the marked fields."), fields)
    return RegistrationLimits(**values)


def stored_registration_limits() -> RegistrationLimits:
    """The stored registration limits, or the defaults (1 working hour; 2 in the fringe)."""
    row = _setting(REGISTRATION_KEY)
    return _parse_registration(row.value) if row is not None else RegistrationLimits()


def set_registration_limits(actor: User | None, data: Mapping) -> RegistrationLimits:
    """Set the registration limits in working hours: ``{"normal": 1, "fringe": 2}``."""
    _check_admin(actor)
    if not isinstance(data, Mapping):
        raise ValidationFailed.field("registration", _("must be an object with normal and fringe hours"))
    before = stored_registration_limits()
    after = _parse_registration({**before.to_dict(), **data})
    put_setting(REGISTRATION_KEY, after.to_dict(), actor)
    CatalogueChange.record("registration_limits", 0, "update", actor, before.to_dict(), after.to_dict())
    _bump_version(actor)
    db.session.flush()
    return after


def load_city_clock() -> CityClock:
    """Build the city's clock from the stored calendar and settings (a handful of queries)."""
    overrides = [
        DayOverride(row.day, row.working, row.note)
        for row in db.session.scalars(select(CalendarDay).order_by(CalendarDay.day))
    ]
    calendar = WorkCalendar(overrides, extra_years=entered_years())
    return CityClock(
        calendar,
        work_schedule(),
        timezone=current_app.config["GRIDOPS_TIMEZONE"],
        thresholds=warning_thresholds(),
    )


class CitySettings(NamedTuple):
    """The stored time settings as the services use them, built once per settings version."""

    clock: CityClock
    registration: RegistrationLimits


class _ClockSlot:
    """The app's current (settings version, settings) pair, and the lock for rebuilding it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.current: tuple[str | None, CitySettings] | None = None


def _slot() -> _ClockSlot:
    return current_app.extensions.setdefault(_EXTENSION_KEY, _ClockSlot())


def get_city_clock() -> CityClock:
    """The city's clock, rebuilt only when the stored settings' version has changed.

    The version is read once per app context (a request, a job run) with the other cached
    data's (``gridops.versions``); changes made in this context are seen at once.
    """
    return city_settings().clock


def registration_limits() -> RegistrationLimits:
    """The registration limits in force (cached with the clock, so reading them costs no query)."""
    return city_settings().registration


def city_settings() -> CitySettings:
    """The clock and the registration limits of the current settings version."""
    memo = g.get(_G_KEY)
    if memo is not None:
        return memo
    version = current_versions().clock
    slot = _slot()
    current = slot.current
    if current is None or current[0] != version:
        with slot.lock:
            current = slot.current
            if current is None or current[0] != version:
                current = (version, CitySettings(load_city_clock(), stored_registration_limits()))
                slot.current = current
    setattr(g, _G_KEY, current[1])
    return current[1]


def reset_city_clock() -> None:
    """Forget the app's cached clock (tests reuse an emptied database)."""
    g.pop(_G_KEY, None)
    forget_versions()
    slot = _slot()
    with slot.lock:
        slot.current = None
