"""Hotline orders and contacts as JSON; callers' name and phone masked unless the user may see them."""

from __future__ import annotations

from datetime import datetime

from gridops.auth.models import User
from gridops.cases.models import Case
from gridops.cases.serializers import iso
from gridops.hotline.models import HotlineContact, HotlineOrder
from gridops.hotline.audit import shown_phone
from gridops.hotline.privacy import caller_fields


def contact_dict(contact: HotlineContact, user: User) -> dict:
    """One contact; ``masked`` says whether name and phone are shown masked to ``user``."""
    return {
        "id": contact.id,
        **caller_fields(contact, user),
        "channel": contact.channel,
        "content": contact.content,
        "contacted_at": iso(contact.contacted_at),
        "consent_callback": contact.consent_callback,
        "repeat": contact.repeat,
        "erased_at": iso(contact.erased_at),
    }


def case_brief(case: Case) -> dict:
    """The case fields the hotline desk shows beside an order."""
    small_class = case.small_class
    return {
        "number": case.number,
        "state": case.state,
        "small_class": {"full_code": small_class.full_code, "name": small_class.name, "name_en": small_class.name_en},
        "address": case.address,
        "description": case.description,
        "urgency": case.urgency,
        "repeat_count": case.repeat_count,
        "area": {"code": case.area.code, "name": case.area.name} if case.area else None,
        "unit_grid": {"code": case.unit_grid.code, "name": case.unit_grid.name} if case.unit_grid else None,
        "reported_at": iso(case.reported_at),
        "closed_at": iso(case.closed_at),
    }


def order_dict(order: HotlineOrder, case: Case, *, followup_due_at: datetime | None = None) -> dict:
    """The order's clocks and flags (no caller data)."""
    return {
        "case": case_brief(case),
        "reply_limit_kind": order.reply_limit_kind,
        "reply_due_at": iso(order.reply_due_at),
        "replied_at": iso(order.replied_at),
        "reply_note": order.reply_note,
        "followup_due_at": iso(order.followup_due_at or followup_due_at),
        "followed_up_at": iso(order.followed_up_at),
        "followup_note": order.followup_note,
        "satisfaction": order.satisfaction,
        "reopen_count": order.reopen_count,
        "territorial_fallback": order.territorial_fallback,
        "located_by": order.located_by,
        "unlocated": order.unlocated,
        "place": order.place.name if order.place else None,
    }


def caller_view_dict(row) -> dict:
    """One row of the unmasked-view log (``audit.log_rows``); a looked-up phone masked, as reviewers see it."""
    return {
        "id": row.id,
        "viewed_at": iso(row.viewed_at),
        "user": {"id": row.user_id, "username": row.username, "full_name": row.full_name},
        "role": row.user_role,
        "context": row.context,
        "case_number": row.case_number,
        "phone": shown_phone(row) or None,
        "phone_erased": row.case_id is None and row.phone is None,
    }
