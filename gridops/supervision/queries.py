"""Who sees which supervision order: the inbox, its unread counts, the recipient test.

An order reaches a user through one of its recipients: the user's own unit (unit staff), the
area they lead (area leads), their role when their area scope holds the case (intake
operators, dispatchers, shift leaders, leaders), or the user by name (the grid worker on
site, their grid chief); the leader who gave an order sees it too. Nothing else lists orders.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select

from gridops.auth.models import User
from gridops.auth.permissions import CITY_WIDE_ROLES, area_scope_clause, is_signed_in
from gridops.auth.roles import Role
from gridops.cases.models import Case
from gridops.extensions import db
from gridops.supervision.models import SupervisionOrder, SupervisionRead, SupervisionRecipient


def _addressed_to(user: User) -> ColumnElement[bool]:
    """A recipient row of the order names ``user`` (correlated to SupervisionOrder and Case)."""
    r = SupervisionRecipient
    matches = [and_(r.role == user.role, area_scope_clause(user, Case.area_path)), r.user_id == user.id]
    if user.role_enum is Role.UNIT_STAFF and user.department_id is not None:
        matches.append(r.department_id == user.department_id)
    if user.role_enum is Role.AREA_LEAD and user.area_id is not None:
        matches.append(r.area_id == user.area_id)
    return exists(select(r.id).where(r.order_id == SupervisionOrder.id, or_(*matches)))


def inbox_clause(user: User | None) -> ColumnElement[bool]:
    """The orders ``user`` may see (to be used with SupervisionOrder joined to its Case)."""
    if not is_signed_in(user):
        return false()
    return or_(_addressed_to(user), SupervisionOrder.created_by_id == user.id)


def inbox_orders(user: User | None):
    """A select of the orders in ``user``'s inbox, newest first."""
    return (
        select(SupervisionOrder)
        .join(Case, Case.id == SupervisionOrder.case_id)
        .where(inbox_clause(user))
        .order_by(SupervisionOrder.created_at.desc(), SupervisionOrder.id.desc())
    )


@dataclass(frozen=True)
class InboxCounts:
    """A user's inbox in numbers: orders not yet opened, and orders awaiting the user's side's reply."""

    unread: int = 0
    awaiting_reply: int = 0
    total: int = 0


def unread_clause(user: User) -> ColumnElement[bool]:
    """The order has not been opened by ``user``."""
    return ~exists(
        select(SupervisionRead.order_id).where(
            SupervisionRead.order_id == SupervisionOrder.id, SupervisionRead.user_id == user.id
        )
    )


def awaiting_reply_clause(user: User) -> ColumnElement[bool]:
    """The order asks ``user``'s side for a reply that has not come yet."""
    return and_(SupervisionOrder.reply_required, SupervisionOrder.replied_at.is_(None), _addressed_to(user))


def inbox_counts(user: User | None) -> InboxCounts:
    """Unread, awaiting-reply and total counts of ``user``'s inbox (one query)."""
    if not is_signed_in(user):
        return InboxCounts()
    awaiting = awaiting_reply_clause(user)
    row = db.session.execute(
        select(
            func.count(),
            func.count().filter(unread_clause(user)),
            func.count().filter(awaiting),
        )
        .select_from(SupervisionOrder)
        .join(Case, Case.id == SupervisionOrder.case_id)
        .where(inbox_clause(user))
    ).one()
    return InboxCounts(unread=row[1], awaiting_reply=row[2], total=row[0])


def visible_order(user: User | None, order_id: int) -> SupervisionOrder | None:
    """The order with ``order_id`` if ``user`` may see it (None otherwise: a 404 for them)."""
    return db.session.scalar(inbox_orders(user).where(SupervisionOrder.id == order_id))


def is_recipient(user: User | None, order: SupervisionOrder) -> bool:
    """``user`` is among the order's addressees (and so may reply)."""
    if not is_signed_in(user):
        return False
    return bool(
        db.session.scalar(
            select(func.count())
            .select_from(SupervisionOrder)
            .join(Case, Case.id == SupervisionOrder.case_id)
            .where(SupervisionOrder.id == order.id, _addressed_to(user))
        )
    )


def recipient_users(order: SupervisionOrder) -> list[User]:
    """The active users an order reaches through its recipients (for the gateway's phone list)."""
    from gridops.territory.models import Area

    r = SupervisionRecipient
    case_path = select(Case.area_path).where(Case.id == order.case_id).scalar_subquery()
    in_scope = or_(
        User.role.in_([role.value for role in CITY_WIDE_ROLES]),
        User.area_id.is_(None),
        case_path.startswith(Area.path),
    )
    addressed = exists(
        select(r.id).where(
            r.order_id == order.id,
            or_(
                and_(r.department_id.is_not(None), r.department_id == User.department_id,
                     User.role == Role.UNIT_STAFF.value),
                and_(r.area_id.is_not(None), r.area_id == User.area_id, User.role == Role.AREA_LEAD.value),
                and_(r.role.is_not(None), r.role == User.role, in_scope),
                r.user_id == User.id,
            ),
        )
    )
    return list(
        db.session.scalars(
            select(User).outerjoin(Area, Area.id == User.area_id).where(User.active, addressed).order_by(User.id)
        )
    )
