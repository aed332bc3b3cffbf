"""Territory import: every rejection reason, warnings, upsert/retire, geometry facts, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from pyproj import Geod
from sqlalchemy import func, select

from gridops.extensions import db
from gridops.territory.codes import code_shape_problem, extends_parent_code, significant_prefix
from gridops.territory.importer import ImportRejected, import_layer, read_collection, validate_layer
from gridops.territory.models import Area, GridLayer
from tests.factories import make_user

DATA = Path(__file__).parent / "data"
SMALL_LAYER = DATA / "small_layer.geojson"

#: Feature indexes in small_layer.geojson.
CITY, DISTRICT, SUBDISTRICT, COMMUNITY1, COMMUNITY2 = 0, 1, 2, 3, 4
GRID1, GRID2, GRID3, GRID4 = 5, 6, 7, 8  # community 1, west→east, north→south


def small_layer() -> dict:
    """City → district → subdistrict → two communities of 2×2 ~100 m unit grids (GCJ-02)."""
    return json.loads(SMALL_LAYER.read_text(encoding="utf-8"))


def props(collection: dict, index: int) -> dict:
    return collection["features"][index]["properties"]


def ring(collection: dict, index: int) -> list:
    return collection["features"][index]["geometry"]["coordinates"][0]


def area(code: str) -> Area:
    return db.session.scalar(select(Area).where(Area.code == code))


def snapshot() -> tuple:
    """Everything an import may change: the layer's version and every area row."""
    layer = db.session.scalar(select(GridLayer))
    rows = db.session.execute(
        select(Area.id, Area.code, Area.name, Area.active, Area.path, Area.layer_version).order_by(Area.id)
    ).all()
    return (layer.version if layer else None, [tuple(row) for row in rows])


@pytest.fixture
def imported(app):
    """The small layer imported and committed (layer version 1)."""
    import_layer(small_layer(), source_name="small_layer.geojson")
    db.session.commit()


# --- rejections -------------------------------------------------------------------------


def _move(collection: dict, index: int, dx: float, dy: float = 0.0) -> None:
    for position in ring(collection, index):
        position[0] += dx
        position[1] += dy


def _set(index: int, **values):
    def mutate(collection):
        props(collection, index).update(values)

    return mutate


def _drop(index: int, key: str):
    def mutate(collection):
        del props(collection, index)[key]

    return mutate


def _geometry(index: int, geometry):
    def mutate(collection):
        collection["features"][index]["geometry"] = geometry

    return mutate


BOWTIE = {"type": "Polygon", "coordinates": [[[112.55, 33.0], [112.551, 33.001], [112.551, 33.0], [112.55, 33.001], [112.55, 33.0]]]}
UNCLOSED = {"type": "Polygon", "coordinates": [[[112.55, 33.0], [112.551, 33.0], [112.551, 33.0009], [112.55, 33.0009]]]}
METRES = {"type": "Polygon", "coordinates": [[[500000, 3650000], [500100, 3650000], [500100, 3650100], [500000, 3650000]]]}


def _overlap(collection):
    # Grid 2 slides 40 m west over grid 1 of the same community.
    _move(collection, GRID2, -0.00043)


def _outside(collection):
    # Grid 4 of community 1 slides 50 m south, out of its community.
    _move(collection, GRID4, 0, -0.00045)


def _duplicate(collection):
    props(collection, GRID2)["code"] = props(collection, GRID1)["code"]


def _not_a_feature(collection):
    collection["features"][GRID3] = ["not", "a", "feature"]


def _no_properties(collection):
    collection["features"][GRID3]["properties"] = None


REJECTIONS = [
    pytest.param(_drop(GRID1, "name"), GRID1, "411302001001001", "missing property 'name'", id="missing-name"),
    pytest.param(_drop(GRID1, "code"), GRID1, None, "missing property 'code'", id="missing-code"),
    pytest.param(_set(GRID1, name=7), GRID1, "411302001001001", "'name' must be a non-empty string", id="bad-name"),
    pytest.param(_set(GRID1, generated="yes"), GRID1, "411302001001001", "'generated' must be true or false", id="bad-generated"),
    pytest.param(_set(GRID1, name="x" * 200), GRID1, "411302001001001", "longer than 128", id="long-name"),
    pytest.param(_no_properties, GRID3, None, "no properties object", id="no-properties"),
    pytest.param(_not_a_feature, GRID3, None, "not a GeoJSON Feature", id="not-a-feature"),
    pytest.param(_geometry(GRID1, BOWTIE), GRID1, "411302001001001", "invalid geometry: Self-intersection", id="self-intersection"),
    pytest.param(_geometry(GRID1, UNCLOSED), GRID1, "411302001001001", "must end where it started", id="unclosed-ring"),
    pytest.param(_geometry(GRID1, {"type": "Point", "coordinates": [112.55, 33.0]}), GRID1, "411302001001001", "not 'Point'", id="point"),
    pytest.param(_geometry(GRID1, None), GRID1, "411302001001001", "missing geometry", id="no-geometry"),
    pytest.param(_geometry(GRID1, {"type": "Polygon", "coordinates": []}), GRID1, "411302001001001", "geometry is empty", id="empty-geometry"),
    pytest.param(_geometry(GRID1, METRES), GRID1, "411302001001001", "not longitude/latitude", id="projected-metres"),
    pytest.param(_duplicate, GRID2, "411302001001001", f"duplicate code (first used by feature {GRID1})", id="duplicate-code"),
    pytest.param(_set(GRID1, level="block"), GRID1, "411302001001001", "unknown level 'block'", id="unknown-level"),
    pytest.param(_drop(GRID1, "level"), GRID1, "411302001001001", "missing property 'level'", id="missing-level"),
    pytest.param(_set(GRID1, parent_code="411302001009"), GRID1, "411302001001001", "unknown parent 411302001009", id="unknown-parent"),
    pytest.param(_drop(GRID1, "parent_code"), GRID1, "411302001001001", "missing property 'parent_code'", id="missing-parent"),
    pytest.param(_set(CITY, parent_code="410000"), CITY, "411300", "top-level area and has no parent_code", id="top-level-parent"),
    pytest.param(_set(GRID1, parent_code="411302001"), GRID1, "411302001001001", "parent 411302001 is a subdistrict; a unit_grid's parent must be a community", id="parent-wrong-level"),
    pytest.param(_set(GRID1, code="41130200100101"), GRID1, "41130200100101", "has 14 digits, its level needs 15", id="code-length"),
    pytest.param(_set(GRID1, code="41130200100100A"), GRID1, "41130200100100A", "only digits", id="code-digits"),
    pytest.param(_set(GRID1, code="411302001002009"), GRID1, "411302001002009", "does not extend its parent's code 411302001001", id="code-not-extending"),
    pytest.param(_set(DISTRICT, code="411402"), DISTRICT, "411402", "does not extend its parent's code 411300", id="district-not-in-city"),
    pytest.param(_outside, GRID4, "411302001001004", "lies outside its parent 411302001001", id="outside-parent"),
    pytest.param(_overlap, GRID2, "411302001001002", "overlaps unit grid 411302001001001 (feature 5)", id="overlap"),
    pytest.param(_set(GRID1, active=False), GRID1, "411302001001001", "a retired area", id="retired-feature"),
]


def _assert_rejected(collection, index, code, fragment, **kwargs):
    before = snapshot()
    with pytest.raises(ImportRejected) as caught:
        import_layer(collection, **kwargs)
    matching = [p for p in caught.value.problems if p.index == index and p.code == code and fragment in p.reason]
    assert matching, [str(p) for p in caught.value.problems]
    assert all(p.severity == "error" for p in matching)
    envelope = caught.value.to_dict()
    assert envelope["error"] == "import_rejected"
    assert {"index": index, "code": code, "reason": matching[0].reason, "severity": "error"} in envelope["problems"]
    assert snapshot() == before
    return caught.value.problems


@pytest.mark.parametrize(("mutate", "index", "code", "fragment"), REJECTIONS)
def test_rejected_file_writes_nothing_on_an_empty_database(app, mutate, index, code, fragment):
    collection = small_layer()
    mutate(collection)
    _assert_rejected(collection, index, code, fragment)
    assert db.session.scalar(select(func.count()).select_from(Area)) == 0
    assert db.session.scalar(select(GridLayer)) is None


@pytest.mark.parametrize(("mutate", "index", "code", "fragment"), REJECTIONS)
def test_rejected_file_leaves_the_stored_layer_alone(imported, mutate, index, code, fragment):
    collection = small_layer()
    del collection["features"][GRID4 + 1 :]  # would retire community 2's grids if it were imported
    mutate(collection)
    _assert_rejected(collection, index, code, fragment)
    assert db.session.scalar(select(GridLayer.version)) == 1
    assert db.session.scalar(select(func.count()).select_from(Area).where(Area.active)) == 13


@pytest.mark.parametrize(
    ("collection", "reason"),
    [
        pytest.param([1, 2], "not a GeoJSON FeatureCollection", id="list"),
        pytest.param({"type": "Feature"}, "not a GeoJSON FeatureCollection", id="feature"),
        pytest.param({"type": "FeatureCollection", "features": {}}, "no 'features' list", id="features-not-a-list"),
        pytest.param({"type": "FeatureCollection", "datum": "wgs84", "features": []}, "has no features", id="empty"),
    ],
)
def test_rejects_what_is_not_a_feature_collection(app, collection, reason):
    _assert_rejected(collection, None, None, reason)


def test_rejects_text_that_is_not_json():
    with pytest.raises(ImportRejected) as caught:
        read_collection(b'{"type": "FeatureCollection", "features": [')
    assert caught.value.problems[0].reason.startswith("not JSON:")


@pytest.mark.parametrize(
    ("declared", "given", "reason"),
    [
        pytest.param(None, None, "datum missing", id="missing"),
        pytest.param("bd09", None, "unknown datum 'bd09'", id="unknown"),
        pytest.param("gcj02", "wgs84", "datum 'wgs84' given, but the file declares 'gcj02'", id="conflict"),
    ],
)
def test_rejects_a_missing_or_bad_datum(app, declared, given, reason):
    collection = small_layer()
    collection.pop("datum")
    if declared:
        collection["datum"] = declared
    _assert_rejected(collection, None, None, reason, datum=given)


def test_stored_parent_in_another_datum_is_refused(imported):
    collection = small_layer()
    collection["datum"] = "wgs84"
    del collection["features"][:COMMUNITY1]
    _assert_rejected(
        collection, 0, "411302001001", "parent 411302001 is only in the stored gcj02 layer", datum="wgs84"
    )


def test_every_problem_is_reported_at_once(app):
    collection = small_layer()
    del props(collection, GRID1)["name"]
    _overlap(collection)
    props(collection, COMMUNITY2)["code"] = "41130200100X"
    problems = _assert_rejected(collection, GRID1, "411302001001001", "missing property 'name'")
    reasons = {(p.index, p.reason.split(":")[0].split(" (")[0]) for p in problems}
    assert (GRID2, "overlaps unit grid 411302001001001") in reasons
    assert (COMMUNITY2, "code '41130200100X' must contain only digits") in reasons
    assert [p.index for p in problems] == sorted(p.index for p in problems)


def test_shared_edges_and_float_noise_are_not_overlaps(app):
    collection = small_layer()
    for index in (GRID2, GRID4):  # west edges a micrometre into the western neighbour
        west = ring(collection, index)[0][0]
        for position in ring(collection, index):
            if position[0] == west:
                position[0] -= 1e-11
    result = import_layer(collection)
    assert result.created["unit_grid"] == 8


def test_child_within_the_tolerance_is_accepted_and_beyond_it_rejected(app, monkeypatch):
    collection = small_layer()
    _move(collection, GRID1, -0.000005)  # ~0.45 m west of the community's edge
    assert not [p for p in validate_layer(collection) if p.is_error]
    monkeypatch.setitem(app.config, "GRIDOPS_IMPORT_CONTAINMENT_TOLERANCE_M", 0.1)
    _assert_rejected(collection, GRID1, "411302001001001", "lies outside its parent 411302001001")


# --- warnings ---------------------------------------------------------------------------


def test_odd_unit_grid_sizes_are_warnings_that_do_not_block(app, monkeypatch):
    monkeypatch.setitem(app.config, "GRIDOPS_GRID_AREA_M2", 50_000)
    result = import_layer(small_layer())
    assert result.layer_version == 1
    assert result.created["unit_grid"] == 8
    assert len(result.warnings) == 8
    warning = result.warnings[0]
    assert (warning.index, warning.code, warning.severity) == (GRID1, "411302001001001", "warning")
    assert "is far from 50,000 m² (expected 12,500–200,000 m²)" in warning.reason


def test_grid_size_thresholds_are_configurable(app, monkeypatch):
    assert not import_layer(small_layer()).warnings
    db.session.rollback()
    monkeypatch.setitem(app.config, "GRIDOPS_GRID_AREA_MAX_RATIO", 0.9)
    assert len(import_layer(small_layer()).warnings) == 8


# --- a successful import ----------------------------------------------------------------


def test_import_writes_the_hierarchy_with_paths_and_geometry(app):
    user = make_user("admin", role="admin")
    result = import_layer(small_layer(), source_name="small_layer.geojson", imported_by=user, layer_name="南阳")
    assert result.layer_version == 1
    assert result.datum == "gcj02"
    assert result.created == {"city": 1, "district": 1, "subdistrict": 1, "community": 2, "unit_grid": 8}
    assert not result.updated and not result.retired and not result.warnings
    city, district, sub = area("411300"), area("411302"), area("411302001")
    community, grid = area("411302001001"), area("411302001001002")
    assert city.path == f"/{city.id}/" and city.parent_id is None
    assert grid.path == f"/{city.id}/{district.id}/{sub.id}/{community.id}/{grid.id}/"
    assert grid.parent_id == community.id and grid.level.key == "unit_grid"
    assert (grid.name, grid.name_en, grid.generated, grid.active) == ("网格002", None, True, True)
    assert (city.name_en, city.generated) == ("Nanyang", False)
    geometry = shapely.from_wkb(grid.geometry_wkb)
    assert (grid.min_x, grid.min_y, grid.max_x, grid.max_y) == geometry.bounds
    expected_area = abs(Geod(ellps="WGS84").geometry_area_perimeter(geometry)[0])
    assert grid.area_m2 == pytest.approx(expected_area, rel=1e-4)
    assert 9_000 < grid.area_m2 < 11_000
    assert grid.layer_version == 1
    layer = db.session.scalar(select(GridLayer))
    assert (layer.name, layer.datum, layer.version, layer.feature_count) == ("南阳", "gcj02", 1, 13)
    assert (layer.source_name, layer.imported_by_id) == ("small_layer.geojson", user.id)
    assert layer.imported_at is not None


def test_datum_argument_and_codes_given_as_numbers(app):
    collection = small_layer()
    collection.pop("datum")
    props(collection, GRID1)["code"] = 411302001001001
    result = import_layer(collection, datum="wgs84")
    assert result.datum == "wgs84"
    assert area("411302001001001") is not None
    assert db.session.scalar(select(GridLayer.datum)) == "wgs84"


def test_multipolygon_areas_are_accepted(app):
    collection = small_layer()
    collection["features"][GRID1]["geometry"] = {"type": "MultiPolygon", "coordinates": [[ring(collection, GRID1)]]}
    result = import_layer(collection)
    assert result.created["unit_grid"] == 8
    assert shapely.from_wkb(area("411302001001001").geometry_wkb).geom_type == "MultiPolygon"


def test_reimport_bumps_the_version_updates_and_retires(imported):
    grid_removed = area("411302001002004")
    kept_id = area("411302001001001").id
    collection = small_layer()
    del collection["features"][-1]  # community 2's fourth grid
    props(collection, GRID1)["name"] = "网格一"
    result = import_layer(collection, source_name="second.geojson")
    db.session.commit()
    assert result.layer_version == 2
    assert result.updated == {"unit_grid": 1}
    assert result.retired == {"unit_grid": 1}
    assert result.created == {}
    assert result.unchanged["unit_grid"] == 6
    renamed = area("411302001001001")
    assert (renamed.id, renamed.name, renamed.layer_version) == (kept_id, "网格一", 2)
    retired = area("411302001002004")
    assert (retired.id, retired.active, retired.layer_version) == (grid_removed.id, False, 2)
    assert area("411302001002003").layer_version == 1
    layer = db.session.scalar(select(GridLayer))
    assert (layer.version, layer.source_name, layer.feature_count) == (2, "second.geojson", 12)

    again = import_layer(small_layer())
    assert again.layer_version == 3
    assert again.updated == {"unit_grid": 2}  # the renamed grid, and the retired one back
    assert area("411302001002004").active is True


def test_stored_ancestors_may_be_left_out_and_are_kept(imported):
    city = area("411300")
    collection = small_layer()
    del collection["features"][CITY]
    result = import_layer(collection)
    assert result.retired == {}
    assert result.unchanged["district"] == 1
    assert area("411300").active is True
    assert area("411302001001001").path.startswith(city.path)


def test_validate_layer_reports_without_writing(app):
    collection = small_layer()
    props(collection, GRID1)["level"] = "block"
    problems = validate_layer(collection)
    assert [(p.index, p.severity) for p in problems] == [(GRID1, "error")]
    assert validate_layer({"type": "Nope"})[0].reason == "not a GeoJSON FeatureCollection"
    assert validate_layer(small_layer()) == []
    assert db.session.scalar(select(func.count()).select_from(Area)) == 0


# --- code shapes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "length", "problem"),
    [
        ("411302", 6, None),
        ("411302001001001", 15, None),
        ("4113020010010", None, None),
        ("41130", 6, "has 5 digits"),
        ("41130a", 6, "only digits"),
        ("４１１３０２", 6, "only digits"),
    ],
)
def test_code_shape(code, length, problem):
    found = code_shape_problem(code, length)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize(
    ("code", "parent", "extends"),
    [
        ("411302", "411300", True),
        ("411402", "411300", False),
        ("411300", "411300", False),
        ("411300", "410000", True),
        ("411302001", "411302", True),
        ("411302001", "411303", False),
        ("411302001001001", "411302001001", True),
        ("411302001002001", "411302001001", False),
    ],
)
def test_code_extends_its_parent(code, parent, extends):
    assert extends_parent_code(code, parent) is extends


def test_significant_prefix():
    assert (significant_prefix("411300"), significant_prefix("410000"), significant_prefix("411302")) == (
        "4113", "41", "411302",
    )
    assert significant_prefix("411302001") == "411302001"


# --- the CLI ----------------------------------------------------------------------------


def _write(tmp_path, collection, name="layer.geojson") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_cli_import_commits_and_summarises(runner):
    result = runner.invoke(args=["grids", "import", str(SMALL_LAYER)])
    assert result.exit_code == 0, result.output
    assert "layer version 1 (gcj02), 13 features: created 13 (city 1, district 1" in result.output
    assert db.session.scalar(select(func.count()).select_from(Area)) == 13
    assert db.session.scalar(select(GridLayer.source_name)) == "small_layer.geojson"


def test_cli_dry_run_writes_nothing(runner):
    result = runner.invoke(args=["grids", "import", str(SMALL_LAYER), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "dry run, nothing written: layer version 1" in result.output
    assert db.session.scalar(select(func.count()).select_from(Area)) == 0


def test_cli_rejection_lists_every_problem_and_fails(runner, tmp_path):
    collection = small_layer()
    props(collection, GRID1)["generated"] = "no"
    _overlap(collection)
    result = runner.invoke(args=["grids", "import", _write(tmp_path, collection)])
    assert result.exit_code != 0
    assert f"ERROR   feature {GRID1} [411302001001001]: property 'generated' must be true or false" in result.output
    assert f"ERROR   feature {GRID2} [411302001001002]: overlaps unit grid 411302001001001" in result.output
    assert "rejected with 2 error(s); nothing was imported" in result.output
    assert db.session.scalar(select(func.count()).select_from(Area)) == 0


def test_cli_reports_warnings_and_datum_option(runner, tmp_path, app, monkeypatch):
    monkeypatch.setitem(app.config, "GRIDOPS_GRID_AREA_M2", 50_000)
    collection = small_layer()
    collection.pop("datum")
    result = runner.invoke(args=["grids", "import", _write(tmp_path, collection), "--datum", "wgs84"])
    assert result.exit_code == 0, result.output
    assert f"WARNING feature {GRID1} [411302001001001]: unit grid area" in result.output
    assert "(wgs84)" in result.output and "8 warning(s)" in result.output


def test_cli_rejects_text_that_is_not_json(runner):
    result = runner.invoke(args=["grids", "import", str(DATA / "not_json.geojson")])
    assert result.exit_code != 0
    assert "ERROR   file: not JSON:" in result.output


def test_cli_validate(runner, tmp_path):
    ok = runner.invoke(args=["grids", "validate", str(SMALL_LAYER)])
    assert ok.exit_code == 0 and "valid: 0 errors, 0 warning(s)" in ok.output
    collection = small_layer()
    props(collection, GRID1)["parent_code"] = "411302001009"
    bad = runner.invoke(args=["grids", "validate", _write(tmp_path, collection)])
    assert bad.exit_code != 0
    assert f"ERROR   feature {GRID1} [411302001001001]: unknown parent 411302001009" in bad.output
    assert "1 error(s), 0 warning(s): the file would be rejected" in bad.output
    not_json = runner.invoke(args=["grids", "validate", str(DATA / "not_json.geojson")])
    assert not_json.exit_code != 0 and "not JSON" in not_json.output
    assert db.session.scalar(select(func.count()).select_from(Area)) == 0

