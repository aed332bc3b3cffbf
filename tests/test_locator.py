import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import prcoords
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box
from sqlalchemy import select

from gridops.errors import OutsideTerritory, ValidationFailed
from gridops.extensions import db
from gridops.territory import locator as locator_module
from gridops.territory.locator import get_locator, locate
from gridops.territory.models import GridLayer
from tests.factories import DX, DY, X0, Y0, make_area, make_small_city


@pytest.fixture
def city(app):
    """The small test city on a GCJ-02 layer."""
    return make_small_city()


def grid_code(seq: int) -> str:
    return f"411302001001{seq:03d}"


def test_point_inside_a_grid(city):
    location = locate(X0 + 0.5 * DX, Y0 + 1.5 * DY, "gcj02")
    assert location.unit_grid.code == grid_code(1)
    assert location.area == location.unit_grid
    assert not location.gap
    assert location.datum == "gcj02"
    assert location.layer_version == 1
    assert [ref.level for ref in location.chain] == ["city", "district", "subdistrict", "community", "unit_grid"]
    assert [ref.code for ref in location.chain[:4]] == ["411300", "411302", "411302001", "411302001001"]
    assert location.chain[-1].level_name == "单元网格"
    assert location.chain[-1].id == city["grid1"].id


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        (X0 + DX, Y0 + 1.5 * DY, 1),  # edge shared by grids 1 and 2
        (X0 + 1.5 * DX, Y0 + DY, 2),  # edge shared by grids 2 and 4
        (X0 + 0.5 * DX, Y0 + DY, 1),  # edge shared by grids 1 and 3
        (X0 + DX, Y0 + 0.5 * DY, 3),  # edge shared by grids 3 and 4
        (X0 + DX, Y0 + DY, 1),  # corner shared by all four grids
        (X0, Y0, 3),  # the block's outer corner still belongs to its grid
        (X0 + 2 * DX, Y0 + 0.5 * DY, 4),  # edge between grid 4 and the ungridded cell
    ],
)
def test_border_point_goes_to_the_lowest_code(city, x, y, expected):
    first = locate(x, y, "gcj02")
    assert first.unit_grid.code == grid_code(expected)
    assert all(locate(x, y, "gcj02").unit_grid == first.unit_grid for _ in range(5))


def test_border_rule_does_not_depend_on_insertion_order(app):
    """Grids stored out of code order still resolve a shared edge to the lowest code."""
    db.session.add(GridLayer(name="test layer", datum="gcj02", version=1))
    outer = box(X0, Y0, X0 + 2 * DX, Y0 + DY)
    community = make_area("411302001001", "测试社区", 3, geometry=outer)
    make_area(grid_code(9), "网格009", 4, community, geometry=box(X0 + DX, Y0, X0 + 2 * DX, Y0 + DY))
    make_area(grid_code(2), "网格002", 4, community, geometry=box(X0, Y0, X0 + DX, Y0 + DY))
    assert locate(X0 + DX, Y0 + 0.5 * DY, "gcj02").unit_grid.code == grid_code(2)


def test_gap_goes_to_the_smallest_enclosing_area(city):
    location = locate(X0 + 2.5 * DX, Y0 + DY, "gcj02")
    assert location.gap
    assert location.unit_grid is None
    assert location.area.code == city["community"].code
    assert location.area.level == "community"
    assert [ref.code for ref in location.chain] == ["411300", "411302", "411302001", "411302001001"]


def test_outside_the_territory_is_refused(city):
    with pytest.raises(OutsideTerritory) as info:
        locate(X0 - DX, Y0 + DY, "gcj02")
    assert info.value.status == 422
    assert set(info.value.fields) == {"x", "y"}
    assert "outside the territory" in info.value.message


@pytest.mark.parametrize(("x", "y", "field"), [(float("nan"), 33.0, "x"), (112.5, 91.0, "y"), (181.0, 33.0, "x")])
def test_impossible_positions_name_the_field(city, x, y, field):
    with pytest.raises(ValidationFailed) as info:
        locate(x, y)
    assert set(info.value.fields) == {field}


def test_unknown_datum_is_refused(city):
    with pytest.raises(ValidationFailed) as info:
        locate(X0, Y0, "tokyo")
    assert set(info.value.fields) == {"datum"}


def test_no_layer_means_no_territory(app):
    with pytest.raises(OutsideTerritory):
        locate(X0, Y0)


def test_gps_fix_is_converted_to_the_layer_datum(city):
    """A raw WGS-84 fix taken in grid 4 lands in grid 4 of the GCJ-02 layer; unconverted it would not."""
    gcj_x, gcj_y = X0 + 1.5 * DX, Y0 + 0.5 * DY
    wgs_lat, wgs_lon = prcoords.gcj_wgs_bored((gcj_y, gcj_x))
    location = locate(wgs_lon, wgs_lat, "wgs84")
    assert location.unit_grid.code == grid_code(4)
    assert location.x == pytest.approx(gcj_x, abs=1e-8)
    assert location.y == pytest.approx(gcj_y, abs=1e-8)
    with pytest.raises(OutsideTerritory):
        locate(wgs_lon, wgs_lat, "gcj02")


def test_baidu_position_is_converted(city):
    bd_lat, bd_lon = prcoords.gcj_bd((Y0 + 1.5 * DY, X0 + 1.5 * DX))
    assert locate(bd_lon, bd_lat, "bd09").unit_grid.code == grid_code(2)


def test_wgs84_layer_takes_gcj02_input(app):
    make_small_city(datum="wgs84")
    gcj_lat, gcj_lon = prcoords.wgs_gcj((Y0 + 0.5 * DY, X0 + 0.5 * DX))
    location = locate(gcj_lon, gcj_lat, "gcj02")
    assert location.datum == "wgs84"
    assert location.unit_grid.code == grid_code(3)


def test_locator_is_reused_until_the_version_changes(city):
    locator = get_locator()
    assert get_locator() is locator
    assert locate(X0 + 2.5 * DX, Y0 + DY, "gcj02").gap

    cell = box(X0 + 2 * DX, Y0, X0 + 3 * DX, Y0 + 2 * DY)
    make_area(grid_code(5), "网格005", 4, city["community"], geometry=cell, layer_version=2)
    assert locate(X0 + 2.5 * DX, Y0 + DY, "gcj02").gap, "same version: the old index stays"

    layer = db.session.scalar(select(GridLayer))
    layer.version = 2
    db.session.flush()
    rebuilt = get_locator()
    assert rebuilt is not locator and rebuilt.version == 2
    location = locate(X0 + 2.5 * DX, Y0 + DY, "gcj02")
    assert location.unit_grid.code == grid_code(5)
    assert location.layer_version == 2


def test_retired_grids_are_not_located(city):
    city["grid1"].active = False
    db.session.flush()
    location = locate(X0 + 0.5 * DX, Y0 + 1.5 * DY, "gcj02")
    assert location.gap and location.area.code == city["community"].code


def test_locate_many_matches_locate(city):
    locator = get_locator()
    ids = {code: city[key].id for key, code in ((f"grid{i}", grid_code(i)) for i in range(1, 5))}

    def expected(x: float, y: float) -> int:
        try:
            location = locator.locate(x, y, "gcj02")
        except OutsideTerritory:
            return -1
        return -1 if location.gap else ids[location.unit_grid.code]

    # Half the coordinates sit exactly on grid lines, where the border rule decides.
    lines_x = st.sampled_from([X0 + i * DX for i in range(4)])
    lines_y = st.sampled_from([Y0 + i * DY for i in range(3)])
    xs = st.one_of(st.floats(X0 - DX, X0 + 4 * DX), lines_x)
    ys = st.one_of(st.floats(Y0 - DY, Y0 + 3 * DY), lines_y)

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.tuples(xs, ys), min_size=1, max_size=30))
    def check(points):
        px, py = np.array(points).T
        assert locator.locate_many(px, py, "gcj02").tolist() == [expected(x, y) for x, y in points]

    check()


def test_locate_many_converts_and_keeps_shape(city):
    locator = get_locator()
    gcj = [(X0 + 0.5 * DX, Y0 + 1.5 * DY), (X0 + 1.5 * DX, Y0 + 0.5 * DY), (X0 + 2.5 * DX, Y0 + DY)]
    wgs = [prcoords.gcj_wgs_bored((y, x)) for x, y in gcj]
    ids = locator.locate_many([lon for _, lon in wgs], [lat for lat, _ in wgs], "wgs84")
    assert ids.tolist() == [city["grid1"].id, city["grid4"].id, -1]
    assert locator.locate_many([], [], "gcj02").tolist() == []


def test_location_serialises(city):
    data = locate(X0 + 0.5 * DX, Y0 + 0.5 * DY, "gcj02").to_dict()
    assert data["unit_grid"]["code"] == grid_code(3)
    assert data["area"] == data["unit_grid"]
    assert data["chain"][0] == {
        "id": city["city"].id, "code": "411300", "name": "南阳市", "name_en": None,
        "level": "city", "level_name": "市", "level_name_en": "City",
    }
    assert data["gap"] is False and data["datum"] == "gcj02"



def test_concurrent_lookups_build_the_locator_once(app, city, monkeypatch):
    """Threads that find the locator stale at the same time wait for one rebuild."""
    db.session.commit()
    built = []
    real_load = locator_module.load_locator

    def slow_load(datum, version):
        built.append(version)
        time.sleep(0.2)
        return real_load(datum, version)

    monkeypatch.setattr(locator_module, "load_locator", slow_load)

    def lookup(_):
        with app.app_context():
            return get_locator()

    with ThreadPoolExecutor(max_workers=4) as pool:
        locators = list(pool.map(lookup, range(4)))
    assert built == [1]
    assert all(found is locators[0] for found in locators)


def test_threads_share_one_locator_safely(city):
    """Lookups from several threads agree with the same lookups made one by one."""
    locator = get_locator()
    points = [(X0 + (i % 30) * 0.1 * DX, Y0 + (i // 30) * 0.1 * DY) for i in range(600)]

    def codes(chunk):
        return [locator.locate(x, y, "gcj02").area.code for x, y in chunk]

    serial = codes(points)
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = [code for part in pool.map(codes, [points[i::4] for i in range(4)]) for code in part]
    assert sorted(parallel) == sorted(serial)
    assert set(serial) == {grid_code(i) for i in range(1, 5)} | {"411302001001"}


def test_irregular_grids_agree_with_a_naive_scan():
    """Jittered quads of mixed sizes, codes out of spatial order: every vertex, edge and random point."""
    rng = np.random.default_rng(3)
    nx, ny, step = 16, 12, 0.001
    corners = np.stack(np.meshgrid(np.arange(nx + 1), np.arange(ny + 1), indexing="ij"), axis=-1) * step
    corners = corners + rng.uniform(-0.3, 0.3, corners.shape) * step
    corners[0, :, 0], corners[-1, :, 0] = 0.0, nx * step  # a straight outer boundary
    corners[:, 0, 1], corners[:, -1, 1] = 0.0, ny * step
    quads = {
        (i, j): shapely.Polygon([corners[i, j], corners[i + 1, j], corners[i + 1, j + 1], corners[i, j + 1]])
        for i in range(nx) for j in range(ny) if (i, j) != (5, 5)  # one gap
    }
    # One large grid, merged from a 4 × 3 block, spans many raster cells.
    block = [quads.pop((i, j)) for i in range(8, 12) for j in range(2, 5)]
    grids = [*quads.values(), shapely.union_all(block)]
    codes = [f"411302001001{n:03d}" for n in rng.permutation(len(grids))]
    city = shapely.box(0, 0, nx * step, ny * step)
    count = len(grids)
    areas = locator_module.AreaColumns(
        list(range(1, count + 2)), ["411300", *codes], ["city", *codes], [None] * (count + 1),
        [0] + [4] * count, [None] + [1] * count, ["/1/"] + [f"/1/{i}/" for i in range(2, count + 2)],
        np.array([city, *grids], dtype=object),
    )
    levels = [
        locator_module.LevelInfo(0, "city", "市", "City", False),
        locator_module.LevelInfo(4, "unit_grid", "单元网格", "Unit grid", True),
    ]
    locator = locator_module.Locator(areas, levels, "gcj02", 1)
    by_code = sorted(range(count), key=codes.__getitem__)
    prepared = np.array(grids, dtype=object)
    shapely.prepare(prepared)

    def naive(x: float, y: float) -> str | None:
        hits = [k for k in by_code if prepared[k].intersects(shapely.Point(x, y))]
        return codes[hits[0]] if hits else None

    vertices = corners.reshape(-1, 2)
    midpoints = ((corners[1:, :, :] + corners[:-1, :, :]) / 2).reshape(-1, 2)
    uniform = rng.uniform([-0.5 * step, -0.5 * step], [(nx + 0.5) * step, (ny + 0.5) * step], (2000, 2))
    points = np.concatenate([vertices, midpoints, uniform])
    expected = []
    for x, y in points.tolist():
        want = naive(x, y)
        try:
            got = locator.locate(x, y, "gcj02")
        except OutsideTerritory:
            assert not city.intersects(shapely.Point(x, y)) and want is None
            expected.append(-1)
            continue
        assert (got.unit_grid.code if got.unit_grid else None) == want, (x, y)
        assert got.gap == (want is None)
        expected.append(-1 if want is None else codes.index(want) + 2)
    assert locator.locate_many(points[:, 0], points[:, 1], "gcj02").tolist() == expected
    assert sum(code is not None for code in map(naive, *vertices.T)) > 0.9 * len(vertices)
