"""Work queues of the command centre, the unit inbox and the leader view, in SQL.

Every queue is a WHERE clause on top of ``visible_cases(user)``, sorted by the due time of
the stage the case is in (least time left first); the counts of all queues come from one
aggregate query. Nothing here loads the open cases into Python, with one bounded exception:
"due soon" (yellow) depends on each case's clock budget in working time, so SQL narrows it
to a superset of candidates (due within the widest yellow window of their stage) and
``warning_colours`` settles those few exactly, the way ``cases.clocks.case_colour`` does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import Interval, Select, and_, case, false, func, literal, or_, select, true

from sqlalchemy.orm import aliased

from gridops.auth.models import User
from gridops.cases import clocks
from gridops.auth import permissions
from gridops.cases.models import Case, CaseEvent, CasePause, CaseRequest
from gridops.cases.queries import overdue_clause, visible_cases
from gridops.cases.states import OPEN_STATES, State
from gridops.catalogue.models import FilingStandard
from gridops.extensions import db
from gridops.worktime import ClockType

#: The column holding the due time of each state's running stage (verification is computed).
STAGE_DUE = {
    State.REPORTED: Case.register_due_at,
    State.REGISTERED: Case.dispatch_due_at,
    State.DISPATCHED: Case.sign_due_at,
    State.HANDLING: Case.handle_due_at,
    State.SUSPENDED: Case.handle_due_at,
    State.HANDLED: Case.check_due_at,
}
#: States whose clock runs (a suspended case's clock stands still: it is never due soon).
RUNNING_STATES = (State.VERIFYING, State.REPORTED, State.REGISTERED, State.DISPATCHED, State.HANDLING,
                  State.HANDLED)
OPEN_VALUES = [state.value for state in OPEN_STATES]
STAGE_DUE_NAMES = ("register", "dispatch", "sign", "handle", "check")
STAGE_DUE_COLUMNS = tuple(getattr(Case, f"{name}_due_at") for name in STAGE_DUE_NAMES)


def stage_due_expression():
    """SQL for the due time of the case's running stage (NULL when none runs)."""
    if db.session.get_bind().dialect.name == "sqlite":
        verify_due = func.datetime(Case.reported_at, f"+{clocks.VERIFY_HOURS} hours")
    else:
        verify_due = Case.reported_at + literal(timedelta(hours=clocks.VERIFY_HOURS), Interval())
    whens = [(Case.state == State.VERIFYING.value, verify_due)]
    whens += [(Case.state == state.value, column) for state, column in STAGE_DUE.items()]
    return case(*whens, else_=None)


def by_time_left(stmt: Select) -> Select:
    """``stmt`` sorted by the running stage's due time, soonest (or longest overdue) first."""
    due = stage_due_expression()
    return stmt.order_by(None).order_by(due.is_(None), due, Case.id)


def pending_request_clause(kinds: Sequence[str] | None = None):
    """The case has a pending return, extension or suspension request (of ``kinds``).

    An uncorrelated IN: the database hashes the few pending requests once instead of
    probing them once per case while counting.
    """
    pending = select(CaseRequest.case_id).where(CaseRequest.status == "pending")
    if kinds:
        pending = pending.where(CaseRequest.kind.in_(list(kinds)))
    return Case.id.in_(pending)


# ---------------------------------------------------------------------------------------------
# Due soon (yellow)


def _hour_clock(clock: ClockType) -> ClockType:
    return ClockType.WORKING_HOURS if clock.counts_working_time else ClockType.URGENT_HOURS


def _window_end(now: datetime, budget: timedelta, clock: ClockType) -> datetime:
    """The first instant after which more than ``budget`` of ``clock`` time is left: a due time
    later than it cannot be within ``budget`` of ``now``."""
    city = clocks.city_clock()
    hours = Decimal((budget + timedelta(minutes=1)) // timedelta(microseconds=1)) / Decimal(3_600_000_000)
    return city.due_at(now, hours, _hour_clock(clock))


def _widest_budget(limit_value: int, clock: ClockType, now: datetime) -> timedelta:
    """The largest clock budget a stage of this limit can have (day limits depend on the start)."""
    if not clock.counts_days:
        return timedelta(hours=limit_value)
    if clock is ClockType.NATURAL_DAYS:
        return timedelta(days=limit_value + 1)
    city = clocks.city_clock()
    # Started at the first working minute of a day, the start day counts whole: the widest case.
    day = now.astimezone(city.zone).date()
    for offset in range(0, 30):
        intervals = city.working_intervals(day + timedelta(days=offset))
        if intervals:
            start = intervals[0][0]
            return city.elapsed(start, city.due_at(start, limit_value, clock), clock) + timedelta(hours=1)
    return timedelta(days=limit_value + 1)


def yellow_candidates_clause(now: datetime):
    """Running, not overdue, and due within the widest yellow window of the stage: a superset of
    the cases that are due soon (extended handling cases always qualify: their budget grew)."""
    city = clocks.city_clock()
    parts = []
    verify_due = clocks.VERIFY_LIMIT
    share = 1 - city.thresholds[verify_due[1]].yellow
    parts.append(
        and_(
            Case.state == State.VERIFYING.value,
            Case.reported_at >= now - timedelta(hours=clocks.VERIFY_HOURS),
            Case.reported_at <= now - timedelta(hours=clocks.VERIFY_HOURS) + timedelta(hours=verify_due[0]) * share
            + timedelta(minutes=1),
        )
    )
    register_hours = max(clocks.register_limit(False)[0], clocks.register_limit(True)[0])
    stages = [(State.REPORTED, (register_hours, clocks.REGISTER_CLOCK)), *clocks.FIXED_LIMITS.items()]
    for state, (value, clock) in stages:
        if state is State.VERIFYING:
            continue
        column = STAGE_DUE[state]
        share = 1 - city.thresholds[clock].yellow
        end = _window_end(now, timedelta(hours=value) * share, clock)
        parts.append(and_(Case.state == state.value, column >= now, column <= end))
    limits = db.session.execute(select(FilingStandard.limit_value, FilingStandard.limit_clock).distinct()).all()
    for value, clock_name in limits:
        clock = ClockType(clock_name)
        share = 1 - city.thresholds[clock].yellow
        end = _window_end(now, _widest_budget(value, clock, now) * share, clock)
        parts.append(
            and_(
                Case.state == State.HANDLING.value,
                Case.handle_due_at >= now,
                Case.handle_due_at <= end,
                Case.standard_id.in_(
                    select(FilingStandard.id).where(
                        FilingStandard.limit_value == value, FilingStandard.limit_clock == clock_name
                    )
                ),
            )
        )
    parts.append(
        and_(
            Case.state == State.HANDLING.value,
            Case.handle_due_at >= now,
            or_(Case.extension_count > 0, Case.standard_id.is_(None)),
        )
    )
    return or_(*parts)


def warning_colours(case_ids: Iterable[int], now: datetime) -> dict[int, str]:
    """green / yellow / red / "" per case id, exactly as ``case_colour`` judges them, in three queries."""
    ids = list(case_ids)
    if not ids:
        return {}
    first = aliased(FilingStandard)
    default_clock = (
        select(first.limit_clock)
        .where(first.small_class_id == Case.small_class_id, first.active.is_(True))
        .order_by(first.sort, first.id)
        .limit(1)
        .correlate(Case)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(
            Case.id, Case.state, Case.in_fringe, Case.reported_at, Case.registered_at, Case.dispatched_at,
            Case.handled_at,
            *STAGE_DUE_COLUMNS, func.coalesce(FilingStandard.limit_clock, default_clock),
        )
        .outerjoin(FilingStandard, FilingStandard.id == Case.standard_id)
        .where(Case.id.in_(ids))
    ).all()
    pauses: dict[int, list] = defaultdict(list)
    for case_id, started, ended in db.session.execute(
        select(CasePause.case_id, CasePause.started_at, CasePause.ended_at)
        .where(CasePause.case_id.in_(ids))
        .order_by(CasePause.started_at)
    ):
        pauses[case_id].append((started, ended))
    city = clocks.city_clock()
    result = {}
    for row in rows:
        case_id, state, in_fringe, clock_name = row[0], State(row[1]), row[2], row[-1]
        reported, registered, dispatched, handled = row[3:7]
        dues = dict(zip(STAGE_DUE_NAMES, row[7:-1]))
        start, due = {
            State.VERIFYING: (reported, reported + timedelta(hours=clocks.VERIFY_HOURS)),
            State.REPORTED: (reported, dues["register"]),
            State.REGISTERED: (registered, dues["dispatch"]),
            State.DISPATCHED: (dispatched, dues["sign"]),
            State.HANDLING: (dispatched, dues["handle"]),
            State.SUSPENDED: (dispatched, dues["handle"]),
            State.HANDLED: (handled, dues["check"]),
        }.get(state, (None, None))
        if start is None or due is None:
            result[case_id] = ""
        elif state in clocks.FIXED_LIMITS or state is State.REPORTED:
            value, clock = clocks.FIXED_LIMITS.get(state) or clocks.register_limit(in_fringe)
            result[case_id] = _colour(city, start, due, value, clock, [], now)
        elif clock_name:
            result[case_id] = _colour(city, start, due, None, ClockType(clock_name), pauses[case_id], now)
        else:
            result[case_id] = ""
    return result


def _colour(city, start, due, value, clock, pauses, now) -> str:
    """``case_colour``'s rule for one stage (see gridops.cases.clocks)."""
    if value is not None:
        budget = timedelta(hours=value)
    else:
        closed = []
        for started, ended in pauses:
            if ended is None:
                now = min(now, started)
            else:
                closed.append((started, ended))
        budget = city.elapsed(start, due, clock, paused=closed) if due > start else timedelta(0)
    if now > due:
        return "red"
    left = city.elapsed(now, due, clock)
    if left <= budget * (1 - city.thresholds[clock].yellow):
        return "yellow"
    return "green"


def yellow_ids(base: Select, now: datetime) -> list[int]:
    """Ids of the cases of ``base`` (a ``visible_cases`` statement) that are due soon now."""
    candidates = db.session.scalars(
        base.with_only_columns(Case.id).order_by(None).where(yellow_candidates_clause(now))
    ).all()
    colours = warning_colours(candidates, now)
    return [case_id for case_id in candidates if colours.get(case_id) == "yellow"]


# ---------------------------------------------------------------------------------------------
# The queues


@dataclass(frozen=True)
class Queue:
    key: str
    label: object  # lazy string
    #: A short explanation for the page (lazy string).
    hint: object


COMMAND_QUEUES = (
    Queue("register", _l("To register"), _l("Reports waiting for registration (立案).")),
    Queue("dispatch", _l("To dispatch"), _l("Registered cases waiting for a unit (派遣), returned ones included.")),
    Queue("approvals", _l("Approvals waiting"), _l("Return, extension and suspension requests for a shift leader.")),
    Queue("rework", _l("Checks failed"), _l("The on-site check failed: back with the unit for rework (返工).")),
    Queue("overdue", _l("Overdue"), _l("The running stage is past its due time.")),
    Queue("yellow", _l("Due soon"), _l("Most of the running stage's time is used (yellow warning).")),
)
INBOX_QUEUES = (
    Queue("to_sign", _l("To sign"), _l("Dispatched to your unit: sign for them (签收).")),
    Queue("in_progress", _l("In progress"), _l("Signed and being handled: report back with photos.")),
    Queue("returned", _l("Returned for rework"), _l("The on-site check failed: handle them again.")),
)
LEADER_QUEUES = (
    Queue("overdue", _l("Overdue"), _l("The running stage is past its due time.")),
    Queue("supervised", _l("Supervised"), _l("Open cases under supervision (督办).")),
)
QUEUES = {queue.key: queue for queue in COMMAND_QUEUES + INBOX_QUEUES + LEADER_QUEUES}


def queue_clause(key: str, now: datetime, yellow: Sequence[int] | None = None):
    """The WHERE clause of queue ``key`` at ``now`` (``yellow``: the due-soon ids, if known)."""
    if key == "register":
        return Case.state == State.REPORTED.value
    if key == "dispatch":
        return Case.state == State.REGISTERED.value
    if key == "approvals":
        return and_(Case.state.in_(OPEN_VALUES), pending_request_clause())
    if key in ("rework", "returned"):
        return and_(Case.state == State.HANDLING.value, Case.rework_count > 0)
    if key == "overdue":
        return overdue_clause(now)
    if key == "yellow":
        return Case.id.in_(list(yellow)) if yellow else false()
    if key == "to_sign":
        return Case.state == State.DISPATCHED.value
    if key == "in_progress":
        return and_(Case.state == State.HANDLING.value, Case.rework_count == 0)
    if key == "supervised":
        return and_(Case.state.in_(OPEN_VALUES), Case.supervised.is_(True))
    raise KeyError(key)


def queue_counts_for(base: Select, queue_set: Sequence[Queue], now: datetime) -> tuple[dict[str, int], list[int]]:
    """How many cases of ``base`` (open, visible, filtered) each queue holds, in one aggregate
    query, and the ids of the due-soon cases (needed to list the yellow queue)."""
    keys = [queue.key for queue in queue_set]
    yellow = yellow_ids(base, now) if "yellow" in keys else []
    columns = [
        func.coalesce(func.sum(case((queue_clause(key, now), 1), else_=0)), 0).label(key)
        for key in keys
        if key != "yellow"
    ]
    counts = {key: 0 for key in keys}
    if columns:
        row = db.session.execute(base.with_only_columns(*columns).order_by(None)).one()
        counts.update(row._mapping)
    if "yellow" in counts:
        counts["yellow"] = len(yellow)
    return {key: int(value) for key, value in counts.items()}, yellow


def open_cases(user: User) -> Select:
    """The open cases ``user`` may see."""
    return visible_cases(user).where(Case.state.in_(OPEN_VALUES))


def last_event_id(user: User) -> int:
    """The newest event on a case ``user`` may see (0: none): moves whenever someone acts."""
    if permissions.sees_whole_city(user) and permissions.department_ids_in_scope(user) is None:
        return db.session.scalar(select(func.max(CaseEvent.id))) or 0
    visible = visible_cases(user).with_only_columns(Case.id).order_by(None)
    return db.session.scalar(select(func.max(CaseEvent.id)).where(CaseEvent.case_id.in_(visible))) or 0


def scope_filter(area_path: str | None = None, unit_id: int | None = None):
    """The extra WHERE of the command centre's filters (area subtree, holding unit)."""
    clause = true()
    if area_path:
        clause = and_(clause, Case.area_path.startswith(area_path, autoescape=True))
    if unit_id is not None:
        clause = and_(clause, Case.holder_department_id == unit_id)
    return clause
