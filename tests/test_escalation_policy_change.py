"""A change of the escalation policy applies to the running cases: their next steps come when the new
policy says, each once, nothing early, and what has already been written is never written again.

T0 is Monday 1 June 2026 10:00. The default ladder of a handling case filed then (exposed garbage,
4 working hours, due Monday 16:00): warning 15:12, level 1 Monday 16:00, level 2 Tuesday 2 June
18:00 (the one-working-day floor), level 3 Friday 5 June 18:00 (three working days after level 2).
"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from gridops.extensions import db
from gridops.supervision.hotline_chain import STAGE as HOTLINE
from gridops.supervision.models import EscalationWatch, SupervisionOrder
from gridops.supervision.policy import escalation_policy, reset_escalation_policy, set_escalation_policy
from gridops.supervision.services import sweep_escalations
from tests.case_factories import T0, make_case, make_world
from tests.test_api_cases import FreshContextClient
from tests.test_duplicates import auth_headers
from tests.test_escalation import local
from tests.test_hotline_services import complaint

MON_16, TUE_18 = local(2026, 6, 1, 16), local(2026, 6, 2, 18)


def _watch(case, stage: str = "handling") -> EscalationWatch | None:
    db.session.expire_all()
    return db.session.get(EscalationWatch, (case.id, stage))


def _written(case, stage: str = "handling") -> list[tuple[int, datetime]]:
    """The steps written about ``stage`` of ``case``: (level, the sweep instant that wrote it)."""
    rows = db.session.execute(
        select(SupervisionOrder.level, SupervisionOrder.created_at)
        .where(SupervisionOrder.case_id == case.id, SupervisionOrder.stage == stage)
        .order_by(SupervisionOrder.level)
    )
    return [tuple(row) for row in rows]


def _sweep(now: datetime) -> dict:
    """The orders a sweep at ``now`` writes: (stage, level) → count."""
    return dict(sweep_escalations(now).orders)


def _handling(*, world=None, small_class_code: str = "0102"):
    return make_case("handling", world=world or make_world(), small_class_code=small_class_code, now=T0)


def _at_level_3(case) -> None:
    """Sweep ``case`` (the default garbage case) through level 2: its watch waits for level 3."""
    assert _sweep(MON_16) == {("handling", 0): 1, ("handling", 1): 1}
    assert _sweep(TUE_18) == {("handling", 2): 1}
    assert (_watch(case).next_step, _watch(case).next_at) == (3, local(2026, 6, 5, 18))


# ---------------------------------------------------------------------------------------------
# A shorter policy: the running watches come at the new instants


def test_fewer_level3_days_raise_level_3_at_its_new_instant_once(app):
    case = _handling()
    _at_level_3(case)
    set_escalation_policy(None, {"level3_working_days": 1})
    # Level 3 is now one working day after level 2: Wednesday 3 June 18:00, no longer Friday.
    assert _sweep(local(2026, 6, 3, 17, 59)) == {}
    assert _watch(case).next_at == local(2026, 6, 3, 18)
    assert _sweep(local(2026, 6, 3, 18)) == {("handling", 3): 1}
    assert _sweep(local(2026, 6, 5, 18)) == {}
    assert _written(case) == [(0, MON_16), (1, MON_16), (2, TUE_18), (3, local(2026, 6, 3, 18))]
    assert _watch(case) is None


def test_a_step_whose_new_instant_has_passed_comes_with_the_next_sweep_not_back_dated(app):
    case = _handling()
    _at_level_3(case)
    # Thursday 4 June: under the new policy level 3 was due Wednesday 18:00.
    set_escalation_policy(None, {"level3_working_days": 1})
    thursday = local(2026, 6, 4, 9, 1)
    assert _sweep(thursday) == {("handling", 3): 1}
    order = db.session.scalar(select(SupervisionOrder).where(SupervisionOrder.level == 3))
    # Written by that sweep (its reply limit counts from then), about the same due time as its predecessors.
    assert (order.created_at, order.basis_at) == (thursday, MON_16)
    assert order.reply_due_at == local(2026, 6, 5, 9, 1)  # eight working hours
    assert _sweep(local(2026, 6, 30, 9)) == {}


def test_a_shorter_policy_can_bring_two_levels_due_at_once_each_written_once(app):
    case = _handling()
    assert _sweep(MON_16) == {("handling", 0): 1, ("handling", 1): 1}
    # No floor and one working day: level 2 Monday 18:00 (50 % of the 4 hours), level 3 Tuesday 18:00.
    set_escalation_policy(None, {"level2_min_working_days": 0, "level3_working_days": 1})
    assert _sweep(local(2026, 6, 3, 9)) == {("handling", 2): 1, ("handling", 3): 1}
    assert _sweep(local(2026, 6, 3, 9)) == {}
    assert [level for level, _ in _written(case)] == [0, 1, 2, 3]


def test_no_level2_floor_raises_level_2_at_the_share_of_the_limit(app):
    case = _handling()
    _sweep(MON_16)
    assert _watch(case).next_at == TUE_18
    set_escalation_policy(None, {"level2_min_working_days": 0})
    assert _sweep(local(2026, 6, 1, 17, 59)) == {}
    assert _sweep(local(2026, 6, 1, 18)) == {("handling", 2): 1}
    # Level 3 follows three working days after the new level 2.
    assert _watch(case).next_at == local(2026, 6, 4, 18)
    assert _sweep(local(2026, 6, 4, 17, 59)) == {}
    assert _sweep(local(2026, 6, 4, 18)) == {("handling", 3): 1}
    assert [level for level, _ in _written(case)] == [0, 1, 2, 3]


def test_a_smaller_level2_share_brings_an_exact_level_2_forward(app):
    # Illegal outdoor advertising: 5 working days, due Monday 8 June 18:00; level 2 at 50 % is
    # Thursday 11 June 17:00 (after the floor, Tuesday 18:00); at 25 % it is Wednesday 10 June 11:30.
    case = _handling(small_class_code="0203")
    assert _sweep(local(2026, 6, 8, 18)) == {("handling", 0): 1, ("handling", 1): 1}
    assert _sweep(local(2026, 6, 9, 18)) == {}
    assert _watch(case).next_at == local(2026, 6, 11, 17)
    set_escalation_policy(None, {"level2_share": 0.25})
    assert _sweep(local(2026, 6, 10, 11, 29)) == {}
    assert _sweep(local(2026, 6, 10, 11, 30)) == {("handling", 2): 1}
    assert _sweep(local(2026, 6, 11, 17)) == {}
    assert _watch(case).next_at == local(2026, 6, 15, 18)


def test_every_stage_and_level_follows_and_earlier_steps_are_left_alone(app):
    world = make_world()
    # Dispatched at T0: signing (1 working hour) and handling both run; both wait for level 3 after Tuesday.
    dispatched = make_case("dispatched", world=world, now=T0)
    assert _sweep(TUE_18) == {(stage, level): 1 for stage in ("signing", "handling") for level in range(3)}
    # A case dispatched Wednesday 17:59 waits for its warnings: no policy number moves those.
    fresh = make_case("dispatched", world=world, now=local(2026, 6, 3, 17, 59))
    before = {stage: _watch(fresh, stage).next_at for stage in ("signing", "handling")}
    set_escalation_policy(None, {"level3_working_days": 1})
    assert {stage: _watch(fresh, stage).next_at for stage in ("signing", "handling")} == before
    assert _sweep(local(2026, 6, 3, 17, 59)) == {}
    assert _sweep(local(2026, 6, 3, 18)) == {("signing", 3): 1, ("handling", 3): 1}
    for stage in ("signing", "handling"):
        assert [level for level, _ in _written(dispatched, stage)] == [0, 1, 2, 3]
        assert _watch(dispatched, stage) is None
        assert _watch(fresh, stage) is not None


def test_a_reset_to_the_defaults_brings_level_3_forward(app):
    set_escalation_policy(None, {"level3_working_days": 6})
    case = _handling()
    _sweep(MON_16)
    _sweep(TUE_18)
    assert _watch(case).next_at == local(2026, 6, 10, 18)
    reset_escalation_policy(None)
    assert _sweep(local(2026, 6, 5, 17, 59)) == {}
    assert _sweep(local(2026, 6, 5, 18)) == {("handling", 3): 1}
    assert _sweep(local(2026, 6, 10, 18)) == {}


def test_the_api_change_is_committed_with_its_effect_on_running_cases(app):
    api = FreshContextClient(app, app.response_class)
    world = make_world()
    case = _handling(world=world)
    _at_level_3(case)
    admin = auth_headers(world.user("admin"))
    db.session.commit()
    assert api.put("/api/v1/supervision/policy", json={"level3_working_days": 1}, headers=admin).status_code == 200
    db.session.expire_all()
    assert escalation_policy().level3_working_days == 1
    assert _sweep(local(2026, 6, 3, 18)) == {("handling", 3): 1}


# ---------------------------------------------------------------------------------------------
# A longer policy: nothing is raised at the old instant, the step comes at the new one


@pytest.mark.parametrize(
    ("small_class_code", "level", "change", "old", "new"),
    [
        # Level 3, five working days after level 2 instead of three.
        ("0102", 3, {"level3_working_days": 5}, local(2026, 6, 5, 18), local(2026, 6, 9, 18)),
        # Level 2, at least two working days after the due time instead of one.
        ("0102", 2, {"level2_min_working_days": 2}, TUE_18, local(2026, 6, 3, 18)),
        # Level 2 of the five-day case, the whole limit after the due time instead of half of it.
        ("0203", 2, {"level2_share": 1.0}, local(2026, 6, 11, 17), local(2026, 6, 16, 16)),
    ],
)
def test_a_longer_policy_raises_nothing_early(app, small_class_code, level, change, old, new):
    case = _handling(small_class_code=small_class_code)
    if small_class_code == "0203":
        _sweep(local(2026, 6, 9, 18))
    else:
        _sweep(MON_16 if level == 2 else TUE_18)
    watch = _watch(case)
    assert (watch.next_step, watch.next_at) == (level, old)
    set_escalation_policy(None, change)
    assert _watch(case).next_at == old  # still a lower bound of the new instant: nothing to mark
    assert _sweep(old) == {}
    assert _watch(case).next_at == new
    assert _sweep(new - (new - old) / 2) == {}
    assert _sweep(new) == {("handling", level): 1}
    assert _sweep(new) == {}
    assert [lv for lv, _ in _written(case)] == list(range(level + 1))


def test_a_change_of_reply_limits_moves_no_watch(app):
    case = _handling()
    _at_level_3(case)
    set_escalation_policy(None, {"reply_hours": {"timeout3": 2}, "hotline_notice_working_days": 2})
    assert _watch(case).next_at == local(2026, 6, 5, 18)


# ---------------------------------------------------------------------------------------------
# The 12345 reply chain (a utility complaint at T0: reply due Tuesday 10:00, reminder Tuesday
# 05:12, notice Wednesday 08:00, criticism five working days later, Wednesday 10 June 18:00)


def _chain(now: datetime) -> dict:
    return {level: n for (stage, level), n in sweep_escalations(now).orders.items() if stage == HOTLINE}


def test_fewer_criticism_days_bring_the_criticism_forward(app):
    case = complaint(make_world(), reply_limit_kind="utility").case
    assert _chain(local(2026, 6, 3, 8)) == {0: 1, 1: 1}
    assert _watch(case, HOTLINE).next_at == local(2026, 6, 10, 18)
    set_escalation_policy(None, {"hotline_criticism_working_days": 2})
    assert _chain(local(2026, 6, 5, 17, 59)) == {}
    assert _chain(local(2026, 6, 5, 18)) == {2: 1}
    assert _chain(local(2026, 6, 10, 18)) == {}


def test_more_criticism_days_put_the_criticism_off(app):
    case = complaint(make_world(), reply_limit_kind="utility").case
    _chain(local(2026, 6, 3, 8))
    set_escalation_policy(None, {"hotline_criticism_working_days": 7})
    assert _chain(local(2026, 6, 10, 18)) == {}
    assert _watch(case, HOTLINE).next_at == local(2026, 6, 12, 18)
    assert _chain(local(2026, 6, 12, 18)) == {2: 1}


def test_an_earlier_notice_day_brings_the_notice_and_the_criticism_forward(app):
    set_escalation_policy(None, {"hotline_notice_working_days": 3})
    case = complaint(make_world(), reply_limit_kind="utility").case
    assert _chain(local(2026, 6, 2, 6)) == {0: 1}
    assert _watch(case, HOTLINE).next_at == local(2026, 6, 5, 18)
    set_escalation_policy(None, {"hotline_notice_working_days": 1})
    assert _chain(local(2026, 6, 3, 7, 59)) == {}
    assert _chain(local(2026, 6, 3, 8)) == {1: 1}
    assert _watch(case, HOTLINE).next_at == local(2026, 6, 10, 18)


# ---------------------------------------------------------------------------------------------
# PostgreSQL: a sweep running into a change


def test_a_sweep_that_meets_a_change_times_the_marked_watches_with_the_new_policy(app, monkeypatch):
    """A sweep starting while a change is being written waits for it, then reads the new policy: it
    never times the watches the change marked with the policy the change replaced."""
    import threading
    import time

    from gridops.supervision import services
    from tests.test_scheduler import _in_threads, _needs_postgres

    _needs_postgres(app)
    case = _handling()
    _at_level_3(case)
    db.session.commit()
    changing, committed = threading.Event(), threading.Event()
    read_policy = services.escalation_policy

    def policy_then_claim():
        policy = read_policy()
        committed.wait(5)  # the claim comes after the change is committed
        return policy

    monkeypatch.setattr(services, "escalation_policy", policy_then_claim)

    def work(index: int):
        if index == 0:
            set_escalation_policy(None, {"level3_working_days": 1})
            changing.set()
            time.sleep(0.3)
            db.session.commit()
            committed.set()
            return None
        changing.wait(5)
        return _sweep(local(2026, 6, 3, 18))

    results = _in_threads(app, 2, work)
    assert results == [None, {("handling", 3): 1}]
    db.session.expire_all()
    assert [level for level, _ in _written(case)] == [0, 1, 2, 3]
