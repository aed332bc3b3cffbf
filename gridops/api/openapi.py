"""The OpenAPI 3.1 document of /api/v1, built as Python data from the code it describes.

Workflow actions, states, roles and required inputs come from ``gridops/cases/states.py``;
only operations whose route is registered are published, and a test checks that every
registered route is described, so the document cannot drift from what the API really does.
"""

from __future__ import annotations

import re

from flask import current_app, jsonify

from gridops.api import bp
from gridops.api import catalogue as catalogue_api
from gridops.api import duplicates as duplicates_api
from gridops.api import workspaces as workspaces_api
from gridops.api import hotline as hotline_api
from gridops.api import indicators as indicators_api
from gridops.api import notices as notices_api
from gridops.api import supervision as supervision_api
from gridops.auth.roles import ROLE_VALUES
from gridops.cases.models import PHOTO_KINDS, SOURCES, URGENCIES
from gridops.cases.serializers import EXPORT_COLUMNS, STAGES
from gridops.cases.states import ACTIONS, Input, State
from gridops.db import MAX_ROW_ID

OPENAPI_VERSION = "3.1.0"
_RULE_PART = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def _object(properties: dict, required=None, additional: bool = False) -> dict:
    schema = {"type": "object", "properties": properties, "additionalProperties": additional}
    schema["required"] = list(properties) if required is None else list(required)
    return schema


STRING = {"type": "string"}
NSTRING = {"type": ["string", "null"]}
INSTANT = {"type": "string", "format": "date-time"}
NINSTANT = {"type": ["string", "null"], "format": "date-time"}
NUMBER = {"type": "number"}
NNUMBER = {"type": ["number", "null"]}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
NBOOLEAN = {"type": ["boolean", "null"]}
STATES = [state.value for state in State]
COLOURS = ["green", "yellow", "red", ""]
DATUMS = ["wgs84", "gcj02", "bd09"]
CLOCKS = ["urgent_hours", "working_hours", "working_days", "natural_days"]


def _action_table() -> str:
    lines = [
        "| action | from | to | roles | scope | required |",
        "|---|---|---|---|---|---|",
    ]
    for action in ACTIONS.values():
        lines.append(
            "| {} | {} | {} | {} | {} | {} |".format(
                action.name,
                ", ".join(sorted(s.value for s in action.sources)),
                action.target.value if action.target else "(unchanged)",
                ", ".join(sorted(r.value for r in action.roles)),
                action.scope.value,
                ", ".join(sorted(i.value for i in action.required)) or "—",
            )
        )
    return "\n".join(lines)


def _schemas() -> dict:
    area_ref = _object({"code": STRING, "name": STRING})
    located_ref = _object(
        {
            "id": INTEGER, "code": STRING, "name": STRING, "name_en": NSTRING,
            "level": STRING, "level_name": STRING, "level_name_en": NSTRING,
        }
    )
    photo = _object(
        {
            "id": INTEGER,
            "kind": {"enum": list(PHOTO_KINDS)},
            "content_type": STRING,
            "width": INTEGER,
            "height": INTEGER,
            "url": {"type": "string", "description": "GET it with the same credentials"},
            "thumb_url": STRING,
            "uploaded_at": INSTANT,
        }
    )
    summary_properties = {
        "number": {"type": "string", "description": "YYYYMMDD + daily sequence: unique, sorts by date"},
        "state": {"enum": STATES},
        "source": {"enum": list(SOURCES)},
        "case_type": {"enum": ["component", "event"]},
        "small_class": _object({"code": STRING, "full_code": STRING, "name": STRING, "name_en": NSTRING}),
        "description": STRING,
        "address": STRING,
        "urgency": {"enum": list(URGENCIES)},
        "position": _object(
            {"x": NNUMBER, "y": NNUMBER, "datum": {"enum": DATUMS}, "accuracy_m": NNUMBER}
        ),
        "area": _nullable(_ref("AreaRef")),
        "unit_grid": _nullable(_ref("AreaRef")),
        "located_in_gap": BOOLEAN,
        "holder_unit": _nullable(_ref("AreaRef")),
        "supervised": BOOLEAN,
        "self_handled": BOOLEAN,
        "assignee": _nullable(
            _object({"id": INTEGER, "name": STRING}),
        ),
        "colour": {
            "enum": COLOURS,
            "description": "warning colour of the running stage, computed when read; empty when no clock runs",
        },
        "overdue": {"type": "boolean", "description": "the running stage is past its due time"},
        "reported_at": INSTANT,
        "handle_due_at": NINSTANT,
        "closed_at": NINSTANT,
        "version": {"type": "integer", "description": "send it back as expected_version or If-Match"},
    }
    detail_properties = dict(summary_properties)
    detail_properties.update(
        standard=_nullable(
            _object(
                {
                    "id": INTEGER,
                    "name": STRING,
                    "limit_value": INTEGER,
                    "limit_clock": {"enum": CLOCKS},
                    "closing_condition": STRING,
                }
            )
        ),
        suggested_unit=_nullable(_ref("AreaRef")),
        times=_object(
            {
                name: NINSTANT
                for name in ("reported_at", "registered_at", "dispatched_at", "signed_at", "handled_at", "closed_at")
            }
        ),
        due=_object({stage: NINSTANT for stage in STAGES}, additional=False),
        closed_on_time=NBOOLEAN,
        counts=_object({name: INTEGER for name in ("dispatch", "return", "rework", "extension", "repeat")}),
        layer=_object({"x": NNUMBER, "y": NNUMBER, "version": {"type": ["integer", "null"]}}),
        events={"type": "array", "items": _ref("CaseEvent")},
        photos={"type": "array", "items": _ref("Photo")},
        allowed_actions={"type": "array", "items": _ref("AllowedAction")},
        merged_into={"type": ["string", "null"], "description": "number of the case this one was merged into"},
        merged_cases={
            "type": "array",
            "description": "duplicates merged into this case (并单), oldest first",
            "items": _object({"number": STRING, "merged_at": INSTANT}),
        },
        co_reporters={
            "type": "array",
            "description": "reporters of duplicates merged into this case, who see it as its reporter does",
            "items": _object({"id": INTEGER, "name": STRING}),
        },
    )
    return {
        "Error": {
            "type": "object",
            "description": "Every error: a stable code, a message for people, and the offending fields.",
            "properties": {
                "error": STRING,
                "message": STRING,
                "fields": {"type": "object", "additionalProperties": STRING},
            },
            "required": ["error", "message", "fields"],
        },
        "AreaRef": area_ref,
        "LocatedArea": located_ref,
        "Photo": photo,
        "CaseEvent": _object(
            {
                "id": INTEGER,
                "at": INSTANT,
                "action": STRING,
                "from_state": _nullable({"enum": STATES}),
                "to_state": _nullable({"enum": STATES}),
                "actor": _nullable(_object({"username": STRING, "full_name": STRING})),
                "actor_role": _nullable({"enum": list(ROLE_VALUES)}),
                "note": STRING,
                "payload": {"type": "object"},
                "photos": {"type": "array", "items": _ref("Photo")},
            }
        ),
        "AllowedAction": _object(
            {
                "name": {"enum": list(ACTIONS)},
                "label_zh": STRING,
                "label_en": STRING,
                "target": _nullable({"enum": STATES}),
                "required": {"type": "array", "items": {"enum": [i.value for i in Input]}},
            }
        ),
        "CaseSummary": _object(summary_properties),
        "CaseDetail": _object(detail_properties),
        "CasePage": _object(
            {
                "items": {"type": "array", "items": _ref("CaseSummary")},
                "total": INTEGER,
                "limit": INTEGER,
                "offset": INTEGER,
                "next": {"type": ["string", "null"], "description": "the next page, or null on the last"},
            }
        ),
        "NewCase": {
            "type": "object",
            "properties": {
                "source": {"enum": list(SOURCES)},
                "case_type": {"enum": ["component", "event"]},
                "small_class": {"type": "string", "maxLength": 4, "description": "small class code, e.g. 0102"},
                "x": {"type": "number", "description": "longitude in ``datum``"},
                "y": {"type": "number", "description": "latitude in ``datum``"},
                "datum": {"enum": DATUMS, "default": "wgs84"},
                "accuracy_m": {"type": "number"},
                "standard_id": {"type": "integer", "minimum": 1},
                "address": {"type": "string", "maxLength": 255},
                "description": {"type": "string", "maxLength": 4000},
                "urgency": {"enum": list(URGENCIES), "default": "normal"},
                "idempotency_key": {"type": "string", "maxLength": 64},
                "self_handled": {"type": "boolean"},
            },
            "required": ["source", "case_type", "small_class", "x", "y"],
        },
        "ActionInput": {
            "type": "object",
            "properties": {
                "expected_version": {"type": "integer", "minimum": 1},
                "reason": {"type": "string", "maxLength": 2000},
                "note": {"type": "string", "maxLength": 2000},
                "instruction": {"type": "string", "maxLength": 2000},
                "unit": {"type": "string", "description": "code of the target unit (dispatch, redispatch)"},
                "due_at": {"type": "string", "format": "date-time", "description": "with its offset"},
                "master": {"type": "string", "maxLength": 20, "description": "number of the case to merge into (merge)"},
                "confirm": {"type": "boolean", "description": "merge across grids or small classes (merge)"},
            },
        },
        "Location": _object(
            {
                "x": NUMBER, "y": NUMBER, "datum": {"enum": DATUMS}, "layer_version": INTEGER,
                "unit_grid": _nullable(_ref("LocatedArea")),
                "area": _ref("LocatedArea"),
                "chain": {"type": "array", "items": _ref("LocatedArea")},
                "gap": BOOLEAN,
            }
        ),
        "AreaFeature": {
            "type": "object",
            "properties": {
                "type": {"const": "Feature"},
                "id": STRING,
                "geometry": {"type": ["object", "null"]},
                "properties": {
                    "type": "object",
                    "properties": {
                        "code": STRING, "name": STRING, "name_en": NSTRING, "level": STRING,
                        "level_name": STRING, "level_name_en": NSTRING, "parent_code": NSTRING,
                        "generated": BOOLEAN, "area_m2": NNUMBER, "active": BOOLEAN,
                        "chain": {"type": "array", "items": {"type": "object"}},
                    },
                    "required": ["code", "name", "level", "parent_code"],
                },
            },
            "required": ["type", "geometry", "properties"],
        },
        "AreaCollection": {
            "type": "object",
            "properties": {
                "type": {"const": "FeatureCollection"},
                "features": {"type": "array", "items": _ref("AreaFeature")},
                "datum": _nullable({"enum": DATUMS}),
                "total": INTEGER,
                "limit": INTEGER,
                "offset": INTEGER,
            },
            "required": ["type", "features", "total", "limit", "offset"],
        },
        "CaseCollection": {
            "type": "object",
            "properties": {
                "type": {"const": "FeatureCollection"},
                "datum": _nullable({"enum": DATUMS}),
                "features": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "type": {"const": "Feature"},
                            "id": STRING,
                            "geometry": _nullable(
                                _object({"type": {"const": "Point"}, "coordinates": {
                                    "type": "array", "items": NUMBER, "minItems": 2, "maxItems": 2,
                                }})
                            ),
                            "properties": {
                                "type": "object",
                                "required": [c for c in EXPORT_COLUMNS if c not in ("x", "y", "datum")],
                            },
                        },
                        "required": ["type", "id", "geometry", "properties"],
                    },
                },
            },
            "required": ["type", "datum", "features"],
        },
        "Me": _object(
            {
                "id": INTEGER,
                "username": STRING,
                "full_name": STRING,
                "role": {"enum": list(ROLE_VALUES)},
                "area": NSTRING,
                "department": NSTRING,
                "locale": NSTRING,
                "authenticated_by": {"enum": ["token", "session"]},
            }
        ),
    }


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


def _json(schema_name: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema_name)}}}


def _query(name: str, schema: dict, description: str, **extra) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description, **extra}


def _path(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


ERRORS = {
    "401": _error("not signed in, or the token is unknown, expired or revoked"),
    "422": _error("invalid input; `fields` names each offending field"),
}
CASE_FILTERS = [
    _query("state", {"type": "string"}, "states, comma-separated or repeated: " + ", ".join(STATES)),
    _query("area", {"type": "string"}, "area code: cases in its subtree"),
    _query("unit", {"type": "string"}, "unit (department) code: cases it holds"),
    _query("class", {"type": "string"}, "small class full code, e.g. E0102 (event) or C0101 (component)"),
    _query("source", {"enum": list(SOURCES)}, "where the cases came from"),
    _query("overdue", {"type": "boolean"}, "only cases whose running stage is (true) or is not (false) overdue"),
    _query("supervised", {"type": "boolean"}, "only cases under (true) or not under (false) supervision"),
    _query("from", {"type": "string", "format": "date"}, "reported on or after this local date"),
    _query("to", {"type": "string", "format": "date"}, "reported on or before this local date"),
    _query("q", {"type": "string", "maxLength": 100}, "text in the number, description or address"),
    _query(
        "assignee",
        {"oneOf": [{"const": "me"}, {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}]},
        "the grid worker who must act on site next (verify or check): a user id, or `me`",
    ),
]
NUMBER_PARAM = _path("number", {"type": "string"}, "the case number")
#: Row ids are PostgreSQL integers.
ID = {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}
PHOTO_ID = _path("photo_id", ID, "the photo id")
MULTIPART_PHOTOS = {
    "photos": {
        "type": "array",
        "maxItems": 9,
        "items": {"type": "string", "contentMediaType": "application/octet-stream"},
        "description": "JPEG, PNG or WebP, at most 10 MB each, at most 9",
    }
}
IMAGE = {
    "description": "the image (JPEG, PNG or WebP)",
    "content": {t: {"schema": {"type": "string"}} for t in ("image/jpeg", "image/png", "image/webp")},
}


def _operations() -> dict[tuple[str, str], dict]:
    """Every operation the API can offer, keyed by (OpenAPI path, method)."""
    multipart_case = {
        "allOf": [_ref("NewCase"), {"type": "object", "properties": MULTIPART_PHOTOS}],
    }
    multipart_action = {
        "allOf": [_ref("ActionInput"), {"type": "object", "properties": MULTIPART_PHOTOS}],
    }
    exports = {
        "csv": ("text/csv", "CSV (UTF-8 with BOM), one row per case"),
        "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "an XLSX workbook"),
        "geojson": ("application/geo+json", "a GeoJSON FeatureCollection of points in the layer's datum"),
    }
    ops: dict[tuple[str, str], dict] = {
        ("/openapi.json", "get"): {
            "tags": ["meta"],
            "summary": "This document",
            "operationId": "openapi",
            "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}, **ERRORS},
        },
        ("/me", "get"): {
            "tags": ["auth"],
            "summary": "Who the caller is and the scope they work in",
            "operationId": "me",
            "responses": {"200": _json("Me", "the caller"), "401": ERRORS["401"]},
        },
        ("/areas", "get"): {
            "tags": ["territory"],
            "summary": "Active areas as GeoJSON, by level, parent subtree, bbox and text, in pages",
            "operationId": "listAreas",
            "parameters": [
                _query("level", {"type": "string"}, "level key, e.g. district, community, unit"),
                _query("parent", {"type": "string"}, "code of an area: its subtree"),
                _query("bbox", {"type": "string"}, "minx,miny,maxx,maxy in the layer's datum"),
                _query("q", {"type": "string", "maxLength": 100}, "code prefix or name"),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 5000}, "page size (500)"),
                _query("offset", {"type": "integer", "minimum": 0}, "rows to skip"),
                _query("simplify", {"type": "number", "minimum": 0}, "simplification tolerance"),
            ],
            "responses": {"200": _json("AreaCollection", "a page of areas"), **ERRORS},
        },
        ("/areas/{code}", "get"): {
            "tags": ["territory"],
            "summary": "One area with its chain from the top",
            "operationId": "getArea",
            "parameters": [_path("code", {"type": "string"}, "area code")],
            "responses": {
                "200": _json("AreaFeature", "the area"),
                "401": ERRORS["401"],
                "404": _error("no such area"),
            },
        },
        ("/locate", "get"): {
            "tags": ["territory"],
            "summary": "The unit grid (or gap area) and chain at a position",
            "operationId": "locate",
            "parameters": [
                {**_query("x", {"type": "number"}, "longitude"), "required": True},
                {**_query("y", {"type": "number"}, "latitude"), "required": True},
                _query("datum", {"enum": DATUMS}, "datum of x/y (wgs84)"),
            ],
            "responses": {"200": _json("Location", "where the position lies"), **ERRORS},
        },
        ("/locate", "post"): {
            "tags": ["territory"],
            "summary": "The unit grid (or gap area) and chain at a position sent as JSON",
            "operationId": "locateJson",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"x": NUMBER, "y": NUMBER, "datum": {"enum": DATUMS}},
                            "required": ["x", "y"],
                        }
                    }
                },
            },
            "responses": {"200": _json("Location", "where the position lies"), **ERRORS},
        },
        ("/cases", "get"): {
            "tags": ["cases"],
            "summary": "The caller's cases, newest first, filtered and paged",
            "description": "Only cases in the caller's scope are ever listed.",
            "operationId": "listCases",
            "parameters": CASE_FILTERS
            + [
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "page size (50)"),
                _query("offset", {"type": "integer", "minimum": 0}, "cases to skip"),
            ],
            "responses": {"200": _json("CasePage", "a page of cases"), **ERRORS},
        },
        ("/cases", "post"): {
            "tags": ["cases"],
            "summary": "File a case",
            "description": (
                "The same idempotency key (header `Idempotency-Key` or field `idempotency_key`) "
                "sent again returns the first case with 200 instead of filing a second one."
            ),
            "operationId": "fileCase",
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "maxLength": 64},
                    "description": "client-chosen key of this report",
                }
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": _ref("NewCase")},
                    "multipart/form-data": {"schema": multipart_case},
                },
            },
            "responses": {
                "201": _json("CaseDetail", "the new case"),
                "200": _json("CaseDetail", "the case filed earlier with this idempotency key"),
                "403": _error("the caller's role may not file cases"),
                "404": _error("the case filed earlier with this key is not one the caller may see"),
                "409": _error("the case could not be filed in this state"),
                **ERRORS,
            },
        },
        ("/cases/{number}", "get"): {
            "tags": ["cases"],
            "summary": "One case: stage due times, timeline, photos, the caller's allowed actions",
            "operationId": "getCase",
            "parameters": [NUMBER_PARAM],
            "responses": {
                "200": {
                    **_json("CaseDetail", "the case"),
                    "headers": {"ETag": {"schema": {"type": "string"}, "description": "the case version"}},
                },
                "401": ERRORS["401"],
                "404": _error("no such case in the caller's scope"),
            },
        },
        ("/cases/{number}/actions/{action}", "post"): {
            "tags": ["cases"],
            "summary": "Take a workflow action",
            "description": (
                "Send the version you read as `expected_version` or an `If-Match` header: if the case "
                "changed meanwhile the answer is 409 `stale`. The workflow:\n\n" + _action_table()
            ),
            "operationId": "takeAction",
            "parameters": [
                NUMBER_PARAM,
                _path("action", {"enum": list(ACTIONS)}, "the action (see the table)"),
                {
                    "name": "If-Match",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": 'the case version as read, e.g. "3"',
                },
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": _ref("ActionInput")},
                    "multipart/form-data": {"schema": multipart_action},
                },
            },
            "responses": {
                "200": _json("CaseDetail", "the case after the action"),
                "403": _error("the caller may not take this action on this case"),
                "404": _error("no such case in the caller's scope, or no such action"),
                "409": _error("`stale`: the case changed, reload; `invalid_transition`: not possible now"),
                **ERRORS,
            },
        },
        ("/photos/{photo_id}", "get"): {
            "tags": ["cases"],
            "summary": "A case photo, if the caller may see its case",
            "operationId": "getPhoto",
            "parameters": [PHOTO_ID],
            "responses": {"200": IMAGE, "304": {"description": "not modified"}, "401": ERRORS["401"],
                          "404": _error("no such photo in the caller's scope")},
        },
        ("/photos/{photo_id}/thumb", "get"): {
            "tags": ["cases"],
            "summary": "A case photo's thumbnail, if the caller may see its case",
            "operationId": "getPhotoThumb",
            "parameters": [PHOTO_ID],
            "responses": {"200": IMAGE, "304": {"description": "not modified"}, "401": ERRORS["401"],
                          "404": _error("no such photo in the caller's scope")},
        },
    }
    ops.update(catalogue_api.openapi_operations())
    ops.update(duplicates_api.openapi_operations())
    ops.update(workspaces_api.openapi_operations(CASE_FILTERS, ERRORS))
    ops.update(hotline_api.openapi_operations())
    ops.update(indicators_api.openapi_operations())
    ops.update(notices_api.openapi_operations())
    ops.update(supervision_api.openapi_operations())
    for kind, (media_type, description) in exports.items():
        schema = _ref("CaseCollection") if kind == "geojson" else {"type": "string"}
        ops[(f"/cases/export.{kind}", "get")] = {
            "tags": ["cases"],
            "summary": f"Export the filtered cases the caller may see as {kind.upper()} (streamed)",
            "description": "Columns: " + ", ".join(EXPORT_COLUMNS) + ". Times in the city's time zone.",
            "operationId": f"exportCases{kind.capitalize()}",
            "parameters": CASE_FILTERS,
            "responses": {"200": {"description": description, "content": {media_type: {"schema": schema}}}, **ERRORS},
        }
    return ops


def registered_operations(app) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every route the app serves under the API blueprint."""
    prefix = bp.url_prefix or ""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(f"{bp.name}.") and rule.rule.startswith(prefix):
            path = _RULE_PART.sub(r"{\1}", rule.rule[len(prefix):])
            found |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return found


def build_document(app) -> dict:
    """The OpenAPI document for ``app``: the operations it really serves."""
    served = registered_operations(app)
    paths: dict[str, dict] = {}
    for (path, method), operation in _operations().items():
        if (path, method) in served:
            paths.setdefault(path, {})[method] = operation
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "gridops API",
            "version": "1",
            "description": (
                "Grid-based urban management: territory, cases and their closed-loop workflow. "
                "Errors always use the `Error` envelope."
            ),
        },
        "servers": [{"url": bp.url_prefix}],
        "security": [{"bearerAuth": []}, {"sessionCookie": []}],
        "paths": paths,
        "components": {
            "schemas": {
                **_schemas(), **catalogue_api.openapi_schemas(), **duplicates_api.openapi_schemas(),
                **workspaces_api.openapi_schemas(),
                **hotline_api.openapi_schemas(),
                **indicators_api.openapi_schemas(),
                **notices_api.openapi_schemas(),
                **supervision_api.openapi_schemas(),
            },
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "gridops tokens create"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
    }


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 document of this API."""
    document = current_app.extensions.get("gridops.openapi")
    if document is None:
        document = current_app.extensions["gridops.openapi"] = build_document(current_app)
    return jsonify(document)
