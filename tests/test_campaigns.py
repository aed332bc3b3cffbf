"""Special campaigns: opening one, live progress within its scope and period, its section in notices."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from gridops.errors import NotAllowed, ValidationFailed
from gridops.evaluation.campaigns import campaign_progress, close_campaign, create_campaign, update_campaign
from gridops.evaluation.notices import generate_notice
from gridops.evaluation.periods import Period
from gridops.catalogue.models import CatalogueChange, SmallClass
from gridops.extensions import db
from sqlalchemy import select
from tests.case_factories import T0, make_case, make_world
from tests.factories import DX, DY, X0, Y0

#: Inside unit grid 2 (north-east cell), in the grid worker's responsibility grid.
GRID2_XY = (X0 + 1.5 * DX, Y0 + 1.5 * DY)


def _class(code: str, case_type: str = "event") -> SmallClass:
    return db.session.scalar(select(SmallClass).where(SmallClass.code == code, SmallClass.case_type == case_type))


@pytest.fixture
def world(app):
    """June 2026: three garbage cases (two closed), one street light (closed), one garbage case in May."""
    world = make_world()
    make_case("closed", world=world, now=T0)
    make_case("closed", world=world, now=T0 + timedelta(days=2), xy=GRID2_XY)
    make_case("handling", world=world, now=T0 + timedelta(days=3))
    make_case("closed", world=world, now=T0, case_type="component", small_class_code="0118")
    make_case("closed", world=world, now=T0 - timedelta(days=10))
    return world


def _campaign(world, **overrides):
    data = dict(name="暴露垃圾专项整治", starts_on=date(2026, 6, 1), ends_on=date(2026, 6, 30), target_count=2,
                small_class_ids=[_class("0102").id], area_ids=[])
    data.update(overrides)
    return create_campaign(world.user("evaluator"), **data)


def test_progress_counts_cases_in_scope_found_and_closed_during_the_campaign(world):
    campaign = _campaign(world)
    progress = campaign_progress(campaign, now=T0 + timedelta(days=40))
    assert (progress.found, progress.closed, progress.target) == (3, 2, 2)
    assert progress.completion_rate == 100.0
    assert progress.as_of == Period.parse("2026-06").end  # counting stops at the campaign's end
    # Live: on 2 June only the first case had been found and closed.
    early = campaign_progress(campaign, now=T0 + timedelta(days=1))
    assert (early.found, early.closed) == (1, 1)
    assert campaign_progress(campaign, now=T0 - timedelta(days=1)).found == 0


def test_scope_by_area_and_every_class(world):
    grid2 = world.areas["grid2"]
    campaign = _campaign(world, small_class_ids=[], area_ids=[grid2.id], target_count=1)
    progress = campaign_progress(campaign, now=T0 + timedelta(days=40))
    assert (progress.found, progress.closed) == (1, 1)
    whole = _campaign(world, small_class_ids=[], target_count=3)
    progress = campaign_progress(whole, now=T0 + timedelta(days=40))
    assert (progress.found, progress.closed, progress.completion_rate) == (4, 3, 100.0)
    over = _campaign(world, small_class_ids=[], target_count=2)
    assert campaign_progress(over, now=T0 + timedelta(days=40)).completion_rate == 150.0


def test_a_campaign_needs_a_name_a_period_a_target_and_known_scope(world):
    with pytest.raises(ValidationFailed) as caught:
        _campaign(world, name=" ", starts_on=date(2026, 6, 30), ends_on=date(2026, 6, 1), target_count="x",
                  small_class_ids=[999999], area_ids=["a"])
    assert set(caught.value.fields) == {"name", "ends_on", "target_count", "small_classes", "areas"}
    with pytest.raises(NotAllowed):
        create_campaign(world.user("leader"), name="x", starts_on=date(2026, 6, 1), ends_on=date(2026, 6, 2),
                        target_count=1)


def test_notices_carry_the_campaigns_that_ran_in_their_period(world):
    _campaign(world)
    _campaign(world, name="七月专项", starts_on=date(2026, 7, 1), ends_on=date(2026, 7, 31))
    content = generate_notice("weekly", Period.parse("2026-W23"), now=T0 + timedelta(days=8)).content
    [section] = content["campaigns"]
    assert section["name"] == "暴露垃圾专项整治"
    # As of the week's end (7 June): three found, two closed.
    assert (section["found"], section["closed"], section["completion_rate"]) == (3, 2, 100.0)


def test_a_campaign_is_changed_by_the_same_rules_and_every_change_is_recorded(world):
    campaign = _campaign(world)
    evaluator = world.user("evaluator")
    fields = dict(name="暴露垃圾专项整治", starts_on=date(2026, 6, 1), ends_on=date(2026, 6, 10), target_count=1,
                  small_class_ids=[_class("0102").id], area_ids=[])
    update_campaign(evaluator, campaign, **fields)
    # Progress follows the new period at once: the case closed on 3 June still counts, the target is 1.
    progress = campaign_progress(campaign, now=T0 + timedelta(days=40))
    assert progress.target == 1 and progress.completion_rate == 200.0
    with pytest.raises(ValidationFailed) as caught:
        update_campaign(evaluator, campaign, **{**fields, "ends_on": date(2026, 5, 1), "target_count": 0})
    assert set(caught.value.fields) == {"ends_on", "target_count"}
    assert campaign.ends_on == date(2026, 6, 10)
    with pytest.raises(NotAllowed):
        update_campaign(world.user("leader"), campaign, **fields)
    update_campaign(evaluator, campaign, **fields)  # no change: nothing recorded
    actions = db.session.scalars(select(CatalogueChange.action).where(CatalogueChange.entity == "campaign")).all()
    assert actions == ["create", "update"]


def test_only_a_running_campaign_ends_early_and_the_reason_is_kept(world):
    campaign = _campaign(world)
    evaluator = world.user("evaluator")
    with pytest.raises(ValidationFailed) as caught:
        close_campaign(evaluator, campaign, today=date(2026, 5, 31), reason="提前")
    assert "ends_on" in caught.value.fields  # not started yet
    with pytest.raises(ValidationFailed) as caught:
        close_campaign(evaluator, campaign, today=date(2026, 6, 30), reason="提前")
    assert "ends_on" in caught.value.fields  # its last day already
    with pytest.raises(ValidationFailed) as caught:
        close_campaign(evaluator, campaign, today=date(2026, 6, 5), reason=" ")
    assert set(caught.value.fields) == {"reason"}
    with pytest.raises(NotAllowed):
        close_campaign(world.user("leader"), campaign, today=date(2026, 6, 5), reason="提前")
    close_campaign(evaluator, campaign, today=date(2026, 6, 5), reason="任务完成")
    assert campaign.ends_on == date(2026, 6, 5)
    # Counted up to the end of its new last day (midnight in the city), whatever the clock says.
    progress = campaign_progress(campaign, now=T0 + timedelta(days=40))
    assert progress.as_of.isoformat() == "2026-06-06T00:00:00+08:00"
    change = db.session.scalar(select(CatalogueChange).where(CatalogueChange.action == "close"))
    assert change.before["ends_on"] == "2026-06-30" and change.after == {**change.after, "ends_on": "2026-06-05",
                                                                         "reason": "任务完成"}
