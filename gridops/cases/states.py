"""The workflow's single source of truth: states, actions, who may take them, what they need.

Read by the services (is this transition allowed?), the UI (which buttons to show), the API
documentation and the test that walks every (state, action, role) combination.
Requests that need a shift leader's approval (return, extension, suspension) do not change
the state: they open a pending request that the approve/reject actions settle.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from gridops.auth.roles import Role


class State(str, enum.Enum):
    VERIFYING = "verifying"  # public/hotline report waiting for on-site verification (核实)
    REPORTED = "reported"  # waiting for registration (立案)
    REGISTERED = "registered"  # waiting for dispatch (派遣)
    DISPATCHED = "dispatched"  # sent to a unit, waiting for it to sign (签收)
    HANDLING = "handling"  # signed, being handled (处置)
    SUSPENDED = "suspended"  # approved suspension (挂账): the clock stops
    HANDLED = "handled"  # unit reported back (处置反馈), waiting for the on-site check (核查)
    CLOSED = "closed"  # 结案
    CANCELLED = "cancelled"  # not registered (不予立案/注销)
    MERGED = "merged"  # merged into another case (并单)

    @property
    def is_open(self) -> bool:
        return self not in FINAL_STATES


FINAL_STATES = frozenset({State.CLOSED, State.CANCELLED, State.MERGED})
OPEN_STATES = frozenset(s for s in State if s not in FINAL_STATES)
#: States in which a handling unit holds the case (its clock runs unless suspended).
UNIT_STATES = frozenset({State.DISPATCHED, State.HANDLING, State.SUSPENDED, State.HANDLED})


class Scope(str, enum.Enum):
    """Whose case an actor may act on, beyond holding the role."""

    AREA = "area"  # the case lies in the actor's area subtree
    GRID = "grid"  # the case lies in the actor's responsibility grids (or area subtree)
    UNIT = "unit"  # the case is held by the actor's department (or a sub-unit of it)
    REPORTER = "reporter"  # the actor filed the case


class Input(str, enum.Enum):
    REASON = "reason"
    PHOTOS = "photos"
    UNIT = "unit"
    DUE_AT = "due_at"
    INSTRUCTION = "instruction"
    NOTE = "note"
    MASTER = "master"  # the case a duplicate is merged into


@dataclass(frozen=True)
class Action:
    """One step of the loop: from which states, to which state, by whom, needing what."""

    name: str
    sources: frozenset[State]
    #: None: the state does not change (requests, approvals of extensions, supervision).
    target: State | None
    roles: frozenset[Role]
    scope: Scope
    required: frozenset[Input] = field(default_factory=frozenset)
    #: Named precondition checked by the service (e.g. a pending request of a kind).
    guard: str | None = None
    label_zh: str = ""
    label_en: str = ""
    #: The step undoes an earlier one, and the state returns to the one before it (unmerge).
    restores: bool = False


def _a(name, sources, target, roles, scope, required=(), guard=None, zh="", en="", restores=False) -> Action:
    return Action(
        name=name,
        sources=frozenset(sources),
        target=target,
        roles=frozenset(roles),
        scope=scope,
        required=frozenset(required),
        guard=guard,
        label_zh=zh,
        label_en=en,
        restores=restores,
    )


S, R, I = State, Role, Input
_OPEN_HELD = (S.REGISTERED, S.DISPATCHED, S.HANDLING, S.SUSPENDED, S.HANDLED)
#: Who merges duplicates (并单): the desks that meet them first.
_MERGERS = (R.INTAKE_OPERATOR, R.HOTLINE_OPERATOR, R.DISPATCHER)

ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        _a("verify", [S.VERIFYING], S.REPORTED, [R.GRID_WORKER], Scope.GRID, [I.PHOTOS],
           zh="核实属实", en="Confirm on site"),
        _a("verify_not_found", [S.VERIFYING], S.CANCELLED, [R.GRID_WORKER], Scope.GRID, [I.REASON],
           zh="核实不属实", en="Not found on site"),
        _a("self_close", [S.REPORTED], S.CLOSED, [R.GRID_WORKER], Scope.REPORTER, [I.PHOTOS],
           guard="self_handleable", zh="自行处置结案", en="Fixed on the spot"),
        _a("register", [S.REPORTED], S.REGISTERED, [R.INTAKE_OPERATOR], Scope.AREA,
           zh="立案", en="Register"),
        _a("cancel", [S.VERIFYING, S.REPORTED], S.CANCELLED, [R.INTAKE_OPERATOR], Scope.AREA, [I.REASON],
           zh="不予立案", en="Cancel"),
        _a("dispatch", [S.REGISTERED], S.DISPATCHED, [R.DISPATCHER], Scope.AREA, [I.UNIT],
           zh="派遣", en="Dispatch"),
        _a("redispatch", [S.DISPATCHED], S.DISPATCHED, [R.DISPATCHER], Scope.AREA, [I.UNIT, I.REASON],
           zh="改派", en="Re-dispatch"),
        _a("sign", [S.DISPATCHED], S.HANDLING, [R.UNIT_STAFF], Scope.UNIT,
           zh="签收", en="Sign for"),
        _a("feedback", [S.HANDLING], S.HANDLED, [R.UNIT_STAFF], Scope.UNIT, [I.PHOTOS, I.NOTE],
           zh="处置反馈", en="Report back"),
        _a("request_return", [S.DISPATCHED, S.HANDLING], None, [R.UNIT_STAFF], Scope.UNIT, [I.REASON],
           guard="no_pending_request", zh="申请回退", en="Ask to return"),
        _a("approve_return", [S.DISPATCHED, S.HANDLING], S.REGISTERED, [R.SHIFT_LEADER], Scope.AREA,
           guard="pending_return", zh="同意回退", en="Approve return"),
        _a("reject_return", [S.DISPATCHED, S.HANDLING], None, [R.SHIFT_LEADER], Scope.AREA, [I.REASON],
           guard="pending_return", zh="驳回回退", en="Reject return"),
        _a("request_extension", [S.HANDLING], None, [R.UNIT_STAFF], Scope.UNIT, [I.REASON, I.DUE_AT],
           guard="before_deadline", zh="申请延期", en="Ask for extension"),
        _a("approve_extension", [S.HANDLING], None, [R.SHIFT_LEADER], Scope.AREA,
           guard="pending_extension", zh="同意延期", en="Approve extension"),
        _a("reject_extension", [S.HANDLING], None, [R.SHIFT_LEADER], Scope.AREA, [I.REASON],
           guard="pending_extension", zh="驳回延期", en="Reject extension"),
        _a("request_suspension", [S.HANDLING], None, [R.UNIT_STAFF], Scope.UNIT, [I.REASON],
           guard="no_pending_request", zh="申请挂账", en="Ask to suspend"),
        _a("approve_suspension", [S.HANDLING], S.SUSPENDED, [R.SHIFT_LEADER], Scope.AREA,
           guard="pending_suspension", zh="同意挂账", en="Approve suspension"),
        _a("reject_suspension", [S.HANDLING], None, [R.SHIFT_LEADER], Scope.AREA, [I.REASON],
           guard="pending_suspension", zh="驳回挂账", en="Reject suspension"),
        _a("resume", [S.SUSPENDED], S.HANDLING, [R.SHIFT_LEADER], Scope.AREA, [I.NOTE],
           zh="恢复办理", en="Resume"),
        _a("check_pass", [S.HANDLED], S.CLOSED, [R.GRID_WORKER], Scope.GRID, [I.PHOTOS],
           zh="核查通过", en="Check passed"),
        _a("check_fail", [S.HANDLED], S.HANDLING, [R.GRID_WORKER], Scope.GRID, [I.PHOTOS, I.REASON],
           zh="核查不通过（返工）", en="Check failed (rework)"),
        _a("force_close", _OPEN_HELD, S.CLOSED, [R.SHIFT_LEADER], Scope.AREA, [I.REASON],
           zh="强制结案", en="Force close"),
        _a("reopen", [S.CLOSED], S.HANDLING, [R.HOTLINE_OPERATOR], Scope.AREA, [I.REASON],
           guard="dissatisfied_callback", zh="重办", en="Reopen"),
        _a("supervise", OPEN_STATES, None, [R.LEADER, R.AREA_LEAD], Scope.AREA, [I.INSTRUCTION],
           zh="督办", en="Supervise"),
        _a("merge", OPEN_STATES, S.MERGED, _MERGERS, Scope.AREA, [I.MASTER],
           zh="并单", en="Merge into another case"),
        _a("unmerge", [S.MERGED], None, _MERGERS, Scope.AREA, guard="undoable_merge", restores=True,
           zh="撤销并单", en="Undo merge"),
    )
}


def actions_from(state: State) -> list[Action]:
    """Every action whose source states include ``state``, in table order."""
    return [action for action in ACTIONS.values() if state in action.sources]


def action_for(name: str) -> Action | None:
    return ACTIONS.get(name)


def role_may(role: Role, action: Action, state: State) -> bool:
    """The table's answer alone (scope and guards are checked by the services)."""
    return role in action.roles and state in action.sources
