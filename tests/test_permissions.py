"""Permission predicates: roles, area scope (subtree by Area.path) and department scope."""

from __future__ import annotations

import pytest
from flask_login import AnonymousUserMixin
from sqlalchemy import select

from gridops.auth import permissions as perm
from gridops.extensions import db
from gridops.org.models import Department
from gridops.territory.models import Area
from tests.factories import make_area, make_department, make_small_city, make_user

pytestmark = pytest.mark.usefixtures("app")

ALL_AREAS = {
    "city", "district", "subdistrict", "community", "grid1", "grid2", "grid3", "grid4", "other_district"
}
BELOW_COMMUNITY = {"community", "grid1", "grid2", "grid3", "grid4"}


@pytest.fixture
def city():
    """The small test city plus a second district beside the first."""
    areas = make_small_city()
    areas["other_district"] = make_area("411303", "卧龙区", 1, areas["city"])
    return areas


def _visible(user, city) -> set[str]:
    codes = set(db.session.scalars(select(Area.code).where(perm.area_scope_clause(user, Area.path))))
    return {key for key, area in city.items() if area.code in codes}


SCOPES = [
    # (role, area key or None, active, expected visible area keys)
    ("admin", None, True, ALL_AREAS),
    ("leader", "grid1", True, ALL_AREAS),  # city-wide role: the area setting does not narrow it
    ("evaluator", None, True, ALL_AREAS),
    ("dispatcher", None, True, ALL_AREAS),  # the city centre
    ("dispatcher", "district", True, ALL_AREAS - {"city", "other_district"}),  # a district centre
    ("area_lead", "subdistrict", True, BELOW_COMMUNITY | {"subdistrict"}),
    ("grid_worker", "community", True, BELOW_COMMUNITY),
    ("grid_worker", "grid2", True, {"grid2"}),
    ("grid_worker", None, True, set()),  # bound to an area but has none: sees nothing
    ("area_lead", None, True, set()),
    ("grid_worker", "community", False, set()),  # deactivated
    ("admin", None, False, set()),
]


@pytest.mark.parametrize("role, area_key, active, expected", SCOPES)
def test_area_scope_clause_and_can_view_area_agree(city, role, area_key, active, expected):
    user = make_user(f"{role}-{area_key}", role=role, area=city[area_key] if area_key else None, active=active)
    assert _visible(user, city) == expected
    assert {key for key, area in city.items() if perm.can_view_area(user, area)} == expected


def test_anonymous_user_sees_nothing_and_may_do_nothing(city):
    anonymous = AnonymousUserMixin()
    assert _visible(anonymous, city) == set()
    assert not perm.can_view_area(anonymous, city["grid1"])
    assert not perm.can_view_map(anonymous)
    assert not perm.can_manage_territory(anonymous)
    assert not perm.can_manage_users(anonymous)
    assert perm.department_ids_in_scope(anonymous) == set()


def test_sibling_path_prefixes_do_not_leak(city):
    """Area ids 1 and 10 share the text prefix "/1": scoping must compare whole path segments."""
    grid = city["grid1"]
    lookalike = make_area("411302001001099", "look-alike", 4, city["community"])
    lookalike.path = grid.path.rstrip("/") + "0/"
    db.session.flush()
    worker = make_user(area=grid)
    assert perm.can_view_area(worker, grid)
    assert not perm.can_view_area(worker, lookalike)
    assert lookalike.code not in set(db.session.scalars(select(Area.code).where(perm.area_scope_clause(worker, Area.path))))


@pytest.mark.parametrize(
    "role, expected", [("admin", True), ("leader", False), ("dispatcher", False), ("grid_worker", False)]
)
def test_only_admins_manage_territory_and_users(city, role, expected):
    user = make_user(role=role, area=city["community"])
    assert perm.can_manage_territory(user) is expected
    assert perm.can_manage_users(user) is expected
    assert perm.can_view_map(user) is True


def test_deactivated_admin_manages_nothing():
    admin = make_user("admin", role="admin", active=False)
    assert not perm.can_manage_territory(admin)
    assert not perm.can_manage_users(admin)


@pytest.fixture
def departments():
    """Sanitation office with two sub-units, plus an unrelated landscaping unit."""
    office = make_department("SAN", "环卫处", "sanitation")
    east = make_department("SAN-E", "环卫东队", "sanitation", parent=office)
    crew = make_department("SAN-E1", "环卫东队一班", "sanitation", parent=east)
    parks = make_department("PARK", "园林处", "landscaping")
    return {"office": office, "east": east, "crew": crew, "parks": parks}


def _visible_departments(user, departments) -> set[str]:
    codes = set(db.session.scalars(select(Department.code).where(perm.department_scope_clause(user, Department.id))))
    return {key for key, dept in departments.items() if dept.code in codes}


@pytest.mark.parametrize(
    "role, department_key, expected",
    [
        ("unit_staff", "office", {"office", "east", "crew"}),
        ("unit_staff", "east", {"east", "crew"}),
        ("unit_staff", "crew", {"crew"}),
        ("unit_staff", None, set()),
        ("dispatcher", None, {"office", "east", "crew", "parks"}),
        ("grid_worker", "parks", {"office", "east", "crew", "parks"}),  # only unit staff are bound
    ],
)
def test_department_scope(city, departments, role, department_key, expected):
    user = make_user(
        role=role, area=city["community"], department=departments[department_key] if department_key else None
    )
    assert _visible_departments(user, departments) == expected
    assert {key for key, dept in departments.items() if perm.can_view_department(user, dept)} == expected


def test_unit_staff_of_a_district_counterpart_are_scoped_by_both(city, departments):
    staff = make_user(role="unit_staff", area=city["district"], department=departments["east"])
    assert _visible(staff, city) == ALL_AREAS - {"city", "other_district"}
    assert _visible_departments(staff, departments) == {"east", "crew"}
