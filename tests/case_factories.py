"""Factories for case tests: the catalogue, a staffed small city, photos, and cases in any state.

``make_case(state=...)`` drives the real services from filing to the requested state, so a
case built here has exactly the fields, events and requests the workflow would give it.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from flask import current_app
from PIL import Image

from gridops.auth.models import User
from gridops.cases.models import Case
from gridops.cases.photos import StoredPhoto, store_photo
from gridops.cases.services import file_case, take_action
from gridops.catalogue.services import seed_default_catalogue
from gridops.extensions import db
from gridops.org.models import Department
from gridops.territory.models import Area, ResponsibilityGrid
from tests.factories import PASSWORD, DX, DY, X0, Y0, make_area, make_department, make_small_city

#: Monday 1 June 2026, 10:00 in the city (a working day, inside office hours).
T0 = datetime(2026, 6, 1, 2, 0, tzinfo=timezone.utc)
#: Inside unit grid 1 (north-west cell of the small city), in the layer's datum (GCJ-02).
GRID1_XY = (X0 + 0.5 * DX, Y0 + 1.5 * DY)
#: Inside unit grid 4 (south-east cell), not in the worker's responsibility grid.
GRID4_XY = (X0 + 1.5 * DX, Y0 + 0.5 * DY)
#: In the community's ungridded eastern cell: a coverage gap.
GAP_XY = (X0 + 2.5 * DX, Y0 + 1.0 * DY)


def make_catalogue() -> None:
    """The default catalogue of domain.md §4."""
    seed_default_catalogue()


@dataclass
class World:
    """A small city with one in-scope user per role, a handling unit and out-of-scope staff."""

    areas: dict[str, Area]
    unit: Department
    other_unit: Department
    users: dict[str, User] = field(default_factory=dict)
    #: Users holding a role but outside the city's test community or unit.
    outsiders: dict[str, User] = field(default_factory=dict)

    def user(self, role: str) -> User:
        return self.users[role]


@functools.cache
def _password_hash() -> str:
    probe = User()
    probe.set_password(PASSWORD)
    return probe.password_hash


def make_staff(username: str, role: str, *, area=None, department=None) -> User:
    """A user like ``make_user``'s, with the password hashed once per run (hashing is slow on purpose)."""
    user = User(username=username, full_name=username.title(), role=role, area=area,
                department=department, password_hash=_password_hash())
    db.session.add(user)
    db.session.flush()
    return user


def make_world() -> World:
    """The catalogue, the small city, two units and users for every role, in scope and not."""
    make_catalogue()
    areas = make_small_city()
    other_district = make_area("411303", "卧龙区", 1, areas["city"])
    other_community = make_area("411303001001", "别的社区", 3, other_district)
    unit = make_department("SAN01", "环卫处", "sanitation", area_id=areas["district"].id)
    other_unit = make_department("LAW01", "城管执法局", "law_enforcement")
    world = World(areas=areas, unit=unit, other_unit=other_unit)
    community = areas["community"]
    roles = {
        # The worker has no area: grid scope comes from the responsibility grid alone.
        "grid_worker": {"area": None},
        "hotline_operator": {},
        "intake_operator": {"area": areas["district"]},
        "dispatcher": {"area": areas["district"]},
        "shift_leader": {"area": areas["district"]},
        "unit_staff": {"department": unit},
        "area_lead": {"area": areas["subdistrict"]},
        "leader": {},
        "evaluator": {},
        "admin": {},
    }
    for role, scope in roles.items():
        world.users[role] = make_staff(role, role, **scope)
    grid = ResponsibilityGrid(code="RG001", name="责任网格一", community_id=community.id,
                              worker_id=world.users["grid_worker"].id)
    grid.unit_grids = [areas["grid1"], areas["grid2"]]
    db.session.add(grid)
    outside = {
        "grid_worker": {"area": other_community},
        "hotline_operator": {"area": other_district},
        "intake_operator": {"area": other_district},
        "dispatcher": {"area": other_district},
        "shift_leader": {"area": other_district},
        "unit_staff": {"department": other_unit},
        "area_lead": {"area": other_community},
    }
    for role, scope in outside.items():
        world.outsiders[role] = make_staff(f"outside_{role}", role, **scope)
    db.session.flush()
    return world


def png_bytes(size=(64, 48), colour=(200, 60, 40)) -> bytes:
    """A small PNG image."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def make_photos(count: int = 1) -> tuple[StoredPhoto, ...]:
    """``count`` stored photos (distinct images) in the media folder."""
    # store_photo words its refusals for a request's language, so it runs inside one.
    with current_app.test_request_context():
        return tuple(store_photo(png_bytes(colour=(10 * n, 60, 40))) for n in range(count))


#: How each state is reached from the one before it: (action, role, inputs).
PATH = {
    "reported": ("verify", "grid_worker", {"photos": True}),
    "registered": ("register", "intake_operator", {}),
    "dispatched": ("dispatch", "dispatcher", {"unit": True}),
    "handling": ("sign", "unit_staff", {}),
    "handled": ("feedback", "unit_staff", {"photos": True, "note": "已清理"}),
    "closed": ("check_pass", "grid_worker", {"photos": True}),
}
ORDER = ["verifying", "reported", "registered", "dispatched", "handling", "handled", "closed"]


def act(world: World, case: Case, action: str, role: str, *, now: datetime = T0, **inputs):
    """Take ``action`` as the world's ``role`` user; ``photos=True`` and ``unit=True`` fill those in."""
    if inputs.pop("photos", False) is True:
        inputs["photos"] = make_photos()
    if inputs.pop("unit", False) is True:
        inputs["unit_id"] = world.unit.id
    return take_action(case, action, world.user(role), now=now, **inputs)


def make_case(
    state: str = "reported",
    *,
    world: World | None = None,
    source: str | None = None,
    xy: tuple[float, float] = GRID1_XY,
    now: datetime = T0,
    **filing,
) -> Case:
    """A case in ``state``, reached through the real services (``world`` is made if not given).

    ``source`` defaults to a hotline report for states on the verification path and to a
    grid worker's patrol otherwise; ``suspended`` and ``cancelled`` branch off ``handling``
    and ``reported``.
    """
    world = world or make_world()
    if source is None:
        source = "hotline" if state in ("verifying",) else "patrol"
    reporter = world.user("hotline_operator" if source in ("hotline", "public") else "grid_worker")
    filing.setdefault("case_type", "event")
    filing.setdefault("small_class_code", "0102")
    filing.setdefault("description", "路边垃圾堆放")
    case = file_case(reporter, source=source, x=xy[0], y=xy[1], datum="gcj02", now=now, **filing)
    if state == "suspended":
        make_state(world, case, "handling", now)
        act(world, case, "request_suspension", "unit_staff", reason="等待资金", now=now)
        act(world, case, "approve_suspension", "shift_leader", now=now)
    elif state == "cancelled":
        act(world, case, "cancel", "intake_operator", reason="重复上报", now=now)
    elif state == "merged":
        master = file_case(reporter, source=source, x=xy[0], y=xy[1], datum="gcj02", now=now, **filing)
        act(world, case, "merge", "intake_operator", master=master, now=now)
    else:
        make_state(world, case, state, now)
    return case


def make_state(world: World, case: Case, state: str, now: datetime = T0) -> Case:
    """Move ``case`` forward along the main path until it is in ``state``."""
    target = ORDER.index(state)
    while ORDER.index(case.state) < target:
        action, role, inputs = PATH[ORDER[ORDER.index(case.state) + 1]]
        act(world, case, action, role, now=now, **dict(inputs))
    assert case.state == state, (case.state, state)
    return case


def later(hours: float) -> datetime:
    """``hours`` after T0."""
    return T0 + timedelta(hours=hours)
