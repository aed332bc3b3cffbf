"""Administration pages: administrators only, every form's success and refusal, history shown."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from sqlalchemy import func, select

from gridops.auth.models import User
from gridops.catalogue.models import BigClass, CatalogueChange, RoutingRule, SmallClass
from gridops.extensions import db
from gridops.territory.models import Area, GridLayer
from gridops.worktime.models import CalendarDay
from gridops.worktime.store import registration_limits, work_schedule, warning_thresholds
from tests.case_factories import make_world
from tests.test_territory_import import small_layer

PAGES = [
    "/admin/", "/admin/users", "/admin/users/new", "/admin/territory", "/admin/catalogue",
    "/admin/routing", "/admin/calendar", "/admin/calendar?year=2030", "/admin/escalation", "/admin/duplicates",
]


@pytest.fixture
def world(app):
    """The small city with staff for every role (reading English), committed."""
    world = make_world()
    for user in [*world.users.values(), *world.outsiders.values()]:
        user.locale = "en"
    db.session.commit()
    return world


@pytest.fixture
def admin(world, auth):
    """Signed in as the administrator."""
    auth.login("admin")
    return world.user("admin")


def _changes(entity: str) -> list[CatalogueChange]:
    """The changes people made through the pages (seeding the catalogue records its own)."""
    return db.session.scalars(
        select(CatalogueChange)
        .where(CatalogueChange.entity == entity, CatalogueChange.changed_by_id.is_not(None))
        .order_by(CatalogueChange.id)
    ).all()


@pytest.mark.parametrize("path", PAGES)
def test_every_page_opens_for_an_administrator(admin, client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert "Change history" in response.text or "Latest changes" in response.text or path.endswith("/new")


def test_pages_speak_chinese(admin, client):
    admin.locale = "zh"
    db.session.commit()
    text = client.get("/admin/calendar").text
    assert "工作日历" in text and "变更记录" in text


@pytest.mark.parametrize("role", ["dispatcher", "shift_leader", "leader", "grid_worker", "unit_staff"])
def test_other_roles_are_refused(world, client, auth, role):
    auth.login(role)
    for path in PAGES:
        assert client.get(path).status_code == 403, path
    response = client.post("/admin/calendar/days", data={"day": "2026-10-10", "working": "no"})
    assert response.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(CalendarDay)) == 0


def test_signed_out_visitors_are_sent_to_sign_in(world, client):
    response = client.get("/admin/users")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_navigation_shows_administration_to_administrators_only(world, client, auth):
    auth.login("admin")
    assert 'href="/admin/"' in client.get("/admin/users").text
    auth.logout()
    auth.login("dispatcher")
    assert 'href="/admin/"' not in client.get("/cases").text


# --- users --------------------------------------------------------------------------------------


def test_create_a_user_and_see_it_in_the_history(admin, client, world):
    response = client.post("/admin/users/new", data={
        "username": "wang.wu", "full_name": "王五", "password": "long enough 1", "role": "grid_worker",
        "area": world.areas["community"].code, "department": "", "locale": "zh",
    })
    assert response.status_code == 303
    user = db.session.scalar(select(User).where(User.username == "wang.wu"))
    assert (user.role, user.area_id, user.locale) == ("grid_worker", world.areas["community"].id, "zh")
    assert user.check_password("long enough 1")
    [change] = _changes("user")
    assert change.action == "create" and change.changed_by_id == admin.id and "password" not in change.after
    page = client.get(response.headers["Location"]).text
    assert "wang.wu" in page and "grid_worker" in page


def test_bad_new_user_shows_every_reason_and_creates_nothing(admin, client):
    before = db.session.scalar(select(func.count()).select_from(User))
    response = client.post("/admin/users/new", data={
        "username": "admin", "full_name": "X", "password": "short", "role": "unit_staff",
        "area": "999", "department": "", "locale": "",
    })
    assert response.status_code == 422
    text = response.text
    assert "admin is already taken" in text
    assert "at least 8 characters" in text
    assert "no area has the code 999" in text
    assert "handling unit staff need their unit" in text
    assert db.session.scalar(select(func.count()).select_from(User)) == before
    assert _changes("user") == []


def test_edit_role_area_and_unit_with_history(admin, client, world):
    user = world.user("dispatcher")
    response = client.post(f"/admin/users/{user.id}", data={
        "full_name": "调度员甲", "role": "unit_staff", "area": "", "department": world.unit.code, "locale": "en",
    })
    assert response.status_code == 303
    db.session.refresh(user)
    assert (user.full_name, user.role, user.area_id, user.department_id) == ("调度员甲", "unit_staff", None, world.unit.id)
    [change] = _changes("user")
    assert change.before["role"] == "dispatcher" and change.after["role"] == "unit_staff"
    assert change.after["department"] == world.unit.code
    assert "调度员甲" in client.get(f"/admin/users/{user.id}").text


def test_bad_edit_changes_nothing(admin, client, world):
    user = world.user("grid_worker")
    response = client.post(f"/admin/users/{user.id}", data={
        "full_name": "", "role": "nobody", "area": "", "department": "", "locale": "",
    })
    assert response.status_code == 422
    db.session.refresh(user)
    assert user.role == "grid_worker" and user.full_name == "Grid_Worker"
    assert _changes("user") == []


def test_an_administrator_cannot_demote_or_deactivate_themselves(admin, client):
    response = client.post(f"/admin/users/{admin.id}", data={
        "full_name": "Admin", "role": "leader", "area": "", "department": "", "locale": "",
    })
    assert response.status_code == 422 and "administrator role from yourself" in response.text
    response = client.post(f"/admin/users/{admin.id}/active", data={"active": "no"}, follow_redirects=True)
    assert "cannot deactivate your own account" in response.text
    db.session.refresh(admin)
    assert admin.role == "admin" and admin.active


def test_deactivate_and_reactivate(admin, client, world, auth):
    user = world.user("dispatcher")
    assert client.post(f"/admin/users/{user.id}/active", data={"active": "no"}).status_code == 303
    db.session.refresh(user)
    assert not user.active
    assert client.post(f"/admin/users/{user.id}/active", data={"active": "yes"}).status_code == 303
    db.session.refresh(user)
    assert user.active
    assert [c.action for c in _changes("user")] == ["deactivate", "activate"]


def test_reset_password(admin, client, world):
    user = world.user("dispatcher")
    response = client.post(f"/admin/users/{user.id}/password", data={"password": "brand new pw", "confirm": "other"})
    assert response.status_code == 422 and "The two passwords differ." in response.text
    response = client.post(f"/admin/users/{user.id}/password", data={"password": "brand new pw", "confirm": "brand new pw"})
    assert response.status_code == 303
    db.session.refresh(user)
    assert user.check_password("brand new pw")
    [change] = _changes("user")
    assert change.action == "reset_password" and change.before is None and change.after is None


def test_search_users(admin, client):
    text = client.get("/admin/users?q=dispatch").text
    assert "outside_dispatcher" in text and "shift_leader" not in text.split("<tbody>")[1].split("</tbody>")[0]
    text = client.get("/admin/users?role=unit_staff").text
    body = text.split("<tbody>")[1].split("</tbody>")[0]
    assert "unit_staff" in body and "dispatcher" not in body


# --- territory ----------------------------------------------------------------------------------


def _upload(client, collection, datum=""):
    data = {"layer": (io.BytesIO(json.dumps(collection).encode()), "layer.geojson"), "datum": datum}
    return client.post("/admin/territory/import", data=data, content_type="multipart/form-data")


def test_a_layer_with_errors_shows_the_report_and_imports_nothing(admin, client):
    before = db.session.scalar(select(GridLayer.version))
    collection = small_layer()
    collection["features"][5]["properties"]["parent_code"] = "411302001999"
    del collection["features"][6]["properties"]["name"]
    response = _upload(client, collection)
    assert response.status_code == 422
    assert "unknown parent 411302001999" in response.text
    assert "missing property &#39;name&#39;" in response.text
    assert db.session.scalar(select(GridLayer.version)) == before
    assert _changes("grid_layer") == []


def test_a_valid_layer_is_imported_and_listed(admin, client):
    response = _upload(client, small_layer())
    assert response.status_code in (200, 303)
    assert db.session.scalar(select(func.count()).select_from(Area).where(Area.code == "411302001002004")) == 1
    [change] = _changes("grid_layer")
    assert change.after["source_name"] == "layer.geojson" and change.changed_by_id == admin.id
    page = client.get("/admin/territory").text
    assert "layer.geojson" in page


def test_not_json_is_reported(admin, client):
    data = {"layer": (io.BytesIO(b"not json"), "bad.geojson"), "datum": ""}
    response = client.post("/admin/territory/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 422 and "not JSON" in response.text


def test_no_file_is_a_message(admin, client):
    response = client.post("/admin/territory/import", data={"datum": ""}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose a file." in response.text


def test_mark_a_fringe_area(admin, client, world):
    community = world.areas["community"]
    response = client.post("/admin/territory/fringe", data={"area": community.code, "fringe": "yes"})
    assert response.status_code == 303
    db.session.refresh(community)
    assert community.urban_rural_fringe is True
    assert community.code in client.get("/admin/territory").text
    response = client.post("/admin/territory/fringe", data={"area": "12345", "fringe": "yes"})
    assert response.status_code == 422 and "no area has the code 12345" in response.text


# --- catalogue ----------------------------------------------------------------------------------


def _small_class(code="0102") -> SmallClass:
    return db.session.scalar(select(SmallClass).where(SmallClass.case_type == "event", SmallClass.code == code))


def test_edit_a_time_limit(admin, client):
    row = _small_class()
    standard = row.standards[0]
    prefix = f"s{standard.id}-"
    response = client.post(f"/admin/catalogue/standards/{standard.id}", data={
        prefix + "name": "", prefix + "limit_value": "6", prefix + "limit_clock": "working_hours",
        prefix + "closing_condition": "垃圾清运完毕", prefix + "sort": "0", prefix + "active": "y",
    })
    assert response.status_code == 303
    db.session.refresh(standard)
    assert (standard.limit_value, standard.closing_condition) == (6, "垃圾清运完毕")
    [change] = _changes("standard")
    assert change.before["limit_value"] == 4 and change.after["limit_value"] == 6
    assert "垃圾清运完毕" in client.get(f"/admin/catalogue/classes/{row.id}").text


def test_a_bad_time_limit_is_refused(admin, client):
    standard = _small_class().standards[0]
    prefix = f"s{standard.id}-"
    response = client.post(f"/admin/catalogue/standards/{standard.id}", data={
        prefix + "limit_value": "0", prefix + "limit_clock": "fortnights", prefix + "active": "y",
    })
    assert response.status_code == 422
    db.session.refresh(standard)
    assert standard.limit_value == 4 and standard.limit_clock == "working_hours"
    assert _changes("standard") == []


def test_the_last_active_standard_cannot_be_retired(admin, client):
    standard = _small_class().standards[0]
    prefix = f"s{standard.id}-"
    response = client.post(f"/admin/catalogue/standards/{standard.id}", data={
        prefix + "limit_value": "4", prefix + "limit_clock": "working_hours",
    })
    assert response.status_code == 422 and "at least one active filing standard" in response.text
    db.session.refresh(standard)
    assert standard.active


def test_add_a_small_class_and_its_standard(admin, client):
    response = client.post("/admin/catalogue/classes", data={
        "case_type": "event", "code": "0108", "name": "乱倒污水", "name_en": "Dumping waste water",
        "nine_word": "净", "default_unit_kind": "sanitation", "active": "y",
    })
    assert response.status_code == 303
    row = _small_class("0108")
    response = client.post(f"/admin/catalogue/classes/{row.id}/standards", data={
        "new-name": "", "new-limit_value": "1", "new-limit_clock": "working_days", "new-active": "y",
    })
    assert response.status_code == 303
    assert [(s.limit_value, s.limit_clock) for s in _small_class("0108").standards] == [(1, "working_days")]
    response = client.post("/admin/catalogue/classes", data={"case_type": "event", "code": "9901", "name": "x"})
    assert response.status_code == 422 and "no big class 99" in response.text


def test_edit_a_small_class(admin, client):
    row = _small_class()
    response = client.post(f"/admin/catalogue/classes/{row.id}", data={
        "name": "暴露垃圾", "name_en": "Exposed rubbish", "nine_word": "净", "default_unit_kind": "sanitation",
        "active": "y",
    })
    assert response.status_code == 303
    db.session.refresh(row)
    assert row.name_en == "Exposed rubbish"
    response = client.post(f"/admin/catalogue/classes/{row.id}", data={"name": "", "default_unit_kind": "Bad Kind!"})
    assert response.status_code == 422
    db.session.refresh(row)
    assert row.name == "暴露垃圾" and row.active


# --- routing rules ------------------------------------------------------------------------------


def test_create_edit_and_delete_a_routing_rule(admin, client, world):
    data = {"small_class": "E0102", "area": world.areas["subdistrict"].code, "department": world.unit.code,
            "basis": "territory", "priority": "10", "active": "y"}
    assert client.post("/admin/routing", data=data).status_code == 303
    rule = db.session.scalar(select(RoutingRule))
    assert (rule.small_class.full_code, rule.area_id, rule.priority) == ("E0102", world.areas["subdistrict"].id, 10)
    data.update(priority="20", department=world.other_unit.code)
    assert client.post(f"/admin/routing/{rule.id}", data=data).status_code == 303
    db.session.refresh(rule)
    assert (rule.priority, rule.department_id) == (20, world.other_unit.id)
    assert client.post(f"/admin/routing/{rule.id}/delete").status_code == 303
    db.session.refresh(rule)
    assert not rule.active
    assert [c.action for c in _changes("routing_rule")] == ["create", "update", "deactivate"]
    assert world.unit.code not in client.get("/admin/routing").text.split("<tbody>")[1].split("</tbody>")[0]


def test_a_bad_routing_rule_is_refused(admin, client):
    response = client.post("/admin/routing", data={
        "small_class": "E9999", "area": "000", "department": "", "basis": "owner", "priority": "-1",
    })
    assert response.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(RoutingRule)) == 0


# --- calendar -----------------------------------------------------------------------------------


def test_set_and_clear_a_calendar_override(admin, client):
    response = client.post("/admin/calendar/days?year=2026", data={"day": "2026-10-10", "working": "yes", "note": "调休上班"})
    assert response.status_code == 303
    row = db.session.get(CalendarDay, date(2026, 10, 10))
    assert row.working is True and row.note == "调休上班"
    assert "调休上班" in client.get("/admin/calendar?year=2026").text
    assert client.post("/admin/calendar/days/clear?year=2026", data={"day": "2026-10-10"}).status_code == 303
    assert db.session.get(CalendarDay, date(2026, 10, 10)) is None
    assert [c.action for c in _changes("calendar_day")] == ["create", "delete"]


def test_a_bad_override_is_refused(admin, client):
    response = client.post("/admin/calendar/days", data={"day": "2026-13-40", "working": "yes"})
    assert response.status_code == 422
    response = client.post("/admin/calendar/days", data={"day": "2026-10-10", "working": "yes", "note": "x" * 200})
    assert response.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(CalendarDay)) == 0
    response = client.post("/admin/calendar/days/clear", data={"day": "2026-10-11"}, follow_redirects=True)
    assert "has no override" in response.text


def test_enter_a_year(admin, client):
    response = client.post("/admin/calendar/years?year=2031", data={"year": "2031"})
    assert response.status_code == 303
    assert "entered by an administrator" in client.get("/admin/calendar?year=2031").text
    response = client.post("/admin/calendar/years", data={"year": "2031"})
    assert response.status_code == 422 and "entered already" in response.text


def test_office_hours_with_a_season(admin, client):
    response = client.post("/admin/calendar/schedule", data={
        "hours": "08:30-12:00, 14:30-18:00", "seasons": "夏季 | 05-01 | 09-30 | 08:00-12:00, 15:00-18:30",
    })
    assert response.status_code == 303
    schedule = work_schedule().to_dict()
    assert schedule["hours"] == [["08:30", "12:00"], ["14:30", "18:00"]]
    assert schedule["seasons"][0]["from"] == "05-01"
    for bad in ({"hours": "8 to 12"}, {"hours": "12:00-08:00"}, {"hours": "08:00-12:00", "seasons": "summer 05-01"}):
        response = client.post("/admin/calendar/schedule", data=bad)
        assert response.status_code == 422, bad
    assert work_schedule().to_dict() == schedule


def test_thresholds_and_registration_limits(admin, client):
    data = {f"{kind}_{level}": value for kind in ("urgent_hours", "working_hours", "working_days", "natural_days")
            for level, value in (("yellow", "75"), ("red", "100"))}
    assert client.post("/admin/calendar/thresholds", data=data).status_code == 303
    assert {t.yellow for t in warning_thresholds().values()} == {0.75}
    data["working_days_yellow"] = "120"
    response = client.post("/admin/calendar/thresholds", data=data)
    assert response.status_code == 422 and "yellow must not exceed red" in response.text
    assert client.post("/admin/calendar/registration", data={"normal": "1.5", "fringe": "3"}).status_code == 303
    assert registration_limits().to_dict() == {"normal": 1.5, "fringe": 3.0}
    response = client.post("/admin/calendar/registration", data={"normal": "0", "fringe": "abc"})
    assert response.status_code == 422
    assert registration_limits().to_dict() == {"normal": 1.5, "fringe": 3.0}
    page = client.get("/admin/calendar").text
    assert "registration_limits" not in page  # shown by its label, not its key
    assert [c.entity for c in _changes("registration_limits")] == ["registration_limits"]


def test_add_and_rename_a_big_class(admin, client):
    response = client.post("/admin/catalogue/big-classes", data={
        "case_type": "event", "code": "07", "name": "扩展事件二", "name_en": "", "active": "y",
    })
    assert response.status_code == 303
    row = db.session.scalar(select(BigClass).where(BigClass.case_type == "event", BigClass.code == "07"))
    assert client.get(f"/admin/catalogue/big-classes/{row.id}").status_code == 200
    response = client.post(f"/admin/catalogue/big-classes/{row.id}", data={"name": "河道管理", "active": "y"})
    assert response.status_code == 303
    db.session.refresh(row)
    assert row.name == "河道管理"
    response = client.post("/admin/catalogue/big-classes", data={"case_type": "event", "code": "07", "name": "x"})
    assert response.status_code == 422 and "exists already" in response.text
    assert [c.action for c in _changes("big_class")] == ["create", "update"]
