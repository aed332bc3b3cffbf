"""Escalation and supervision orders: watching running stages, the sweep, leader orders, replies.

The case services call ``track_case`` whenever a case enters or leaves a watched stage or its
due time moves; it keeps one ``EscalationWatch`` row per running stage with the instant of
its next step. ``sweep_escalations(now)`` reads only the rows whose instant has come (an
index range), in batches, claims them (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), writes the
orders of every step reached — several after downtime, each once: the order's unique key
(case, kind, level, basis) is the last word — and moves each watch to its next step.
Like every service it flushes and never commits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from gridops.auth.models import User
from gridops.auth.permissions import is_signed_in
from gridops.auth.roles import Role
from gridops.cases.models import Case
from gridops.cases.states import State
from gridops.db import bulk_insert, bulk_update, utcnow
from gridops.errors import NotAllowed, ValidationFailed
from gridops.extensions import db
from gridops.org.models import Department
from gridops.supervision import hotline_chain
from gridops.supervision.ladder import LAST_STEP, Ladder
from gridops.supervision.models import (
    EscalationWatch,
    OutboxMessage,
    SupervisionOrder,
    SupervisionRead,
    SupervisionRecipient,
    SupervisionReply,
)
from gridops.supervision.policy import EscalationPolicy, escalation_policy
from gridops.worktime import CityClock, ClockType
from gridops.worktime.store import get_city_clock

#: States in which the handling clock runs and is watched (派遣即计时; a suspension stops it).
HANDLING_STATES = frozenset({State.DISPATCHED.value, State.HANDLING.value})
MAX_REPLY = 2000
BATCH_SIZE = 1000


# ---------------------------------------------------------------------------------------------
# Watching running stages


def _upsert(table, values: dict, keys: list[str], update_columns: list[str], where):
    dialect = db.session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(table).values(**values)
    return stmt.on_conflict_do_update(
        index_elements=keys,
        set_={name: getattr(stmt.excluded, name) for name in update_columns},
        where=where(stmt.excluded),
    )


def track_case(case: Case, *, city: CityClock | None = None, policy: EscalationPolicy | None = None) -> None:
    """Start, move or end the watch of ``case``'s handling stage to match the case as it is now.

    A new due time (dispatch, extension, resumption, reopening) starts the ladder again from
    the yellow warning; the same due time keeps the steps already taken.
    """
    from gridops.cases.clocks import handling_limit

    table = EscalationWatch.__table__
    if case.state in HANDLING_STATES and case.handle_due_at is not None and case.dispatched_at is not None:
        city = city or get_city_clock()
        policy = policy or escalation_policy()
        clock = handling_limit(case)[1].value
        first = Ladder(city, policy, case.dispatched_at, case.handle_due_at, clock).at(0)
        values = dict(
            case_id=case.id, stage="handling", started_at=case.dispatched_at, due_at=case.handle_due_at,
            clock=clock, next_step=0, next_at=first,
        )
        db.session.execute(
            _upsert(
                table, values, ["case_id", "stage"], ["started_at", "due_at", "clock", "next_step", "next_at"],
                lambda excluded: (table.c.due_at != excluded.due_at) | (table.c.started_at != excluded.started_at),
            )
        )
    else:
        db.session.execute(delete(table).where(table.c.case_id == case.id, table.c.stage == "handling"))


# ---------------------------------------------------------------------------------------------
# The sweep


@dataclass
class SweepResult:
    """What one sweep did: watches examined, orders written per step, watches ended."""

    examined: int = 0
    orders: Counter = field(default_factory=Counter)
    ended: int = 0

    @property
    def created(self) -> int:
        return sum(self.orders.values())

    def as_dict(self) -> dict:
        return {
            "examined": self.examined,
            "created": self.created,
            "ended": self.ended,
            "orders": {str(k): v for k, v in sorted(self.orders.items(), key=lambda kv: str(kv[0]))},
        }


def _ancestor(path: str, up: int) -> int | None:
    """The id ``up`` levels above the last area of a materialised path (0: the area itself)."""
    ids = [int(part) for part in path.strip("/").split("/") if part]
    return ids[-1 - up] if len(ids) > up else None


def _step_kind(step: int) -> str:
    return "warning" if step == 0 else "timeout"


def _recipients(step: int, holder_id: int | None, parents: dict[int, int | None], area_path: str) -> list[dict]:
    """The addressees of a step along the linkage chain (domain.md §6)."""
    out: list[dict] = []
    if step in (0, 1) and holder_id is not None:
        out.append({"department_id": holder_id})
    if step == 1:
        out.append({"role": Role.SHIFT_LEADER.value})
    if step == 2:
        leader_unit = (parents.get(holder_id) or holder_id) if holder_id is not None else None
        if leader_unit is not None:
            out.append({"department_id": leader_unit})
        area = _ancestor(area_path, 1)
        if area is not None:
            out.append({"area_id": area})
        else:
            out.append({"role": Role.SHIFT_LEADER.value})
    if step == 3:
        out.append({"role": Role.LEADER.value})
        area = _ancestor(area_path, 2)
        if area is not None:
            out.append({"area_id": area})
    return out


def _lock(stmt, watch_table):
    """Claim the rows: PostgreSQL skips the ones a concurrent sweep holds."""
    if db.session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(of=watch_table, skip_locked=True)
    return stmt


def _claim_handling(now: datetime, batch_size: int):
    watch, case = EscalationWatch, Case
    stmt = (
        select(
            watch.case_id, watch.stage, watch.started_at, watch.due_at, watch.clock, watch.next_step,
            case.holder_department_id, case.area_path,
            case.state.in_(sorted(HANDLING_STATES)).label("running"),
            case.dispatched_at.label("live_started"), case.handle_due_at.label("live_due"),
        )
        .join(case, case.id == watch.case_id)
        .where(watch.next_at <= now, watch.stage == "handling")
        .order_by(watch.next_at)
        .limit(batch_size)
    )
    return db.session.execute(_lock(stmt, watch.__table__)).all()


def _claim_hotline(now: datetime, batch_size: int):
    from gridops.hotline.models import HotlineOrder

    watch, case, order = EscalationWatch, Case, HotlineOrder
    stmt = (
        select(
            watch.case_id, watch.stage, watch.started_at, watch.due_at, watch.clock, watch.next_step,
            case.holder_department_id, case.area_path,
            order.replied_at.is_(None).label("running"),
            order.created_at.label("live_started"), order.reply_due_at.label("live_due"),
        )
        .join(case, case.id == watch.case_id)
        .join(order, order.case_id == watch.case_id)
        .where(watch.next_at <= now, watch.stage == hotline_chain.STAGE)
        .order_by(watch.next_at)
        .limit(batch_size)
    )
    return db.session.execute(_lock(stmt, watch.__table__)).all()


@dataclass(frozen=True)
class _Stage:
    """How the sweep treats one kind of watch: its claim, its ladder, its orders and addressees."""

    name: str
    claim: Callable
    last_step: int
    ladder: Callable
    kind: Callable[[int], str]
    key: Callable[[int], object]
    recipients: Callable


def _stages(city: CityClock, policy: EscalationPolicy, days: dict) -> list[_Stage]:
    return [
        _Stage(
            "handling", _claim_handling, LAST_STEP,
            lambda row, started, due: Ladder(city, policy, started, due, row.clock, days),
            _step_kind, lambda step: step,
            lambda step, row, parents: _recipients(step, row.holder_department_id, parents, row.area_path),
        ),
        _Stage(
            hotline_chain.STAGE, _claim_hotline, hotline_chain.LAST_STEP,
            lambda row, started, due: hotline_chain.ReplyLadder(city, policy, started, due, row.clock),
            lambda step: hotline_chain.KINDS[step], lambda step: hotline_chain.KINDS[step],
            lambda step, row, parents: hotline_chain.recipients(step, row.holder_department_id),
        ),
    ]


def sweep_escalations(now: datetime, *, batch_size: int = BATCH_SIZE) -> SweepResult:
    """Write the warnings, timeout orders and hotline reply steps due by ``now``, each exactly once."""
    city = get_city_clock()
    policy = escalation_policy()
    result = SweepResult()
    gateway = notifications_enabled()
    terms: dict[tuple[str, int], dict] = {}

    def reply_terms(kind: str, level: int) -> dict:
        """Whether an order asks for a reply, and by when (the same for every order of this sweep)."""
        if (kind, level) not in terms:
            hours = policy.reply_limit(kind, level)
            terms[kind, level] = dict(
                reply_required=hours is not None,
                reply_due_at=city.due_at(now, hours, ClockType.WORKING_HOURS) if hours else None,
            )
        return terms[kind, level]

    for stage in _stages(city, policy, {}):
        while True:
            rows = stage.claim(now, batch_size)
            if not rows:
                break
            _sweep_batch(stage, rows, now, result, reply_terms, gateway)
            if len(rows) < batch_size:
                break
    db.session.flush()
    return result


def _sweep_batch(stage: _Stage, rows, now: datetime, result: SweepResult, reply_terms, gateway: bool) -> None:
    result.examined += len(rows)
    holders = {row.holder_department_id for row in rows if row.holder_department_id is not None}
    parents = dict(
        db.session.execute(select(Department.id, Department.parent_id).where(Department.id.in_(holders))).all()
    ) if holders else {}
    orders: list[dict] = []
    addressees: list[list[dict]] = []
    moves: list[dict] = []
    resets: list[dict] = []
    ended: list[int] = []
    for row in rows:
        if not row.running or row.live_due is None or row.live_started is None:
            ended.append(row.case_id)
            continue
        started, due, step = row.started_at, row.due_at, row.next_step
        if (due, started) != (row.live_due, row.live_started):
            # The clock moved without the watch following (it always should): start the ladder again.
            started, due, step = row.live_started, row.live_due, 0
        ladder = stage.ladder(row, started, due)
        while step <= stage.last_step and ladder.hint(step) <= now and ladder.at(step) <= now:
            kind = stage.kind(step)
            orders.append(
                dict(
                    case_id=row.case_id, kind=kind, level=step, basis_at=due, instruction="",
                    **reply_terms(kind, step), created_at=now, department_id=row.holder_department_id,
                )
            )
            addressees.append(stage.recipients(step, row, parents))
            result.orders[stage.key(step)] += 1
            step += 1
        if step > stage.last_step:
            ended.append(row.case_id)
        elif (started, due) == (row.started_at, row.due_at):
            moves.append(dict(case_id=row.case_id, stage=stage.name, next_step=step, next_at=ladder.hint(step)))
        else:
            resets.append(
                dict(case_id=row.case_id, stage=stage.name, started_at=started, due_at=due, next_step=step,
                     next_at=ladder.hint(step))
            )
    _write_orders(orders, addressees, now, gateway)
    table = EscalationWatch.__table__
    bulk_update(table, moves, keys=["case_id", "stage"])
    bulk_update(table, resets, keys=["case_id", "stage"])
    options = {"synchronize_session": False}
    if ended:
        db.session.execute(
            delete(table).where(table.c.case_id.in_(ended), table.c.stage == stage.name), execution_options=options
        )
        result.ended += len(ended)


def _write_orders(orders: list[dict], addressees: list[list[dict]], now: datetime, gateway: bool) -> list[int]:
    """Insert orders, their recipients and (when a gateway is set up) their outbox messages."""
    if not orders:
        return []
    ids = bulk_insert(SupervisionOrder.__table__, orders, returning=SupervisionOrder.__table__.c.id)
    bulk_insert(SupervisionRecipient.__table__, [
        {"order_id": order_id, "department_id": None, "area_id": None, "role": None, **addressee}
        for order_id, group in zip(ids, addressees)
        for addressee in group
    ])
    if gateway:
        bulk_insert(OutboxMessage.__table__, [
            dict(order_id=order_id, channel="gateway", payload={"order_id": order_id}, status="pending",
                 attempts=0, next_attempt_at=now, last_error="", created_at=now)
            for order_id in ids
        ])
    return ids


def notifications_enabled() -> bool:
    """Whether new orders are also sent out through the e-mail/SMS gateway (config)."""
    from gridops.supervision.notify import configured_gateway

    return configured_gateway() is not None


# ---------------------------------------------------------------------------------------------
# Leader supervision, replies, reading


def open_leader_order(case: Case, actor: User, instruction: str, *, now: datetime) -> SupervisionOrder:
    """Write a leader's supervision order on ``case``: to its unit, the shift leaders and the area above.

    Called by the case's ``supervise`` action (which checks the actor and records the event).
    """
    policy = escalation_policy()
    hours = policy.reply_limit("leader", 1)
    city = get_city_clock()
    order = dict(
        case_id=case.id, kind="leader", level=1, basis_at=now, instruction=instruction,
        reply_required=hours is not None,
        reply_due_at=city.due_at(now, hours, ClockType.WORKING_HOURS) if hours else None,
        created_at=now, created_by_id=actor.id, department_id=case.holder_department_id,
    )
    group: list[dict] = [{"role": Role.SHIFT_LEADER.value}]
    if case.holder_department_id is not None:
        group.insert(0, {"department_id": case.holder_department_id})
    area = _ancestor(case.area_path, 1)
    if area is not None:
        group.append({"area_id": area})
    (order_id,) = _write_orders([order], [group], now, notifications_enabled())
    return db.session.get(SupervisionOrder, order_id)


def reply_to_order(order: SupervisionOrder, actor: User, body: str, *, now: datetime | None = None) -> SupervisionReply:
    """Record a recipient's reply; the first one marks the order replied."""
    from gridops.supervision.queries import is_recipient

    now = now or utcnow()
    if not is_recipient(actor, order):
        raise NotAllowed(_("Only a recipient of the order may reply to it."))
    if not order.reply_required:
        raise ValidationFailed.field("body", _("this order asks for no reply"))
    text = body.strip() if isinstance(body, str) else ""
    if not text:
        raise ValidationFailed.field("body", _("is required"))
    if len(text) > MAX_REPLY:
        raise ValidationFailed.field("body", _("at most %(count)d characters", count=MAX_REPLY))
    reply = SupervisionReply(order_id=order.id, author_id=actor.id, body=text, created_at=now)
    db.session.add(reply)
    if order.replied_at is None:
        order.replied_at = now
    db.session.flush()
    return reply


def mark_read(order: SupervisionOrder, user: User, *, now: datetime | None = None) -> bool:
    """Note that ``user`` has opened ``order`` (once, also when two requests race); True if it was unread."""
    if not is_signed_in(user):
        return False
    dialect = db.session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(SupervisionRead.__table__).values(
        order_id=order.id, user_id=user.id, read_at=now or utcnow()
    ).on_conflict_do_nothing().returning(SupervisionRead.order_id)
    return db.session.execute(stmt).first() is not None
