"""Case lists: each role sees its own scope and nothing more; filters, sorting and pages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gridops.cases.queries import CaseFilter, apply_filters, page_of, visible_cases
from gridops.errors import ValidationFailed
from gridops.extensions import db
from tests.case_factories import GRID4_XY, T0, act, later, make_case, make_staff, make_world
from tests.factories import make_department


def _numbers(stmt) -> set[str]:
    return {case.number for case in db.session.scalars(stmt)}


@pytest.fixture
def city(app):
    """The world with three cases: in grid 1 (held by the unit), in grid 4, and in another district."""
    world = make_world()
    in_grid1 = make_case("dispatched", world=world)
    in_grid4 = make_case("registered", world=world, xy=GRID4_XY)
    other_district = world.outsiders["intake_operator"].area
    elsewhere = make_case("reported", world=world)
    # Move one case into the other district, as if filed there (its path is what scoping reads).
    elsewhere.area_path = other_district.path
    elsewhere.unit_grid_id = None
    db.session.flush()
    return world, {"grid1": in_grid1, "grid4": in_grid4, "elsewhere": elsewhere}


def test_city_wide_roles_see_everything(city):
    """Leaders, evaluators and administrators see the whole city."""
    world, cases = city
    everything = {case.number for case in cases.values()}
    for role in ("leader", "evaluator", "admin", "hotline_operator"):
        assert _numbers(visible_cases(world.user(role))) == everything


def test_area_roles_see_their_subtree(city):
    """Centre staff scoped to a district and area leads see cases under their area only."""
    world, cases = city
    local = {cases["grid1"].number, cases["grid4"].number}
    for role in ("intake_operator", "dispatcher", "shift_leader", "area_lead"):
        assert _numbers(visible_cases(world.user(role))) == local
    assert _numbers(visible_cases(world.outsiders["dispatcher"])) == {cases["elsewhere"].number}
    assert _numbers(visible_cases(world.outsiders["area_lead"])) == set()


def test_unit_staff_see_cases_their_unit_or_sub_units_hold(city):
    """Unit staff see what their department (or a sub-unit) holds, not the rest."""
    world, cases = city
    assert _numbers(visible_cases(world.user("unit_staff"))) == {cases["grid1"].number}
    assert _numbers(visible_cases(world.outsiders["unit_staff"])) == set()
    team = make_department("SAN01-1", "环卫一队", "sanitation", parent_id=world.unit.id)
    act(world, cases["grid4"], "dispatch", "dispatcher", unit_id=team.id)
    assert _numbers(visible_cases(world.user("unit_staff"))) == {cases["grid1"].number, cases["grid4"].number}
    team_member = make_staff("team_member", "unit_staff", department=team)
    assert _numbers(visible_cases(team_member)) == {cases["grid4"].number}


def test_grid_workers_see_their_grids_area_and_own_reports(city):
    """A worker sees the grids they answer for and what they filed; an area widens that."""
    world, cases = city
    worker = world.user("grid_worker")  # grid 1 and 2 by responsibility, files every patrol case
    assert _numbers(visible_cases(worker)) == {c.number for c in cases.values()}
    stranger = make_staff("stranger", "grid_worker")
    assert _numbers(visible_cases(stranger)) == set()
    community = make_staff("community", "grid_worker", area=world.areas["community"])
    assert _numbers(visible_cases(community)) == {cases["grid1"].number, cases["grid4"].number}


def test_inactive_and_unscoped_users_see_nothing(city):
    """A deactivated user, or an area-bound role without an area, sees no case."""
    world, _ = city
    retired = world.user("dispatcher")
    retired.active = False
    assert _numbers(visible_cases(retired)) == set()
    assert _numbers(visible_cases(None)) == set()
    assert _numbers(visible_cases(make_staff("lead", "area_lead"))) == set()


def test_filters(city):
    """State, area, unit, class, source, overdue, supervised, dates and text narrow the list."""
    world, cases = city
    leader = world.user("leader")
    base = visible_cases(leader)

    def numbers(**params):
        return _numbers(apply_filters(base, CaseFilter(**params)))

    grid1, grid4, elsewhere = cases["grid1"], cases["grid4"], cases["elsewhere"]
    assert numbers(states=["registered", "reported"]) == {grid4.number, elsewhere.number}
    assert numbers(area_code=world.areas["grid1"].code) == {grid1.number}
    assert numbers(area_code=world.areas["district"].code) == {grid1.number, grid4.number}
    assert numbers(unit_id=world.unit.id) == {grid1.number}
    assert numbers(small_class_id=grid1.small_class_id) == {c.number for c in cases.values()}
    assert numbers(source="hotline") == set()
    # At T0 + 30 min nothing is overdue; at T0 + 2 h registration and dispatch are.
    assert numbers(overdue=True, now=later(0.5)) == set()
    assert numbers(overdue=True, now=later(2)) == {grid1.number, grid4.number, elsewhere.number}
    assert numbers(overdue=False, now=later(0.5)) == {c.number for c in cases.values()}
    act(world, grid4, "supervise", "leader", instruction="尽快派遣")
    assert numbers(supervised=True) == {grid4.number}
    everything = {c.number for c in cases.values()}
    assert numbers(reported_from=T0, reported_to=T0 + timedelta(seconds=1)) == everything
    assert numbers(reported_from=T0 + timedelta(seconds=1)) == set()
    grid4.description = "井盖 100%_破损"
    db.session.flush()
    assert numbers(text="100%_") == {grid4.number}
    assert numbers(text=grid1.number) == {grid1.number}
    assert numbers(text="%") == {grid4.number}


def test_bad_filters_name_the_field(city):
    """Unknown states, sources and areas are refused by name."""
    world, _ = city
    with pytest.raises(ValidationFailed) as refused:
        apply_filters(visible_cases(world.user("leader")),
                      CaseFilter(states=["lost"], source="rumour", area_code="nowhere"))
    assert set(refused.value.fields) == {"state", "source", "area"}


def test_filters_never_widen_the_scope(city):
    """A filter on an area outside the user's scope finds nothing rather than leaking."""
    world, cases = city
    other = world.outsiders["intake_operator"].area
    stmt = apply_filters(visible_cases(world.user("dispatcher")), CaseFilter(area_code=other.code))
    assert _numbers(stmt) == set()


def test_sorted_newest_first_and_paged(app):
    """Newest report first; pages carry the total; bad paging is refused by name."""
    world = make_world()
    numbers = [make_case("reported", world=world, now=T0 + timedelta(minutes=i)).number for i in range(5)]
    stmt = apply_filters(visible_cases(world.user("leader")), CaseFilter())
    first = page_of(stmt, page=1, per_page=2)
    last = page_of(stmt, page=3, per_page=2)
    assert [c.number for c in first.items] == numbers[::-1][:2]
    assert [c.number for c in last.items] == [numbers[0]]
    assert (first.total, first.pages, first.has_next, last.has_next) == (5, 3, True, False)
    for bad in ({"page": 0}, {"per_page": 1000}):
        with pytest.raises(ValidationFailed):
            page_of(stmt, **bad)
