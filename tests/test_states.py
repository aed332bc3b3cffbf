"""Sanity of the workflow transition table itself (the services' walk comes with them)."""

import pytest

from gridops.cases.states import ACTIONS, FINAL_STATES, Input, State, actions_from


def test_every_open_state_has_a_way_forward():
    for state in State:
        if state not in FINAL_STATES:
            assert any(a.target not in (None, state) for a in actions_from(state)), state


def test_final_states_take_no_action_except_reopen_and_unmerge():
    assert {a.name for s in FINAL_STATES for a in actions_from(s)} == {"reopen", "unmerge"}


def test_every_non_final_state_is_reachable_from_filing():
    reached = {State.VERIFYING, State.REPORTED}
    changed = True
    while changed:
        changed = False
        for action in ACTIONS.values():
            if action.sources & reached and action.target and action.target not in reached:
                reached.add(action.target)
                changed = True
    assert reached >= set(State)


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_actions_name_roles_and_labels(name):
    action = ACTIONS[name]
    assert action.roles and action.sources and action.label_zh and action.label_en


@pytest.mark.parametrize("name", ["cancel", "verify_not_found", "force_close", "check_fail", "reopen"])
def test_refusals_and_closures_need_a_reason(name):
    assert Input.REASON in ACTIONS[name].required
