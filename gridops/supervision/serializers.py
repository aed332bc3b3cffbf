"""Orders as words and JSON: kind and level names, the standing instruction of each step, recipients."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from gridops.auth.roles import Role
from gridops.extensions import db
from gridops.i18n import current_locale
from gridops.supervision.models import SupervisionOrder, SupervisionReply

KIND_LABELS = {
    "warning": _l("Yellow warning"),
    "timeout": _l("Timeout supervision order"),
    "leader": _l("Leader supervision"),
    "hotline_reminder": _l("Reply reminder"),
    "hotline_notice": _l("Reminder notice"),
    "hotline_criticism": _l("Written criticism"),
}


#: The watched stages of a case, as the orders name them.
STAGE_LABELS = {
    "verification": _l("On-site verification"),
    "registration": _l("Registration"),
    "dispatch": _l("Dispatch"),
    "signing": _l("Signing"),
    "handling": _l("Handling by the unit"),
    "check": _l("On-site check"),
}
#: What a level-1 order asks of the stage's owner.
STAGE_ACTS = {
    "verification": _l("verify it on site"),
    "registration": _l("register or cancel it"),
    "dispatch": _l("dispatch it"),
    "signing": _l("sign for it"),
    "handling": _l("handle it"),
    "check": _l("check it on site"),
}


def stage_label(order: SupervisionOrder) -> str | None:
    """The case stage a warning or timeout order is about, in the reader's language (None for other orders)."""
    label = STAGE_LABELS.get(order.stage)
    return None if label is None else str(label)


def kind_label(order: SupervisionOrder) -> str:
    """The order's kind, with the level for timeout orders and the stage it is about (超时督办单，第 2 级（签收）)."""
    label = reply_kind_label(f"timeout{order.level}" if order.kind == "timeout" else order.kind)
    stage = stage_label(order)
    return label if stage is None else _("%(kind)s (%(stage)s)", kind=label, stage=stage)


def reply_kind_label(key: str) -> str:
    """The orders a reply limit of the escalation policy is for (``timeout2``: timeout orders of level 2)."""
    if key.startswith("timeout"):
        return _("%(kind)s, level %(level)d", kind=str(KIND_LABELS["timeout"]), level=int(key.removeprefix("timeout")))
    return str(KIND_LABELS[key])


def _when(value: datetime) -> str:
    from gridops.web.templating import local_time

    return local_time(value)


def instruction_text(order: SupervisionOrder) -> str:
    """The leader's own words, or the standing instruction of the step (in the reader's language)."""
    if order.instruction:
        return order.instruction
    due = _when(order.basis_at)
    stage = stage_label(order) or ""
    if order.kind == "warning":
        return _("%(stage)s is due at %(due)s and most of its time is used. Finish it in time.", stage=stage, due=due)
    if order.kind == "timeout" and order.level == 1:
        return _(
            "%(stage)s overdue since %(due)s. Please %(act)s at once and reply with what was done and when it will be finished.",
            stage=stage, due=due, act=STAGE_ACTS[order.stage],
        )
    if order.kind == "timeout" and order.level == 2:
        return _("%(stage)s still overdue (due %(due)s). The next level up is asked to step in and reply.", stage=stage, due=due)
    if order.kind == "timeout":
        return _(
            "%(stage)s overdue for long (due %(due)s): listed by name in the weekly supervision and counted for early warning.",
            stage=stage, due=due,
        )
    if order.kind == "hotline_reminder":
        return _("The caller must hear back by %(due)s. Reply in time.", due=due)
    if order.kind == "hotline_notice":
        return _("The reply to the caller was due at %(due)s and is missing. Reply at once.", due=due)
    return _("The reply to the caller due at %(due)s is still missing: listed for written criticism.", due=due)


def recipient_label(recipient) -> str:
    if recipient.user is not None:
        return recipient.user.full_name
    if recipient.department is not None:
        department = recipient.department
        return (department.name_en or department.name) if current_locale() == "en" else department.name
    if recipient.area is not None:
        area = recipient.area
        name = (area.name_en or area.name) if current_locale() == "en" else area.name
        return _("Leads of %(area)s", area=name)
    return Role(recipient.role).label(current_locale())


def reply_overdue(order: SupervisionOrder, now: datetime) -> bool:
    return bool(order.reply_required and order.replied_at is None and order.reply_due_at and now > order.reply_due_at)


def order_dict(order: SupervisionOrder, *, unread: bool, now: datetime, with_replies: bool = False) -> dict:
    """The order as the API shows it (no caller data: cases are named by number only)."""
    case = order.case
    data = {
        "id": order.id,
        "kind": order.kind,
        "stage": order.stage,
        "level": order.level,
        "title": kind_label(order),
        "case": {"number": case.number, "state": case.state},
        "instruction": instruction_text(order),
        "basis_at": order.basis_at.isoformat(),
        "created_at": order.created_at.isoformat(),
        "created_by": order.created_by.full_name if order.created_by is not None else None,
        "reply_required": order.reply_required,
        "reply_due_at": order.reply_due_at.isoformat() if order.reply_due_at else None,
        "replied_at": order.replied_at.isoformat() if order.replied_at else None,
        "reply_overdue": reply_overdue(order, now),
        "unread": unread,
        "recipients": [recipient_label(r) for r in order.recipients],
    }
    if with_replies:
        replies = db.session.scalars(
            select(SupervisionReply).where(SupervisionReply.order_id == order.id).order_by(SupervisionReply.id)
        )
        data["replies"] = [
            {"id": r.id, "author": r.author.full_name, "body": r.body, "created_at": r.created_at.isoformat()}
            for r in replies
        ]
    return data

