"""The demo city generator and the demo loader: shape of the territory, idempotent loading."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import numpy as np
import pytest
import shapely
from shapely.geometry import shape
from sqlalchemy import func, select

import gridops.demo as demo
from gridops.auth.models import User
from gridops.auth.roles import Role
from gridops.demo.generator import (
    CITY_CODE,
    DEFAULT_SEED,
    MAX_GRIDS_PER_COMMUNITY,
    area_m2,
    generate_city,
    plan_city,
)
from gridops.errors import ValidationFailed
from gridops.extensions import db
from gridops.org.models import Department
from gridops.territory.importer import import_layer, validate_layer
from gridops.territory.models import Area, GridLayer, ResponsibilityGrid
from tests.factories import make_small_city

CODE_SHAPES = {
    "city": r"\d{6}",
    "district": r"\d{6}",
    "subdistrict": r"\d{6}(0\d\d|1\d\d)",
    "community": r"\d{12}",
    "unit_grid": r"\d{15}",
}
EXPECTED_KINDS = {
    "sanitation", "municipal_works", "landscaping", "law_enforcement", "water_utility", "drainage",
    "street_lighting", "water_rivers", "housing_construction", "traffic_police", "public_transport",
    "environment", "street_office", "bureau",
}


@pytest.fixture(scope="module")
def city() -> dict:
    """The default (core) demo city, generated once for the module."""
    return generate_city()


@pytest.fixture(scope="module")
def by_level(city) -> dict[str, list[dict]]:
    """The city's features grouped by level key."""
    levels: dict[str, list[dict]] = defaultdict(list)
    for feature in city["features"]:
        levels[feature["properties"]["level"]].append(feature)
    return levels


def _geometries(features: list[dict]) -> np.ndarray:
    return np.array([shape(feature["geometry"]) for feature in features], dtype=object)


def test_same_seed_gives_identical_output(city):
    plan_city.cache_clear()
    assert generate_city(seed=DEFAULT_SEED) == city


def test_another_seed_gives_other_subdivisions():
    other = plan_city(seed=DEFAULT_SEED + 1).by_level("subdistrict")
    default = plan_city().by_level("subdistrict")
    assert [area.code for area in other] == [area.code for area in default]
    assert not all(a.geometry.equals(b.geometry) for a, b in zip(other, default))


def test_collection_declares_its_datum(city):
    assert city["type"] == "FeatureCollection"
    assert city["datum"] == "gcj02"


def test_counts_are_in_the_expected_ranges(by_level):
    assert len(by_level["city"]) == 1
    assert {f["properties"]["code"] for f in by_level["district"]} == {"411302", "411303"}
    per_district = Counter(f["properties"]["parent_code"] for f in by_level["subdistrict"])
    assert all(8 <= count <= 14 for count in per_district.values())
    per_subdistrict = Counter(f["properties"]["parent_code"] for f in by_level["community"])
    assert set(per_subdistrict) == {f["properties"]["code"] for f in by_level["subdistrict"]}
    assert all(count >= 8 for count in per_subdistrict.values())
    assert 1_500 <= len(by_level["unit_grid"]) <= 3_000
    per_community = Counter(f["properties"]["parent_code"] for f in by_level["unit_grid"])
    assert max(per_community.values()) <= MAX_GRIDS_PER_COMMUNITY


def test_codes_have_their_shape_and_extend_their_parent(city):
    codes = {f["properties"]["code"] for f in city["features"]}
    assert len(codes) == len(city["features"])
    for feature in city["features"]:
        props = feature["properties"]
        assert re.fullmatch(CODE_SHAPES[props["level"]], props["code"]), props["code"]
        if props["level"] == "city":
            assert props["parent_code"] is None
        elif props["level"] == "district":
            assert props["parent_code"] == CITY_CODE and props["code"].startswith(CITY_CODE[:4])
        else:
            assert props["parent_code"] in codes
            assert props["code"][: len(props["parent_code"])] == props["parent_code"]


def test_unit_grids_are_numbered_from_one_without_gaps(by_level):
    sequences = defaultdict(list)
    for feature in by_level["unit_grid"]:
        sequences[feature["properties"]["parent_code"]].append(int(feature["properties"]["code"][12:]))
    for numbers in sequences.values():
        assert sorted(numbers) == list(range(1, len(numbers) + 1))


def test_unit_grids_are_numbered_west_to_east_then_north_to_south(by_level):
    by_community = defaultdict(list)
    for feature, geometry in zip(by_level["unit_grid"], _geometries(by_level["unit_grid"])):
        if shapely.equals(geometry, shapely.envelope(geometry)) and area_m2(geometry) > 9_000:
            props = feature["properties"]
            by_community[props["parent_code"]].append((props["code"], geometry))
    for cells in by_community.values():
        north = max(geometry.bounds[3] for _, geometry in cells)
        height = cells[0][1].bounds[3] - cells[0][1].bounds[1]
        positions = [
            (round((north - geometry.bounds[3]) / height), geometry.bounds[0])
            for _, geometry in sorted(cells)
        ]
        assert positions == sorted(positions)


def _assert_tiles(parent, children) -> None:
    union = shapely.union_all(children)
    assert area_m2(shapely.symmetric_difference(union, parent)) < 1.0
    assert float(np.sum(area_m2(children))) - area_m2(union) < 1.0


def test_children_tile_their_parent_without_overlaps(by_level):
    geometries = {
        f["properties"]["code"]: g
        for level in ("city", "district", "subdistrict", "community")
        for f, g in zip(by_level[level], _geometries(by_level[level]))
    }
    pairs = (("city", "district"), ("district", "subdistrict"), ("subdistrict", "community"))
    for parent_level, child_level in pairs:
        children = defaultdict(list)
        for feature in by_level[child_level]:
            children[feature["properties"]["parent_code"]].append(geometries[feature["properties"]["code"]])
        for parent in by_level[parent_level]:
            _assert_tiles(geometries[parent["properties"]["code"]], children[parent["properties"]["code"]])


def test_unit_grids_lie_in_and_cover_their_community(by_level):
    grids = _geometries(by_level["unit_grid"])
    assert shapely.is_valid(grids).all()
    assert set(shapely.get_type_id(grids)) <= {3, 6}  # Polygon, MultiPolygon
    communities = {
        f["properties"]["code"]: g for f, g in zip(by_level["community"], _geometries(by_level["community"]))
    }
    per_community = defaultdict(list)
    for feature, geometry in zip(by_level["unit_grid"], grids):
        per_community[feature["properties"]["parent_code"]].append(geometry)
    for code, members in per_community.items():
        _assert_tiles(communities[code], members)


def test_unit_grids_are_close_to_ten_thousand_square_metres(by_level):
    areas = area_m2(_geometries(by_level["unit_grid"]))
    assert areas.min() > 2_500
    assert np.mean((areas > 5_000) & (areas < 20_000)) > 0.95


def test_generated_areas_say_so_in_both_languages(by_level):
    for level in ("subdistrict", "community", "unit_grid"):
        for feature in by_level[level]:
            props = feature["properties"]
            assert props["generated"] is True
            assert "（生成）" in props["name"] and "generated" in props["name_en"]
    real = by_level["city"] + by_level["district"]
    assert {f["properties"]["name"] for f in real} == {"南阳市", "宛城区", "卧龙区"}
    assert all(f["properties"]["generated"] is False for f in real)


def test_the_importer_accepts_the_city_without_errors_or_warnings(app, city):
    assert validate_layer(city) == []


def _counts() -> dict[str, int]:
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Area, Department, User, ResponsibilityGrid, GridLayer)
    }


def test_load_demo_twice_creates_everything_once_and_staffs_every_role(app):
    lines: list[str] = []
    logins = demo.load_demo(echo=lines.append)
    first = _counts()
    again = demo.load_demo(echo=lines.append)
    assert _counts() == first
    assert [login.username for login in again] == [login.username for login in logins]
    assert any("kept the demo layer" in line for line in lines)
    assert first["GridLayer"] == 1 and first["Area"] > 2_000

    users = {user.username: user for user in db.session.scalars(select(User))}
    assert {Role(user.role) for user in users.values()} == set(Role)
    assert all(login.role_label for login in logins)
    assert users["worker"].check_password(logins[0].password)
    assert set(db.session.scalars(select(Department.kind))) == EXPECTED_KINDS

    worker, chief = users["worker"], users["chief"]
    grid = db.session.scalar(select(ResponsibilityGrid).where(ResponsibilityGrid.worker_id == worker.id))
    assert grid is not None and grid.chief_id == chief.id
    assert chief.role == Role.AREA_LEAD.value and chief.area_id == worker.area_id == grid.community_id
    assert 6 <= len(grid.unit_grids) <= 10
    assert {area.parent_id for area in grid.unit_grids} == {worker.area_id}
    sizes = [len(rg.unit_grids) for rg in db.session.scalars(select(ResponsibilityGrid))]
    assert min(sizes) >= 6 and max(sizes) <= 10
    assert users["sanitation"].department.kind == "sanitation"


def test_full_grids_replace_a_core_layer(app, city, monkeypatch):
    import_layer(city, source_name=demo.CORE_SOURCE)
    requested = []

    def fake_generate(full, seed, grid_area_m2):
        requested.append(full)
        return city

    monkeypatch.setattr(demo, "generate_city", fake_generate)
    demo.load_demo(full_grids=True, echo=lambda line: None)
    demo.load_demo(full_grids=True, echo=lambda line: None)
    layer = db.session.scalar(select(GridLayer))
    assert requested == [True]
    assert layer.source_name == demo.FULL_SOURCE and layer.version == 2


def test_load_demo_refuses_a_foreign_territory(app):
    make_small_city()
    db.session.commit()
    with pytest.raises(ValidationFailed):
        demo.load_demo(echo=lambda line: None)
