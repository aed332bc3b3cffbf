"""The case's assignee (the grid worker who must act on site next) and the fringe registration limit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gridops.cases.clocks import case_colour
from gridops.cases.queries import CaseFilter, apply_filters, visible_cases
from gridops.cases.services import file_case, in_fringe
from gridops.catalogue.models import CatalogueChange
from gridops.errors import NotAllowed, ValidationFailed
from gridops.extensions import db
from gridops.territory.services import set_urban_rural_fringe
from gridops.worktime.store import registration_limits, set_registration_limits
from tests.case_factories import GRID1_XY, GRID4_XY, T0, act, later, make_case, make_world


def _worker(world):
    return world.user("grid_worker")


# --- assignee -----------------------------------------------------------------------------------


def test_hotline_report_is_assigned_to_the_grids_worker_for_verification(app):
    world = make_world()
    case = make_case("verifying", world=world)
    assert case.assignee_id == _worker(world).id
    assert case.assignee.full_name == _worker(world).full_name


def test_verification_clears_the_assignee(app):
    world = make_world()
    case = make_case("verifying", world=world)
    act(world, case, "verify", "grid_worker", photos=True)
    assert case.state == "reported" and case.assignee_id is None


def test_not_found_on_site_clears_the_assignee(app):
    world = make_world()
    case = make_case("verifying", world=world)
    act(world, case, "verify_not_found", "grid_worker", reason="现场无此问题")
    assert case.state == "cancelled" and case.assignee_id is None


def test_cancelling_an_unverified_report_clears_the_assignee(app):
    world = make_world()
    case = make_case("verifying", world=world)
    act(world, case, "cancel", "intake_operator", reason="重复上报")
    assert case.assignee_id is None


def test_report_outside_any_workers_grid_has_no_assignee(app):
    world = make_world()
    case = make_case("verifying", world=world, xy=GRID4_XY)
    assert case.state == "verifying" and case.assignee_id is None


@pytest.mark.parametrize("state", ["reported", "registered", "dispatched", "handling"])
def test_no_assignee_while_the_office_or_the_unit_holds_the_case(app, state):
    case = make_case(state)
    assert case.assignee_id is None


def test_feedback_assigns_the_check_and_its_outcome_clears_it(app):
    world = make_world()
    case = make_case("handled", world=world)
    assert case.assignee_id == _worker(world).id
    act(world, case, "check_fail", "grid_worker", photos=True, reason="仍有垃圾")
    assert case.state == "handling" and case.assignee_id is None
    act(world, case, "feedback", "unit_staff", photos=True, note="已再次清理")
    assert case.assignee_id == _worker(world).id
    act(world, case, "check_pass", "grid_worker", photos=True)
    assert case.state == "closed" and case.assignee_id is None


def test_force_closing_a_handled_case_clears_the_assignee(app):
    world = make_world()
    case = make_case("handled", world=world)
    act(world, case, "force_close", "shift_leader", reason="领导决定结案")
    assert case.assignee_id is None


def test_supervising_keeps_the_assignee(app):
    world = make_world()
    case = make_case("handled", world=world)
    act(world, case, "supervise", "leader", instruction="尽快核查")
    assert case.assignee_id == _worker(world).id


def test_the_assignee_filter_lists_a_workers_own_tasks(app):
    world = make_world()
    mine = make_case("verifying", world=world)
    check = make_case("handled", world=world)
    make_case("registered", world=world)
    make_case("verifying", world=world, xy=GRID4_XY)
    worker = _worker(world)
    stmt = apply_filters(visible_cases(world.user("admin")), CaseFilter(assignee_id=worker.id))
    assert {case.id for case in db.session.scalars(stmt)} == {mine.id, check.id}


def test_api_serializes_the_assignee_and_filters_by_me(app, client, auth):
    world = make_world()
    case = make_case("verifying", world=world)
    make_case("registered", world=world)
    db.session.commit()
    auth.login("grid_worker")
    detail = client.get(f"/api/v1/cases/{case.number}").get_json()
    assert detail["assignee"] == {"id": _worker(world).id, "name": _worker(world).full_name}
    page = client.get("/api/v1/cases?assignee=me").get_json()
    assert [item["number"] for item in page["items"]] == [case.number]
    everything = client.get("/api/v1/cases").get_json()
    assert {item["assignee"] is None for item in everything["items"]} == {True, False}


def test_api_refuses_a_bad_assignee(app, client, auth):
    make_world()
    db.session.commit()
    auth.login("admin")
    response = client.get("/api/v1/cases?assignee=someone")
    assert response.status_code == 422
    assert "assignee" in response.get_json()["fields"]


# --- urban-rural fringe --------------------------------------------------------------------------


def _patrol(world, xy=GRID1_XY, now=T0):
    return file_case(world.user("grid_worker"), source="patrol", case_type="event",
                     small_class_code="0102", x=xy[0], y=xy[1], datum="gcj02", now=now)


def test_fringe_is_inherited_from_any_ancestor(app):
    world = make_world()
    areas = world.areas
    assert not in_fringe(areas["grid1"])
    set_urban_rural_fringe(world.user("admin"), areas["subdistrict"], True)
    assert in_fringe(areas["grid1"]) and in_fringe(areas["community"]) and in_fringe(areas["subdistrict"])
    assert not in_fringe(areas["district"])


def test_fringe_case_gets_two_working_hours_to_register(app):
    world = make_world()
    ordinary = _patrol(world)
    set_urban_rural_fringe(world.user("admin"), world.areas["community"], True)
    fringe = _patrol(world)
    assert (ordinary.in_fringe, ordinary.register_due_at) == (False, later(1))
    assert (fringe.in_fringe, fringe.register_due_at) == (True, later(2))


def test_fringe_limit_also_applies_after_on_site_verification(app):
    world = make_world()
    set_urban_rural_fringe(world.user("admin"), world.areas["grid1"], True)
    case = make_case("verifying", world=world)
    act(world, case, "verify", "grid_worker", photos=True, now=later(0.5))
    # 10:30 + 2 working hours: 1.5 before the lunch break, 0.5 after it (14:30).
    assert case.register_due_at == later(4.5)


def test_fringe_colour_uses_the_fringe_budget(app):
    world = make_world()
    set_urban_rural_fringe(world.user("admin"), world.areas["grid1"], True)
    case = _patrol(world)
    # 1 of 2 hours used: still green (it would be red against the ordinary 1-hour limit).
    assert case_colour(case, later(1.1)) == "green"
    assert case_colour(case, later(1.7)) == "yellow"
    assert case_colour(case, later(2.1)) == "red"


def test_registration_limits_are_city_settings_with_history(app):
    world = make_world()
    admin = world.user("admin")
    assert registration_limits().to_dict() == {"normal": 1.0, "fringe": 2.0}
    set_registration_limits(admin, {"normal": 2, "fringe": 3})
    assert registration_limits().to_dict() == {"normal": 2.0, "fringe": 3.0}
    set_urban_rural_fringe(admin, world.areas["grid1"], True)
    assert _patrol(world).register_due_at == later(5)  # 10:00 + 3 working hours: 15:00
    assert _patrol(world, xy=GRID4_XY).register_due_at == later(2)
    change = db.session.scalar(select(CatalogueChange).where(CatalogueChange.entity == "registration_limits"))
    assert change.before == {"normal": 1.0, "fringe": 2.0} and change.after == {"normal": 2.0, "fringe": 3.0}
    assert change.changed_by_id == admin.id


@pytest.mark.parametrize(
    "data, field",
    [({"normal": 0}, "normal"), ({"fringe": -1}, "fringe"), ({"normal": "x"}, "normal"),
     ({"fringe": 1000}, "fringe"), ({"normal": True}, "normal"), ({"nightly": 1}, "nightly"),
     ({"normal": float("nan")}, "normal")],
)
def test_bad_registration_limits_are_refused_and_nothing_changes(app, data, field):
    world = make_world()
    with pytest.raises(ValidationFailed) as caught:
        set_registration_limits(world.user("admin"), data)
    assert field in caught.value.fields
    assert registration_limits().to_dict() == {"normal": 1.0, "fringe": 2.0}


def test_only_admins_change_limits_and_fringe(app):
    world = make_world()
    with pytest.raises(NotAllowed):
        set_registration_limits(world.user("shift_leader"), {"normal": 2})
    with pytest.raises(NotAllowed):
        set_urban_rural_fringe(world.user("dispatcher"), world.areas["grid1"], True)
    assert world.areas["grid1"].urban_rural_fringe is False


def test_fringe_edit_is_recorded(app):
    world = make_world()
    admin = world.user("admin")
    area = world.areas["community"]
    set_urban_rural_fringe(admin, area, True)
    set_urban_rural_fringe(admin, area, True)  # no change, no entry
    changes = db.session.scalars(select(CatalogueChange).where(CatalogueChange.entity == "area")).all()
    assert len(changes) == 1
    assert changes[0].entity_id == area.id and changes[0].after["urban_rural_fringe"] is True
    with pytest.raises(ValidationFailed):
        set_urban_rural_fringe(admin, area, "yes")
