"""The transition table walked in full: every (state, action, role), in scope and out of it.

For each action, the walk reaches every state through the real services and tries the
action as every role inside a savepoint: allowed combinations succeed with their effects,
the others are refused with the right error (NotAllowed for the role, InvalidTransition for
the state, and ValidationFailed naming each missing input).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gridops.auth.roles import Role
from gridops.cases.clocks import case_colour
from gridops.cases.models import CaseEvent, CasePause, CasePhoto, CaseRequest
from gridops.cases.services import INPUT_FIELDS, allowed_actions, file_case, take_action
from gridops.cases.states import ACTIONS, State
from gridops.errors import InvalidTransition, NotAllowed, StaleCase, ValidationFailed
from gridops.extensions import db
from tests.case_factories import (
    GRID1_XY,
    GRID4_XY,
    T0,
    act,
    later,
    make_case,
    make_photos,
    make_state,
    make_world,
)
from tests.factories import make_user

#: Every state the services can reach.
REACHABLE = [s.value for s in State]
ALL_STATES = [s.value for s in State]
NOW = T0 + timedelta(minutes=30)


def _setup_guard(world, case, guard):
    """Give the case what the action's guard asks for (a pending request of the right kind)."""
    if guard == "pending_return":
        act(world, case, "request_return", "unit_staff", reason="不属本单位职责")
    elif guard == "pending_extension":
        act(world, case, "request_extension", "unit_staff", reason="需要协调",
            due_at=case.handle_due_at + timedelta(days=3))
    elif guard == "pending_suspension":
        act(world, case, "request_suspension", "unit_staff", reason="等待资金")


def _case_for(world, state, action):
    source = "hotline" if state == "verifying" or action.guard == "dissatisfied_callback" else "patrol"
    case = make_case(state, world=world, source=source)
    if State(state) in action.sources:
        _setup_guard(world, case, action.guard)
    return case


def _inputs(world, case, action, photos):
    unit = world.other_unit if action.name == "redispatch" else world.unit
    master = make_case("reported", world=world) if action.name == "merge" else None
    return {
        "master": master,
        "reason": "情况说明",
        "note": "已处理完毕",
        "instruction": "请尽快处理",
        "unit_id": unit.id,
        "due_at": (case.handle_due_at or T0) + timedelta(days=3),
        "photos": photos,
    }


def _requests(case, kind, status):
    return db.session.scalar(
        select(func.count()).select_from(CaseRequest).where(
            CaseRequest.case_id == case.id, CaseRequest.kind == kind, CaseRequest.status == status
        )
    )


def _check_effects(world, case, action, before, event):
    """The action-specific effects, beyond state, event and version checked for every action."""
    name = action.name
    if name == "verify":
        assert case.register_due_at > NOW
    elif name == "self_close":
        assert case.self_handled and case.closed_on_time and case.closed_at == NOW
    elif name == "register":
        assert case.registered_at == NOW and case.dispatch_due_at > NOW
    elif name in ("dispatch", "redispatch"):
        expected = world.other_unit if name == "redispatch" else world.unit
        assert case.holder_department_id == expected.id
        assert case.dispatch_count == before["dispatch_count"] + 1
        assert case.dispatched_at == NOW and NOW < case.sign_due_at < case.handle_due_at
    elif name == "sign":
        assert case.signed_at == NOW
    elif name == "feedback":
        assert case.handled_at == NOW and case.check_due_at > NOW
        assert event.payload["assigned_to"] == world.user("grid_worker").id
    elif name.startswith("request_"):
        assert _requests(case, name.removeprefix("request_"), "pending") == 1
    elif name.startswith("reject_"):
        kind = name.removeprefix("reject_")
        assert _requests(case, kind, "rejected") == 1 and _requests(case, kind, "pending") == 0
    elif name == "approve_return":
        assert case.return_count == before["return_count"] + 1
        assert case.holder_department_id is None and event.payload["dispatch_inaccurate"] is True
        assert _requests(case, "return", "approved") == 1
    elif name == "approve_extension":
        assert case.extension_count == before["extension_count"] + 1
        assert case.handle_due_at == before["handle_due_at"] + timedelta(days=3)
    elif name == "approve_suspension":
        assert db.session.scalar(select(CasePause.started_at).where(CasePause.case_id == case.id)) == NOW
    elif name == "resume":
        pause = db.session.scalar(select(CasePause).where(CasePause.case_id == case.id))
        assert pause.ended_at == NOW and case.handle_due_at > before["handle_due_at"]
    elif name == "check_pass":
        assert case.closed_at == NOW and case.closed_on_time is True
    elif name == "check_fail":
        assert case.rework_count == before["rework_count"] + 1 and case.handled_at is None
    elif name == "force_close":
        assert case.closed_at == NOW
    elif name == "reopen":
        assert case.closed_at is None and case.closed_on_time is None and case.handle_due_at > NOW
    elif name == "merge":
        assert case.merged_into_id is not None and event.payload["master"]
    elif name == "unmerge":
        assert case.merged_into_id is None
    elif name == "supervise":
        assert case.supervised and event.payload["instruction"] == "请尽快处理"
    if "photos" in {INPUT_FIELDS[i] for i in action.required}:
        assert db.session.scalar(
            select(func.count()).select_from(CasePhoto).where(CasePhoto.event_id == event.id)
        ) == 1


def _snapshot(case):
    return {
        key: getattr(case, key)
        for key in ("version", "dispatch_count", "return_count", "rework_count", "extension_count",
                    "handle_due_at", "state")
    }


def _try(world, case, state, action, role, photos):
    """Take ``action`` on ``case`` (in ``state``) as the world's ``role`` user and check the outcome."""
    actor = world.user(role.value)
    inputs = _inputs(world, case, action, photos)
    before = _snapshot(case)
    events_before = db.session.scalar(
        select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id)
    )
    if role not in action.roles:
        with pytest.raises(NotAllowed):
            take_action(case, action.name, actor, now=NOW, **inputs)
    elif State(state) not in action.sources:
        with pytest.raises(InvalidTransition):
            take_action(case, action.name, actor, now=NOW, **inputs)
    else:
        if action.required:
            with pytest.raises(ValidationFailed) as refused:
                take_action(case, action.name, actor, now=NOW)
            assert set(refused.value.fields) == {INPUT_FIELDS[i] for i in action.required}
        assert action in allowed_actions(case, actor, now=NOW)
        event = take_action(case, action.name, actor, now=NOW, **inputs)
        target = "reported" if action.restores else action.target.value if action.target else state
        assert case.state == target
        assert case.version == before["version"] + 1
        assert (event.action, event.from_state, event.to_state) == (action.name, state, target)
        assert (event.actor_id, event.actor_role, event.at) == (actor.id, role.value, NOW)
        assert db.session.scalar(
            select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id)
        ) == events_before + 1
        _check_effects(world, case, action, before, event)
        return
    assert _snapshot(case) == before
    assert action not in allowed_actions(case, actor, now=NOW)


@pytest.mark.parametrize("action_name", list(ACTIONS))
def test_every_state_and_role_in_scope(app, action_name):
    """From every state, as every role (each try in a savepoint): allowed succeed, others are refused."""
    world = make_world()
    action = ACTIONS[action_name]
    photos = make_photos()
    for state in ALL_STATES:
        case = _case_for(world, state, action)
        for role in Role:
            savepoint = db.session.begin_nested()
            try:
                _try(world, case, state, action, role, photos)
            except (AssertionError, pytest.fail.Exception) as exc:
                raise AssertionError(f"{action_name} from {state} as {role.value}: {exc}") from exc
            finally:
                savepoint.rollback()


#: For each action, a state it starts from (the first of the table's walk order).
def _source_state(action):
    return next(s for s in REACHABLE if State(s) in action.sources)


@pytest.mark.parametrize("action_name", list(ACTIONS))
def test_out_of_scope_actors_are_refused(app, action_name):
    """Holding the role is not enough: a case outside the actor's area, grids or unit is refused."""
    world = make_world()
    action = ACTIONS[action_name]
    state = _source_state(action)
    case = _case_for(world, state, action)
    photos = make_photos()
    outsiders = [world.outsiders[r.value] for r in action.roles if r.value in world.outsiders]
    assert outsiders, "every action has a role with a limited scope"
    for actor in outsiders:
        with pytest.raises(NotAllowed):
            take_action(case, action_name, actor, now=NOW, **_inputs(world, case, action, photos))
        assert action not in allowed_actions(case, actor, now=NOW)
    assert case.state == state


def test_grid_worker_acts_in_their_area_or_grids_only(app):
    """Scope.GRID: a worker's responsibility grids, or their area; a grid elsewhere is refused."""
    world = make_world()
    outside_grid = make_case("verifying", world=world, xy=GRID4_XY)
    with pytest.raises(NotAllowed):
        act(world, outside_grid, "verify", "grid_worker", photos=True)
    community_worker = make_user("community_worker", "grid_worker", area=world.areas["community"])
    take_action(outside_grid, "verify", community_worker, photos=make_photos(), now=NOW)
    assert outside_grid.state == "reported"


def test_self_close_only_by_the_reporter(app):
    """Scope.REPORTER: another grid worker, even responsible for the grid, may not self-close."""
    world = make_world()
    colleague = make_user("colleague", "grid_worker", area=world.areas["community"])
    case = file_case_by(colleague, world)
    with pytest.raises(NotAllowed):
        act(world, case, "self_close", "grid_worker", photos=True)
    take_action(case, "self_close", colleague, photos=make_photos(), now=NOW)
    assert case.state == "closed" and case.self_handled


def file_case_by(user, world):
    """A patrol report filed by ``user`` in unit grid 1."""
    return file_case(user, source="patrol", case_type="event", small_class_code="0102",
                     x=GRID1_XY[0], y=GRID1_XY[1], datum="gcj02", now=T0)


def test_guards_refuse_without_their_precondition(app):
    """Approvals need a pending request, requests need none pending, reopening needs a callback case."""
    world = make_world()
    case = make_case("handling", world=world)
    for name in ("approve_return", "reject_return", "approve_extension", "approve_suspension"):
        with pytest.raises(InvalidTransition):
            act(world, case, name, "shift_leader", reason="无")
    act(world, case, "request_return", "unit_staff", reason="不属本单位")
    with pytest.raises(InvalidTransition):
        act(world, case, "request_suspension", "unit_staff", reason="再申请")
    with pytest.raises(InvalidTransition):
        act(world, case, "approve_suspension", "shift_leader")
    patrol_closed = make_case("closed", world=world)
    with pytest.raises(InvalidTransition):
        act(world, patrol_closed, "reopen", "hotline_operator", reason="不满意")


def test_extension_only_before_the_deadline_and_later_than_it(app):
    """An extension is asked for before the handling deadline, for a later due time."""
    world = make_world()
    case = make_case("handling", world=world)
    due = case.handle_due_at
    with pytest.raises(ValidationFailed) as refused:
        act(world, case, "request_extension", "unit_staff", reason="需要协调", due_at=due - timedelta(hours=1))
    assert set(refused.value.fields) == {"due_at"}
    with pytest.raises(InvalidTransition):
        act(world, case, "request_extension", "unit_staff", reason="需要协调",
            due_at=due + timedelta(days=2), now=due + timedelta(minutes=1))
    act(world, case, "request_extension", "unit_staff", reason="需要协调", due_at=due + timedelta(days=2))
    act(world, case, "approve_extension", "shift_leader")
    assert case.handle_due_at == due + timedelta(days=2) and case.extension_count == 1


def test_return_then_redispatch_counts_both(app):
    """An approved return sends the case back for dispatch; the next dispatch counts again."""
    world = make_world()
    case = make_case("handling", world=world)
    act(world, case, "request_return", "unit_staff", reason="不属本单位")
    act(world, case, "approve_return", "shift_leader")
    assert (case.state, case.return_count, case.holder_department_id) == ("registered", 1, None)
    act(world, case, "dispatch", "dispatcher", unit_id=world.other_unit.id)
    assert case.dispatch_count == 2 and case.holder_department_id == world.other_unit.id


def test_rework_loop_counts_and_checks_again(app):
    """A failed check sends the case back to the unit; the next feedback is checked again."""
    world = make_world()
    case = make_case("handled", world=world)
    act(world, case, "check_fail", "grid_worker", photos=True, reason="仍有垃圾")
    assert (case.state, case.rework_count, case.check_due_at) == ("handling", 1, None)
    act(world, case, "feedback", "unit_staff", photos=True, note="再次清理", now=later(1))
    act(world, case, "check_pass", "grid_worker", photos=True, now=later(1.5))
    assert case.state == "closed" and case.rework_count == 1 and case.closed_on_time is True


def test_suspension_moves_the_due_time_by_its_length(app):
    """Working time spent suspended is given back: a two-hour suspension in office hours adds two."""
    world = make_world()
    case = make_case("handling", world=world)
    due = case.handle_due_at  # 4 working hours from Monday 10:00: 16:00 local
    act(world, case, "request_suspension", "unit_staff", reason="等待资金", now=later(0.5))
    act(world, case, "approve_suspension", "shift_leader", now=later(0.5))
    assert case_colour(case, later(200)) == "green"
    act(world, case, "resume", "shift_leader", note="资金到位", now=later(4.5))
    # Suspended 10:30–14:30 local: two working hours (10:30–12:00 and 14:00–14:30).
    assert case.handle_due_at == due + timedelta(hours=2)


def test_force_close_settles_pending_requests_and_reopen_restarts_the_clock(app):
    """Forced closure lapses pending requests; a dissatisfied callback reopens with a new due time."""
    world = make_world()
    case = make_case("handling", world=world, source="hotline")
    act(world, case, "request_suspension", "unit_staff", reason="等待资金")
    act(world, case, "force_close", "shift_leader", reason="领导决定")
    assert case.state == "closed" and _requests(case, "suspension", "rejected") == 1
    act(world, case, "reopen", "hotline_operator", reason="市民不满意", now=later(24))
    assert case.state == "handling" and case.handle_due_at > later(24)


def test_stale_version_is_refused(app):
    """An action taken on an outdated version of the case gets StaleCase."""
    world = make_world()
    case = make_case("registered", world=world)
    version = case.version
    act(world, case, "supervise", "leader", instruction="尽快处理")
    with pytest.raises(StaleCase):
        act(world, case, "dispatch", "dispatcher", unit=True, expected_version=version)
    act(world, case, "dispatch", "dispatcher", unit=True, expected_version=version + 1)
    assert case.state == "dispatched"


def test_colours_follow_the_current_stage(app):
    """Green while time is left, yellow in the last fifth of the stage, red past its due time."""
    world = make_world()
    case = make_case("reported", world=world)
    assert case.register_due_at == later(1)
    assert case_colour(case, later(0.5)) == "green"
    assert case_colour(case, later(0.85)) == "yellow"
    assert case_colour(case, later(1.01)) == "red"
    make_state(world, case, "closed")
    assert case_colour(case, later(100)) == ""


def test_colour_budget_is_the_stage_limit_not_the_time_since_filing(app):
    """A report verified four hours after filing has one working hour to register, from then."""
    world = make_world()
    case = make_case("verifying", world=world)
    assert case_colour(case, later(20)) == "yellow"  # 24 urgent hours to verify
    act(world, case, "verify", "grid_worker", photos=True, now=later(4))  # 14:00 local
    assert case.register_due_at == later(5)
    assert (case_colour(case, later(4.5)), case_colour(case, later(4.9))) == ("green", "yellow")


def test_handling_colour_follows_an_extension(app):
    """After an extension the handling stage is measured against the new due time."""
    world = make_world()
    case = make_case("handling", world=world)  # due 16:00 local, 4 working hours
    assert case_colour(case, later(5.5)) == "yellow"
    act(world, case, "request_extension", "unit_staff", reason="需要协调", due_at=later(24 + 6))
    act(world, case, "approve_extension", "shift_leader")
    assert case_colour(case, later(5.5)) == "green" and case_colour(case, later(31)) == "red"
