"""Plain factory functions for tests: areas, a tiny city, users, departments."""

from __future__ import annotations

import shapely
from shapely.geometry import box

from gridops.auth.models import User
from gridops.extensions import db
from gridops.org.models import Department
from gridops.territory.levels import ensure_levels
from gridops.territory.models import Area, GridLayer

PASSWORD = "correct-horse-battery"

#: Origin of the tiny test city, in GCJ-02 degrees inside Nanyang's Wancheng district.
X0, Y0 = 112.55, 33.00
#: About 100 m in degrees at this latitude (x: longitude, y: latitude).
DX, DY = 0.001073, 0.000899


def make_area(code, name, level_rank, parent=None, geometry=None, **kwargs) -> Area:
    ensure_levels()
    area = Area(code=code, name=name, level_rank=level_rank, parent=parent, path="", **kwargs)
    if geometry is not None:
        area.geometry_wkb = shapely.to_wkb(geometry)
        area.min_x, area.min_y, area.max_x, area.max_y = geometry.bounds
    db.session.add(area)
    db.session.flush()
    area.path = (parent.path if parent else "/") + f"{area.id}/"
    db.session.flush()
    return area


def make_small_city(datum: str = "gcj02") -> dict[str, Area]:
    """City → district → subdistrict → community → a 2×2 block of ~100 m unit grids.

    The community also covers a fifth, ungridded cell east of the block: a coverage gap.
    """
    layer = GridLayer(name="test layer", datum=datum, version=1)
    db.session.add(layer)
    outer = box(X0, Y0, X0 + 3 * DX, Y0 + 2 * DY)
    city = make_area("411300", "南阳市", 0, geometry=outer, layer_version=1)
    district = make_area("411302", "宛城区", 1, city, geometry=outer, layer_version=1)
    sub = make_area("411302001", "测试街道", 2, district, geometry=outer, layer_version=1)
    community = make_area("411302001001", "测试社区", 3, sub, geometry=outer, layer_version=1)
    areas = {"city": city, "district": district, "subdistrict": sub, "community": community}
    seq = 1
    for row in range(2):  # north to south
        for col in range(2):  # west to east
            cell = box(
                X0 + col * DX, Y0 + (1 - row) * DY, X0 + (col + 1) * DX, Y0 + (2 - row) * DY
            )
            code = f"411302001001{seq:03d}"
            areas[f"grid{seq}"] = make_area(code, f"网格{seq:03d}", 4, community, geometry=cell, layer_version=1)
            seq += 1
    return areas


def make_department(code="SAN01", name="环卫处", kind="sanitation", **kwargs) -> Department:
    department = Department(code=code, name=name, kind=kind, **kwargs)
    db.session.add(department)
    db.session.flush()
    return department


def make_user(username="worker", role="grid_worker", area=None, department=None, **kwargs) -> User:
    user = User(
        username=username,
        full_name=kwargs.pop("full_name", username.title()),
        role=role,
        area=area,
        department=department,
        **kwargs,
    )
    user.set_password(kwargs.pop("password", PASSWORD))
    db.session.add(user)
    db.session.flush()
    return user
