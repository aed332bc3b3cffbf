"""The escalation rules as city data (domain.md §6), with the published defaults.

Stored as one city setting (``supervision.policy``, a JSON object); keys left out keep their
defaults. The yellow share comes from the working-time thresholds of each clock type
(``worktime.thresholds``), so colours on screen and warnings sent out agree. Administrators
change the policy on /admin/escalation, through the API or with ``gridops supervision policy``;
every change is kept in the administration history. A change applies to the running cases at once:
the watches whose next step it may bring forward are looked at again by the next sweep
(``services.reschedule_watches``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace

from flask_babel import gettext as _
from sqlalchemy import func, select

from gridops.auth.models import User
from gridops.auth.permissions import is_admin
from gridops.catalogue.models import CatalogueChange
from gridops.db import dialect_name
from gridops.errors import NotAllowed, ValidationFailed
from gridops.extensions import db
from gridops.worktime.clocks import ClockType
from gridops.worktime.models import CitySetting
from gridops.worktime.store import drop_setting, put_setting

POLICY_KEY = "supervision.policy"
#: PostgreSQL advisory lock key ("esca") that orders policy changes after or before whole sweeps.
POLICY_LOCK = 0x65736361


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


#: The policy's numbers: (type, lowest, highest). Shares are fractions of the stage's limit.
NUMBER_LIMITS = {
    "level2_share": (float, 0.0, 10.0),
    "level2_min_working_days": (int, 0, 60),
    "level3_working_days": (int, 1, 60),
    "hotline_notice_working_days": (int, 1, 60),
    "hotline_criticism_working_days": (int, 1, 60),
}
#: Longest reply limit, in working hours.
MAX_REPLY_HOURS = 240
#: The order kinds (timeout orders by level) that have a reply limit.
REPLY_KINDS = tuple(EscalationPolicy().reply_hours)


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
                if limit is not None and (
                    isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_REPLY_HOURS
                ):
                    problems[f"{name}.{key}"] = _(
                        "must be a whole number of working hours from 1 to %(count)d, or none (no reply asked)",
                        count=MAX_REPLY_HOURS,
                    )
                hours[key] = limit
            values[name] = hours
        else:
            kind, low, high = NUMBER_LIMITS[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                problems[name] = _("must be a number")
            elif kind is int and not isinstance(value, int):
                problems[name] = _("must be a whole number")
            elif not low <= value <= high:
                problems[name] = _("must be from %(low)s to %(high)s", low=low, high=high)
            else:
                values[name] = kind(value)
    if problems:
        raise ValidationFailed(_("Check the marked fields."), problems)
    return replace(EscalationPolicy(), **values)


def lock_policy(*, exclusive: bool) -> None:
    """Hold the policy until the transaction ends: shared by whoever times steps with it (the sweep),
    exclusive by a change, so a sweep never times with the old policy the watches a change has just
    marked (PostgreSQL; see docs/supervision.md for SQLite)."""
    if dialect_name() == "postgresql":
        name = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        db.session.execute(select(getattr(func, name)(POLICY_LOCK)))


def escalation_policy() -> EscalationPolicy:
    """The city's stored policy (defaults where nothing is stored)."""
    row = db.session.get(CitySetting, POLICY_KEY)
    return parse_policy(row.value) if row is not None else EscalationPolicy()


def history_values(policy: EscalationPolicy) -> dict:
    """The policy with one key per number (reply limits as ``reply_hours.<kind>``), as the history keeps it."""
    data = asdict(policy)
    data.update({f"reply_hours.{kind}": limit for kind, limit in data.pop("reply_hours").items()})
    return data


def _check_admin(actor: User | None) -> None:
    """``actor`` None is the command line; anyone else must be an administrator."""
    if actor is not None and not is_admin(actor):
        raise NotAllowed(_("Only administrators may change the escalation policy."))


def set_escalation_policy(actor: User | None, data: Mapping) -> EscalationPolicy:
    """Store the given keys over the current ones; reply limits not given keep theirs.

    Administrators, or the command line (``actor`` None). Nothing is stored unless every value is valid.
    """
    _check_admin(actor)
    if not isinstance(data, Mapping):
        raise ValidationFailed.field("policy", _("must be an object"))
    lock_policy(exclusive=True)
    before = escalation_policy()
    merged = {**asdict(before), **data}
    if isinstance(data.get("reply_hours"), Mapping):
        merged["reply_hours"] = {**before.reply_hours, **data["reply_hours"]}
    after = parse_policy(merged)
    put_setting(POLICY_KEY, asdict(after), actor)
    _changed("update", actor, before, after)
    return after


def reset_escalation_policy(actor: User | None) -> EscalationPolicy:
    """Go back to the published defaults (the stored policy is removed, so later defaults apply too)."""
    _check_admin(actor)
    lock_policy(exclusive=True)
    before = escalation_policy()
    drop_setting(POLICY_KEY)
    after = EscalationPolicy()
    _changed("reset", actor, before, after)
    return after


def _changed(action: str, actor: User | None, before: EscalationPolicy, after: EscalationPolicy) -> None:
    """Record the change and apply it to the running cases, in the change's transaction."""
    from gridops.supervision.services import reschedule_watches

    CatalogueChange.record("escalation_policy", 0, action, actor, history_values(before), history_values(after))
    reschedule_watches(before, after)
    db.session.flush()


def hour_clock(clock: ClockType) -> ClockType:
    """The hour clock that measures ``clock``'s time (working time or continuous time)."""
    return ClockType.WORKING_HOURS if clock.counts_working_time else ClockType.URGENT_HOURS
