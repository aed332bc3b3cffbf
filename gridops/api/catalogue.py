"""Catalogue endpoints: the class tree with standards and limits, routing rules, units, the
working calendar, and the edit history.

Reading is open to every signed-in user (dispatch needs it); edits and the history are for
administrators. Small classes are addressed by full code (``E0101``), standards and routing
rules by id, calendar days by date; inactive entries are listed with ``?active=all``.
``openapi_operations()``/``openapi_schemas()`` describe these endpoints for the API document.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime

from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from gridops.api import bp
from gridops.auth.models import User
from gridops.auth.permissions import is_admin
from gridops.catalogue import services
from gridops.catalogue.defaults import CASE_TYPES, NINE_WORDS
from gridops.catalogue.models import BigClass, CatalogueChange, FilingStandard, RoutingRule, SmallClass
from gridops.db import MAX_ROW_ID
from gridops.errors import NotAllowed, NotFound, ValidationFailed
from gridops.extensions import db
from gridops.org.models import Department
from gridops.worktime import store as calendar_store
from gridops.worktime.calendars import OFFICIAL_YEARS
from gridops.worktime.store import get_city_clock

HISTORY_LIMIT = 50
HISTORY_MAX = 500
HISTORY_ENTITIES = (
    "big_class", "small_class", "standard", "routing_rule", "calendar_day", "calendar_year", "schedule", "thresholds",
    "registration_limits", "escalation_policy", "duplicate_rules",
)


def _only_active(args: Mapping) -> bool:
    raw = args.get("active", "true").strip().lower()
    if raw not in ("true", "all"):
        raise ValidationFailed.field("active", _("must be true (active entries only) or all"))
    return raw == "true"


def _require_admin() -> None:
    if not is_admin(current_user):
        raise NotAllowed(_("Only administrators may do this."))


def _body() -> Mapping:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationFailed.field("body", _("must be a JSON object"))
    return data


def _integer_arg(args: Mapping, name: str, default: int, minimum: int, maximum: int) -> int:
    raw = args.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed.field(name, _("must be a whole number")) from None
    if not minimum <= value <= maximum:
        reason = _("must be between %(minimum)d and %(maximum)d", minimum=minimum, maximum=maximum)
        raise ValidationFailed.field(name, reason)
    return value


# --- serialization ------------------------------------------------------------------------


def standard_dict(row: FilingStandard) -> dict:
    """A filing standard with its time limit and closing condition."""
    return {
        "id": row.id,
        "small_class": row.small_class.full_code,
        "name": row.name,
        "name_en": row.name_en,
        "limit": {"value": row.limit_value, "clock": row.limit_clock},
        "closing_condition": row.closing_condition,
        "sort": row.sort,
        "active": row.active,
    }


def small_class_dict(row: SmallClass, only_active: bool = False) -> dict:
    """A small class with its nine-word tag, default unit kind and standards."""
    return {
        "id": row.id,
        "case_type": row.case_type,
        "code": row.code,
        "full_code": row.full_code,
        "big_class": row.big_class.code,
        "name": row.name,
        "name_en": row.name_en,
        "nine_word": row.nine_word,
        "nine_word_en": NINE_WORDS.get(row.nine_word) if row.nine_word else None,
        "default_unit_kind": row.default_unit_kind,
        "active": row.active,
        "standards": [standard_dict(s) for s in row.standards if s.active or not only_active],
    }


def rule_dict(row: RoutingRule) -> dict:
    """A routing rule with its class, area and unit by code."""
    return {
        "id": row.id,
        "small_class": row.small_class.full_code if row.small_class else None,
        "area": {"code": row.area.code, "name": row.area.name},
        "department": {"code": row.department.code, "name": row.department.name},
        "basis": row.basis,
        "priority": row.priority,
        "active": row.active,
    }


def unit_dict(row: Department) -> dict:
    """A handling unit with its kind, the area it serves and its parent."""
    return {
        "id": row.id,
        "code": row.code,
        "name": row.name,
        "name_en": row.name_en,
        "kind": row.kind,
        "area": {"code": row.area.code, "name": row.area.name} if row.area else None,
        "parent": row.parent.code if row.parent else None,
        "active": row.active,
    }


# --- loading ------------------------------------------------------------------------------


def _small_class_or_404(full_code: str) -> SmallClass:
    row = services.small_class_by_full_code(full_code)
    if row is None:
        raise NotFound(_("no small class has the code %(code)s", code=full_code))
    return row


def _standard_or_404(standard_id: int) -> FilingStandard:
    row = db.session.get(FilingStandard, standard_id)
    if row is None:
        raise NotFound(_("No filing standard has this id."))
    return row


def _rule_or_404(rule_id: int) -> RoutingRule:
    row = db.session.get(RoutingRule, rule_id)
    if row is None:
        raise NotFound(_("No routing rule has this id."))
    return row


# --- reading ------------------------------------------------------------------------------


@bp.get("/catalogue")
def get_catalogue():
    """Types → big classes → small classes → filing standards with their limits."""
    only_active = _only_active(request.args)
    bigs = select(BigClass).order_by(BigClass.case_type, BigClass.code)
    smalls = (
        select(SmallClass)
        .options(selectinload(SmallClass.standards))
        .order_by(SmallClass.case_type, SmallClass.code)
    )
    if only_active:
        bigs = bigs.where(BigClass.active.is_(True))
        smalls = smalls.where(SmallClass.active.is_(True))
    by_big: dict[int, list[dict]] = {}
    for row in db.session.scalars(smalls):
        by_big.setdefault(row.big_class_id, []).append(small_class_dict(row, only_active))
    types = {
        case_type: {"case_type": case_type, "name": name, "name_en": name_en, "big_classes": []}
        for case_type, (name, name_en) in CASE_TYPES.items()
    }
    for big in db.session.scalars(bigs):
        types[big.case_type]["big_classes"].append(
            {
                "id": big.id,
                "code": big.code,
                "name": big.name,
                "name_en": big.name_en,
                "active": big.active,
                "small_classes": by_big.get(big.id, []),
            }
        )
    nine_words = [{"word": word, "en": en} for word, en in NINE_WORDS.items()]
    return jsonify({"types": list(types.values()), "nine_words": nine_words})


@bp.get("/catalogue/routing-rules")
def list_routing_rules():
    """The routing rules, by class then area."""
    stmt = select(RoutingRule).order_by(RoutingRule.small_class_id, RoutingRule.area_id, RoutingRule.priority)
    if _only_active(request.args):
        stmt = stmt.where(RoutingRule.active.is_(True))
    return jsonify({"rules": [rule_dict(row) for row in db.session.scalars(stmt)]})


@bp.get("/units")
def list_units():
    """Handling units with their kind, served area and parent; ``?kind=`` narrows them."""
    stmt = select(Department).order_by(Department.code)
    if _only_active(request.args):
        stmt = stmt.where(Department.active.is_(True))
    kind = request.args.get("kind", "").strip()
    if kind:
        if not re.fullmatch(r"[a-z][a-z_]{0,31}", kind):
            raise ValidationFailed.field("kind", _("must be a department kind such as sanitation or law_enforcement"))
        stmt = stmt.where(Department.kind == kind)
    return jsonify({"units": [unit_dict(row) for row in db.session.scalars(stmt)]})


@bp.get("/catalogue/history")
def catalogue_history():
    """Administrators: every catalogue, routing, calendar and city-rule edit, newest first."""
    _require_admin()
    args = request.args
    stmt = select(CatalogueChange, User.username).outerjoin(User, CatalogueChange.changed_by_id == User.id)
    entity = args.get("entity", "").strip()
    if entity and entity not in HISTORY_ENTITIES:
        raise ValidationFailed.field("entity", _("must be one of %(values)s", values=", ".join(HISTORY_ENTITIES)))
    stmt = stmt.where(CatalogueChange.entity.in_([entity] if entity else HISTORY_ENTITIES))
    if args.get("entity_id", "").strip():
        stmt = stmt.where(CatalogueChange.entity_id == _integer_arg(args, "entity_id", 0, 0, 2**31 - 1))
    limit = _integer_arg(args, "limit", HISTORY_LIMIT, 1, HISTORY_MAX)
    offset = _integer_arg(args, "offset", 0, 0, 2**31 - 1)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.execute(
        stmt.order_by(CatalogueChange.id.desc()).limit(limit).offset(offset)
    ).all()
    changes = [
        {
            "id": change.id,
            "entity": change.entity,
            "entity_id": change.entity_id,
            "action": change.action,
            "changed_by": username,
            "changed_at": change.changed_at.isoformat(),
            "before": change.before,
            "after": change.after,
        }
        for change, username in rows
    ]
    return jsonify({"total": total, "limit": limit, "offset": offset, "changes": changes})


# --- editing ------------------------------------------------------------------------------


@bp.post("/catalogue/small-classes")
def create_small_class():
    """Administrators: add a small class."""
    _require_admin()
    row = services.create_small_class(current_user, _body())
    db.session.commit()
    return jsonify(small_class_dict(row)), 201


@bp.patch("/catalogue/small-classes/<full_code>")
def update_small_class(full_code: str):
    """Administrators: change a small class's names, nine-word tag, unit kind or active flag."""
    row = _small_class_or_404(full_code)
    _require_admin()
    services.update_small_class(current_user, row, _body())
    db.session.commit()
    return jsonify(small_class_dict(row))


@bp.delete("/catalogue/small-classes/<full_code>")
def deactivate_small_class(full_code: str):
    """Administrators: retire a small class (kept for existing cases)."""
    row = _small_class_or_404(full_code)
    _require_admin()
    services.deactivate_small_class(current_user, row)
    db.session.commit()
    return jsonify(small_class_dict(row))


@bp.post("/catalogue/small-classes/<full_code>/standards")
def create_standard(full_code: str):
    """Administrators: add a filing standard to a small class."""
    small_class = _small_class_or_404(full_code)
    _require_admin()
    row = services.create_standard(current_user, small_class, _body())
    db.session.commit()
    return jsonify(standard_dict(row)), 201


@bp.patch("/catalogue/standards/<id:standard_id>")
def update_standard(standard_id: int):
    """Administrators: change a filing standard's wording, limit, closing condition or order."""
    row = _standard_or_404(standard_id)
    _require_admin()
    services.update_standard(current_user, row, _body())
    db.session.commit()
    return jsonify(standard_dict(row))


@bp.delete("/catalogue/standards/<id:standard_id>")
def deactivate_standard(standard_id: int):
    """Administrators: retire a filing standard (its class keeps at least one)."""
    row = _standard_or_404(standard_id)
    _require_admin()
    services.deactivate_standard(current_user, row)
    db.session.commit()
    return jsonify(standard_dict(row))


@bp.post("/catalogue/routing-rules")
def create_routing_rule():
    """Administrators: add a routing rule."""
    _require_admin()
    row = services.create_routing_rule(current_user, _body())
    db.session.commit()
    return jsonify(rule_dict(row)), 201


@bp.patch("/catalogue/routing-rules/<id:rule_id>")
def update_routing_rule(rule_id: int):
    """Administrators: change a routing rule."""
    row = _rule_or_404(rule_id)
    _require_admin()
    services.update_routing_rule(current_user, row, _body())
    db.session.commit()
    return jsonify(rule_dict(row))


@bp.delete("/catalogue/routing-rules/<id:rule_id>")
def deactivate_routing_rule(rule_id: int):
    """Administrators: retire a routing rule."""
    row = _rule_or_404(rule_id)
    _require_admin()
    services.deactivate_routing_rule(current_user, row)
    db.session.commit()
    return jsonify(rule_dict(row))


# --- working calendar ---------------------------------------------------------------------


def _day_ruling(day: date) -> dict:
    info = get_city_clock().calendar.day_info(day)
    return {"day": day.isoformat(), "working": info.working, "source": info.source, "note": info.note}


@bp.get("/calendar")
def get_calendar():
    """A year's source and overrides, the provisional years ahead, office hours and thresholds."""
    clock = get_city_clock()
    this_year = datetime.now(clock.zone).year
    year = _integer_arg(request.args, "year", this_year, 1900, 2200)
    calendar = clock.calendar
    if year in OFFICIAL_YEARS:
        source = "official"
    else:
        source = "provisional" if calendar.is_provisional(year) else "entered"
    overrides = [
        {"day": day.isoformat(), "working": o.working, "note": o.note}
        for day, o in sorted(calendar.overrides.items())
        if day.year == year
    ]
    thresholds = {c.value: {"yellow": t.yellow, "red": t.red} for c, t in clock.thresholds.items()}
    return jsonify(
        {
            "year": year,
            "source": source,
            "overrides": overrides,
            "provisional_years": list(clock.provisional_years()),
            "schedule": clock.schedule.to_dict(),
            "thresholds": thresholds,
        }
    )


@bp.put("/calendar/days/<day>")
def set_calendar_day(day: str):
    """Administrators: rule a date a working day or a day off."""
    _require_admin()
    data = _body()
    unknown = sorted(set(data) - {"working", "note"})
    if unknown:
        raise ValidationFailed(_("Check the marked fields."), {name: _("unknown field") for name in unknown})
    if "working" not in data:
        raise ValidationFailed.field("working", _("required"))
    row = calendar_store.set_calendar_day(current_user, day, data["working"], data.get("note", ""))
    db.session.commit()
    return jsonify(_day_ruling(row.day))


@bp.delete("/calendar/days/<day>")
def clear_calendar_day(day: str):
    """Administrators: remove a date's override; the official or Monday–Friday rule applies again."""
    _require_admin()
    calendar_store.clear_calendar_day(current_user, day)
    db.session.commit()
    return jsonify(_day_ruling(date.fromisoformat(day.strip())))


@bp.post("/calendar/years")
def enter_calendar_year():
    """Administrators: declare a year's holidays entered, so it stops being provisional."""
    _require_admin()
    data = _body()
    unknown = sorted(set(data) - {"year"})
    if unknown:
        raise ValidationFailed(_("Check the marked fields."), {name: _("unknown field") for name in unknown})
    years = calendar_store.enter_calendar_year(current_user, data.get("year"))
    db.session.commit()
    return jsonify({"entered_years": years})


@bp.put("/calendar/schedule")
def set_work_schedule():
    """Administrators: replace the office hours (with optional seasons)."""
    _require_admin()
    schedule = calendar_store.set_work_schedule(current_user, _body())
    db.session.commit()
    return jsonify(schedule.to_dict())


@bp.put("/calendar/thresholds")
def set_warning_thresholds():
    """Administrators: set the yellow/red warning fractions of some clock types."""
    _require_admin()
    thresholds = calendar_store.set_warning_thresholds(current_user, _body())
    db.session.commit()
    return jsonify({c.value: {"yellow": t.yellow, "red": t.red} for c, t in thresholds.items()})


# --- OpenAPI ------------------------------------------------------------------------------


def _schema_ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _strict(properties: dict) -> dict:
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def _reply(description: str, schema: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _schema_ref(schema)}}}


_TEXT, _NTEXT, _INT, _BOOL = {"type": "string"}, {"type": ["string", "null"]}, {"type": "integer"}, {"type": "boolean"}
_CODE_REF = _strict({"code": _TEXT, "name": _TEXT})
_CLOCKS = ["urgent_hours", "working_hours", "working_days", "natural_days"]
_ACTIVE = {
    "name": "active", "in": "query", "required": False, "schema": {"enum": ["true", "all"]},
    "description": "true (default): active entries only; all: retired ones too",
}
_ERRORS = {
    "401": _reply("not signed in, or the token is unknown, expired or revoked", "Error"),
    "422": _reply("invalid input; `fields` names each offending field", "Error"),
}
_ADMIN_ERRORS = {**_ERRORS, "403": _reply("the caller is not an administrator", "Error")}
CALENDAR_OPERATIONS = {
    "setCalendarDay", "clearCalendarDay", "enterCalendarYear", "setWorkSchedule", "setWarningThresholds",
}


def _path_param(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def _body_of(schema: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": _schema_ref(schema)}}}


def openapi_schemas() -> dict:
    """The component schemas of the catalogue endpoints."""
    standard = _strict(
        {
            "id": _INT, "small_class": _TEXT, "name": _TEXT, "name_en": _NTEXT,
            "limit": _strict({"value": _INT, "clock": {"enum": _CLOCKS}}),
            "closing_condition": _TEXT, "sort": _INT, "active": _BOOL,
        }
    )
    small_class = _strict(
        {
            "id": _INT, "case_type": {"enum": list(CASE_TYPES)}, "code": _TEXT, "full_code": _TEXT,
            "big_class": _TEXT, "name": _TEXT, "name_en": _NTEXT,
            "nine_word": {"enum": [*NINE_WORDS, None]}, "nine_word_en": _NTEXT,
            "default_unit_kind": _NTEXT, "active": _BOOL,
            "standards": {"type": "array", "items": _schema_ref("FilingStandard")},
        }
    )
    big_class = _strict(
        {
            "id": _INT, "code": _TEXT, "name": _TEXT, "name_en": _NTEXT, "active": _BOOL,
            "small_classes": {"type": "array", "items": _schema_ref("SmallClass")},
        }
    )
    catalogue = _strict(
        {
            "types": {
                "type": "array",
                "items": _strict(
                    {
                        "case_type": {"enum": list(CASE_TYPES)}, "name": _TEXT, "name_en": _TEXT,
                        "big_classes": {"type": "array", "items": big_class},
                    }
                ),
            },
            "nine_words": {"type": "array", "items": _strict({"word": _TEXT, "en": _TEXT})},
        }
    )
    rule = _strict(
        {
            "id": _INT, "small_class": _NTEXT, "area": _CODE_REF, "department": _CODE_REF,
            "basis": {"enum": ["owner", "territory"]}, "priority": _INT, "active": _BOOL,
        }
    )
    unit = _strict(
        {
            "id": _INT, "code": _TEXT, "name": _TEXT, "name_en": _NTEXT, "kind": _TEXT,
            "area": {"anyOf": [_CODE_REF, {"type": "null"}]}, "parent": _NTEXT, "active": _BOOL,
        }
    )
    change = _strict(
        {
            "id": _INT, "entity": {"enum": list(HISTORY_ENTITIES)}, "entity_id": _INT,
            "action": _TEXT, "changed_by": _NTEXT, "changed_at": {"type": "string", "format": "date-time"},
            "before": {"type": ["object", "null"]}, "after": {"type": ["object", "null"]},
        }
    )
    small_class_input = {
        "type": "object",
        "properties": {
            "case_type": {"enum": list(CASE_TYPES)}, "code": {"type": "string", "pattern": "^[0-9]{4}$"},
            "name": _TEXT, "name_en": _NTEXT, "nine_word": {"enum": [*NINE_WORDS, None]},
            "default_unit_kind": _NTEXT, "active": _BOOL,
        },
        "additionalProperties": False,
        "description": "create: case_type, code and name required; update: case_type and code are fixed",
    }
    standard_input = {
        "type": "object",
        "properties": {
            "name": _TEXT, "name_en": _NTEXT, "limit_value": {"type": "integer", "minimum": 1, "maximum": 9999},
            "limit_clock": {"enum": _CLOCKS}, "closing_condition": _TEXT,
            "sort": {"type": "integer", "minimum": 0, "maximum": 1000}, "active": _BOOL,
        },
        "additionalProperties": False,
        "description": "create: limit_value and limit_clock required",
    }
    rule_input = {
        "type": "object",
        "properties": {
            "small_class": {**_NTEXT, "description": "full code such as E0101; null: any class"},
            "area": {**_TEXT, "description": "area code: the rule covers its subtree"},
            "department": {**_TEXT, "description": "department code"},
            "basis": {"enum": ["owner", "territory"]},
            "priority": {"type": "integer", "minimum": 0, "maximum": 10000, "description": "lower goes first"},
            "active": _BOOL,
        },
        "additionalProperties": False,
        "description": "create: area, department and basis required",
    }
    hours = {"type": "array", "items": {"type": "array", "items": _TEXT, "minItems": 2, "maxItems": 2}}
    schedule = {
        "type": "object",
        "properties": {
            "hours": hours,
            "seasons": {
                "type": "array",
                "items": _strict({"name": _TEXT, "from": _TEXT, "to": _TEXT, "hours": hours}),
            },
        },
        "additionalProperties": False,
        "description": 'office hours, e.g. {"hours": [["08:00", "12:00"], ["14:00", "18:00"]], "seasons": []}',
    }
    fractions = {
        "type": "object",
        "properties": {"yellow": {"type": "number"}, "red": {"type": "number"}},
        "additionalProperties": False,
    }
    thresholds = {"type": "object", "properties": {c: fractions for c in _CLOCKS}, "additionalProperties": False}
    day_ruling = _strict(
        {
            "day": {"type": "string", "format": "date"}, "working": _BOOL,
            "source": {"enum": ["official", "override", "entered", "provisional"]}, "note": _TEXT,
        }
    )
    calendar = _strict(
        {
            "year": _INT,
            "source": {"enum": ["official", "entered", "provisional"]},
            "overrides": {
                "type": "array",
                "items": _strict({"day": {"type": "string", "format": "date"}, "working": _BOOL, "note": _TEXT}),
            },
            "provisional_years": {"type": "array", "items": _INT},
            "schedule": _schema_ref("WorkSchedule"),
            "thresholds": _schema_ref("WarningThresholds"),
        }
    )
    return {
        "WorkSchedule": schedule,
        "WarningThresholds": thresholds,
        "CalendarDay": day_ruling,
        "Calendar": calendar,
        "CalendarDayInput": {
            "type": "object",
            "properties": {"working": _BOOL, "note": _TEXT},
            "required": ["working"],
            "additionalProperties": False,
        },
        "CalendarYearInput": _strict({"year": {"type": "integer", "minimum": 1900, "maximum": 2200}}),
        "EnteredYears": _strict({"entered_years": {"type": "array", "items": _INT}}),
        "Catalogue": catalogue,
        "SmallClass": small_class,
        "FilingStandard": standard,
        "RoutingRule": rule,
        "RoutingRuleList": _strict({"rules": {"type": "array", "items": _schema_ref("RoutingRule")}}),
        "Unit": unit,
        "UnitList": _strict({"units": {"type": "array", "items": _schema_ref("Unit")}}),
        "CatalogueChangePage": _strict(
            {"total": _INT, "limit": _INT, "offset": _INT, "changes": {"type": "array", "items": change}}
        ),
        "SmallClassInput": small_class_input,
        "FilingStandardInput": standard_input,
        "RoutingRuleInput": rule_input,
    }


def openapi_operations() -> dict[tuple[str, str], dict]:
    """(path, method) → OpenAPI operation for every catalogue endpoint."""
    day = _path_param("day", {"type": "string", "format": "date"}, "the date, YYYY-MM-DD")
    full_code = _path_param("full_code", {"type": "string"}, "small class full code, e.g. E0101 or C0118")
    row_id = {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}
    standard_id = _path_param("standard_id", row_id, "filing standard id")
    rule_id = _path_param("rule_id", row_id, "routing rule id")

    def edit(summary: str, operation_id: str, params: list, body: str | None, status: str, schema: str) -> dict:
        tag = "calendar" if operation_id in CALENDAR_OPERATIONS else "catalogue"
        operation = {
            "tags": [tag], "summary": summary, "operationId": operation_id, "parameters": params,
            "responses": {status: _reply(summary, schema), **_ADMIN_ERRORS},
        }
        if params and tag == "catalogue":
            operation["responses"]["404"] = _reply("no such entry", "Error")
        if body:
            operation["requestBody"] = _body_of(body)
        return operation

    return {
        ("/calendar", "get"): {
            "tags": ["calendar"],
            "summary": "A year's calendar source and overrides, provisional years ahead, office hours, thresholds",
            "description": (
                "`provisional_years` lists this year and next if they still run on the provisional "
                "Monday–Friday rule: their holidays need entering."
            ),
            "operationId": "getCalendar",
            "parameters": [
                {"name": "year", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1900, "maximum": 2200}, "description": "default: this year"},
            ],
            "responses": {"200": _reply("the calendar", "Calendar"), **_ERRORS},
        },
        ("/calendar/days/{day}", "put"): edit(
            "Rule a date a working day or a day off", "setCalendarDay", [day], "CalendarDayInput", "200",
            "CalendarDay",
        ),
        ("/calendar/days/{day}", "delete"): edit(
            "Remove a date's override", "clearCalendarDay", [day], None, "200", "CalendarDay"
        ),
        ("/calendar/years", "post"): edit(
            "Declare a year's holidays entered", "enterCalendarYear", [], "CalendarYearInput", "200", "EnteredYears"
        ),
        ("/calendar/schedule", "put"): edit(
            "Replace the office hours", "setWorkSchedule", [], "WorkSchedule", "200", "WorkSchedule"
        ),
        ("/calendar/thresholds", "put"): edit(
            "Set warning thresholds per clock type", "setWarningThresholds", [], "WarningThresholds", "200",
            "WarningThresholds",
        ),
        ("/catalogue", "get"): {
            "tags": ["catalogue"], "summary": "Types → big classes → small classes → filing standards with limits",
            "operationId": "getCatalogue", "parameters": [_ACTIVE],
            "responses": {"200": _reply("the catalogue", "Catalogue"), **_ERRORS},
        },
        ("/catalogue/routing-rules", "get"): {
            "tags": ["catalogue"], "summary": "The routing rules", "operationId": "listRoutingRules",
            "parameters": [_ACTIVE], "responses": {"200": _reply("the rules", "RoutingRuleList"), **_ERRORS},
        },
        ("/units", "get"): {
            "tags": ["catalogue"], "summary": "Handling units with kind, served area and parent",
            "operationId": "listUnits",
            "parameters": [
                _ACTIVE,
                {"name": "kind", "in": "query", "required": False, "schema": {"type": "string"},
                 "description": "only units of this kind, e.g. sanitation"},
            ],
            "responses": {"200": _reply("the units", "UnitList"), **_ERRORS},
        },
        ("/catalogue/history", "get"): {
            "tags": ["catalogue"], "summary": "Administrators: catalogue, routing, calendar and city-rule edits, newest first",
            "operationId": "catalogueHistory",
            "parameters": [
                {"name": "entity", "in": "query", "required": False, "schema": {"enum": list(HISTORY_ENTITIES)}},
                {"name": "entity_id", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}},
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": HISTORY_MAX}},
                {"name": "offset", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}},
            ],
            "responses": {"200": _reply("a page of changes", "CatalogueChangePage"), **_ADMIN_ERRORS},
        },
        ("/catalogue/small-classes", "post"): edit(
            "Add a small class", "createSmallClass", [], "SmallClassInput", "201", "SmallClass"
        ),
        ("/catalogue/small-classes/{full_code}", "patch"): edit(
            "Change a small class", "updateSmallClass", [full_code], "SmallClassInput", "200", "SmallClass"
        ),
        ("/catalogue/small-classes/{full_code}", "delete"): edit(
            "Retire a small class", "deactivateSmallClass", [full_code], None, "200", "SmallClass"
        ),
        ("/catalogue/small-classes/{full_code}/standards", "post"): edit(
            "Add a filing standard", "createStandard", [full_code], "FilingStandardInput", "201", "FilingStandard"
        ),
        ("/catalogue/standards/{standard_id}", "patch"): edit(
            "Change a filing standard", "updateStandard", [standard_id], "FilingStandardInput", "200",
            "FilingStandard",
        ),
        ("/catalogue/standards/{standard_id}", "delete"): edit(
            "Retire a filing standard", "deactivateStandard", [standard_id], None, "200", "FilingStandard"
        ),
        ("/catalogue/routing-rules", "post"): edit(
            "Add a routing rule", "createRoutingRule", [], "RoutingRuleInput", "201", "RoutingRule"
        ),
        ("/catalogue/routing-rules/{rule_id}", "patch"): edit(
            "Change a routing rule", "updateRoutingRule", [rule_id], "RoutingRuleInput", "200", "RoutingRule"
        ),
        ("/catalogue/routing-rules/{rule_id}", "delete"): edit(
            "Retire a routing rule", "deactivateRoutingRule", [rule_id], None, "200", "RoutingRule"
        ),
    }
