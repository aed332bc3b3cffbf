"""Workspace API: what changed since a client last looked, the live cases as map points, batch dispatch."""

from __future__ import annotations

from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from gridops.api import bp
from gridops.api.cases import _integer, _once, _text, parse_case_filter
from gridops.auth import permissions
from gridops.cases.models import Case
from gridops.cases.queries import apply_filters, overdue_clause, visible_cases
from gridops.catalogue.models import SmallClass
from gridops.db import utcnow
from gridops.errors import NotAllowed, ValidationFailed
from gridops.extensions import db
from gridops.org.models import Department
from gridops.territory.views import current_layer
from gridops.workspaces import queues
from gridops.workspaces.services import MAX_BATCH, DispatchOutcome, DispatchRequest, dispatch_numbers

#: Which queues each workspace counts, and who may open it.
WORKSPACE_QUEUES = {
    "command": (queues.COMMAND_QUEUES, permissions.can_use_command_centre),
    "inbox": (queues.INBOX_QUEUES, permissions.can_use_unit_inbox),
    "leader": (queues.LEADER_QUEUES, permissions.can_use_leader_view),
}
#: Most points in one map answer; ``truncated`` says when the view holds more.
MAP_LIMIT = 2000
MAP_QUEUES = tuple(q.key for q in queues.COMMAND_QUEUES) + ("all",)
#: The longest case number the database holds.
NUMBER_LENGTH = Case.__table__.c.number.type.length


def _workspace(name: str | None) -> tuple:
    if name not in WORKSPACE_QUEUES:
        raise ValidationFailed.field("workspace", _("must be one of %(values)s", values=", ".join(WORKSPACE_QUEUES)))
    queue_set, allowed = WORKSPACE_QUEUES[name]
    if not allowed(current_user):
        raise NotAllowed(_("Your role may not open this workspace."))
    return queue_set


@bp.get("/work/changes")
def work_changes():
    """The newest event id the caller may see and the workspace's queue counts: poll it cheaply."""
    _once(request.args, ("workspace", "since", "area", "unit", "q"))
    queue_set = _workspace(request.args.get("workspace"))
    since = _integer(request.args, "since", minimum=0)
    filters = parse_case_filter(request.args)
    now = utcnow()
    base = apply_filters(visible_cases(current_user), filters).where(Case.state.in_(queues.OPEN_VALUES))
    last = queues.last_event_id(current_user)
    counts, _yellow = queues.queue_counts_for(base, queue_set, now)
    return jsonify({"last_event_id": last, "changed": since is None or last != since, "counts": counts})


def _bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    if raw is None:
        return None
    try:
        parts = [float(part) for part in raw.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 4 or not all(abs(v) <= 1000 for v in parts) or parts[0] > parts[2] or parts[1] > parts[3]:
        raise ValidationFailed.field("bbox", _("must be minx,miny,maxx,maxy in the layer's datum"))
    return parts[0], parts[1], parts[2], parts[3]


@bp.get("/work/map")
def work_map():
    """The caller's live cases of a queue as GeoJSON points in the layer's datum, inside ``bbox``."""
    _once(request.args, ("queue", "bbox", "area", "unit", "q"))
    if not permissions.can_use_command_centre(current_user):
        raise NotAllowed(_("Your role may not open this workspace."))
    key = request.args.get("queue", "all")
    if key not in MAP_QUEUES:
        raise ValidationFailed.field("queue", _("must be one of %(values)s", values=", ".join(MAP_QUEUES)))
    bbox = _bbox(request.args.get("bbox"))
    filters = parse_case_filter(request.args)
    now = utcnow()
    base = apply_filters(visible_cases(current_user), filters).where(
        Case.state.in_(queues.OPEN_VALUES), Case.layer_x.is_not(None), Case.layer_y.is_not(None)
    )
    if bbox is not None:
        base = base.where(Case.layer_x.between(bbox[0], bbox[2]), Case.layer_y.between(bbox[1], bbox[3]))
    if key == "yellow":
        base = base.where(queues.queue_clause(key, now, queues.yellow_ids(base, now)))
    elif key != "all":
        base = base.where(queues.queue_clause(key, now))
    stmt = queues.by_time_left(
        base.with_only_columns(
            Case.number, Case.state, Case.layer_x, Case.layer_y, Case.supervised,
            SmallClass.case_type, SmallClass.code, overdue_clause(now).label("overdue"),
        ).join(SmallClass, SmallClass.id == Case.small_class_id)
    ).limit(MAP_LIMIT + 1)
    rows = db.session.execute(stmt).all()
    layer = current_layer()
    features = [
        {
            "type": "Feature",
            "id": row.number,
            "geometry": {"type": "Point", "coordinates": [row.layer_x, row.layer_y]},
            "properties": {
                "number": row.number,
                "state": row.state,
                "overdue": bool(row.overdue),
                "supervised": bool(row.supervised),
                "small_class": row.case_type[0].upper() + row.code,
            },
        }
        for row in rows[:MAP_LIMIT]
    ]
    return jsonify(
        {
            "type": "FeatureCollection",
            "datum": layer.datum if layer else None,
            "features": features,
            "truncated": len(rows) > MAP_LIMIT,
        }
    )


def _dispatch_requests(data) -> tuple[list[DispatchRequest], dict[str, str]]:
    """The batch's cases, and the unit code of each whose code names no unit (refused alone)."""
    if not isinstance(data, dict):
        raise ValidationFailed(_("Send a JSON object."), {"body": _("must be a JSON object")})
    entries = data.get("cases")
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_BATCH:
        raise ValidationFailed.field("cases", _("must be a list of 1 to %(count)d cases", count=MAX_BATCH))
    parsed = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValidationFailed.field(f"cases[{index}]", _("must be an object"))
        try:
            number = _text(entry, "number", required=True).strip()
            unit = _text(entry, "unit", default=None)
            version = _integer(entry, "expected_version", minimum=1)
        except ValidationFailed as exc:
            name, reason = next(iter(exc.fields.items()))
            raise ValidationFailed.field(f"cases[{index}].{name}", reason) from None
        if len(number) > NUMBER_LENGTH:
            raise ValidationFailed.field(f"cases[{index}].number", _("at most %(count)d characters", count=NUMBER_LENGTH))
        if any(number == earlier[0] for earlier in parsed):
            raise ValidationFailed.field(f"cases[{index}].number", _("given twice"))
        parsed.append((number, unit.strip() if unit else None, version))
    codes = {unit for _number, unit, _version in parsed if unit}
    unit_ids = dict(db.session.execute(select(Department.code, Department.id).where(Department.code.in_(codes))).all())
    requests = [DispatchRequest(number, unit_ids.get(unit), version) for number, unit, version in parsed]
    unknown = {number: unit for number, unit, _version in parsed if unit and unit not in unit_ids}
    return requests, unknown


def _outcome_dict(outcome: DispatchOutcome, versions: dict[str, tuple[str, int]]) -> dict:
    if outcome.ok:
        state, version = versions[outcome.number]
        return {"number": outcome.number, "dispatched": True, "state": state, "version": version}
    error = outcome.error.to_dict()
    # The service names the unit by id; clients send its code as ``unit``.
    if "unit_id" in error["fields"]:
        error["fields"]["unit"] = error["fields"].pop("unit_id")
    return {"number": outcome.number, "dispatched": False, "error": error}


@bp.post("/work/dispatch")
def work_dispatch():
    """Dispatch several cases at once, each on its own: per case, dispatched or refused with the reason."""
    if not permissions.can_use_command_centre(current_user):
        raise NotAllowed(_("Your role may not open this workspace."))
    requests, unknown_units = _dispatch_requests(request.get_json(silent=True))
    refused = {
        number: DispatchOutcome(number, ValidationFailed.field("unit", _("no unit has the code %(code)s", code=code)))
        for number, code in unknown_units.items()
    }
    outcomes = {
        outcome.number: outcome
        for outcome in dispatch_numbers([r for r in requests if r.number not in refused], current_user)
    }
    outcomes.update(refused)
    db.session.commit()
    done = [number for number, outcome in outcomes.items() if outcome.ok]
    versions = {
        row.number: (row.state, row.version)
        for row in db.session.execute(select(Case.number, Case.state, Case.version).where(Case.number.in_(done)))
    }
    results = [_outcome_dict(outcomes[r.number], versions) for r in requests]
    return jsonify({"results": results, "dispatched": len(done), "refused": len(results) - len(done)})


def openapi_schemas() -> dict:
    """Schemas of the workspace endpoints' answers."""
    counts = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
    return {
        "DispatchBatch": {
            "type": "object",
            "properties": {
                "cases": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_BATCH,
                    "items": {
                        "type": "object",
                        "properties": {
                            "number": {"type": "string", "maxLength": NUMBER_LENGTH, "description": "the case number"},
                            "unit": {"type": "string", "description": "code of the handling unit to dispatch to"},
                            "expected_version": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1,
                                                 "description": "the case version as read; refused as `stale` if it changed since"},
                        },
                        "required": ["number"],
                    },
                },
            },
            "required": ["cases"],
        },
        "DispatchResults": {
            "type": "object",
            "properties": {
                "results": {
                    "type": "array",
                    "description": "one per case, in the order sent",
                    "items": {
                        "type": "object",
                        "properties": {
                            "number": {"type": "string"},
                            "dispatched": {"type": "boolean"},
                            "state": {"type": "string", "description": "the case state after dispatch"},
                            "version": {"type": "integer", "description": "the case version after dispatch"},
                            "error": {"$ref": "#/components/schemas/Error"},
                        },
                        "required": ["number", "dispatched"],
                        "additionalProperties": False,
                    },
                },
                "dispatched": {"type": "integer", "minimum": 0},
                "refused": {"type": "integer", "minimum": 0},
            },
            "required": ["results", "dispatched", "refused"],
            "additionalProperties": False,
        },
        "WorkChanges": {
            "type": "object",
            "properties": {
                "last_event_id": {"type": "integer", "description": "newest event on a case the caller may see"},
                "changed": {"type": "boolean", "description": "last_event_id differs from `since`"},
                "counts": counts,
            },
            "required": ["last_event_id", "changed", "counts"],
            "additionalProperties": False,
        },
        "WorkMap": {
            "type": "object",
            "properties": {
                "type": {"const": "FeatureCollection"},
                "datum": {"anyOf": [{"enum": ["wgs84", "gcj02", "bd09"]}, {"type": "null"}]},
                "truncated": {"type": "boolean"},
                "features": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "type": {"const": "Feature"},
                            "id": {"type": "string"},
                            "geometry": {
                                "type": "object",
                                "properties": {
                                    "type": {"const": "Point"},
                                    "coordinates": {"type": "array", "items": {"type": "number"},
                                                    "minItems": 2, "maxItems": 2},
                                },
                                "required": ["type", "coordinates"],
                            },
                            "properties": {
                                "type": "object",
                                "properties": {
                                    "number": {"type": "string"},
                                    "state": {"type": "string"},
                                    "overdue": {"type": "boolean"},
                                    "supervised": {"type": "boolean"},
                                    "small_class": {"type": "string"},
                                },
                                "required": ["number", "state", "overdue", "supervised", "small_class"],
                            },
                        },
                        "required": ["type", "id", "geometry", "properties"],
                    },
                },
            },
            "required": ["type", "datum", "features", "truncated"],
        },
    }


def openapi_operations(case_filters: list, errors: dict) -> dict[tuple[str, str], dict]:
    """(path, method) → OpenAPI operation for the workspace endpoints."""

    def query(name, schema, description):
        return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}

    def reply(schema: str, description: str) -> dict:
        return {"description": description,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}

    filters = [p for p in case_filters if p["name"] in ("area", "unit", "q")]
    refused = reply("Error", "the caller's role may not open this workspace")
    return {
        ("/work/changes", "get"): {
            "tags": ["workspaces"],
            "summary": "Newest visible event id and a workspace's queue counts (poll this)",
            "operationId": "workChanges",
            "parameters": [
                {**query("workspace", {"enum": list(WORKSPACE_QUEUES)}, "command, inbox or leader"), "required": True},
                query("since", {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                      "the last_event_id the client has"),
                *filters,
            ],
            "responses": {"200": reply("WorkChanges", "counts per queue"), "403": refused, **errors},
        },
        ("/work/dispatch", "post"): {
            "tags": ["workspaces"],
            "summary": "Dispatch several cases at once (派遣), each on its own",
            "description": (
                f"At most {MAX_BATCH} cases. Each case is dispatched or refused alone: a refusal (the case "
                "changed since `expected_version` — error `stale` —, is not waiting for dispatch, is not one the "
                "caller may see — `not_found` —, or names no unit) undoes nothing else. The answer is 200 "
                "whenever the request itself is well formed."
            ),
            "operationId": "dispatchCases",
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DispatchBatch"}}}},
            "responses": {"200": reply("DispatchResults", "what became of each case"), "403": refused, **errors},
        },
        ("/work/map", "get"): {
            "tags": ["workspaces"],
            "summary": "The caller's live cases of a command-centre queue as points, least time left first",
            "description": f"At most {MAP_LIMIT} points; `truncated` says when the view holds more.",
            "operationId": "workMap",
            "parameters": [
                query("queue", {"enum": list(MAP_QUEUES)}, "a queue of the command centre, or all (default)"),
                query("bbox", {"type": "string"}, "minx,miny,maxx,maxy in the layer's datum"),
                *filters,
            ],
            "responses": {"200": reply("WorkMap", "a FeatureCollection of points"), "403": refused, **errors},
        },
    }
