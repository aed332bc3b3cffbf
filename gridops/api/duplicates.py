"""Duplicates API: the likely duplicates of a report about to be filed, or of an existing case.

Merging itself is the ``merge``/``unmerge`` workflow action (``POST /cases/{number}/actions/merge``
with the master's number), so it shares the action endpoint's version checks and errors.
"""

from __future__ import annotations

from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from gridops.api import bp
from gridops.api.cases import DATUMS, _choice, _instant, _integer, _number, _once, _text, load_visible_case
from gridops.cases.clocks import case_colour
from gridops.cases.duplicates import MAX_LIMIT, DuplicateCandidate, duplicate_rules, likely_duplicates
from gridops.cases.serializers import case_summary
from gridops.catalogue.services import small_class_by_full_code
from gridops.db import utcnow
from gridops.errors import ValidationFailed


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


# --- OpenAPI ------------------------------------------------------------------------------


def openapi_schemas() -> dict:
    """The component schemas of the duplicates endpoints."""
    return {
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
    return {
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
