"""Catalogue services: seed the default catalogue, find classes, and administrators' edits with history.

Every edit goes through one function per verb (``create_small_class``, ``update_standard``,
``deactivate_routing_rule``, …) that checks the actor is an administrator (``None`` is the
command line), validates every field at once (``ValidationFailed`` names each), mutates,
appends a ``CatalogueChange`` with the before/after snapshot, and flushes without committing.
Edits take JSON-like mappings; references are codes: a small class as its full code
(``E0101``, ``C0118``), areas and departments by code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import func, select

from gridops.auth.models import User
from gridops.auth.permissions import is_admin
from gridops.catalogue.defaults import BIG_CLASSES, NINE_WORDS, SMALL_CLASSES
from gridops.catalogue.models import BigClass, CatalogueChange, FilingStandard, RoutingRule, SmallClass
from gridops.catalogue.cache import attached, reference_data
from gridops.catalogue.routing import suggest_unit, suggest_unit_with_reason
from gridops.errors import NotAllowed, ValidationFailed
from gridops.extensions import db
from gridops.org.models import Department
from gridops.territory.models import Area
from gridops.worktime.clocks import ClockType
from gridops.worktime.store import get_city_clock

__all__ = [
    "SeedResult",
    "create_big_class",
    "create_routing_rule",
    "create_small_class",
    "create_standard",
    "deactivate_big_class",
    "deactivate_routing_rule",
    "deactivate_small_class",
    "deactivate_standard",
    "find_small_class",
    "get_city_clock",
    "seed_default_catalogue",
    "small_class_by_full_code",
    "suggest_unit",
    "suggest_unit_with_reason",
    "update_big_class",
    "update_routing_rule",
    "update_small_class",
    "update_standard",
]

CASE_TYPES = ("component", "event")
TYPE_LETTERS = {"C": "component", "E": "event"}
BASES = ("owner", "territory")
MAX_LIMIT_VALUE = 9999
_UNIT_KIND = re.compile(r"^[a-z][a-z_]{0,31}$")


class _Invalid(Exception):
    """One field's reason for refusal, collected into a ``ValidationFailed``."""


# --- field parsers ------------------------------------------------------------------------


def _plain(value: str) -> str:
    """``value`` unless it holds control characters (NUL cannot even be stored)."""
    if any(ord(char) < 32 and char not in "\t\n\r" for char in value):
        raise _Invalid(_("must not contain control characters"))
    return value


def _text(max_length: int, *, required: bool = True) -> Callable[[object], str | None]:
    def parse(value: object) -> str | None:
        if value is None and not required:
            return None
        if not isinstance(value, str):
            raise _Invalid(_("must be text"))
        value = _plain(value).strip()
        if required and not value:
            raise _Invalid(_("must not be empty"))
        if len(value) > max_length:
            raise _Invalid(_("at most %(count)d characters", count=max_length))
        return value if value or required else None

    return parse


def _free_text(max_length: int) -> Callable[[object], str]:
    def parse(value: object) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise _Invalid(_("must be text"))
        if len(value.strip()) > max_length:
            raise _Invalid(_("at most %(count)d characters", count=max_length))
        return _plain(value).strip()

    return parse


def _choice(options: tuple[str, ...], *, nullable: bool = False) -> Callable[[object], str | None]:
    def parse(value: object) -> str | None:
        if value is None and nullable:
            return None
        if value not in options:
            values = ", ".join(options) + (", null" if nullable else "")
            raise _Invalid(_("must be one of %(values)s", values=values))
        return value

    return parse


def _integer(minimum: int, maximum: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(_("must be a whole number"))
        if not minimum <= value <= maximum:
            raise _Invalid(
                _("must be between %(minimum)d and %(maximum)d", minimum=minimum, maximum=maximum)
            )
        return value

    return parse


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(_("must be true or false"))
    return value


def _digits(length: int) -> Callable[[object], str]:
    def parse(value: object) -> str:
        if not isinstance(value, str) or not re.fullmatch(rf"\d{{{length}}}", value):
            raise _Invalid(_("must be %(count)d digits", count=length))
        return value

    return parse


def _unit_kind(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _UNIT_KIND.fullmatch(value):
        raise _Invalid(_("must be a department kind such as sanitation or law_enforcement"))
    return value


def _small_class_ref(value: object) -> SmallClass | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid(_("must be a small class's full code such as E0101, or null for any class"))
    small_class = small_class_by_full_code(value)
    if small_class is None:
        raise _Invalid(_("no small class has the code %(code)s", code=value))
    return small_class


def _area_ref(value: object) -> Area:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9A-Za-z_.-]{1,32}", value):
        raise _Invalid(_("must be an area code"))
    area = db.session.scalar(select(Area).where(Area.code == value, Area.active.is_(True)))
    if area is None:
        raise _Invalid(_("no active area has the code %(code)s", code=value))
    return area


def _department_ref(value: object) -> Department:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9A-Za-z_.-]{1,32}", value):
        raise _Invalid(_("must be a department code"))
    department = db.session.scalar(
        select(Department).where(Department.code == value, Department.active.is_(True))
    )
    if department is None:
        raise _Invalid(_("no active department has the code %(code)s", code=value))
    return department


BIG_CLASS_FIELDS = {
    "case_type": _choice(CASE_TYPES),
    "code": _digits(2),
    "name": _text(64),
    "name_en": _text(128, required=False),
    "active": _boolean,
}
SMALL_CLASS_FIELDS = {
    "case_type": _choice(CASE_TYPES),
    "code": _digits(4),
    "name": _text(64),
    "name_en": _text(128, required=False),
    "nine_word": _choice(tuple(NINE_WORDS), nullable=True),
    "default_unit_kind": _unit_kind,
    "active": _boolean,
}
STANDARD_FIELDS = {
    "name": _free_text(128),
    "name_en": _text(128, required=False),
    "limit_value": _integer(1, MAX_LIMIT_VALUE),
    "limit_clock": _choice(tuple(clock.value for clock in ClockType)),
    "closing_condition": _free_text(2000),
    "sort": _integer(0, 1000),
    "active": _boolean,
}
ROUTING_FIELDS = {
    "small_class": _small_class_ref,
    "area": _area_ref,
    "department": _department_ref,
    "basis": _choice(BASES),
    "priority": _integer(0, 10000),
    "active": _boolean,
}


def _validate(
    data: Mapping,
    fields: Mapping[str, Callable],
    *,
    required: tuple[str, ...] = (),
    fixed: tuple[str, ...] = (),
) -> dict:
    """Parse ``data`` against ``fields``; every problem at once, each named by its field."""
    if not isinstance(data, Mapping):
        raise ValidationFailed.field("body", _("must be a JSON object"))
    values, problems = {}, {}
    for name, value in data.items():
        if name not in fields:
            problems[str(name)] = _("unknown field")
        elif name in fixed:
            problems[name] = _("cannot be changed; create a new entry instead")
        else:
            try:
                values[name] = fields[name](value)
            except _Invalid as exc:
                problems[name] = str(exc)
    for name in required:
        if name not in data:
            problems[name] = _("required")
    if problems:
        raise ValidationFailed(_("Check the marked fields."), problems)
    return values


# --- history ------------------------------------------------------------------------------


def _check_admin(actor: User | None) -> None:
    """``actor`` None is the command line; anyone else must be an administrator."""
    if actor is not None and not is_admin(actor):
        raise NotAllowed(_("Only administrators may edit the catalogue."))


def _big_class_dict(row: BigClass) -> dict:
    return {
        "case_type": row.case_type,
        "code": row.code,
        "name": row.name,
        "name_en": row.name_en,
        "active": row.active,
    }


def _small_class_dict(row: SmallClass) -> dict:
    return {
        "case_type": row.case_type,
        "code": row.code,
        "name": row.name,
        "name_en": row.name_en,
        "nine_word": row.nine_word,
        "default_unit_kind": row.default_unit_kind,
        "active": row.active,
    }


def _standard_dict(row: FilingStandard) -> dict:
    return {
        "small_class": row.small_class.full_code,
        "name": row.name,
        "name_en": row.name_en,
        "limit_value": row.limit_value,
        "limit_clock": row.limit_clock,
        "closing_condition": row.closing_condition,
        "sort": row.sort,
        "active": row.active,
    }


def _rule_dict(row: RoutingRule) -> dict:
    return {
        "small_class": row.small_class.full_code if row.small_class else None,
        "area": row.area.code,
        "department": row.department.code,
        "basis": row.basis,
        "priority": row.priority,
        "active": row.active,
    }


def _apply(row, values: Mapping) -> None:
    for name, value in values.items():
        setattr(row, name, value)


# --- lookups ------------------------------------------------------------------------------


def small_class_by_full_code(full_code: str) -> SmallClass | None:
    """The small class for a full code such as ``E0101`` (event) or ``C0118`` (component)."""
    case_type = TYPE_LETTERS.get(full_code[:1].upper())
    if case_type is None or not re.fullmatch(r"\d{4}", full_code[1:]):
        return None
    return db.session.scalar(
        select(SmallClass).where(SmallClass.case_type == case_type, SmallClass.code == full_code[1:])
    )


def find_small_class(case_type: str, code: str) -> SmallClass:
    """The active small class ``code`` of ``case_type`` (under an active big class)."""
    if case_type not in CASE_TYPES:
        raise ValidationFailed.field("case_type", _("must be one of %(values)s", values=", ".join(CASE_TYPES)))
    small_class = reference_data().small_classes.get((case_type, code)) if isinstance(code, str) else None
    if small_class is None:
        raise ValidationFailed.field("small_class", _("no active small class has the code %(code)s", code=repr(code)))
    return attached(small_class)


# --- seeding ------------------------------------------------------------------------------


@dataclass
class SeedResult:
    """What ``seed_default_catalogue`` created; everything else was kept as it was."""

    created: dict[str, int] = field(default_factory=lambda: {"big_class": 0, "small_class": 0, "standard": 0})
    kept: dict[str, int] = field(default_factory=lambda: {"big_class": 0, "small_class": 0, "standard": 0})


def seed_default_catalogue(actor: User | None = None) -> SeedResult:
    """Create whatever of the default catalogue (domain.md §4) is missing; never touch what exists.

    Big and small classes match by type and code; a small class gets the default standards
    only while it has none, so an administrator's later edits always survive a re-seed.
    """
    _check_admin(actor)
    result = SeedResult()
    bigs = {(row.case_type, row.code): row for row in db.session.scalars(select(BigClass))}
    for case_type, classes in BIG_CLASSES.items():
        for code, (name, name_en) in classes.items():
            if (case_type, code) in bigs:
                result.kept["big_class"] += 1
                continue
            row = BigClass(case_type=case_type, code=code, name=name, name_en=name_en)
            db.session.add(row)
            db.session.flush()
            bigs[(case_type, code)] = row
            CatalogueChange.record("big_class", row.id, "create", actor, None, _big_class_dict(row))
            result.created["big_class"] += 1
    smalls = {(row.case_type, row.code): row for row in db.session.scalars(select(SmallClass))}
    counts = dict(
        db.session.execute(
            select(FilingStandard.small_class_id, func.count()).group_by(FilingStandard.small_class_id)
        ).all()
    )
    for case_type, code, name, name_en, nine, unit, standards in SMALL_CLASSES:
        row = smalls.get((case_type, code))
        if row is None:
            row = SmallClass(
                big_class=bigs[(case_type, code[:2])],
                case_type=case_type,
                code=code,
                name=name,
                name_en=name_en,
                nine_word=nine,
                default_unit_kind=unit,
            )
            db.session.add(row)
            db.session.flush()
            CatalogueChange.record("small_class", row.id, "create", actor, None, _small_class_dict(row))
            result.created["small_class"] += 1
        else:
            result.kept["small_class"] += 1
        if counts.get(row.id):
            result.kept["standard"] += counts[row.id]
            continue
        for sort, (std_name, std_name_en, value, clock) in enumerate(standards):
            standard = FilingStandard(
                small_class=row,
                name=std_name,
                name_en=std_name_en or None,
                limit_value=value,
                limit_clock=clock,
                closing_condition="",
                sort=sort,
            )
            db.session.add(standard)
            db.session.flush()
            CatalogueChange.record("standard", standard.id, "create", actor, None, _standard_dict(standard))
            result.created["standard"] += 1
    db.session.flush()
    return result


# --- big classes --------------------------------------------------------------------------


def create_big_class(actor: User | None, data: Mapping) -> BigClass:
    """Add a big class (a local extension, say) with its type, 2-digit code and names."""
    _check_admin(actor)
    values = _validate(data, BIG_CLASS_FIELDS, required=("case_type", "code", "name"))
    exists = db.session.scalar(
        select(BigClass.id).where(BigClass.case_type == values["case_type"], BigClass.code == values["code"])
    )
    if exists is not None:
        raise ValidationFailed.field("code", _("this big class exists already"))
    row = BigClass()
    _apply(row, values)
    row.active = values.get("active", True)
    db.session.add(row)
    db.session.flush()
    CatalogueChange.record("big_class", row.id, "create", actor, None, _big_class_dict(row))
    db.session.flush()
    return row


def update_big_class(actor: User | None, row: BigClass, data: Mapping) -> BigClass:
    """Rename or (re)activate a big class; its type and code are fixed."""
    _check_admin(actor)
    values = _validate(data, BIG_CLASS_FIELDS, fixed=("case_type", "code"))
    before = _big_class_dict(row)
    _apply(row, values)
    CatalogueChange.record("big_class", row.id, "update", actor, before, _big_class_dict(row))
    db.session.flush()
    return row


def deactivate_big_class(actor: User | None, row: BigClass) -> BigClass:
    """Retire a big class: its small classes can no longer be chosen for new cases."""
    _check_admin(actor)
    before = _big_class_dict(row)
    row.active = False
    CatalogueChange.record("big_class", row.id, "deactivate", actor, before, _big_class_dict(row))
    db.session.flush()
    return row


# --- small classes ------------------------------------------------------------------------


def create_small_class(actor: User | None, data: Mapping) -> SmallClass:
    """Add a small class; its big class is the one named by the code's first two digits."""
    _check_admin(actor)
    values = _validate(data, SMALL_CLASS_FIELDS, required=("case_type", "code", "name"))
    case_type, code = values["case_type"], values["code"]
    big_class = db.session.scalar(
        select(BigClass).where(BigClass.case_type == case_type, BigClass.code == code[:2])
    )
    if big_class is None:
        raise ValidationFailed.field("code", _("no big class %(code)s of this type", code=code[:2]))
    exists = db.session.scalar(
        select(SmallClass.id).where(SmallClass.case_type == case_type, SmallClass.code == code)
    )
    if exists is not None:
        raise ValidationFailed.field("code", _("this small class exists already"))
    row = SmallClass(big_class=big_class)
    _apply(row, values)
    row.active = values.get("active", True)
    db.session.add(row)
    db.session.flush()
    CatalogueChange.record("small_class", row.id, "create", actor, None, _small_class_dict(row))
    db.session.flush()
    return row


def update_small_class(actor: User | None, row: SmallClass, data: Mapping) -> SmallClass:
    """Change a small class's names, nine-word tag, default unit kind or active flag."""
    _check_admin(actor)
    values = _validate(data, SMALL_CLASS_FIELDS, fixed=("case_type", "code"))
    before = _small_class_dict(row)
    _apply(row, values)
    CatalogueChange.record("small_class", row.id, "update", actor, before, _small_class_dict(row))
    db.session.flush()
    return row


def deactivate_small_class(actor: User | None, row: SmallClass) -> SmallClass:
    """Retire a small class: existing cases keep it, new cases cannot choose it."""
    _check_admin(actor)
    before = _small_class_dict(row)
    row.active = False
    CatalogueChange.record("small_class", row.id, "deactivate", actor, before, _small_class_dict(row))
    db.session.flush()
    return row


# --- filing standards ---------------------------------------------------------------------


def _check_keeps_an_active_standard(row: FilingStandard) -> None:
    others = [s for s in row.small_class.standards if s.active and s.id != row.id]
    if not others:
        raise ValidationFailed.field("active", _("a small class needs at least one active filing standard"))


def create_standard(actor: User | None, small_class: SmallClass, data: Mapping) -> FilingStandard:
    """Add a filing standard (condition, time limit, closing condition) to ``small_class``."""
    _check_admin(actor)
    values = _validate(data, STANDARD_FIELDS, required=("limit_value", "limit_clock"))
    if "sort" not in values:
        values["sort"] = 1 + max((s.sort for s in small_class.standards), default=-1)
    row = FilingStandard(name="", closing_condition="", active=True)
    _apply(row, values)
    row.small_class = small_class
    db.session.add(row)
    db.session.flush()
    CatalogueChange.record("standard", row.id, "create", actor, None, _standard_dict(row))
    db.session.flush()
    return row


def update_standard(actor: User | None, row: FilingStandard, data: Mapping) -> FilingStandard:
    """Change a filing standard's wording, limit (value + clock type), closing condition or order."""
    _check_admin(actor)
    values = _validate(data, STANDARD_FIELDS)
    if values.get("active") is False and row.active:
        _check_keeps_an_active_standard(row)
    before = _standard_dict(row)
    _apply(row, values)
    CatalogueChange.record("standard", row.id, "update", actor, before, _standard_dict(row))
    db.session.flush()
    return row


def deactivate_standard(actor: User | None, row: FilingStandard) -> FilingStandard:
    """Retire a filing standard, keeping at least one active per small class."""
    _check_admin(actor)
    if row.active:
        _check_keeps_an_active_standard(row)
    before = _standard_dict(row)
    row.active = False
    CatalogueChange.record("standard", row.id, "deactivate", actor, before, _standard_dict(row))
    db.session.flush()
    return row


# --- routing rules ------------------------------------------------------------------------

def create_routing_rule(actor: User | None, data: Mapping) -> RoutingRule:
    """Route a small class (or, with ``small_class`` null, any class) in an area subtree to a unit."""
    _check_admin(actor)
    values = _validate(data, ROUTING_FIELDS, required=("area", "department", "basis"))
    row = RoutingRule(small_class=values.pop("small_class", None), priority=100, active=True)
    _apply(row, values)
    db.session.add(row)
    db.session.flush()
    CatalogueChange.record("routing_rule", row.id, "create", actor, None, _rule_dict(row))
    db.session.flush()
    return row


def update_routing_rule(actor: User | None, row: RoutingRule, data: Mapping) -> RoutingRule:
    """Change a routing rule's class, area, unit, basis, priority or active flag."""
    _check_admin(actor)
    values = _validate(data, ROUTING_FIELDS)
    before = _rule_dict(row)
    _apply(row, values)
    CatalogueChange.record("routing_rule", row.id, "update", actor, before, _rule_dict(row))
    db.session.flush()
    return row


def deactivate_routing_rule(actor: User | None, row: RoutingRule) -> RoutingRule:
    """Retire a routing rule; routing falls back to the next rule or the default unit."""
    _check_admin(actor)
    before = _rule_dict(row)
    row.active = False
    CatalogueChange.record("routing_rule", row.id, "deactivate", actor, before, _rule_dict(row))
    db.session.flush()
    return row
