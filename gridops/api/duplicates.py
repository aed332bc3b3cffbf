"""Duplicates API: the likely duplicates of a report about to be filed, or of an existing case; the
duplicate rules (radius and time window: read by every signed-in user, changed by administrators).

Merging itself is the ``merge``/``unmerge`` workflow action (``POST /cases/{number}/actions/merge``
with the master's number), so it shares the action endpoint's version checks and errors.
"""

from __future__ import annotations

from dataclasses import asdict

from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from gridops.api import bp
from gridops.api.cases import DATUMS, _choice, _instant, _integer, _number, _once, _text, load_visible_case
from gridops.api.catalogue import _body as _json_object
from gridops.api.catalogue import _require_admin
from gridops.cases.clocks import case_colour
from gridops.cases.duplicates import (
    DEFAULT_RADIUS_M,
    DEFAULT_WINDOW_HOURS,
    MAX_LIMIT,
    MAX_RADIUS_M,
    MAX_WINDOW_HOURS,
    DuplicateCandidate,
    duplicate_rules,
    likely_duplicates,
    reset_duplicate_rules,
    set_duplicate_rules,
)
from gridops.cases.serializers import case_summary
from gridops.catalogue.services import small_class_by_full_code
from gridops.db import utcnow
from gridops.errors import ValidationFailed
from gridops.extensions import db

RULE_FIELDS = ("radius_m", "window_hours")


def candidate_dict(candidate: DuplicateCandidate, now) -> dict:
    """One likely duplicate: the case as listed, and why it looks like the same problem."""
    return {
        "case": case_summary(candidate.case, case_colour(candidate.case, now)),
        "distance_m": candidate.distance_m,
        "hours_apart": candidate.hours_apart,
        "same_grid": candidate.same_grid,
        "score": candidate.score,
    }


def _answer(candidates: list[DuplicateCandidate]):
    rules = duplicate_rules()
    now = utcnow()
    return jsonify(
        {
            "items": [candidate_dict(c, now) for c in candidates],
            "radius_m": rules.radius_m,
            "window_hours": rules.window_hours,
        }
    )


@bp.get("/cases/duplicates")
def list_duplicates():
    """Open cases of a small class near a position and time, best first (only those the caller may see)."""
    args = request.args
    _once(args, ("small_class", "x", "y", "datum", "at", "exclude", "limit"))
    code = (args.get("small_class") or "").strip()
    small_class = small_class_by_full_code(code) if code else None
    if small_class is None:
        raise ValidationFailed.field("small_class", _("no small class %(code)s; use e.g. E0102 or C0101", code=code))
    exclude_id = None
    if exclude := _text(args, "exclude", default=None):
        exclude_id = load_visible_case(exclude.strip()).id
    limit = _integer(args, "limit", minimum=1, maximum=MAX_LIMIT)
    candidates = likely_duplicates(
        small_class_id=small_class.id,
        x=_number(args, "x", required=True),
        y=_number(args, "y", required=True),
        datum=_choice(args, "datum", DATUMS, default="wgs84"),
        at=_instant(args, "at") or utcnow(),
        user=current_user,
        exclude_case_id=exclude_id,
        limit=10 if limit is None else limit,
    )
    return _answer(candidates)


@bp.get("/cases/<number>/duplicates")
def case_duplicates(number: str):
    """Likely duplicates of an existing case (itself left out)."""
    case = load_visible_case(number)
    limit = _integer(request.args, "limit", minimum=1, maximum=MAX_LIMIT)
    if case.x is None or case.y is None:
        return _answer([])
    return _answer(
        likely_duplicates(
            small_class_id=case.small_class_id, x=case.x, y=case.y, datum=case.datum, at=case.reported_at,
            user=current_user, exclude_case_id=case.id, limit=10 if limit is None else limit,
        )
    )


@bp.get("/cases/duplicate-rules")
def get_duplicate_rules():
    """The radius and time window in force."""
    return jsonify(asdict(duplicate_rules()))


@bp.put("/cases/duplicate-rules")
def put_duplicate_rules():
    """Administrators: change the radius and/or the window (a field left out keeps its value)."""
    _require_admin()
    data = _json_object()
    problems = {name: _("unknown field") for name in sorted(set(data) - set(RULE_FIELDS))}
    problems.update({name: _("must be a finite number") for name in RULE_FIELDS if name in data and data[name] is None})
    if problems:
        raise ValidationFailed(_("Check the marked fields."), problems)
    rules = set_duplicate_rules(current_user, **{name: data.get(name) for name in RULE_FIELDS})
    db.session.commit()
    return jsonify(asdict(rules))


@bp.delete("/cases/duplicate-rules")
def reset_rules():
    """Administrators: go back to the defaults."""
    _require_admin()
    rules = reset_duplicate_rules(current_user)
    db.session.commit()
    return jsonify(asdict(rules))


# --- OpenAPI ------------------------------------------------------------------------------


def openapi_schemas() -> dict:
    """The component schemas of the duplicates endpoints."""
    radius = {"type": "number", "description": "metres"}
    window = {"type": "number", "description": "hours either side (calendar hours)"}
    return {
        "DuplicateRules": {
            "type": "object", "properties": {"radius_m": radius, "window_hours": window},
            "required": list(RULE_FIELDS), "additionalProperties": False,
        },
        "DuplicateRulesInput": {
            "type": "object",
            "properties": {
                "radius_m": {**radius, "exclusiveMinimum": 0, "maximum": MAX_RADIUS_M},
                "window_hours": {**window, "exclusiveMinimum": 0, "maximum": MAX_WINDOW_HOURS},
            },
            "additionalProperties": False,
        },
        "DuplicateList": {
            "type": "object",
            "properties": {
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "case": {"$ref": "#/components/schemas/CaseSummary"},
                            "distance_m": {"type": "number", "description": "geodesic distance in metres"},
                            "hours_apart": {"type": "number"},
                            "same_grid": {"type": "boolean"},
                            "score": {
                                "type": "number", "minimum": 0, "maximum": 1,
                                "description": "0.5×(1−distance/radius) + 0.3×(1−hours/window) + 0.2×same grid",
                            },
                        },
                        "required": ["case", "distance_m", "hours_apart", "same_grid", "score"],
                        "additionalProperties": False,
                    },
                },
                "radius_m": {"type": "number"},
                "window_hours": {"type": "number"},
            },
            "required": ["items", "radius_m", "window_hours"],
            "additionalProperties": False,
        }
    }


def openapi_operations() -> dict[tuple[str, str], dict]:
    """(path, method) → OpenAPI operation for the duplicates endpoints."""

    def query(name, schema, description, required=False):
        return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}

    reply = {"description": "likely duplicates, best first",
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DuplicateList"}}}}
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    limit = query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, "at most this many (10)")
    rules = {"description": "the duplicate rules in force",
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DuplicateRules"}}}}
    unauthenticated = {"description": "not signed in", **error}
    not_admin = {"description": "the caller is not an administrator", **error}
    return {
        ("/cases/duplicate-rules", "get"): {
            "tags": ["cases"], "summary": "The duplicate rules: radius and time window of likely duplicates",
            "operationId": "getDuplicateRules",
            "responses": {"200": rules, "401": unauthenticated},
        },
        ("/cases/duplicate-rules", "put"): {
            "tags": ["cases"], "summary": "Change the duplicate rules (administrators)",
            "description": "A field left out keeps its value; kept in the administration history.",
            "operationId": "setDuplicateRules",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/DuplicateRulesInput"}}}},
            "responses": {"200": rules, "401": unauthenticated, "403": not_admin,
                          "422": {"description": "invalid input; `fields` names each offending field", **error}},
        },
        ("/cases/duplicate-rules", "delete"): {
            "tags": ["cases"], "summary": f"Reset the duplicate rules to the defaults, {DEFAULT_RADIUS_M:g} m and {DEFAULT_WINDOW_HOURS:g} h"
                       " (administrators)",
            "operationId": "resetDuplicateRules",
            "responses": {"200": rules, "401": unauthenticated, "403": not_admin},
        },
        ("/cases/duplicates", "get"): {
            "tags": ["cases"],
            "summary": "Likely duplicates of a report: open cases of its small class near it in place and time",
            "description": (
                "Within the city's radius (default 50 m) and time window (default 24 h either side), "
                "only cases the caller may see, best first by score."
            ),
            "operationId": "listDuplicates",
            "parameters": [
                query("small_class", {"type": "string"}, "small class full code, e.g. E0102", required=True),
                query("x", {"type": "number"}, "longitude in datum", required=True),
                query("y", {"type": "number"}, "latitude in datum", required=True),
                query("datum", {"enum": list(DATUMS)}, "datum of x/y (wgs84)"),
                query("at", {"type": "string", "format": "date-time"}, "time of the report, with offset (now)"),
                query("exclude", {"type": "string"}, "number of a case to leave out (the report itself)"),
                limit,
            ],
            "responses": {
                "200": reply,
                "401": {"description": "not signed in", **error},
                "404": {"description": "the excluded case is not one the caller may see", **error},
                "422": {"description": "invalid input; `fields` names each offending field", **error},
            },
        },
        ("/cases/{number}/duplicates", "get"): {
            "tags": ["cases"],
            "summary": "Likely duplicates of an existing case",
            "operationId": "caseDuplicates",
            "parameters": [
                {"name": "number", "in": "path", "required": True, "schema": {"type": "string"},
                 "description": "the case number"},
                limit,
            ],
            "responses": {
                "200": reply,
                "401": {"description": "not signed in", **error},
                "404": {"description": "no such case in the caller's scope", **error},
                "422": {"description": "invalid input", **error},
            },
        },
    }
