"""Tables of the supervision package: escalation watches, supervision orders, the outbox, job runs."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridops.db import utcnow
from gridops.extensions import db

#: What an order is about: a yellow warning, a timeout order (超时督办单), a leader's order (领导督办),
#: or a step of the 12345 reply chain (reminder, reminder notice 催办通知书, written criticism 通报批评).
ORDER_KINDS = ("warning", "timeout", "leader", "hotline_reminder", "hotline_notice", "hotline_criticism")
#: Stages of a case an escalation watch follows, in the order of the loop (``supervision/stages.py``) …
CASE_STAGES = ("verification", "registration", "dispatch", "signing", "handling", "check")
#: … and the 12345 reply chain (``supervision/hotline_chain.py``).
WATCH_STAGES = (*CASE_STAGES, "hotline_reply")
OUTBOX_STATUSES = ("pending", "sent", "failed")
RECIPIENT_ROLES = (
    "intake_operator", "dispatcher", "shift_leader", "leader", "area_lead", "unit_staff", "hotline_operator",
)


def _in(column: str, values) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


#: A recipient row names exactly one of its four kinds of addressee.
RECIPIENT_COLUMNS = ("department_id", "area_id", "role", "user_id")
ONE_ADDRESSEE_SQL = " OR ".join(
    "(" + " AND ".join(f"{other} IS {'NOT ' if other == column else ''}NULL" for other in RECIPIENT_COLUMNS) + ")"
    for column in RECIPIENT_COLUMNS
)


class EscalationWatch(db.Model):
    """The next instant a case's running stage must be looked at by the sweep, and the step due then.

    One row per (case, stage) while the stage's clock runs; the sweep reads only the rows whose
    ``next_at`` has come, so its cost follows the number of due cases, not of open ones.
    """

    __tablename__ = "escalation_watch"
    __table_args__ = (
        CheckConstraint(_in("stage", WATCH_STAGES), name="stage"),
        CheckConstraint("next_step BETWEEN 0 AND 3", name="next_step"),
        Index("ix_escalation_watch_next_at", "next_at"),
    )

    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16), primary_key=True)
    #: When the stage's clock started (dispatch for handling) and the due time it runs to.
    started_at: Mapped[datetime]
    due_at: Mapped[datetime]
    #: The stage's clock type (``ClockType`` value).
    clock: Mapped[str] = mapped_column(String(16))
    #: 0 yellow warning, 1–3 timeout order levels: the next step the sweep will take.
    next_step: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_at: Mapped[datetime]


class SupervisionOrder(db.Model):
    """A supervision order on a case (督办单): who must act, the instruction, the reply and its due time.

    The unique key makes each (case, stage, kind, level, basis) happen once, however many sweeps
    run: ``basis_at`` is the due time the order is about (a later extension starts a new cycle)
    or, for a leader's order, the instant it was given.
    """

    __tablename__ = "supervision_order"
    __table_args__ = (
        CheckConstraint(_in("kind", ORDER_KINDS), name="kind"),
        CheckConstraint("level BETWEEN 0 AND 3", name="level"),
        CheckConstraint("stage IS NULL OR " + _in("stage", WATCH_STAGES), name="stage"),
        UniqueConstraint("case_id", "stage", "kind", "level", "basis_at", name="uq_supervision_order_once"),
        Index("ix_supervision_order_level_created", "level", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    #: The watched stage whose clock the order is about; None for a leader's order (about the case).
    stage: Mapped[Optional[str]] = mapped_column(String(16))
    #: 0 for warnings and reminders, 1–3 for timeout levels; a leader's order is level 1.
    level: Mapped[int] = mapped_column(SmallInteger)
    basis_at: Mapped[datetime]
    instruction: Mapped[str] = mapped_column(Text, default="")
    reply_required: Mapped[bool] = mapped_column(default=True)
    reply_due_at: Mapped[Optional[datetime]]
    replied_at: Mapped[Optional[datetime]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The leader who gave the order; None for the sweep's orders.
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    #: The holding unit when the order was made (its addressee among units).
    department_id: Mapped[Optional[int]] = mapped_column(ForeignKey("department.id"), index=True)

    case = relationship("Case")
    created_by = relationship("User")
    department = relationship("Department")
    recipients: Mapped[list["SupervisionRecipient"]] = relationship(
        back_populates="order", order_by="SupervisionRecipient.id"
    )
    replies: Mapped[list["SupervisionReply"]] = relationship(
        back_populates="order", order_by="SupervisionReply.id"
    )


class SupervisionRecipient(db.Model):
    """One addressee of an order: a unit, an area's leads, a role (within the case's area) or a person."""

    __tablename__ = "supervision_recipient"
    __table_args__ = (
        CheckConstraint(ONE_ADDRESSEE_SQL, name="one_addressee"),
        CheckConstraint("role IS NULL OR " + _in("role", RECIPIENT_ROLES), name="role"),
        Index("ix_supervision_recipient_department", "department_id", "order_id"),
        Index("ix_supervision_recipient_area", "area_id", "order_id"),
        Index("ix_supervision_recipient_role", "role", "order_id"),
        Index("ix_supervision_recipient_user", "user_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("supervision_order.id", ondelete="CASCADE"), index=True)
    #: The unit's staff (its own members, not its sub-units').
    department_id: Mapped[Optional[int]] = mapped_column(ForeignKey("department.id"))
    #: The area leads of this area.
    area_id: Mapped[Optional[int]] = mapped_column(ForeignKey("area.id"))
    #: Everyone with this role whose area scope holds the case.
    role: Mapped[Optional[str]] = mapped_column(String(32))
    #: One person: the grid worker who must act on site, or their grid chief (网格长).
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))

    order: Mapped[SupervisionOrder] = relationship(back_populates="recipients")
    department = relationship("Department")
    area = relationship("Area")
    user = relationship("User")


class SupervisionReply(db.Model):
    """A recipient's reply to an order (what was done, what will be done by when). Never edited."""

    __tablename__ = "supervision_reply"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("supervision_order.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    order: Mapped[SupervisionOrder] = relationship(back_populates="replies")
    author = relationship("User")


class SupervisionRead(db.Model):
    """That a user has opened an order (what the unread counts leave out)."""

    __tablename__ = "supervision_read"

    order_id: Mapped[int] = mapped_column(ForeignKey("supervision_order.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(db.Model):
    """A notification written in the same transaction as its order, delivered after commit with retries."""

    __tablename__ = "notification_outbox"
    __table_args__ = (
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
        Index("ix_notification_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[Optional[int]] = mapped_column(ForeignKey("supervision_order.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[Optional[datetime]]


class JobState(db.Model):
    """A periodic job's last claimed and completed fire times: exactly once per fire time, and catch-up."""

    __tablename__ = "job_state"

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: The latest scheduled fire time a scheduler has claimed (and run, in the same transaction).
    last_fire_at: Mapped[Optional[datetime]]
    last_started_at: Mapped[Optional[datetime]]
    last_completed_at: Mapped[Optional[datetime]]
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_result: Mapped[Optional[dict]] = mapped_column(JSON)


class SchedulerLease(db.Model):
    """The scheduler lock: the process holding an unexpired lease runs the jobs; others stand by."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
