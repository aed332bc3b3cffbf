"""The escalation rules as city data (domain.md §6), with the published defaults.

Stored as one city setting (``supervision.policy``, a JSON object); keys left out keep their
defaults. The yellow share comes from the working-time thresholds of each clock type
(``worktime.thresholds``), so colours on screen and warnings sent out agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace

from flask_babel import gettext as _

from gridops.errors import ValidationFailed
from gridops.extensions import db
from gridops.worktime.clocks import ClockType
from gridops.worktime.models import CitySetting

POLICY_KEY = "supervision.policy"


@dataclass(frozen=True)
class EscalationPolicy:
    """When each level comes and how long its recipients have to reply."""

    #: Level 2 comes this share of the stage's limit after the due time …
    level2_share: float = 0.5
    #: … but at least this many working days after it.
    level2_min_working_days: int = 1
    #: Level 3 comes this many working days after level 2.
    level3_working_days: int = 3
    #: Reply limits in working hours per order kind/level (None: no reply required).
    reply_hours: dict = field(
        default_factory=lambda: {
            "warning": None, "timeout1": 4, "timeout2": 8, "timeout3": 8, "leader": 8,
            "hotline_reminder": None, "hotline_notice": 8, "hotline_criticism": None,
        }
    )
    #: 12345 chain (the reminder comes at the yellow share of the reply window): the reminder
    #: notice (催办通知书) on this working day after the reply deadline, if still unanswered …
    hotline_notice_working_days: int = 1
    #: … and written criticism (通报批评) this many working days after the notice.
    hotline_criticism_working_days: int = 5

    def reply_limit(self, kind: str, level: int) -> int | None:
        """Working hours to reply to an order of ``kind`` at ``level`` (None: no reply asked)."""
        key = f"timeout{level}" if kind == "timeout" else kind
        return self.reply_hours.get(key)


_NUMBERS = {
    "level2_share": (float, 0.0, 10.0),
    "level2_min_working_days": (int, 0, 60),
    "level3_working_days": (int, 1, 60),
    "hotline_notice_working_days": (int, 1, 60),
    "hotline_criticism_working_days": (int, 1, 60),
}


def parse_policy(data: Mapping) -> EscalationPolicy:
    """A policy from its stored JSON form; unknown keys and out-of-range values are refused."""
    if not isinstance(data, Mapping):
        raise ValidationFailed.field("policy", _("must be an object"))
    problems: dict[str, str] = {}
    known = {f.name for f in fields(EscalationPolicy)}
    values: dict = {}
    for name, value in data.items():
        if name not in known:
            problems[name] = _("is not a setting of the escalation policy")
        elif name == "reply_hours":
            hours = dict(EscalationPolicy().reply_hours)
            if not isinstance(value, Mapping) or set(value) - set(hours):
                problems[name] = _("must be an object keyed by %(values)s", values=", ".join(hours))
                continue
            for key, limit in value.items():
                if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 240):
                    problems[f"{name}.{key}"] = _("must be a whole number of working hours from 1 to 240, or null")
                hours[key] = limit
            values[name] = hours
        else:
            kind, low, high = _NUMBERS[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
                problems[name] = _("must be a number")
            elif not low <= value <= high:
                problems[name] = _("must be from %(low)s to %(high)s", low=low, high=high)
            else:
                values[name] = kind(value)
    if problems:
        raise ValidationFailed(_("Check the marked fields."), problems)
    return replace(EscalationPolicy(), **values)


def escalation_policy() -> EscalationPolicy:
    """The city's stored policy (defaults where nothing is stored)."""
    row = db.session.get(CitySetting, POLICY_KEY)
    return parse_policy(row.value) if row is not None else EscalationPolicy()


def set_escalation_policy(data: Mapping) -> EscalationPolicy:
    """Store the policy's given keys over the current ones (the command line's change)."""
    merged = {**asdict(escalation_policy()), **dict(data)}
    policy = parse_policy(merged)
    row = db.session.get(CitySetting, POLICY_KEY)
    if row is None:
        row = CitySetting(key=POLICY_KEY)
        db.session.add(row)
    row.value = asdict(policy)
    db.session.flush()
    return policy


def hour_clock(clock: ClockType) -> ClockType:
    """The hour clock that measures ``clock``'s time (working time or continuous time)."""
    return ClockType.WORKING_HOURS if clock.counts_working_time else ClockType.URGENT_HOURS
