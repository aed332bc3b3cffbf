"""Notices and campaigns API: the notices a caller may read (with their frozen figures), campaigns' progress.

A notice's named cases are narrowed to the caller's area or unit exactly as on its page.
Making and publishing notices stays with the pages, the command line and the scheduler.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from gridops.api import bp
from gridops.auth.permissions import can_view_campaigns, can_view_notice, can_view_notices
from gridops.db import MAX_ROW_ID
from gridops.errors import NotAllowed, NotFound, ValidationFailed
from gridops.evaluation.campaigns import campaign_progress, visible_campaigns
from gridops.evaluation.models import NOTICE_KINDS, NOTICE_STATUSES, Notice
from gridops.evaluation.notices import content_for, visible_notices
from gridops.extensions import db

MAX_KEY = 32


def _arg(name: str) -> str | None:
    values = request.args.getlist(name)
    if len(values) > 1:
        raise ValidationFailed.field(name, _("give it once"))
    value = values[0].strip() if values else ""
    if len(value) > MAX_KEY:
        raise ValidationFailed.field(name, _("at most %(n)d characters", n=MAX_KEY))
    return value or None


def _summary(notice: Notice) -> dict:
    return {
        "id": notice.id,
        "kind": notice.kind,
        "period": notice.period_key,
        "period_start": notice.period_start.isoformat(),
        "period_end": notice.period_end.isoformat(),
        "scope": notice.scope_key,
        "status": notice.status,
        "generated_at": notice.generated_at.isoformat(),
        "published_at": notice.published_at.isoformat() if notice.published_at else None,
    }


@bp.get("/notices")
def list_notices():
    """The notices the caller may read, newest period first; ``kind`` and ``period`` narrow the list."""
    if not can_view_notices(current_user):
        raise NotAllowed(_("Your role does not read notices."))
    kind, period = _arg("kind"), _arg("period")
    if kind is not None and kind not in NOTICE_KINDS:
        raise ValidationFailed.field("kind", _("must be one of %(values)s", values=", ".join(NOTICE_KINDS)))
    items = [
        _summary(n) for n in visible_notices(current_user)
        if (kind is None or n.kind == kind) and (period is None or n.period_key == period)
    ]
    return jsonify({"items": items})


@bp.get("/notices/<id:notice_id>")
def get_notice(notice_id: int):
    """One notice with its figures (named cases narrowed to the caller's scope)."""
    notice = db.session.get(Notice, notice_id)
    if notice is None or not can_view_notice(current_user, notice):
        raise NotFound(_("No such notice for you."))
    return jsonify({**_summary(notice), "content": content_for(notice, current_user)})


@bp.get("/campaigns")
def list_campaigns():
    """Special campaigns with their progress now."""
    if not can_view_campaigns(current_user):
        raise NotAllowed(_("Your role does not follow special campaigns."))
    now = datetime.now(timezone.utc)
    items = []
    for campaign in db.session.scalars(visible_campaigns(current_user)):
        items.append({
            "id": campaign.id,
            "name": campaign.name,
            "description": campaign.description,
            "starts_on": campaign.starts_on.isoformat(),
            "ends_on": campaign.ends_on.isoformat(),
            "small_classes": [c.full_code for c in campaign.small_classes],
            "areas": [a.code for a in campaign.areas],
            "progress": campaign_progress(campaign, now=now).as_dict(),
        })
    return jsonify({"items": items})


def openapi_operations() -> dict[tuple[str, str], dict]:
    """(path, method) → OpenAPI operation for the notices and campaigns endpoints."""

    def reply(name, description):
        return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}

    def error(description):
        return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}

    errors = {
        "401": error("not signed in, or the token is unknown, expired or revoked"),
        "403": error("the caller's role may not do this"),
        "422": error("invalid input; `fields` names each offending field"),
    }
    return {
        ("/notices", "get"): {
            "tags": ["evaluation"],
            "summary": "Notices the caller may read (weekly supervision, monthly notice, quarterly review)",
            "description": "Evaluators, admins and leaders read every notice; area leads and unit staff published ones.",
            "operationId": "listNotices",
            "parameters": [
                {"name": "kind", "in": "query", "required": False, "schema": {"enum": list(NOTICE_KINDS)},
                 "description": "only this kind"},
                {"name": "period", "in": "query", "required": False, "schema": {"type": "string", "maxLength": MAX_KEY},
                 "description": "only this period key (2026-W47, 2026-11, 2026-Q4)"},
            ],
            "responses": {"200": reply("NoticeList", "the notices"), **errors},
        },
        ("/notices/{notice_id}", "get"): {
            "tags": ["evaluation"],
            "summary": "One notice with its frozen figures",
            "description": "The content's shape per kind is described in docs/evaluation.md (\"Notices\").",
            "operationId": "getNotice",
            "parameters": [{"name": "notice_id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}}],
            "responses": {"200": reply("Notice", "the notice"), "401": errors["401"],
                          "404": error("no such notice, or not one the caller may read")},
        },
        ("/campaigns", "get"): {
            "tags": ["evaluation"],
            "summary": "Special campaigns with their progress now",
            "operationId": "listCampaigns",
            "responses": {"200": reply("CampaignList", "the campaigns"), "401": errors["401"], "403": errors["403"]},
        },
    }


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def openapi_schemas() -> dict:
    """The component schemas of the notices and campaigns endpoints."""
    instant = {"type": "string", "format": "date-time"}
    summary = {
        "id": {"type": "integer"},
        "kind": {"enum": list(NOTICE_KINDS)},
        "period": {"type": "string"},
        "period_start": instant,
        "period_end": instant,
        "scope": {"type": "string", "description": "city, or area:<id>"},
        "status": {"enum": list(NOTICE_STATUSES)},
        "generated_at": instant,
        "published_at": {"type": ["string", "null"], "format": "date-time"},
    }
    notice_summary = {"type": "object", "properties": summary, "required": list(summary),
                      "additionalProperties": False}
    notice = {
        "type": "object",
        "properties": {**summary, "content": {"type": "object", "description": "the notice's figures"}},
        "required": [*summary, "content"],
        "additionalProperties": False,
    }
    progress = {
        "type": "object",
        "properties": {
            "found": {"type": "integer", "minimum": 0},
            "closed": {"type": "integer", "minimum": 0},
            "target": {"type": "integer", "minimum": 1},
            "completion_rate": {"type": "number", "minimum": 0, "description": "closed / target, percent"},
            "as_of": instant,
        },
        "required": ["found", "closed", "target", "completion_rate", "as_of"],
        "additionalProperties": False,
    }
    campaign_properties = {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "starts_on": {"type": "string", "format": "date"},
        "ends_on": {"type": "string", "format": "date"},
        "small_classes": {"type": "array", "items": {"type": "string"}},
        "areas": {"type": "array", "items": {"type": "string"}},
        "progress": progress,
    }
    campaign = {"type": "object", "properties": campaign_properties, "required": list(campaign_properties),
                "additionalProperties": False}
    return {
        "NoticeSummary": notice_summary,
        "Notice": notice,
        "NoticeList": {"type": "object", "properties": {"items": {"type": "array", "items": _ref("NoticeSummary")}},
                       "required": ["items"], "additionalProperties": False},
        "Campaign": campaign,
        "CampaignList": {"type": "object", "properties": {"items": {"type": "array", "items": _ref("Campaign")}},
                         "required": ["items"], "additionalProperties": False},
    }

