"""Territory export: the importer's own shape, sorted, and a lossless round trip."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import aliased

from gridops.errors import NotFound
from gridops.extensions import db
from gridops.territory.exporter import export_layer
from gridops.territory.importer import ImportRejected, import_layer
from gridops.territory.models import Area, GridLayer
from tests.test_territory_import import SMALL_LAYER, small_layer


def _areas() -> list[tuple]:
    """Every area as the import defines it, with the shape of its path instead of raw ids."""
    parent = aliased(Area)
    rows = db.session.execute(
        select(
            Area.id, Area.code, Area.name, Area.name_en, Area.level_rank, parent.code, Area.path,
            Area.geometry_wkb, Area.min_x, Area.min_y, Area.max_x, Area.max_y, Area.area_m2,
            Area.generated, Area.active,
        )
        .outerjoin(parent, Area.parent_id == parent.id)
        .order_by(Area.code)
    ).all()
    codes = {row.id: row.code for row in rows}
    return [
        (*row[1:6], [codes[int(part)] for part in row.path.strip("/").split("/")], *row[7:])
        for row in rows
    ]


def _empty_database() -> None:
    db.session.execute(update(Area).values(parent_id=None))
    db.session.execute(delete(Area))
    db.session.execute(delete(GridLayer))
    db.session.commit()


def test_export_has_the_import_shape_sorted_by_level_then_code(app):
    collection = small_layer()
    collection["features"].reverse()
    import_layer(collection)
    exported = export_layer()
    assert exported["type"] == "FeatureCollection"
    assert exported["datum"] == "gcj02"
    keys = [(f["properties"]["level"], f["properties"]["code"]) for f in exported["features"]]
    order = ["city", "district", "subdistrict", "community", "unit_grid"]
    assert keys == sorted(keys, key=lambda key: (order.index(key[0]), key[1]))
    grid = exported["features"][5]
    assert grid["properties"] == {
        "code": "411302001001001", "name": "网格001", "level": "unit_grid",
        "parent_code": "411302001001", "generated": True, "urban_rural_fringe": False,
    }
    assert exported["features"][0]["properties"] == {
        "code": "411300", "name": "南阳市", "name_en": "Nanyang", "level": "city", "generated": False,
        "urban_rural_fringe": False,
    }
    assert grid["geometry"] == small_layer()["features"][5]["geometry"]


def test_round_trip_into_an_empty_database_gives_the_same_areas(app):
    import_layer(small_layer())
    db.session.commit()
    before = _areas()
    exported = json.loads(json.dumps(export_layer(), ensure_ascii=False))
    _empty_database()
    result = import_layer(exported)
    db.session.commit()
    assert result.layer_version == 1
    assert sum(result.created.values()) == 13
    assert _areas() == before
    assert export_layer() == exported


def test_export_leaves_out_retired_areas_unless_asked(app):
    import_layer(small_layer())
    collection = small_layer()
    del collection["features"][-1]
    import_layer(collection)
    assert len(export_layer()["features"]) == 12
    archive = export_layer(include_retired=True)
    retired = [f["properties"] for f in archive["features"] if "active" in f["properties"]]
    assert retired == [
        {
            "code": "411302001002004", "name": "网格004", "level": "unit_grid",
            "parent_code": "411302001002", "generated": True, "urban_rural_fringe": False,
            "active": False,
        }
    ]
    with pytest.raises(ImportRejected) as caught:
        import_layer(archive)
    assert [(p.index, p.code) for p in caught.value.problems] == [(12, "411302001002004")]


def test_export_without_a_layer_is_not_found(app):
    with pytest.raises(NotFound):
        export_layer()


def test_cli_export_to_stdout_and_file(runner, tmp_path):
    assert runner.invoke(args=["grids", "import", str(SMALL_LAYER)]).exit_code == 0
    printed = runner.invoke(args=["grids", "export"])
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.output) == export_layer()
    target = tmp_path / "out.geojson"
    written = runner.invoke(args=["grids", "export", "-o", str(target)])
    assert written.exit_code == 0, written.output
    assert json.loads(target.read_text(encoding="utf-8")) == export_layer()
    assert "南阳市" in target.read_text(encoding="utf-8")


def test_cli_export_without_a_layer_fails(runner):
    result = runner.invoke(args=["grids", "export"])
    assert result.exit_code != 0
    assert "No territory layer has been imported yet." in result.output
