import prcoords
import pytest
import shapely
from shapely.geometry import shape

from gridops.auth.tokens import issue_token
from gridops.extensions import db
from tests.factories import DX, DY, X0, Y0, make_small_city, make_user


@pytest.fixture
def city(app, client):
    """The small test city, and a client that calls as a grid worker with an API token."""
    areas = make_small_city()
    _, secret = issue_token(make_user(), "tablet 7")
    db.session.commit()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return areas


def assert_envelope(response, status: int, error: str, *fields: str) -> dict:
    assert response.status_code == status
    body = response.get_json()
    assert body["error"] == error
    assert body["message"]
    assert sorted(body["fields"]) == sorted(fields)
    return body


# ---- authentication -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", "/api/v1/areas?level=district"), ("get", "/api/v1/areas/411302"),
     ("get", "/api/v1/locate?x=112.55&y=33"), ("post", "/api/v1/locate")],
)
def test_signed_out_callers_get_401(app, client, method, url):
    make_small_city()
    db.session.commit()
    assert_envelope(getattr(client, method)(url), 401, "not_authenticated")


def test_signed_in_session_is_enough(app, client, auth):
    make_small_city()
    make_user()
    db.session.commit()
    auth.login()
    response = client.post("/api/v1/locate", json={"x": X0 + 0.5 * DX, "y": Y0 + 0.5 * DY, "datum": "gcj02"})
    assert response.status_code == 200
    assert response.get_json()["unit_grid"]["code"] == "411302001001003"


def test_unknown_token_gets_401(app, client):
    make_small_city()
    db.session.commit()
    response = client.get("/api/v1/areas?level=city", headers={"Authorization": "Bearer gro_nonsense"})
    assert_envelope(response, 401, "not_authenticated")


# ---- /areas ---------------------------------------------------------------------------


@pytest.fixture
def api(city, client):
    """GET a path as the signed-in worker."""
    return client.get


def test_list_a_level(api):
    response = api("/api/v1/areas?level=district")
    body = response.get_json()
    assert response.status_code == 200
    assert body["type"] == "FeatureCollection"
    assert body["datum"] == "gcj02"
    assert (body["total"], body["limit"], body["offset"]) == (1, 500, 0)
    (feature,) = body["features"]
    assert feature["id"] == "411302"
    assert feature["properties"] == {
        "code": "411302", "name": "宛城区", "name_en": None, "level": "district", "level_name": "区",
        "level_name_en": "District", "parent_code": "411300", "generated": False, "area_m2": None,
    }
    assert shape(feature["geometry"]).bounds == pytest.approx((X0, Y0, X0 + 3 * DX, Y0 + 2 * DY), abs=1e-9)


def test_unit_grids_of_a_parent(api):
    body = api("/api/v1/areas?level=unit_grid&parent=411302001001").get_json()
    assert [f["id"] for f in body["features"]] == [f"411302001001{i:03d}" for i in range(1, 5)]
    assert {f["properties"]["parent_code"] for f in body["features"]} == {"411302001001"}


def test_parent_means_the_whole_subtree(api):
    body = api("/api/v1/areas?parent=411302").get_json()
    assert [f["properties"]["level"] for f in body["features"]] == ["subdistrict", "community"] + ["unit_grid"] * 4


def test_unit_grids_in_a_bbox(api):
    bbox = f"{X0 + 0.2 * DX},{Y0 + 0.2 * DY},{X0 + 0.8 * DX},{Y0 + 0.8 * DY}"
    body = api(f"/api/v1/areas?level=unit_grid&bbox={bbox}").get_json()
    assert [f["id"] for f in body["features"]] == ["411302001001003"]


def test_text_search_and_paging(api):
    body = api("/api/v1/areas?level=unit_grid&parent=411302001001&q=002").get_json()
    assert [f["id"] for f in body["features"]] == ["411302001001002"]
    body = api("/api/v1/areas?level=unit_grid&parent=411302001001&limit=2&offset=2").get_json()
    assert [f["id"] for f in body["features"]] == ["411302001001003", "411302001001004"]
    assert body["total"] == 4
    body = api("/api/v1/areas?level=community&q=测试").get_json()
    assert [f["id"] for f in body["features"]] == ["411302001001"]
    body = api("/api/v1/areas?level=community&q=%25").get_json()
    assert body["features"] == []


def test_retired_areas_are_not_listed(api, city):
    city["grid2"].active = False
    db.session.commit()
    body = api("/api/v1/areas?level=unit_grid&parent=411302001001").get_json()
    assert "411302001001002" not in [f["id"] for f in body["features"]]


def test_simplify(api):
    body = api("/api/v1/areas?level=city&simplify=0.01").get_json()
    assert body["features"][0]["geometry"]["type"] == "Polygon"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("level=unit_grid", ("bbox", "parent")),
        ("", ("bbox", "parent")),
        ("level=street", ("level",)),
        ("level=district&parent=999999", ("parent",)),
        ("level=district&bbox=1,2,3", ("bbox",)),
        ("level=district&bbox=1,2,x,4", ("bbox",)),
        ("level=district&bbox=3,2,1,4", ("bbox",)),
        ("level=district&limit=0", ("limit",)),
        ("level=district&limit=5001", ("limit",)),
        ("level=district&limit=ten", ("limit",)),
        ("level=district&offset=-1", ("offset",)),
        ("level=district&simplify=-1", ("simplify",)),
        ("level=district&simplify=nan", ("simplify",)),
        ("level=district&q=" + "x" * 101, ("q",)),
    ],
)
def test_bad_area_queries_name_the_field(api, query, field):
    assert_envelope(api(f"/api/v1/areas?{query}"), 422, "validation_failed", *field)


# ---- /areas/<code> --------------------------------------------------------------------


def test_one_area_with_its_chain(api):
    response = api("/api/v1/areas/411302001001002")
    feature = response.get_json()
    assert response.status_code == 200
    assert feature["type"] == "Feature" and feature["id"] == "411302001001002"
    assert feature["datum"] == "gcj02"
    assert feature["properties"]["active"] is True
    assert [item["code"] for item in feature["properties"]["chain"]] == [
        "411300", "411302", "411302001", "411302001001", "411302001001002",
    ]
    assert feature["properties"]["chain"][-1]["level_name"] == "单元网格"
    assert shape(feature["geometry"]).contains(shapely.Point(X0 + 1.5 * DX, Y0 + 1.5 * DY))


def test_retired_area_is_still_shown(api, city):
    city["grid2"].active = False
    db.session.commit()
    assert api("/api/v1/areas/411302001001002").get_json()["properties"]["active"] is False


def test_unknown_area_is_404(api):
    assert_envelope(api("/api/v1/areas/000000"), 404, "not_found", "code")


# ---- /locate --------------------------------------------------------------------------


def test_locate_by_query_string(api):
    response = api(f"/api/v1/locate?x={X0 + DX}&y={Y0 + DY}&datum=gcj02")
    body = response.get_json()
    assert response.status_code == 200
    assert body["unit_grid"]["code"] == "411302001001001"
    assert body["gap"] is False
    assert body["datum"] == "gcj02" and body["layer_version"] == 1
    assert [item["level"] for item in body["chain"]] == ["city", "district", "subdistrict", "community", "unit_grid"]


def test_locate_defaults_to_gps_positions(api):
    lat, lon = prcoords.gcj_wgs_bored((Y0 + 0.5 * DY, X0 + 1.5 * DX))
    body = api(f"/api/v1/locate?x={lon}&y={lat}").get_json()
    assert body["unit_grid"]["code"] == "411302001001004"


def test_locate_by_json_body(city, client):
    response = client.post("/api/v1/locate", json={"x": X0 + 2.5 * DX, "y": Y0 + DY, "datum": "gcj02"})
    body = response.get_json()
    assert response.status_code == 200
    assert body["gap"] is True and body["unit_grid"] is None
    assert body["area"]["code"] == "411302001001"


def test_locate_outside_is_422(api):
    body = assert_envelope(
        api(f"/api/v1/locate?x={X0 - DX}&y={Y0}&datum=gcj02"), 422, "outside_territory", "x", "y"
    )
    assert "outside the territory" in body["message"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (f"y={Y0}", "x"),
        (f"x={X0}", "y"),
        (f"x=&y={Y0}", "x"),
        (f"x=east&y={Y0}", "x"),
        (f"x={X0}&y=inf", "y"),
        (f"x=200&y={Y0}", "x"),
        (f"x={X0}&y={Y0}&datum=utm", "datum"),
        (f"x={X0}&y={Y0}&datum=", "datum"),
    ],
)
def test_bad_locate_query_names_the_field(api, query, field):
    assert_envelope(api(f"/api/v1/locate?{query}"), 422, "validation_failed", field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"y": Y0}, "x"),
        ({"x": True, "y": Y0}, "x"),
        ({"x": [X0], "y": Y0}, "x"),
        ({"x": X0, "y": None}, "y"),
        ({"x": X0, "y": Y0, "datum": 4326}, "datum"),
        ([X0, Y0], "body"),
    ],
)
def test_bad_locate_body_names_the_field(city, client, body, field):
    assert_envelope(client.post("/api/v1/locate", json=body), 422, "validation_failed", field)


def test_locate_body_that_is_not_json(city, client):
    response = client.post("/api/v1/locate", data="x=1", content_type="text/plain")
    assert_envelope(response, 422, "validation_failed", "body")
