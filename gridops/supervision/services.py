"""Escalation and supervision orders: watching running stages, the sweep, leader orders, replies.

The case services call ``track_case`` whenever a case enters or leaves a watched stage
(``supervision/stages.py``: verification, registration, dispatch, signing, handling, check) or a
due time moves, and filing writes its first watch (``first_watch``); one ``EscalationWatch``
row per running stage holds the instant of its next step. ``sweep_escalations(now)`` reads
only the rows whose instant has come (an index range), in batches, claims them (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL), writes the orders of every step reached — several after
downtime, each once: the order's unique key
(case, stage, kind, level, basis) is the last word — and moves each watch to its next step.
Like every service it flushes and never commits.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from gridops.auth.models import User
from gridops.auth.permissions import is_signed_in
from gridops.auth.roles import Role
from gridops.cases.models import Case
from gridops.db import bulk_insert, bulk_update, utcnow
from gridops.errors import NotAllowed, ValidationFailed
from gridops.extensions import db
from gridops.supervision import hotline_chain
from gridops.supervision.ladder import LAST_STEP, POLICY_KNOBS, Ladder
from gridops.supervision.models import (
    CASE_STAGES,
    RECIPIENT_COLUMNS,
    EscalationWatch,
    OutboxMessage,
    SupervisionOrder,
    SupervisionRead,
    SupervisionRecipient,
    SupervisionReply,
)
from gridops.supervision.policy import NUMBER_LIMITS, EscalationPolicy, escalation_policy, lock_policy
from gridops.supervision.stages import (
    STAGES, SWEEP_COLUMNS, CaseStage, Heads, ancestor, recipients, running_stages,
)
from gridops.worktime import CityClock, ClockType
from gridops.worktime.store import get_city_clock

MAX_REPLY = 2000
BATCH_SIZE = 1000
#: The kinds of the ladder's orders (step 0 a warning, 1–3 timeout levels), whose level is the step.
LADDER_KINDS = ("warning", "timeout")


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


def track_case(
    case: Case, *, now: datetime | None = None, city: CityClock | None = None, policy: EscalationPolicy | None = None
) -> None:
    """Start, move or end the watches of ``case``'s stages to match the case as it is now.

    ``now`` is when the case entered its stage (the step's instant), the start of the stages
    whose start no case column records (registration, dispatch). A stage entered anew or whose
    due time moved (dispatch, extension, resumption, reopening) is watched from the first step
    not yet written for that due time: a new due time starts the ladder again from the yellow
    warning, a stage re-entered with the same due time (rework after a failed check, a merge
    undone) goes on from where it was. The same due time keeps a running watch as it is.
    """
    table = EscalationWatch.__table__
    running = running_stages(case)
    names = [stage.name for stage in running]
    # Before any watch is written: a policy change takes this lock before the watches (no deadlock).
    lock_policy(exclusive=False)
    db.session.execute(
        delete(table).where(table.c.case_id == case.id, table.c.stage.in_([s for s in CASE_STAGES if s not in names]))
    )
    if not running:
        return
    city = city or get_city_clock()
    now = now or utcnow()
    order = SupervisionOrder
    taken = dict(
        ((stage, basis), level)
        for stage, basis, level in db.session.execute(
            select(order.stage, order.basis_at, func.max(order.level))
            .where(order.case_id == case.id, order.kind.in_(LADDER_KINDS), order.stage.in_(names))
            .group_by(order.stage, order.basis_at)
        )
    )
    for stage in running:
        due = stage.due(case)
        started = stage.start(case) if stage.start is not None else now
        step = taken.get((stage.name, due), -1) + 1
        if step > LAST_STEP:
            db.session.execute(delete(table).where(table.c.case_id == case.id, table.c.stage == stage.name))
            continue
        if step in POLICY_KNOBS and policy is None:
            policy = escalation_policy()
        clock = stage.clock(case).value
        values = dict(
            case_id=case.id, stage=stage.name, started_at=started, due_at=due, clock=clock, next_step=step,
            next_at=Ladder(city, policy, started, due, clock).hint(step),
        )
        db.session.execute(
            _upsert(table, values, ["case_id", "stage"], ["started_at", "due_at", "clock", "next_step", "next_at"],
                    functools.partial(_moved, table, stage))
        )


def _moved(table, stage: CaseStage, excluded):
    """A running watch is replaced only when its stage's times changed (the start only where a case
    column records it: elsewhere it is the instant the stage was entered, which a later step must not move)."""
    if stage.start is None:
        return table.c.due_at != excluded.due_at
    return (table.c.due_at != excluded.due_at) | (table.c.started_at != excluded.started_at)


def reschedule_watches(before: EscalationPolicy, after: EscalationPolicy) -> int:
    """Apply a policy change to the running watches (in the change's transaction); how many were marked.

    A step's instant never comes earlier when a number of the policy grows (the ladders are
    monotonic in each), so a watch's next look stays a lower bound of its step's new instant: the
    sweep, looking then, finds the step not yet due and moves the watch on. When a number shrinks,
    the watches whose next step depends on it (``POLICY_KNOBS`` of the case ladder and of the 12345
    chain) are marked due in one statement, their next look put back to their stage's start (a lower
    bound of every step): the next sweep recomputes each with the new policy, raises the steps whose
    new instant has come (each once: the next step is unchanged) and moves the others to their new
    instant, raising nothing early.
    """
    shrunk = {name for name in NUMBER_LIMITS if getattr(after, name) < getattr(before, name)}
    table = EscalationWatch.__table__
    families = ((CASE_STAGES, POLICY_KNOBS), ((hotline_chain.STAGE,), hotline_chain.POLICY_KNOBS))
    marked = []
    for stages, knobs in families:
        steps = sorted(step for step, names in knobs.items() if shrunk & set(names))
        if steps:
            marked.append(and_(table.c.stage.in_(stages), table.c.next_step.in_(steps)))
    if not marked:
        return 0
    result = db.session.execute(
        update(table).where(table.c.next_at > table.c.started_at, or_(*marked)).values(next_at=table.c.started_at),
        execution_options={"synchronize_session": False},
    )
    return result.rowcount


def first_watch(case, now: datetime) -> dict | None:
    """The watch row (without its case id) of a case being filed, whose values are ``case``'s attributes.

    A new case has no orders yet: its stage (verification or registration) is watched from the
    yellow warning, whose instant does not depend on the escalation policy (no query). None when
    no stage runs.
    """
    running = running_stages(case)
    if not running:
        return None
    (stage,) = running
    due = stage.due(case)
    started = stage.start(case) if stage.start is not None else now
    clock = stage.clock(case).value
    ladder = Ladder(get_city_clock(), None, started, due, clock)
    return dict(stage=stage.name, started_at=started, due_at=due, clock=clock, next_step=0, next_at=ladder.at(0))


# ---------------------------------------------------------------------------------------------
# The sweep


@dataclass
class SweepResult:
    """What one sweep did: watches examined, orders written per (stage, level), watches ended."""

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
            "orders": {f"{stage} {level}": n for (stage, level), n in sorted(self.orders.items())},
        }


def _lock(stmt, watch_table):
    """Claim the rows: PostgreSQL skips the ones a concurrent sweep holds."""
    if db.session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(of=watch_table, skip_locked=True)
    return stmt


_WATCH_COLUMNS = (
    EscalationWatch.case_id, EscalationWatch.stage, EscalationWatch.started_at, EscalationWatch.due_at,
    EscalationWatch.clock, EscalationWatch.next_step,
)


def _claim_case_stages(now: datetime, batch_size: int):
    """Every case stage's due watches in one index range, with the case columns the stages read."""
    watch = EscalationWatch
    stmt = (
        select(*_WATCH_COLUMNS, *SWEEP_COLUMNS)
        .join(Case, Case.id == watch.case_id)
        .where(watch.next_at <= now, watch.stage.in_(CASE_STAGES))
        .order_by(watch.next_at)
        .limit(batch_size)
    )
    return db.session.execute(_lock(stmt, watch.__table__)).all()


def _claim_hotline(now: datetime, batch_size: int):
    from gridops.hotline.models import HotlineOrder

    watch, case, order = EscalationWatch, Case, HotlineOrder
    stmt = (
        select(
            *_WATCH_COLUMNS, case.holder_department_id,
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
class _Family:
    """How the sweep treats a family of watches: its claim, and per row whether the watched clock
    still runs, its live start and due time, its ladder, its orders' kinds and addressees."""

    claim: Callable
    last_step: int
    running: Callable
    live: Callable
    ladder: Callable
    kind: Callable[[int], str]
    recipients: Callable


def _families(city: CityClock, policy: EscalationPolicy, days: dict) -> list[_Family]:
    def live(row):
        stage = STAGES[row.stage]
        return (stage.start(row) if stage.start is not None else row.started_at), stage.due(row)

    return [
        _Family(
            _claim_case_stages, LAST_STEP,
            lambda row: STAGES[row.stage].running(row), live,
            lambda row, started, due: Ladder(city, policy, started, due, row.clock, days),
            lambda step: LADDER_KINDS[min(step, 1)],
            lambda step, row, heads: recipients(STAGES[row.stage], step, row, heads),
        ),
        _Family(
            _claim_hotline, hotline_chain.LAST_STEP,
            lambda row: row.running, lambda row: (row.live_started, row.live_due),
            lambda row, started, due: hotline_chain.ReplyLadder(city, policy, started, due, row.clock),
            lambda step: hotline_chain.KINDS[step],
            lambda step, row, heads: hotline_chain.recipients(step, row.holder_department_id),
        ),
    ]


def sweep_escalations(now: datetime, *, batch_size: int = BATCH_SIZE) -> SweepResult:
    """Write the warnings, timeout orders and hotline reply steps due by ``now``, each exactly once."""
    city = get_city_clock()
    lock_policy(exclusive=False)
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

    for family in _families(city, policy, {}):
        while True:
            rows = family.claim(now, batch_size)
            if not rows:
                break
            _sweep_batch(family, rows, now, result, reply_terms, gateway)
            if len(rows) < batch_size:
                break
    db.session.flush()
    return result


def _sweep_batch(family: _Family, rows, now: datetime, result: SweepResult, reply_terms, gateway: bool) -> None:
    result.examined += len(rows)
    heads = Heads(rows)
    orders: list[dict] = []
    addressees: list[list[dict]] = []
    moves: list[dict] = []
    resets: list[dict] = []
    ended: list[tuple[int, str]] = []
    for row in rows:
        live_started, live_due = family.live(row) if family.running(row) else (None, None)
        if live_due is None or live_started is None:
            ended.append((row.case_id, row.stage))
            continue
        started, due, step = row.started_at, row.due_at, row.next_step
        if (due, started) != (live_due, live_started):
            # The clock moved without the watch following (it always should): start the ladder again.
            started, due, step = live_started, live_due, 0
        ladder = family.ladder(row, started, due)
        while step <= family.last_step and ladder.hint(step) <= now and ladder.at(step) <= now:
            kind = family.kind(step)
            orders.append(
                dict(
                    case_id=row.case_id, stage=row.stage, kind=kind, level=step, basis_at=due, instruction="",
                    **reply_terms(kind, step), created_at=now, department_id=row.holder_department_id,
                )
            )
            addressees.append(family.recipients(step, row, heads))
            result.orders[row.stage, step] += 1
            step += 1
        if step > family.last_step:
            ended.append((row.case_id, row.stage))
        elif (started, due) == (row.started_at, row.due_at):
            moves.append(dict(case_id=row.case_id, stage=row.stage, next_step=step, next_at=ladder.hint(step)))
        else:
            resets.append(
                dict(case_id=row.case_id, stage=row.stage, started_at=started, due_at=due, next_step=step,
                     next_at=ladder.hint(step))
            )
    _write_orders(orders, addressees, now, gateway)
    table = EscalationWatch.__table__
    bulk_update(table, moves, keys=["case_id", "stage"])
    bulk_update(table, resets, keys=["case_id", "stage"])
    options = {"synchronize_session": False}
    for stage in sorted({stage for _case_id, stage in ended}):
        db.session.execute(
            delete(table).where(
                table.c.case_id.in_([case_id for case_id, name in ended if name == stage]), table.c.stage == stage
            ),
            execution_options=options,
        )
    result.ended += len(ended)


def _write_orders(orders: list[dict], addressees: list[list[dict]], now: datetime, gateway: bool) -> list[int]:
    """Insert orders, their recipients and (when a gateway is set up) their outbox messages."""
    if not orders:
        return []
    ids = bulk_insert(SupervisionOrder.__table__, orders, returning=SupervisionOrder.__table__.c.id)
    bulk_insert(SupervisionRecipient.__table__, [
        {"order_id": order_id, **dict.fromkeys(RECIPIENT_COLUMNS), **addressee}
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
        case_id=case.id, stage=None, kind="leader", level=1, basis_at=now, instruction=instruction,
        reply_required=hours is not None,
        reply_due_at=city.due_at(now, hours, ClockType.WORKING_HOURS) if hours else None,
        created_at=now, created_by_id=actor.id, department_id=case.holder_department_id,
    )
    group: list[dict] = [{"role": Role.SHIFT_LEADER.value}]
    if case.holder_department_id is not None:
        group.insert(0, {"department_id": case.holder_department_id})
    area = ancestor(case.area_path, 1)
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
