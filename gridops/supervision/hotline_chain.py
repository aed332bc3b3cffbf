"""The 12345 reply chain: a reminder before the reply deadline, a reminder notice (催办通知书) the
working day after it, and written criticism (通报批评) some working days later if still unanswered.

The hotline's orders (``HotlineOrder``) carry the reply deadline; whenever one is written with a
new deadline or answered, ``watch_reply`` starts, moves or ends the order's ``hotline_reply``
watch in the same transaction (a session hook, so the hotline services need not know), and the
escalation sweep takes the steps as they come due — the same exactly-once rules as for handling.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from gridops.hotline.models import HotlineOrder
from gridops.supervision.ladder import _after
from gridops.supervision.policy import EscalationPolicy, lock_policy
from gridops.worktime import CityClock, ClockType

STAGE = "hotline_reply"
KINDS = ("hotline_reminder", "hotline_notice", "hotline_criticism")
LAST_STEP = len(KINDS) - 1
#: The escalation policy's numbers each step's instant depends on (a change of one of them may move it).
POLICY_KNOBS = {
    1: ("hotline_notice_working_days",),
    2: ("hotline_notice_working_days", "hotline_criticism_working_days"),
}
_PENDING = "gridops.supervision.hotline_orders"


class ReplyLadder:
    """The instants of the chain's steps for one reply deadline (each computed when asked for)."""

    def __init__(self, city: CityClock, policy: EscalationPolicy, started_at: datetime, due_at: datetime, clock: str):
        self.city, self.policy = city, policy
        self.started_at, self.due_at, self.clock = started_at, due_at, ClockType(clock)
        self._times: dict[int, datetime] = {}

    def at(self, step: int) -> datetime:
        if step not in self._times:
            self._times[step] = self._compute(step)
        return self._times[step]

    hint = at

    def _compute(self, step: int) -> datetime:
        city = self.city
        if step == 0:
            budget = city.elapsed(self.started_at, self.due_at, self.clock) if self.due_at > self.started_at else timedelta(0)
            return min(_after(city, self.started_at, budget * city.thresholds[self.clock].yellow, self.clock), self.due_at)
        if step == 1:
            # "The day after": the start of office hours on the first working day after the deadline's date.
            day = self.due_at.astimezone(city.zone).date()
            for _ in range(370):
                day += timedelta(days=1)
                intervals = city.working_intervals(day)
                if intervals:
                    start = intervals[0][0]
                    if self.policy.hotline_notice_working_days > 1:
                        return city.due_at(start, self.policy.hotline_notice_working_days - 1, ClockType.WORKING_DAYS)
                    return start
            return self.due_at + timedelta(days=1)
        return city.due_at(self.at(1), self.policy.hotline_criticism_working_days, ClockType.WORKING_DAYS)


def recipients(step: int, holder_id: int | None) -> list[dict]:
    """Reminder and notice: the hotline desk and the unit holding the case (the notice also the shift
    leaders); criticism: the leaders, for the written list."""
    out: list[dict] = [{"role": "hotline_operator"}]
    if holder_id is not None:
        out.append({"department_id": holder_id})
    if step == 1:
        out.append({"role": "shift_leader"})
    if step == 2:
        out.append({"role": "leader"})
    return out


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _context) -> None:
    """Note the hotline orders whose deadline was set or moved, or that were answered, in this flush."""
    touched = []
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, HotlineOrder):
            state = inspect(obj)
            if obj in session.new or any(
                state.attrs[name].history.has_changes() for name in ("reply_due_at", "replied_at", "reply_limit_kind")
            ):
                touched.append(obj)
    if touched:
        session.info.setdefault(_PENDING, []).extend(touched)


@event.listens_for(Session, "after_flush_postexec")
def _watch(session: Session, _context) -> None:
    orders = session.info.pop(_PENDING, None)
    if orders:
        for order in orders:
            watch_reply(session, order)


def watch_reply(session: Session, order: HotlineOrder) -> None:
    """Start (or restart, for a new deadline) or end the reply watch of ``order``."""
    from gridops.hotline.settings import hotline_settings
    from gridops.supervision.models import EscalationWatch
    from gridops.supervision.services import _upsert

    lock_policy(exclusive=False)  # before the watch is written, like track_case
    table = EscalationWatch.__table__
    if order.replied_at is not None:
        session.execute(table.delete().where(table.c.case_id == order.case_id, table.c.stage == STAGE))
        return
    clock = hotline_settings().reply_limit(order.reply_limit_kind).clock.value
    # The sweep computes the reminder's instant the first time it looks (at once).
    values = dict(case_id=order.case_id, stage=STAGE, started_at=order.created_at, due_at=order.reply_due_at,
                  clock=clock, next_step=0, next_at=order.created_at)
    session.execute(
        _upsert(table, values, ["case_id", "stage"], ["started_at", "due_at", "clock", "next_step", "next_at"],
                lambda excluded: table.c.due_at != excluded.due_at)
    )
