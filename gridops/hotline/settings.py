"""The hotline's city settings: reply limits per kind, the follow-up limit, repeats, and the retention period.

Defaults follow domain.md §8 (Beijing's draft rules): emergencies answered within 2 hours,
water/power/gas/heat within 24 hours, general matters within 7 days, complex ones within
15 days; the follow-up call (回访) within 3 working days of the reply to a finished case; a
case complained about again this many times becomes urgent.

The retention period (``hotline.retention``) is how many days callers' personal data is kept
after their last case is finished (see ``gridops.hotline.retention``): a year by default, at
least 30 days so that late follow-up calls and complaints about the answer still reach the
caller, at most ten years.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import gettext as _

from gridops.auth.models import User
from gridops.auth.permissions import is_admin
from gridops.catalogue.models import CatalogueChange
from gridops.db import utcnow
from gridops.errors import NotAllowed, ValidationFailed
from gridops.extensions import db
from gridops.hotline.models import REPLY_LIMIT_KINDS
from gridops.worktime import ClockType
from gridops.worktime.models import CitySetting

SETTINGS_KEY = "hotline.limits"
LIMIT_NAMES = (*REPLY_LIMIT_KINDS, "followup")
RETENTION_KEY = "hotline.retention"
DEFAULT_RETENTION_DAYS = 365
MIN_RETENTION_DAYS, MAX_RETENTION_DAYS = 30, 3650


@dataclass(frozen=True)
class Limit:
    """A time limit: ``value`` hours or days on ``clock``."""

    value: int
    clock: ClockType

    def to_dict(self) -> dict:
        return {"value": self.value, "clock": self.clock.value}


@dataclass(frozen=True)
class HotlineSettings:
    """Reply limits per kind, the follow-up limit, and the repeat count that makes a case urgent."""

    limits: dict[str, Limit]
    urgent_after_repeats: int

    def reply_limit(self, kind: str) -> Limit:
        return self.limits[kind]

    @property
    def followup_limit(self) -> Limit:
        return self.limits["followup"]

    def to_dict(self) -> dict:
        return {
            "limits": {name: limit.to_dict() for name, limit in self.limits.items()},
            "urgent_after_repeats": self.urgent_after_repeats,
        }


DEFAULTS = HotlineSettings(
    limits={
        "emergency": Limit(2, ClockType.URGENT_HOURS),
        "utility": Limit(24, ClockType.URGENT_HOURS),
        "general": Limit(7, ClockType.NATURAL_DAYS),
        "complex": Limit(15, ClockType.NATURAL_DAYS),
        "followup": Limit(3, ClockType.WORKING_DAYS),
    },
    urgent_after_repeats=2,
)


def _parse(data: Mapping, base: HotlineSettings) -> HotlineSettings:
    fields: dict[str, str] = {}
    limits = dict(base.limits)
    raw_limits = data.get("limits", {})
    if not isinstance(raw_limits, Mapping):
        raise ValidationFailed.field("limits", _("must be an object keyed by limit name"))
    for name, value in raw_limits.items():
        field = f"limits.{name}"
        if name not in LIMIT_NAMES:
            fields[field] = _("must be one of %(values)s", values=", ".join(LIMIT_NAMES))
            continue
        if not isinstance(value, Mapping):
            fields[field] = _("must be an object with a value and a clock")
            continue
        number, clock = value.get("value"), value.get("clock")
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 1000:
            fields[field] = _("the value must be a whole number from 1 to 1000")
            continue
        if clock not in {c.value for c in ClockType}:
            fields[field] = _("the clock must be one of %(values)s", values=", ".join(c.value for c in ClockType))
            continue
        limits[name] = Limit(number, ClockType(clock))
    repeats = data.get("urgent_after_repeats", base.urgent_after_repeats)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= 100:
        fields["urgent_after_repeats"] = _("must be a whole number from 1 to 100")
    if fields:
        raise ValidationFailed(_("Check the marked fields."), fields)
    return HotlineSettings(limits, repeats)


def hotline_settings() -> HotlineSettings:
    """The stored hotline settings, the defaults filling what is not stored."""
    row = db.session.get(CitySetting, SETTINGS_KEY)
    return _parse(row.value, DEFAULTS) if row is not None else DEFAULTS


def set_hotline_settings(actor: User | None, data: Mapping) -> HotlineSettings:
    """Change some limits (``{"limits": {"general": {"value": 5, "clock": "working_days"}}}``); kept in history."""
    if actor is not None and not is_admin(actor):
        raise NotAllowed(_("Only administrators may change the hotline's time limits."))
    if not isinstance(data, Mapping):
        raise ValidationFailed.field("settings", _("must be an object"))
    before = hotline_settings()
    after = _parse(data, before)
    row = db.session.get(CitySetting, SETTINGS_KEY)
    if row is None:
        row = CitySetting(key=SETTINGS_KEY)
        db.session.add(row)
    row.value = after.to_dict()
    row.changed_by_id = actor.id if actor is not None else None
    row.changed_at = utcnow()
    CatalogueChange.record("hotline_settings", 0, "update", actor, before.to_dict(), after.to_dict())
    db.session.flush()
    return after


def retention_days() -> int:
    """How many days callers' personal data is kept after their last case is finished."""
    row = db.session.get(CitySetting, RETENTION_KEY)
    return int(row.value["days"]) if row is not None else DEFAULT_RETENTION_DAYS


def set_retention_days(actor: User | None, days) -> int:
    """Change the retention period (whole days, 30 to 3650; administrators; kept in history)."""
    if actor is not None and not is_admin(actor):
        raise NotAllowed(_("Only administrators may change how long callers' data is kept."))
    if isinstance(days, bool) or not isinstance(days, int) or not MIN_RETENTION_DAYS <= days <= MAX_RETENTION_DAYS:
        raise ValidationFailed.field(
            "days", _("must be a whole number of days from %(minimum)d to %(maximum)d",
                      minimum=MIN_RETENTION_DAYS, maximum=MAX_RETENTION_DAYS)
        )
    before = retention_days()
    row = db.session.get(CitySetting, RETENTION_KEY)
    if row is None:
        row = CitySetting(key=RETENTION_KEY)
        db.session.add(row)
    row.value = {"days": days}
    row.changed_by_id = actor.id if actor is not None else None
    row.changed_at = utcnow()
    CatalogueChange.record("hotline_retention", 0, "update", actor, {"days": before}, {"days": days})
    db.session.flush()
    return days
