"""Indicators API: a period's figures, scores, grades and ranks per grouping; score schemes; freezing.

What a caller reads is narrowed to what they may see: city-wide roles the whole city, the
centre's district staff and area leads their area's subtree, unit staff their own unit.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from gridops.api import bp
from gridops.auth.permissions import (
    DEPARTMENT_BOUND_ROLES,
    can_manage_score_schemes,
    can_view_indicators,
    scope_path,
    sees_whole_city,
)
from gridops.db import MAX_ROW_ID
from gridops.errors import NotAllowed, NotFound, ValidationFailed
from gridops.evaluation.indicators import COUNT_FIELDS, RATE_FIELDS
from gridops.evaluation.models import GROUP_BYS, ScoreScheme
from gridops.evaluation.periods import Period
from gridops.evaluation.scores import GRADES, default_scheme, save_score_scheme, scheme_by_id, scheme_to_dict
from gridops.evaluation.snapshots import find_snapshot, freeze_snapshot, indicator_table
from gridops.extensions import db
from gridops.org.models import Department
from gridops.territory.models import Area

MAX_KEY = 32


def _arg(name: str, *, required: bool = False, limit: int = MAX_KEY) -> str | None:
    values = request.args.getlist(name)
    if len(values) > 1:
        raise ValidationFailed.field(name, _("give it once"))
    value = values[0].strip() if values else ""
    if not value:
        if required:
            raise ValidationFailed.field(name, _("required"))
        return None
    if len(value) > limit:
        raise ValidationFailed.field(name, _("at most %(count)d characters", count=limit))
    return value


def _scheme_arg(raw) -> ScoreScheme:
    if raw is None:
        return default_scheme()
    if isinstance(raw, bool) or not isinstance(raw, (int, str)) or not str(raw).isdigit() or not 1 <= int(raw) <= MAX_ROW_ID:
        raise ValidationFailed.field("scheme", _("must be a score scheme id"))
    return scheme_by_id(int(raw))


def _body() -> Mapping:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationFailed.field("body", _("must be a JSON object"))
    return data


def caller_scope(area_code: str | None, unit_code: str | None) -> tuple[str | None, int | None]:
    """(scope_path, department_id) for the caller, narrowed by the requested area or unit."""
    path = None if sees_whole_city(current_user) else scope_path(current_user)
    department_id = None
    if current_user.role_enum in DEPARTMENT_BOUND_ROLES:
        if current_user.department_id is None:
            raise NotAllowed(_("Your account has no unit."))
        department_id = current_user.department_id
    elif path is None and not sees_whole_city(current_user):
        raise NotAllowed(_("Your account has no area."))
    if area_code is not None:
        area = db.session.scalar(select(Area).where(Area.code == area_code))
        if area is None or (path is not None and not area.path.startswith(path)) or department_id is not None:
            raise NotFound(_("No such area in your scope."))
        path = area.path
    if unit_code is not None:
        unit = db.session.scalar(select(Department).where(Department.code == unit_code))
        if unit is None or (department_id is not None and unit.id != department_id):
            raise NotFound(_("No such unit in your scope."))
        department_id = unit.id
    return path, department_id


@bp.get("/indicators")
def get_indicators():
    """A period's indicators, scores, grades and ranks, one row per group, with changes on the previous period and last year."""
    if not can_view_indicators(current_user):
        raise NotAllowed(_("You may not read indicators."))
    period = Period.parse(_arg("period", required=True))
    group_by = _arg("group_by") or "unit"
    if group_by not in GROUP_BYS:
        raise ValidationFailed.field("group_by", _("must be one of %(values)s", values=", ".join(GROUP_BYS)))
    scheme = _scheme_arg(_arg("scheme", limit=10))
    path, department_id = caller_scope(_arg("area"), _arg("unit"))
    table = indicator_table(period, group_by, scheme, scope_path=path, department_id=department_id)
    db.session.commit()  # the default scheme may just have been seeded
    return jsonify(_table_dict(table))


@bp.post("/indicators/snapshots")
def freeze_indicators():
    """Evaluators: freeze an ended period's figures for a grouping and scheme (once; again returns it)."""
    if not can_manage_score_schemes(current_user):
        raise NotAllowed(_("Only evaluators and administrators may freeze figures."))
    body = _body()
    raw_period = body.get("period")
    if not isinstance(raw_period, str):
        raise ValidationFailed.field("period", _("required"))
    period = Period.parse(raw_period)
    group_by = body.get("group_by", "unit")
    if group_by not in GROUP_BYS:
        raise ValidationFailed.field("group_by", _("must be one of %(values)s", values=", ".join(GROUP_BYS)))
    scheme = _scheme_arg(body.get("scheme"))
    created = find_snapshot(period, group_by, scheme) is None
    freeze_snapshot(period, group_by, scheme)
    db.session.commit()
    table = indicator_table(period, group_by, scheme, with_changes=False)
    return jsonify(_table_dict(table)), 201 if created else 200


@bp.get("/score-schemes")
def list_score_schemes():
    """Every score scheme, the default first."""
    if not can_view_indicators(current_user):
        raise NotAllowed(_("You may not read indicators."))
    default_scheme()
    db.session.commit()
    schemes = db.session.scalars(select(ScoreScheme).order_by(ScoreScheme.is_default.desc(), ScoreScheme.code))
    return jsonify({"items": [scheme_to_dict(s) for s in schemes]})


@bp.get("/score-schemes/<id:scheme_id>")
def get_score_scheme(scheme_id: int):
    """One score scheme with its parameters."""
    scheme = _scheme_or_404(scheme_id)
    if not can_view_indicators(current_user):
        raise NotAllowed(_("You may not read indicators."))
    return jsonify(scheme_to_dict(scheme))


@bp.post("/score-schemes")
def create_score_scheme():
    """Evaluators and administrators: add a score scheme."""
    if not can_manage_score_schemes(current_user):
        raise NotAllowed(_("Only evaluators and administrators may change score schemes."))
    scheme = save_score_scheme(current_user, _body())
    db.session.commit()
    return jsonify(scheme_to_dict(scheme)), 201


@bp.patch("/score-schemes/<id:scheme_id>")
def update_score_scheme(scheme_id: int):
    """Evaluators and administrators: change a scheme (past snapshots keep the rules they used)."""
    scheme = _scheme_or_404(scheme_id)
    if not can_manage_score_schemes(current_user):
        raise NotAllowed(_("Only evaluators and administrators may change score schemes."))
    save_score_scheme(current_user, _body(), scheme)
    db.session.commit()
    return jsonify(scheme_to_dict(scheme))


def _scheme_or_404(scheme_id: int) -> ScoreScheme:
    scheme = db.session.get(ScoreScheme, scheme_id)
    if scheme is None:
        raise NotFound(_("No such score scheme."))
    return scheme


def _table_dict(table) -> dict:
    return {
        "period": table.period.to_dict(),
        "group_by": table.group_by,
        "scheme": {"id": table.scheme.id, "code": table.scheme.code, "name": table.scheme.name},
        "parameters": table.parameters,
        "frozen": table.frozen,
        "frozen_at": table.frozen_at.isoformat() if table.frozen_at else None,
        "rows": [{**row.to_dict(), "grade_label": row.grade_label} for row in table.rows],
    }


# -- OpenAPI ---------------------------------------------------------------------------------


def openapi_schemas() -> dict:
    """The component schemas of the indicators endpoints."""
    number = {"type": ["number", "null"]}
    changes = {
        "anyOf": [
            {"type": "null"},
            {
                "type": "object",
                "properties": {
                    "score": number,
                    "rank": {"type": ["integer", "null"]},
                    **{name: number for name in ("on_time_closure_rate", "closure_rate", "on_time_handling_rate",
                                                 "hotline_satisfaction_rate")},
                },
                "additionalProperties": False,
            },
        ]
    }
    row = {
        "type": "object",
        "properties": {
            "key": {"type": "string"},
            "label": {"type": "string"},
            "peer_group": {"type": "string", "description": "rows of the same peer group are ranked together"},
            "path": {"type": "string"},
            "ref_id": {"type": ["integer", "null"]},
            **{name: {"type": "integer", "minimum": 0} for name in COUNT_FIELDS},
            **{name: {"type": ["number", "null"], "minimum": 0, "maximum": 1} for name in RATE_FIELDS},
            "avg_handling_hours": number,
            "score": number,
            "grade": {"enum": [*GRADES, None]},
            "grade_label": {"type": "string"},
            "rank": {"type": ["integer", "null"]},
            "rank_of": {"type": ["integer", "null"]},
            "items": {"type": "object", "additionalProperties": {"type": "number"}},
            "deductions": {"type": "object", "additionalProperties": {"type": "number"}},
            "previous": changes,
            "last_year": changes,
        },
        "additionalProperties": False,
    }
    row["required"] = list(row["properties"])
    scheme = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "code": {"type": "string"},
            "name": {"type": "string"},
            "name_en": {"type": ["string", "null"]},
            "description": {"type": "string"},
            "parameters": {"$ref": "#/components/schemas/ScoreParameters"},
            "is_default": {"type": "boolean"},
            "active": {"type": "boolean"},
            "revision": {"type": "integer"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
        "additionalProperties": False,
    }
    scheme["required"] = list(scheme["properties"])
    entry = {"type": "object", "additionalProperties": {"type": ["string", "number"]}}
    return {
        "IndicatorRow": row,
        "IndicatorTable": {
            "type": "object",
            "properties": {
                "period": {
                    "type": "object",
                    "properties": {
                        "key": {"type": "string"},
                        "kind": {"enum": ["week", "month", "quarter", "year", "custom"]},
                        "first_day": {"type": "string", "format": "date"},
                        "last_day": {"type": "string", "format": "date"},
                        "start": {"type": "string", "format": "date-time"},
                        "end": {"type": "string", "format": "date-time"},
                    },
                    "required": ["key", "kind", "first_day", "last_day", "start", "end"],
                    "additionalProperties": False,
                },
                "group_by": {"enum": list(GROUP_BYS)},
                "scheme": {
                    "type": "object",
                    "properties": {"id": {"type": "integer"}, "code": {"type": "string"}, "name": {"type": "string"}},
                    "required": ["id", "code", "name"],
                    "additionalProperties": False,
                },
                "parameters": {"$ref": "#/components/schemas/ScoreParameters"},
                "frozen": {"type": "boolean"},
                "frozen_at": {"type": ["string", "null"], "format": "date-time"},
                "rows": {"type": "array", "items": {"$ref": "#/components/schemas/IndicatorRow"}},
            },
            "required": ["period", "group_by", "scheme", "parameters", "frozen", "frozen_at", "rows"],
            "additionalProperties": False,
        },
        "ScoreParameters": {
            "type": "object",
            "description": (
                "items: rate items {indicator, points, threshold (%), per_point}; deductions: {indicator, points} "
                "per case; priority_weight: how many times leader/media cases count; grades: bands {grade, min}."
            ),
            "properties": {
                "items": {"type": "array", "items": entry},
                "deductions": {"type": "array", "items": entry},
                "priority_weight": {"type": "number"},
                "grades": {"type": "array", "items": entry},
            },
        },
        "ScoreScheme": scheme,
        "ScoreSchemeList": {
            "type": "object",
            "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/ScoreScheme"}}},
            "required": ["items"],
            "additionalProperties": False,
        },
        "ScoreSchemeInput": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "maxLength": 32},
                "name": {"type": "string", "maxLength": 128},
                "name_en": {"type": ["string", "null"], "maxLength": 128},
                "description": {"type": "string", "maxLength": 1000},
                "parameters": {"$ref": "#/components/schemas/ScoreParameters"},
                "is_default": {"type": "boolean"},
                "active": {"type": "boolean"},
            },
        },
    }


def openapi_operations() -> dict[tuple[str, str], dict]:
    """(path, method) → OpenAPI operation for the indicators endpoints."""

    def ref(name):
        return {"$ref": f"#/components/schemas/{name}"}

    def reply(name, description):
        return {"description": description, "content": {"application/json": {"schema": ref(name)}}}

    def error(description):
        return {"description": description, "content": {"application/json": {"schema": ref("Error")}}}

    def query(name, schema, description, required=False):
        return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}

    errors = {
        "401": error("not signed in, or the token is unknown, expired or revoked"),
        "403": error("the caller's role may not do this"),
        "422": error("invalid input; `fields` names each offending field"),
    }
    scheme_id = {"name": "scheme_id", "in": "path", "required": True,
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}, "description": "the scheme id"}
    scheme_body = {"required": True, "content": {"application/json": {"schema": ref("ScoreSchemeInput")}}}
    return {
        ("/indicators", "get"): {
            "tags": ["evaluation"],
            "summary": "Indicators, scores, grades and ranks of a period, per grouping, in the caller's scope",
            "description": (
                "Frozen periods are read from their snapshot (figures as published); others are computed. "
                "Rates are fractions 0–1. `previous` and `last_year` hold the change against the previous "
                "period and the same period a year earlier. Definitions: docs/evaluation.md."
            ),
            "operationId": "getIndicators",
            "parameters": [
                query("period", {"type": "string"}, "2026-W47, 2026-11, 2026-Q4, 2026 or 2026-11-01..2026-11-15",
                      required=True),
                query("group_by", {"enum": list(GROUP_BYS)}, "the grouping (unit)"),
                query("scheme", {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}, "score scheme id (default)"),
                query("area", {"type": "string"}, "area code: only its subtree (within the caller's scope)"),
                query("unit", {"type": "string"}, "unit code: only its cases (within the caller's scope)"),
            ],
            "responses": {
                "200": reply("IndicatorTable", "the rows"),
                "404": error("no such area or unit in the caller's scope"),
                **errors,
            },
        },
        ("/indicators/snapshots", "post"): {
            "tags": ["evaluation"],
            "summary": "Freeze an ended period's figures for a grouping and scheme",
            "description": "Once per period, grouping and scheme: asking again returns the frozen figures (200).",
            "operationId": "freezeIndicators",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {
                    "type": "object",
                    "properties": {
                        "period": {"type": "string"},
                        "group_by": {"enum": list(GROUP_BYS)},
                        "scheme": {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID},
                    },
                    "required": ["period"],
                }}},
            },
            "responses": {
                "201": reply("IndicatorTable", "frozen now"),
                "200": reply("IndicatorTable", "frozen before"),
                **errors,
            },
        },
        ("/score-schemes", "get"): {
            "tags": ["evaluation"],
            "summary": "Score schemes, the default first (the Jinhua scheme is seeded when there is none)",
            "operationId": "listScoreSchemes",
            "responses": {"200": reply("ScoreSchemeList", "the schemes"), **errors},
        },
        ("/score-schemes", "post"): {
            "tags": ["evaluation"],
            "summary": "Add a score scheme (evaluators, administrators)",
            "operationId": "createScoreScheme",
            "requestBody": scheme_body,
            "responses": {"201": reply("ScoreScheme", "the new scheme"), **errors},
        },
        ("/score-schemes/{scheme_id}", "get"): {
            "tags": ["evaluation"],
            "summary": "One score scheme",
            "operationId": "getScoreScheme",
            "parameters": [scheme_id],
            "responses": {"200": reply("ScoreScheme", "the scheme"), "404": error("no such scheme"), **errors},
        },
        ("/score-schemes/{scheme_id}", "patch"): {
            "tags": ["evaluation"],
            "summary": "Change a score scheme (evaluators, administrators); snapshots keep their rules",
            "operationId": "updateScoreScheme",
            "parameters": [scheme_id],
            "requestBody": scheme_body,
            "responses": {"200": reply("ScoreScheme", "the scheme"), "404": error("no such scheme"), **errors},
        },
    }
