"""The stages of a case that escalation watches: when each stage's clock runs, and whom its orders reach.

One entry per stage limit of domain.md §6 — on-site verification, registration, dispatch,
signing, handling, on-site check — with the case states in which its clock runs, its start and
due time, its clock type and its owner. Start and due are read alike from a ``Case`` and from
the sweep's rows, which carry the case's column names. A suspension stops only the handling
clock (the only stage a case can be suspended in), so a suspended case has no running stage.

Addressees follow the linkage chain (domain.md §1, §6). Steps 0 (yellow warning) and 1 (level 1)
go to the stage's owner, level 1 also to the shift leaders; level 2 to the owner's head and the
next area up; level 3 to the leaders and the area two levels up:

| stage | owner (steps 0, 1) | owner's head (level 2) |
|---|---|---|
| verification, check | the assigned grid worker | their grid chief (网格长) |
| registration | the intake operators | the shift leaders |
| dispatch | the dispatchers | the shift leaders |
| signing, handling | the holding unit | the unit's leader (its parent unit) |

Roles reach the users whose area scope holds the case: a district centre's staff get the orders
of their district's cases, the city centre's every case's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from gridops.auth.roles import Role
from gridops.cases.clocks import (
    CHECK_LIMIT, DISPATCH_LIMIT, REGISTER_CLOCK, SIGN_LIMIT, VERIFY_HOURS, VERIFY_LIMIT, handling_limit,
)
from gridops.cases.models import Case
from gridops.cases.states import State
from gridops.extensions import db
from gridops.org.models import Department
from gridops.territory.models import ResponsibilityGrid, responsibility_grid_area
from gridops.worktime import ClockType

#: Owners that are not a role: the unit holding the case, the grid worker assigned to it.
UNIT, WORKER = "unit", "worker"


@dataclass(frozen=True)
class CaseStage:
    """One watched stage of a case: where its clock runs, its times, its clock and its owner."""

    name: str
    #: The case states in which the stage's clock runs.
    states: frozenset[str]
    #: Its due time, from a case (or a sweep row with the case's column names).
    due: Callable[[Any], datetime | None]
    #: When its clock started; None: the instant the case entered the stage (kept on the watch).
    start: Callable[[Any], datetime | None] | None
    #: Its clock type (handling: the filing standard's; the others: fixed).
    clock: Callable[[Case], ClockType]
    #: Who must act in it: ``UNIT``, ``WORKER`` or a role of the command and supervision centre.
    owner: str

    def running(self, case) -> bool:
        """The stage's clock runs for ``case`` (or a sweep row) as it is now."""
        return case.state in self.states and self.due(case) is not None


def _fixed(clock: ClockType) -> Callable[[Case], ClockType]:
    return lambda case: clock


def _states(*states: State) -> frozenset[str]:
    return frozenset(state.value for state in states)


STAGES: dict[str, CaseStage] = {
    stage.name: stage
    for stage in (
        CaseStage("verification", _states(State.VERIFYING), lambda c: c.reported_at + timedelta(hours=VERIFY_HOURS),
                  lambda c: c.reported_at, _fixed(VERIFY_LIMIT[1]), WORKER),
        CaseStage("registration", _states(State.REPORTED), lambda c: c.register_due_at, None,
                  _fixed(REGISTER_CLOCK), Role.INTAKE_OPERATOR.value),
        CaseStage("dispatch", _states(State.REGISTERED), lambda c: c.dispatch_due_at, None,
                  _fixed(DISPATCH_LIMIT[1]), Role.DISPATCHER.value),
        CaseStage("signing", _states(State.DISPATCHED), lambda c: c.sign_due_at, lambda c: c.dispatched_at,
                  _fixed(SIGN_LIMIT[1]), UNIT),
        # 派遣即计时: the handling clock runs from dispatch, also before the unit signs.
        CaseStage("handling", _states(State.DISPATCHED, State.HANDLING), lambda c: c.handle_due_at,
                  lambda c: c.dispatched_at, lambda c: handling_limit(c)[1], UNIT),
        CaseStage("check", _states(State.HANDLED), lambda c: c.check_due_at, lambda c: c.handled_at,
                  _fixed(CHECK_LIMIT[1]), WORKER),
    )
}

#: The case columns the sweep reads with each watch: what the stages' times, owners and heads need.
SWEEP_COLUMNS = (
    Case.state, Case.reported_at, Case.dispatched_at, Case.handled_at, Case.register_due_at,
    Case.dispatch_due_at, Case.sign_due_at, Case.handle_due_at, Case.check_due_at,
    Case.holder_department_id, Case.assignee_id, Case.unit_grid_id, Case.area_path,
)
#: Every case column that moves a stage's clock: a step that changes one of them (or the state) is re-tracked.
CLOCK_COLUMNS = ("reported_at", "dispatched_at", "handled_at", "register_due_at", "dispatch_due_at",
                 "sign_due_at", "handle_due_at", "check_due_at")


def running_stages(case) -> list[CaseStage]:
    """The stages whose clock runs for ``case`` now (two while a dispatched case waits to be signed)."""
    return [stage for stage in STAGES.values() if stage.running(case)]


def ancestor(path: str, up: int) -> int | None:
    """The id ``up`` levels above the last area of a materialised path (0: the area itself)."""
    ids = [int(part) for part in path.strip("/").split("/") if part]
    return ids[-1 - up] if len(ids) > up else None


class Heads:
    """The heads a batch of rows may need at level 2, each looked up once per batch when first asked:
    units' parent units and unit grids' grid chiefs."""

    def __init__(self, rows):
        self._rows = rows
        self._parents: dict[int, int | None] | None = None
        self._chiefs: dict[int, int | None] | None = None

    def parent_unit(self, unit_id: int) -> int | None:
        if self._parents is None:
            ids = {row.holder_department_id for row in self._rows if row.holder_department_id is not None}
            self._parents = dict(db.session.execute(
                select(Department.id, Department.parent_id).where(Department.id.in_(ids))
            ).all()) if ids else {}
        return self._parents.get(unit_id)

    def grid_chief(self, unit_grid_id: int) -> int | None:
        if self._chiefs is None:
            ids = {row.unit_grid_id for row in self._rows if row.unit_grid_id is not None}
            link = responsibility_grid_area.c
            self._chiefs = dict(db.session.execute(
                select(link.area_id, ResponsibilityGrid.chief_id)
                .join(ResponsibilityGrid, ResponsibilityGrid.id == link.responsibility_grid_id)
                .where(link.area_id.in_(ids))
            ).all()) if ids else {}
        return self._chiefs.get(unit_grid_id)


def _owner(stage: CaseStage, row) -> list[dict]:
    if stage.owner == UNIT:
        return [{"department_id": row.holder_department_id}] if row.holder_department_id is not None else []
    if stage.owner == WORKER:
        return [{"user_id": row.assignee_id}] if row.assignee_id is not None else []
    return [{"role": stage.owner}]


def _owners_head(stage: CaseStage, row, heads: Heads) -> list[dict]:
    if stage.owner == UNIT:
        holder = row.holder_department_id
        return [] if holder is None else [{"department_id": heads.parent_unit(holder) or holder}]
    if stage.owner == WORKER:
        chief = heads.grid_chief(row.unit_grid_id) if row.unit_grid_id is not None else None
        return [] if chief is None else [{"user_id": chief}]
    return [{"role": Role.SHIFT_LEADER.value}]


def recipients(stage: CaseStage, step: int, row, heads: Heads) -> list[dict]:
    """The addressees of ``step`` of ``stage`` for the case in ``row`` (see the module's table).

    A step whose owner is missing (no unit yet, no grid worker for the grid) goes to the shift
    leaders, who can see to it; so does level 2 of a case with no area above its own.
    """
    shift_leaders = {"role": Role.SHIFT_LEADER.value}
    out: list[dict] = []
    if step in (0, 1):
        out = _owner(stage, row)
        if step == 1 or not out:
            out.append(shift_leaders)
    elif step == 2:
        out = _owners_head(stage, row, heads)
        area = ancestor(row.area_path, 1)
        out.append({"area_id": area} if area is not None else shift_leaders)
    else:
        out = [{"role": Role.LEADER.value}]
        area = ancestor(row.area_path, 2)
        if area is not None:
            out.append({"area_id": area})
    unique: list[dict] = []
    for addressee in out:
        if addressee not in unique:
            unique.append(addressee)
    return unique
