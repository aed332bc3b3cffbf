"""Hotline lists: the reply and follow-up queues (time left first) and a caller's earlier contacts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import contains_eager, joinedload

from gridops.auth.models import User
from gridops.cases.models import Case
from gridops.cases.queries import visible_cases
from gridops.cases.states import State
from gridops.extensions import db
from gridops.hotline.models import HotlineContact, HotlineOrder
from gridops.hotline.services import FINISHED_STATES, followup_due

QUEUE_LIMIT = 100


@dataclass(frozen=True)
class QueueItem:
    """An order waiting for the operator, with its due time and the time left (negative: overdue)."""

    order: HotlineOrder
    case: Case
    due_at: datetime
    seconds_left: int


def _orders(user: User):
    visible = visible_cases(user).subquery()
    return (
        select(HotlineOrder)
        .join(Case, Case.id == HotlineOrder.case_id)
        .where(Case.id.in_(select(visible.c.id)))
        .options(contains_eager(HotlineOrder.case).joinedload(Case.small_class), joinedload(HotlineOrder.place))
    )


def reply_queue(user: User, now: datetime, limit: int = QUEUE_LIMIT) -> list[QueueItem]:
    """Orders whose caller has not been answered yet, the most urgent first (merged cases left out)."""
    stmt = (
        _orders(user)
        .where(HotlineOrder.replied_at.is_(None), Case.state != State.MERGED.value)
        .order_by(HotlineOrder.reply_due_at, HotlineOrder.id)
        .limit(limit)
    )
    return [
        QueueItem(order, order.case, order.reply_due_at, int((order.reply_due_at - now).total_seconds()))
        for order in db.session.scalars(stmt).unique()
    ]


def followup_queue(user: User, now: datetime, limit: int = QUEUE_LIMIT) -> list[QueueItem]:
    """Answered orders of finished cases still waiting for the follow-up call, the most urgent first."""
    stmt = (
        _orders(user)
        .where(
            HotlineOrder.replied_at.is_not(None),
            HotlineOrder.followed_up_at.is_(None),
            Case.state.in_(sorted(FINISHED_STATES)),
        )
        .order_by(HotlineOrder.replied_at, HotlineOrder.id)
        .limit(limit)
    )
    items = []
    for order in db.session.scalars(stmt).unique():
        # A case closed after its reply has no stored follow-up due time yet: computed on read.
        due = order.followup_due_at or followup_due(order, order.case)
        items.append(QueueItem(order, order.case, due, int((due - now).total_seconds())))
    return sorted(items, key=lambda item: (item.due_at, item.order.id))


def contacts_of(case: Case) -> list[HotlineContact]:
    """The case's contacts, oldest first."""
    return list(
        db.session.scalars(
            select(HotlineContact).where(HotlineContact.case_id == case.id).order_by(HotlineContact.contacted_at, HotlineContact.id)
        )
    )


def previous_contacts(user: User, phone: str, limit: int = 20) -> list[tuple[HotlineContact, Case]]:
    """Earlier contacts from ``phone`` (E.164) on cases ``user`` may see, newest first."""
    visible = visible_cases(user).subquery()
    rows = db.session.execute(
        select(HotlineContact, Case)
        .join(Case, Case.id == HotlineContact.case_id)
        .where(HotlineContact.phone == phone, Case.id.in_(select(visible.c.id)))
        .options(joinedload(Case.small_class))
        .order_by(HotlineContact.contacted_at.desc(), HotlineContact.id.desc())
        .limit(limit)
    ).all()
    return [(contact, case) for contact, case in rows]
