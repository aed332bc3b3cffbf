"""Hotline API: place search, logging complaints and repeats, replies, follow-up calls, queues, callers.

Callers' names and phones are returned unmasked only to ``can_see_caller`` roles, and each
such answer is recorded in the log of unmasked views; everyone else gets them masked.
"""

from __future__ import annotations

from collections.abc import Mapping

from zoneinfo import ZoneInfo

from flask import current_app, jsonify, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from gridops.api import bp
from gridops.api.cases import (
    MAX_LIMIT,
    _body,
    _choice,
    _flag,
    _integer,
    _number,
    _once,
    _page,
    _text,
    load_visible_case,
)
from gridops.auth.permissions import can_audit_caller_data, can_see_caller, can_take_hotline_calls
from gridops.cases.models import URGENCIES
from gridops.db import utcnow
from gridops.errors import NotAllowed, NotFound, ValidationFailed
from gridops.extensions import db
from gridops.hotline import audit, queries, services
from gridops.hotline.gazetteer import search_places
from gridops.hotline.models import CHANNELS, PLACE_KINDS, REPLY_LIMIT_KINDS, SATISFACTIONS, HotlineOrder
from gridops.hotline.privacy import normalize_phone, record_caller_view, shows_caller_data
from gridops.hotline.serializers import caller_view_dict, case_brief, contact_dict, order_dict

DATUMS = ("wgs84", "gcj02", "bd09")


def _require_operator() -> None:
    if not can_take_hotline_calls(current_user):
        raise NotAllowed(_("Only hotline operators may do this."))


def _order_for(number: str) -> HotlineOrder:
    case = load_visible_case(number)
    order = services.order_of(case)
    if order is None:
        raise NotFound(_("Case %(number)s did not come from the hotline.", number=number), {"number": _("not a hotline case")})
    return order


def order_response(order: HotlineOrder, status: int = 200, *, context: str = "api"):
    """The order with its contacts as the current user may see them (unmasked views are recorded)."""
    case = order.case
    contacts = queries.contacts_of(case)
    data = order_dict(order, case, followup_due_at=services.followup_due(order, case))
    data["contacts"] = [contact_dict(contact, current_user) for contact in contacts]
    if shows_caller_data(contacts) and can_see_caller(current_user):
        record_caller_view(current_user, context=context, case_ids=[case.id])
    db.session.commit()
    response = jsonify(data)
    response.status_code = status
    return response


def _caller(data: Mapping) -> dict:
    return dict(
        caller_name=_text(data, "caller_name") or "",
        phone=_text(data, "phone", required=True),
        channel=_choice(data, "channel", CHANNELS, default="phone"),
        content=_text(data, "content", required=True),
        consent_callback=_flag(data, "consent_callback") is not False,
    )


@bp.get("/hotline/places")
def hotline_places():
    """Gazetteer places and areas matching ``q`` (name, alias or code), with the point to file at."""
    query = request.args.get("q", "")  # a NUL character was refused before (gridops.errors)
    if len(query) > 128:
        raise ValidationFailed.field("q", _("at most %(count)d characters", count=128))
    return jsonify({"items": [hit.to_dict() for hit in search_places(query)]})


@bp.post("/hotline/complaints")
def hotline_log_complaint():
    """Log a new complaint: a hotline case with its order and first contact (201)."""
    _require_operator()
    data, _files = _body()
    fields = dict(
        **_caller(data),
        case_type=_choice(data, "case_type", ("component", "event")),
        small_class_code=_text(data, "small_class", required=True),
        reply_limit_kind=_choice(data, "reply_limit_kind", REPLY_LIMIT_KINDS, default="general"),
        x=_number(data, "x"),
        y=_number(data, "y"),
        datum=_choice(data, "datum", DATUMS, default="wgs84"),
        place_id=_integer(data, "place_id", minimum=1),
        area_code=_text(data, "area_code", default=None),
        address=_text(data, "address") or "",
        urgency=_choice(data, "urgency", URGENCIES, default="normal"),
        no_clear_owner=bool(_flag(data, "no_clear_owner")),
        idempotency_key=_text(data, "idempotency_key", default=None),
    )
    complaint = services.log_complaint(current_user, **fields)
    return order_response(complaint.order, 201 if complaint.created else 200, context="api:complaint")


@bp.post("/hotline/cases/<number>/contacts")
def hotline_repeat_contact(number: str):
    """Add a repeat complaint to an open case: its repeat count (and maybe urgency) goes up (201)."""
    _require_operator()
    data, _files = _body()
    fields = _caller(data)
    order_case = load_visible_case(number)
    services.add_repeat_contact(
        order_case, current_user, expected_version=_integer(data, "expected_version", minimum=1), **fields
    )
    db.session.flush()
    order = services.order_of(order_case)
    if order is None:
        db.session.commit()
        return jsonify({"case": case_brief(order_case)}), 201
    return order_response(order, 201, context="api:contact")


@bp.get("/hotline/cases/<number>")
def hotline_order(number: str):
    """A hotline case's order and contacts (masked unless the caller may see callers' data)."""
    return order_response(_order_for(number), context="api:order")


@bp.post("/hotline/cases/<number>/reply")
def hotline_reply(number: str):
    """答复: record the answer given to the caller."""
    _require_operator()
    data, _files = _body()
    note = _text(data, "note", required=True)
    order = _order_for(number)
    services.reply_to_caller(order, current_user, note=note)
    return order_response(order, context="api:reply")


@bp.post("/hotline/cases/<number>/follow-up")
def hotline_follow_up(number: str):
    """回访: record the caller's satisfaction; dissatisfied reopens a closed case."""
    _require_operator()
    data, _files = _body()
    satisfaction = _choice(data, "satisfaction", SATISFACTIONS)
    note = _text(data, "note") or ""
    order = _order_for(number)
    services.record_follow_up(order, current_user, satisfaction=satisfaction, note=note)
    return order_response(order, context="api:follow_up")


def _queue_json(items) -> list[dict]:
    return [
        {**order_dict(item.order, item.case), "due_at": item.due_at.isoformat(), "seconds_left": item.seconds_left}
        for item in items
    ]


@bp.get("/hotline/queues")
def hotline_queues():
    """The reply and follow-up queues of the cases the caller may see, most urgent first."""
    _require_operator()
    now = utcnow()
    return jsonify({
        "reply": _queue_json(queries.reply_queue(current_user, now)),
        "follow_up": _queue_json(queries.followup_queue(current_user, now)),
    })


@bp.get("/hotline/callers")
def hotline_caller_history():
    """A caller's earlier contacts by phone (hotline and supervision staff only; the lookup is recorded)."""
    if not can_see_caller(current_user):
        raise NotAllowed(_("Only hotline and supervision staff may look callers up."))
    phone = normalize_phone(request.args.get("phone"))
    rows = queries.previous_contacts(current_user, phone)
    record_caller_view(current_user, context="api:caller", case_ids=[case.id for _c, case in rows], phone=phone)
    db.session.commit()
    return jsonify({
        "items": [{**contact_dict(contact, current_user), "case": case_brief(case)} for contact, case in rows]
    })


@bp.get("/hotline/caller-views")
def hotline_caller_views():
    """The log of unmasked views of callers' data, newest first, filtered, in pages (administrators)."""
    if not can_audit_caller_data(current_user):
        raise NotAllowed(_("Only administrators may read the log of views of callers' data."))
    _once(request.args, audit.FILTER_FIELDS)
    view_filter = audit.parse_view_filter(request.args, ZoneInfo(current_app.config["GRIDOPS_TIMEZONE"]))
    limit, offset = _page(request.args)
    total = audit.log_count(view_filter)
    rows = audit.log_slice(view_filter, limit, offset)
    next_link = None
    if offset + limit < total:
        args = request.args.to_dict(flat=False)
        args.update(limit=[str(limit)], offset=[str(offset + limit)])
        next_link = url_for("api.hotline_caller_views", **args)
    return jsonify({
        "items": [caller_view_dict(row) for row in rows],
        "total": total, "limit": limit, "offset": offset, "next": next_link,
    })


# -- OpenAPI ---------------------------------------------------------------------------------------


def openapi_schemas() -> dict:
    """Schemas of the hotline API (merged into the document's components)."""
    string, nstring = {"type": "string"}, {"type": ["string", "null"]}
    instant, ninstant = {"type": "string", "format": "date-time"}, {"type": ["string", "null"], "format": "date-time"}
    ref = {"type": ["object", "null"], "properties": {"code": string, "name": string}, "required": ["code", "name"]}
    brief = {
        "type": "object",
        "properties": {
            "number": string, "state": string,
            "small_class": {"type": "object", "properties": {"full_code": string, "name": string, "name_en": nstring},
                            "required": ["full_code", "name", "name_en"]},
            "address": string, "description": string, "urgency": {"enum": list(URGENCIES)},
            "repeat_count": {"type": "integer"}, "area": ref, "unit_grid": ref,
            "reported_at": instant, "closed_at": ninstant,
        },
        "required": ["number", "state", "small_class", "address", "description", "urgency", "repeat_count",
                     "area", "unit_grid", "reported_at", "closed_at"],
    }
    contact = {
        "type": "object",
        "description": "caller_name and phone are masked (masked=true) unless the user may see callers' data; "
                       "once erased by the retention purge (erased_at set) caller_name, phone and content are empty",
        "properties": {
            "id": {"type": "integer"}, "caller_name": string, "phone": string, "masked": {"type": "boolean"},
            "channel": {"enum": list(CHANNELS)}, "content": string, "contacted_at": instant,
            "consent_callback": {"type": "boolean"}, "repeat": {"type": "boolean"}, "erased_at": ninstant,
        },
        "required": ["id", "caller_name", "phone", "masked", "channel", "content", "contacted_at",
                     "consent_callback", "repeat", "erased_at"],
    }
    order_props = {
        "case": {"$ref": "#/components/schemas/HotlineCase"},
        "reply_limit_kind": {"enum": list(REPLY_LIMIT_KINDS)},
        "reply_due_at": instant, "replied_at": ninstant, "reply_note": string,
        "followup_due_at": ninstant, "followed_up_at": ninstant, "followup_note": string,
        "satisfaction": {"enum": [*SATISFACTIONS, None]},
        "reopen_count": {"type": "integer"}, "territorial_fallback": {"type": "boolean"},
        "located_by": {"enum": ["point", "place", "area"]}, "unlocated": {"type": "boolean"}, "place": nstring,
    }
    order = {"type": "object", "properties": {**order_props, "contacts": {"type": "array", "items": {"$ref": "#/components/schemas/HotlineContact"}}},
             "required": [*order_props, "contacts"]}
    queued = {"type": "object", "properties": {**order_props, "due_at": instant, "seconds_left": {"type": "integer"}},
              "required": [*order_props, "due_at", "seconds_left"]}
    place = {
        "type": "object",
        "properties": {
            "type": {"enum": ["place", "area"]}, "id": {"type": "integer"}, "name": string, "name_en": nstring,
            "kind": string, "x": {"type": "number"}, "y": {"type": "number"}, "datum": {"enum": list(DATUMS)},
            "area_code": string, "area_name": string,
        },
        "required": ["type", "id", "name", "name_en", "kind", "x", "y", "datum", "area_code", "area_name"],
    }
    caller = {"type": "object", "properties": {
        "caller_name": {"type": "string", "maxLength": 64}, "phone": {"type": "string", "maxLength": 32},
        "channel": {"enum": list(CHANNELS)}, "content": {"type": "string", "maxLength": 4000},
        "consent_callback": {"type": "boolean"},
    }, "required": ["phone", "content"]}
    complaint = {
        "type": "object",
        "description": "exactly one of x/y (a map position), place_id (gazetteer) or area_code",
        "properties": {
            **caller["properties"],
            "case_type": {"enum": ["component", "event"]}, "small_class": {"type": "string"},
            "reply_limit_kind": {"enum": list(REPLY_LIMIT_KINDS)},
            "x": {"type": "number"}, "y": {"type": "number"}, "datum": {"enum": list(DATUMS)},
            "place_id": {"type": "integer", "minimum": 1}, "area_code": {"type": "string"},
            "address": {"type": "string", "maxLength": 255}, "urgency": {"enum": list(URGENCIES)},
            "no_clear_owner": {"type": "boolean", "description": "属地兜底: the district answers for it"},
            "idempotency_key": {"type": "string", "maxLength": 64},
        },
        "required": ["phone", "content", "case_type", "small_class"],
    }
    caller_view = {
        "type": "object",
        "description": "one unmasked view of callers' data: who (and their role then), when, where, "
                       "and the case or, for a lookup that found no case, the phone (masked)",
        "properties": {
            "id": {"type": "integer"}, "viewed_at": instant,
            "user": {"type": "object", "properties": {"id": {"type": "integer"}, "username": string,
                                                       "full_name": string},
                     "required": ["id", "username", "full_name"]},
            "role": string, "context": string, "case_number": nstring, "phone": nstring,
            "phone_erased": {"type": "boolean", "description": "the looked-up number was erased after the retention period"},
        },
        "required": ["id", "viewed_at", "user", "role", "context", "case_number", "phone", "phone_erased"],
    }
    return {
        "CallerView": caller_view,
        "HotlineCase": brief,
        "HotlineContact": contact,
        "HotlineOrder": order,
        "HotlineQueued": queued,
        "Place": place,
        "HotlineCaller": caller,
        "NewComplaint": complaint,
        "PlaceKinds": {"enum": list(PLACE_KINDS)},
    }


def openapi_operations() -> dict:
    """Operations of the hotline API, keyed by (path, method)."""

    def error(description: str) -> dict:
        return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}

    def body(schema: dict) -> dict:
        return {"required": True, "content": {"application/json": {"schema": schema}}}

    def json(schema: str, description: str) -> dict:
        return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}

    def query(name: str, description: str, fmt: str | None = None) -> dict:
        schema = {"type": "string", "maxLength": audit.MAX_TEXT, **({"format": fmt} if fmt else {})}
        return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}

    number = {"name": "number", "in": "path", "required": True, "schema": {"type": "string"}, "description": "the case number"}
    common = {"401": error("not signed in"), "422": error("invalid input; `fields` names each offending field")}
    order_errors = {**common, "403": error("not a hotline operator"),
                    "404": error("no such case in the caller's scope, or not a hotline case"),
                    "409": error("not possible in the order's or case's current state")}
    return {
        ("/hotline/places", "get"): {
            "tags": ["hotline"], "summary": "Search gazetteer places and areas by name, alias or code",
            "operationId": "searchPlaces",
            "parameters": [{"name": "q", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 128},
                            "description": "text to look for"}],
            "responses": {"200": {"description": "matching places, gazetteer first", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Place"}}},
                "required": ["items"]}}}}, **common},
        },
        ("/hotline/complaints", "post"): {
            "tags": ["hotline"], "summary": "Log a complaint as a new hotline case",
            "operationId": "logComplaint", "requestBody": body({"$ref": "#/components/schemas/NewComplaint"}),
            "responses": {"201": json("HotlineOrder", "the new order, its case and contact"),
                          "200": json("HotlineOrder", "the order filed earlier with this idempotency key"),
                          **order_errors},
        },
        ("/hotline/cases/{number}/contacts", "post"): {
            "tags": ["hotline"], "summary": "Add a repeat complaint to an open case (raises its repeat count)",
            "operationId": "addRepeatContact", "parameters": [number],
            "requestBody": body({"allOf": [{"$ref": "#/components/schemas/HotlineCaller"},
                                           {"type": "object", "properties": {"expected_version": {"type": "integer", "minimum": 1}}}]}),
            "responses": {"201": {"description": "the order (or, for a case not from the hotline, the case)",
                                  "content": {"application/json": {"schema": {"anyOf": [
                                      {"$ref": "#/components/schemas/HotlineOrder"},
                                      {"type": "object", "properties": {"case": {"$ref": "#/components/schemas/HotlineCase"}},
                                       "required": ["case"]}]}}}},
                          **order_errors},
        },
        ("/hotline/cases/{number}", "get"): {
            "tags": ["hotline"], "summary": "A hotline case's order and contacts (masked unless allowed)",
            "operationId": "getHotlineOrder", "parameters": [number],
            "responses": {"200": json("HotlineOrder", "the order"), "401": common["401"],
                          "404": error("no such hotline case in the caller's scope")},
        },
        ("/hotline/cases/{number}/reply", "post"): {
            "tags": ["hotline"], "summary": "Record the reply to the caller (答复)", "operationId": "replyToCaller",
            "parameters": [number],
            "requestBody": body({"type": "object", "properties": {"note": {"type": "string", "maxLength": 2000}}, "required": ["note"]}),
            "responses": {"200": json("HotlineOrder", "the order"), **order_errors},
        },
        ("/hotline/cases/{number}/follow-up", "post"): {
            "tags": ["hotline"], "summary": "Record the follow-up call (回访); dissatisfied reopens the case",
            "operationId": "recordFollowUp", "parameters": [number],
            "requestBody": body({"type": "object", "properties": {
                "satisfaction": {"enum": list(SATISFACTIONS)}, "note": {"type": "string", "maxLength": 2000}},
                "required": ["satisfaction"]}),
            "responses": {"200": json("HotlineOrder", "the order"), **order_errors},
        },
        ("/hotline/queues", "get"): {
            "tags": ["hotline"], "summary": "Reply and follow-up queues, least time left first", "operationId": "hotlineQueues",
            "responses": {"200": {"description": "the queues", "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "reply": {"type": "array", "items": {"$ref": "#/components/schemas/HotlineQueued"}},
                    "follow_up": {"type": "array", "items": {"$ref": "#/components/schemas/HotlineQueued"}}},
                "required": ["reply", "follow_up"]}}}},
                "401": common["401"], "403": error("not a hotline operator")},
        },
        ("/hotline/caller-views", "get"): {
            "tags": ["hotline"], "summary": "The log of unmasked views of callers' data, newest first (administrators)",
            "operationId": "callerViews",
            "parameters": [
                query("user", "username of whoever saw the data"),
                query("case", "case number"),
                query("phone", "mainland mobile or landline number: its lookups and views of the cases it called about"),
                query("from", "first day (YYYY-MM-DD, city time)", fmt="date"),
                query("to", "last day, included (YYYY-MM-DD, city time)", fmt="date"),
                {"name": "context", "in": "query", "required": False, "schema": {"enum": list(audit.CONTEXT_LABELS)},
                 "description": "where the data was shown"},
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, "description": "page size (50)"},
                {"name": "offset", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0},
                 "description": "rows to skip"},
            ],
            "responses": {"200": {"description": "a page of the log", "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/CallerView"}},
                    "total": {"type": "integer"}, "limit": {"type": "integer"}, "offset": {"type": "integer"},
                    "next": {"type": ["string", "null"]}},
                "required": ["items", "total", "limit", "offset", "next"]}}}},
                **common, "403": error("not an administrator")},
        },
        ("/hotline/callers", "get"): {
            "tags": ["hotline"], "summary": "A caller's earlier contacts by phone (hotline and supervision staff)",
            "operationId": "callerHistory",
            "parameters": [{"name": "phone", "in": "query", "required": True, "schema": {"type": "string", "maxLength": 32},
                            "description": "mainland mobile or landline number"}],
            "responses": {"200": {"description": "earlier contacts, newest first", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"items": {"type": "array", "items": {"allOf": [
                    {"$ref": "#/components/schemas/HotlineContact"},
                    {"type": "object", "properties": {"case": {"$ref": "#/components/schemas/HotlineCase"}}, "required": ["case"]}]}}},
                "required": ["items"]}}}},
                **common, "403": error("the caller's role may not see callers' data")},
        },
    }
