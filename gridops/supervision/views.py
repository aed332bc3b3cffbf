"""Pages of the supervision package: the inbox of supervision orders, an order with its replies."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from gridops.auth.permissions import can_use_supervision_inbox
from gridops.db import utcnow
from gridops.errors import DomainError
from gridops.extensions import db
from gridops.supervision import queries, serializers
from gridops.supervision.models import SupervisionOrder, SupervisionRead, SupervisionRecipient
from gridops.supervision.services import MAX_REPLY, mark_read, reply_to_order

bp = Blueprint("supervision", __name__, url_prefix="/supervision")

PAGE_SIZE = 50
#: Inbox tabs: key → (label, extra condition on the user's orders).
TABS = ("all", "unread", "awaiting_reply")
TAB_LABELS = {"all": _l("All"), "unread": _l("Unread"), "awaiting_reply": _l("Awaiting reply")}


class ReplyForm(FlaskForm):
    body = TextAreaField(_l("Your reply"), validators=[DataRequired(), Length(max=MAX_REPLY)],
                         description=_l("What was done, and what will be done by when."))


@bp.context_processor
def helpers() -> dict:
    return {
        "kind_label": serializers.kind_label,
        "instruction_text": serializers.instruction_text,
        "recipients_text": lambda order: " · ".join(serializers.recipient_label(r) for r in order.recipients),
        "reply_overdue": serializers.reply_overdue,
    }


def _require_inbox() -> None:
    if not can_use_supervision_inbox(current_user):
        abort(403)


def tab_clause(tab: str, user):
    """The extra condition of an inbox tab."""
    if tab == "unread":
        return queries.unread_clause(user)
    if tab == "awaiting_reply":
        return queries.awaiting_reply_clause(user)
    return None


@bp.route("/inbox")
@login_required
def inbox():
    """The user's supervision orders, newest first, with unread and awaiting-reply counts."""
    _require_inbox()
    tab = request.args.get("tab", "all")
    if tab not in TABS:
        tab = "all"
    stmt = queries.inbox_orders(current_user).options(
        selectinload(SupervisionOrder.recipients).selectinload(SupervisionRecipient.department),
        selectinload(SupervisionOrder.recipients).selectinload(SupervisionRecipient.area),
        selectinload(SupervisionOrder.recipients).selectinload(SupervisionRecipient.user),
        selectinload(SupervisionOrder.case),
    )
    condition = tab_clause(tab, current_user)
    if condition is not None:
        stmt = stmt.where(condition)
    orders = db.session.scalars(stmt.limit(PAGE_SIZE)).all()
    read = set(
        db.session.scalars(
            select(SupervisionRead.order_id).where(
                SupervisionRead.user_id == current_user.id, SupervisionRead.order_id.in_([o.id for o in orders])
            )
        )
    ) if orders else set()
    return render_template(
        "supervision/inbox.html", orders=orders, read=read, tab=tab, tabs=TABS, tab_labels=TAB_LABELS,
        counts=queries.inbox_counts(current_user), now=utcnow(), page_size=PAGE_SIZE,
    )


def _load(order_id: int) -> SupervisionOrder:
    order = queries.visible_order(current_user, order_id)
    if order is None:
        abort(404)
    return order


@bp.route("/orders/<id:order_id>", methods=["GET", "POST"])
@login_required
def order_page(order_id: int):
    """One order: the instruction, recipients, replies; opening it marks it read; recipients reply here."""
    _require_inbox()
    order = _load(order_id)
    may_reply = order.reply_required and queries.is_recipient(current_user, order)
    form = ReplyForm()
    if request.method == "POST":
        if not may_reply:
            abort(403)
        if form.validate_on_submit():
            try:
                reply_to_order(order, current_user, form.body.data)
            except DomainError as exc:
                db.session.rollback()
                flash(exc.message, "error")
            else:
                mark_read(order, current_user)
                db.session.commit()
                flash(_("Your reply is recorded."), "success")
                return redirect(url_for("supervision.order_page", order_id=order.id))
    else:
        mark_read(order, current_user)
        db.session.commit()
    replies = sorted(order.replies, key=lambda r: r.id)
    return render_template(
        "supervision/order.html", order=order, replies=replies, form=form, may_reply=may_reply, now=utcnow(),
    ), (422 if form.errors else 200)
