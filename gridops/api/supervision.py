"""Supervision API: the caller's supervision orders, their unread counts, an order, replies; the
escalation policy (read by every signed-in user, changed by administrators)."""

from __future__ import annotations

from dataclasses import asdict

from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from gridops.api import bp
from gridops.api.cases import _body, _integer, _once, _text
from gridops.api.catalogue import _body as _json_object
from gridops.api.catalogue import _require_admin
from gridops.auth.permissions import can_use_supervision_inbox
from gridops.db import MAX_ROW_ID, utcnow
from gridops.errors import NotAllowed, NotFound, ValidationFailed
from gridops.extensions import db
from gridops.supervision import queries
from gridops.supervision.models import ORDER_KINDS, WATCH_STAGES, SupervisionOrder, SupervisionRead, SupervisionRecipient
from gridops.supervision.policy import (
    MAX_REPLY_HOURS,
    NUMBER_LIMITS,
    REPLY_KINDS,
    escalation_policy,
    reset_escalation_policy,
    set_escalation_policy,
)
from gridops.supervision.serializers import order_dict
from gridops.supervision.services import MAX_REPLY, mark_read, reply_to_order
from gridops.supervision.views import TABS, tab_clause

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


def _require_inbox() -> None:
    if not can_use_supervision_inbox(current_user):
        raise NotAllowed(_("Your role receives no supervision orders."))


def _counts() -> dict:
    counts = queries.inbox_counts(current_user)
    return {"unread": counts.unread, "awaiting_reply": counts.awaiting_reply, "total": counts.total}


def _order(order_id: int) -> SupervisionOrder:
    order = queries.visible_order(current_user, order_id)
    if order is None:
        raise NotFound(_("There is no supervision order %(id)d that you may see.", id=order_id), {"order_id": _("unknown")})
    return order


@bp.get("/supervision/counts")
def supervision_counts():
    """The caller's unread, awaiting-reply and total supervision orders."""
    _require_inbox()
    return jsonify(_counts())


@bp.get("/supervision/orders")
def supervision_orders():
    """The caller's supervision orders, newest first (``filter``: all, unread or awaiting_reply)."""
    _require_inbox()
    _once(request.args, ("filter", "limit", "offset"))
    tab = request.args.get("filter", "all")
    if tab not in TABS:
        raise ValidationFailed.field("filter", _("must be one of %(values)s", values=", ".join(TABS)))
    limit = _integer(request.args, "limit", minimum=1, maximum=MAX_LIMIT) or DEFAULT_LIMIT
    offset = _integer(request.args, "offset", minimum=0) or 0
    stmt = queries.inbox_orders(current_user).options(
        selectinload(SupervisionOrder.recipients).selectinload(SupervisionRecipient.department),
        selectinload(SupervisionOrder.recipients).selectinload(SupervisionRecipient.area),
        selectinload(SupervisionOrder.recipients).selectinload(SupervisionRecipient.user),
        selectinload(SupervisionOrder.case),
        selectinload(SupervisionOrder.created_by),
    )
    condition = tab_clause(tab, current_user)
    if condition is not None:
        stmt = stmt.where(condition)
    orders = db.session.scalars(stmt.limit(limit).offset(offset)).all()
    read = set(
        db.session.scalars(
            select(SupervisionRead.order_id).where(
                SupervisionRead.user_id == current_user.id, SupervisionRead.order_id.in_([o.id for o in orders])
            )
        )
    ) if orders else set()
    now = utcnow()
    return jsonify({
        "items": [order_dict(o, unread=o.id not in read, now=now) for o in orders],
        "counts": _counts(),
        "limit": limit,
        "offset": offset,
    })


@bp.get("/supervision/orders/<id:order_id>")
def supervision_order(order_id: int):
    """One order with its replies; reading it marks it read for the caller."""
    _require_inbox()
    order = _order(order_id)
    unread = mark_read(order, current_user)
    data = order_dict(order, unread=unread, now=utcnow(), with_replies=True)
    db.session.commit()
    return jsonify(data)


@bp.post("/supervision/orders/<id:order_id>/replies")
def supervision_reply(order_id: int):
    """Reply to an order as one of its recipients (201: the order with its replies)."""
    _require_inbox()
    data, _files = _body()
    order = _order(order_id)
    body = _text(data, "body", required=True)
    if len(body) > MAX_REPLY:
        raise ValidationFailed.field("body", _("at most %(count)d characters", count=MAX_REPLY))
    reply_to_order(order, current_user, body)
    mark_read(order, current_user)
    result = order_dict(order, unread=False, now=utcnow(), with_replies=True)
    db.session.commit()
    return jsonify(result), 201


@bp.get("/supervision/policy")
def get_escalation_policy():
    """The escalation policy in force."""
    return jsonify(asdict(escalation_policy()))


@bp.put("/supervision/policy")
def put_escalation_policy():
    """Administrators: change some of the policy's values; those left out (reply limits too) keep theirs."""
    _require_admin()
    policy = set_escalation_policy(current_user, _json_object())
    db.session.commit()
    return jsonify(asdict(policy))


@bp.delete("/supervision/policy")
def reset_policy():
    """Administrators: go back to the published defaults."""
    _require_admin()
    policy = reset_escalation_policy(current_user)
    db.session.commit()
    return jsonify(asdict(policy))


def _policy_schema(*, strict: bool) -> dict:
    """The policy as answered (every key), or as sent to change it (any of the keys, within range)."""
    numbers = {}
    for name, (kind, low, high) in NUMBER_LIMITS.items():
        numbers[name] = {"type": "integer" if kind is int else "number"}
        if not strict:
            numbers[name].update(minimum=low, maximum=high)
    hours = {"type": ["integer", "null"]}
    if not strict:
        hours.update(minimum=1, maximum=MAX_REPLY_HOURS)
    reply_hours = {
        "type": "object", "properties": {kind: hours for kind in REPLY_KINDS}, "additionalProperties": False,
        "description": "working hours to reply per order kind (timeout orders per level); null: no reply asked",
    }
    if strict:
        reply_hours["required"] = list(REPLY_KINDS)
    schema = {
        "type": "object",
        "properties": {**numbers, "reply_hours": reply_hours},
        "additionalProperties": False,
        "description": (
            "level2_share: fraction of the stage's limit after the due time (0.5 = 50 %); "
            "the other numbers are working days"
        ),
    }
    if strict:
        schema["required"] = [*numbers, "reply_hours"]
    return schema


def openapi_schemas() -> dict:
    nstring = {"type": ["string", "null"]}
    instant = {"type": "string", "format": "date-time"}
    ninstant = {"type": ["string", "null"], "format": "date-time"}
    counts = {
        "type": "object",
        "properties": {k: {"type": "integer", "minimum": 0} for k in ("unread", "awaiting_reply", "total")},
        "required": ["unread", "awaiting_reply", "total"],
        "additionalProperties": False,
    }
    order = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "kind": {"enum": list(ORDER_KINDS)},
            "stage": {"enum": [*WATCH_STAGES, None],
                      "description": "the watched stage the order is about; null for a leader's order"},
            "level": {"type": "integer", "minimum": 0, "maximum": 3},
            "title": {"type": "string"},
            "case": {"type": "object", "properties": {"number": {"type": "string"}, "state": {"type": "string"}},
                     "required": ["number", "state"]},
            "instruction": {"type": "string"},
            "basis_at": instant,
            "created_at": instant,
            "created_by": nstring,
            "reply_required": {"type": "boolean"},
            "reply_due_at": ninstant,
            "replied_at": ninstant,
            "reply_overdue": {"type": "boolean"},
            "unread": {"type": "boolean"},
            "recipients": {"type": "array", "items": {"type": "string"}},
            "replies": {"type": "array", "items": {
                "type": "object",
                "properties": {"id": {"type": "integer"}, "author": {"type": "string"}, "body": {"type": "string"},
                               "created_at": instant},
                "required": ["id", "author", "body", "created_at"]}},
        },
        "required": ["id", "kind", "stage", "level", "title", "case", "instruction", "basis_at", "created_at", "created_by",
                     "reply_required", "reply_due_at", "replied_at", "reply_overdue", "unread", "recipients"],
        "additionalProperties": False,
    }
    return {
        "SupervisionCounts": counts, "SupervisionOrder": order,
        "EscalationPolicy": _policy_schema(strict=True), "EscalationPolicyInput": _policy_schema(strict=False),
    }


def openapi_operations() -> dict:
    """Operations of the supervision API, keyed by (path, method)."""

    def error(description: str) -> dict:
        return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}

    def ref(name: str) -> dict:
        return {"$ref": f"#/components/schemas/{name}"}

    common = {"401": error("not signed in"), "403": error("the caller's role receives no supervision orders"),
              "422": error("invalid input; `fields` names each offending field")}
    order_id = {"name": "order_id", "in": "path", "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}, "description": "the order id"}
    policy = {"description": "the escalation policy in force", "content": {"application/json": {"schema": ref("EscalationPolicy")}}}
    unauthenticated = error("not signed in")
    not_admin = error("the caller is not an administrator")
    return {
        ("/supervision/policy", "get"): {
            "tags": ["supervision"], "summary": "The escalation policy: levels 2 and 3, reply limits, the 12345 chain",
            "operationId": "getEscalationPolicy",
            "responses": {"200": policy, "401": unauthenticated},
        },
        ("/supervision/policy", "put"): {
            "tags": ["supervision"], "summary": "Change the escalation policy (administrators)",
            "description": "Keys left out keep their values, reply limits too; nothing is stored unless every "
                           "value is valid. Kept in the administration history.",
            "operationId": "setEscalationPolicy",
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("EscalationPolicyInput")}}},
            "responses": {"200": policy, "401": unauthenticated, "403": not_admin,
                          "422": error("invalid input; `fields` names each offending field (reply_hours.<kind>)")},
        },
        ("/supervision/policy", "delete"): {
            "tags": ["supervision"], "summary": "Reset the escalation policy to the published defaults (administrators)",
            "operationId": "resetEscalationPolicy",
            "responses": {"200": policy, "401": unauthenticated, "403": not_admin},
        },
        ("/supervision/counts", "get"): {
            "tags": ["supervision"], "summary": "The caller's unread, awaiting-reply and total supervision orders",
            "operationId": "supervisionCounts",
            "responses": {"200": {"description": "counts", "content": {"application/json": {"schema": ref("SupervisionCounts")}}},
                          **common},
        },
        ("/supervision/orders", "get"): {
            "tags": ["supervision"], "summary": "The caller's supervision orders, newest first",
            "operationId": "listSupervisionOrders",
            "parameters": [
                {"name": "filter", "in": "query", "required": False, "schema": {"enum": list(TABS)},
                 "description": "all (default), unread, or awaiting_reply (a reply from the caller's side is due)"},
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, "description": "page size (default 50)"},
                {"name": "offset", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ROW_ID}, "description": "rows to skip"},
            ],
            "responses": {"200": {"description": "a page of orders and the counts", "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {"items": {"type": "array", "items": ref("SupervisionOrder")}, "counts": ref("SupervisionCounts"),
                               "limit": {"type": "integer"}, "offset": {"type": "integer"}},
                "required": ["items", "counts", "limit", "offset"]}}}}, **common},
        },
        ("/supervision/orders/{order_id}", "get"): {
            "tags": ["supervision"], "summary": "One supervision order with its replies (marks it read for the caller)",
            "operationId": "getSupervisionOrder", "parameters": [order_id],
            "responses": {"200": {"description": "the order", "content": {"application/json": {"schema": ref("SupervisionOrder")}}},
                          "404": error("no such order in the caller's inbox"), **common},
        },
        ("/supervision/orders/{order_id}/replies", "post"): {
            "tags": ["supervision"], "summary": "Reply to a supervision order as one of its recipients",
            "operationId": "replySupervisionOrder", "parameters": [order_id],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"body": {"type": "string", "minLength": 1, "maxLength": MAX_REPLY}},
                "required": ["body"]}}}},
            "responses": {"201": {"description": "the order with its replies",
                                  "content": {"application/json": {"schema": ref("SupervisionOrder")}}},
                          "404": error("no such order in the caller's inbox"), **common},
        },
    }
