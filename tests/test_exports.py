"""Case exports: CSV, XLSX and GeoJSON of what the caller may see, streamed in flat memory."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import insert

from gridops.cases.models import Case
from gridops.cases.serializers import EXPORT_COLUMNS
from gridops.catalogue.services import small_class_by_full_code
from gridops.db import utcnow
from gridops.extensions import db
from tests.test_api_cases import GRID1, GRID4, FreshContextClient, World, file_via_api, make_world


@pytest.fixture
def client(app):
    """A client whose requests each get their own app context."""
    return FreshContextClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def world(app) -> World:
    """The small city with catalogue, units, users and their tokens."""
    return make_world()


def read_csv(response) -> list[dict]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    reader = csv.DictReader(io.StringIO(text[1:]))
    assert tuple(reader.fieldnames) == EXPORT_COLUMNS
    return list(reader)


def test_csv_export_holds_only_what_the_caller_may_see(client, world):
    first = file_via_api(client, world, description="=HYPERLINK(\"http://evil\")")
    file_via_api(client, world, description="东侧", x=GRID4[0], y=GRID4[1])
    response = client.get("/api/v1/cases/export.csv", headers=world.headers("intake"))
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="cases-')
    rows = read_csv(response)
    assert len(rows) == 2
    by_number = {row["number"]: row for row in rows}
    row = by_number[first["number"]]
    assert row["description"] == "'=HYPERLINK(\"http://evil\")"  # never run as a formula
    assert row["small_class_code"] == "E0102" and row["state"] == "reported"
    assert row["unit_grid_code"] == world.areas["grid1"].code
    assert row["reported_at"].endswith("+08:00") and row["overdue"] == "False"
    outsider = read_csv(client.get("/api/v1/cases/export.csv", headers=world.headers("outsider")))
    assert [row["description"] for row in outsider] == ["东侧"]
    assert read_csv(client.get("/api/v1/cases/export.csv", headers=world.headers("staff"))) == []
    filtered = read_csv(client.get("/api/v1/cases/export.csv?q=东侧", headers=world.headers("intake")))
    assert [row["description"] for row in filtered] == ["东侧"]


def test_export_filters_are_checked_like_the_list(client, world):
    for kind in ("csv", "xlsx", "geojson"):
        response = client.get(f"/api/v1/cases/export.{kind}?state=lost", headers=world.headers("intake"))
        assert response.status_code == 422
        assert "state" in response.get_json()["fields"]
    assert client.get("/api/v1/cases/export.csv").status_code == 401


def test_xlsx_export_is_a_workbook_in_city_time(client, world):
    filed = file_via_api(client, world, description="\x07bell and\ttab")
    response = client.get("/api/v1/cases/export.xlsx", headers=world.headers("intake"))
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.data), read_only=True)["cases"]
    header, *rows = list(sheet.iter_rows(values_only=True))
    assert header == EXPORT_COLUMNS
    (row,) = rows
    values = dict(zip(header, row))
    assert values["number"] == filed["number"]
    assert values["description"] == "bell and\ttab"
    local = datetime.fromisoformat(filed["reported_at"]).astimezone(ZoneInfo("Asia/Shanghai"))
    assert abs(values["reported_at"] - local.replace(tzinfo=None)) < timedelta(milliseconds=1)


def test_geojson_export_is_a_feature_collection_of_points(client, world):
    filed = file_via_api(client, world)
    response = client.get("/api/v1/cases/export.geojson", headers=world.headers("worker"))
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    collection = json.loads(response.data)
    assert collection["type"] == "FeatureCollection" and collection["datum"] == "gcj02"
    (feature,) = collection["features"]
    assert feature["id"] == filed["number"]
    assert feature["geometry"]["type"] == "Point"
    assert feature["geometry"]["coordinates"] == pytest.approx([filed["layer"]["x"], filed["layer"]["y"]])
    assert feature["properties"]["description"] == "路边垃圾堆放"
    empty = json.loads(client.get("/api/v1/cases/export.geojson", headers=world.headers("staff")).data)
    assert empty["features"] == []


def insert_cases(world: World, count: int) -> None:
    """``count`` handling cases in grid 001, written in bulk (the services are not under test)."""
    small_class = small_class_by_full_code("E0102")
    grid = world.areas["grid1"]
    now = utcnow()
    rows = [
        {
            "number": f"{20260101000000 + i}",
            "source": "patrol",
            "case_type": "event",
            "small_class_id": small_class.id,
            "description": f"暴露垃圾，第 {i} 处，靠近路口的绿化带旁边",
            "address": f"测试路 {i} 号",
            "urgency": "normal",
            "x": GRID1[0],
            "y": GRID1[1],
            "datum": "gcj02",
            "layer_x": GRID1[0],
            "layer_y": GRID1[1],
            "layer_version": 1,
            "unit_grid_id": grid.id,
            "area_id": grid.id,
            "area_path": grid.path,
            "reporter_id": world.users["worker"].id,
            "state": "handling",
            "holder_department_id": world.sanitation.id,
            "reported_at": now - timedelta(minutes=i),
            "dispatched_at": now - timedelta(minutes=i) + timedelta(seconds=30),
            "handle_due_at": now + timedelta(hours=4) - timedelta(minutes=i),
        }
        for i in range(count)
    ]
    for start in range(0, count, 5_000):
        db.session.execute(insert(Case), rows[start:start + 5000])
    db.session.commit()


def streamed_peak(app, world: World, kind: str) -> tuple[int, int]:
    """(bytes sent, peak traced memory) while one export is generated and sent chunk by chunk."""
    client = app.test_client()
    tracemalloc.start()
    try:
        with app.app_context():
            response = client.get(f"/api/v1/cases/export.{kind}", headers=world.headers("intake"), buffered=False)
            assert response.status_code == 200
            sent = sum(len(chunk) for chunk in response.response)
            response.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return sent, peak


#: (format, small, large row counts), both at least one read batch (1,000 rows); openpyxl is
#: slow under tracemalloc, so XLSX runs smaller.
MEMORY_RUNS = [("csv", 2_000, 20_000), ("geojson", 2_000, 20_000), ("xlsx", 1_000, 4_000)]


@pytest.mark.parametrize(("kind", "small", "large"), MEMORY_RUNS)
def test_exports_stream_in_flat_memory(app, world, kind, small, large):
    insert_cases(world, small)
    small_sent, small_peak = streamed_peak(app, world, kind)
    db.session.execute(db.delete(Case))
    db.session.commit()
    insert_cases(world, large)
    large_sent, large_peak = streamed_peak(app, world, kind)
    assert large_sent > 0.8 * large / small * small_sent  # many times the rows went out…
    assert large_peak < 1.5 * small_peak + 1_000_000, (small_peak, large_peak)  # …in about the same memory
    assert large_peak < 20_000_000
