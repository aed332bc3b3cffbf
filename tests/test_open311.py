"""Open311 GeoReport v2, tested as a 311 client would: both formats, the spec's XML rules, errors, paging, api_key."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from gridops.auth.tokens import issue_token
from gridops.cases.merging import merge_case
from gridops.cases.models import Case, CasePhoto
from gridops.db import utcnow
from gridops.extensions import db
from gridops.hotline.services import log_complaint
from gridops.territory.datum import convert
from tests.case_factories import GRID1_XY, make_case, make_world, png_bytes
from tests.test_api_cases import FreshContextClient

BASE = "/open311/v2"
#: The middle of grid 1 as a phone's GPS gives it (WGS-84 lat/long).
LONG, LAT = convert(*GRID1_XY, "gcj02", "wgs84")


@pytest.fixture
def client(app):
    """A client whose requests each get their own app context, like separate HTTP requests."""
    return FreshContextClient(app, app.response_class, use_cookies=False)


@pytest.fixture
def world(app):
    """The small city and staff, and an api_key for a public-report desk account."""
    world = make_world()
    world.api_key = issue_token(world.user("hotline_operator"), "311 app")[1]
    world.worker_key = issue_token(world.user("grid_worker"), "tablet")[1]
    db.session.commit()
    return world


def xml(response) -> ET.Element:
    assert response.headers["Content-Type"].startswith("text/xml"), response.headers["Content-Type"]
    return ET.fromstring(response.data)


def post(client, world, fmt="json", headers=None, **fields):
    data = {"api_key": world.api_key, "service_code": "E0102", "lat": str(LAT), "long": str(LONG),
            "description": "路边垃圾", **fields}
    data = {key: value for key, value in data.items() if value is not None}
    return client.post(f"{BASE}/requests.{fmt}", data=data, headers=headers or {})


def errors_of(response, fmt="json"):
    if fmt == "xml":
        root = xml(response)
        assert root.tag == "errors"
        return [(int(e.findtext("code")), e.findtext("description")) for e in root.findall("error")]
    body = response.get_json()
    assert isinstance(body, list) and body
    return [(item["code"], item["description"]) for item in body]


# -- discovery and services -------------------------------------------------------------------------


def test_discovery_in_both_formats(client, world):
    body = client.get(f"{BASE}/discovery.json").get_json()
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and set(endpoint["formats"]) == {"text/xml", "application/json"}
    root = xml(client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]
    assert root.findtext("endpoints/endpoint/specification") == endpoint["specification"]


def test_services_are_the_small_classes_grouped_by_big_class(client, world):
    services = client.get(f"{BASE}/services.json").get_json()
    by_code = {s["service_code"]: s for s in services}
    garbage = by_code["E0102"]
    assert garbage["service_name"] == "暴露垃圾" and garbage["group"] == "市容环境"
    assert garbage["metadata"] is False and garbage["type"] == "realtime"
    assert by_code["E0101"]["metadata"] is True  # illegal structure: two filing standards
    assert "C0101" in by_code
    english = {s["service_code"]: s for s in
               client.get(f"{BASE}/services.json", headers={"Accept-Language": "en"}).get_json()}
    assert english["E0102"]["service_name"] == "Exposed garbage"

    root = xml(client.get(f"{BASE}/services.xml"))
    assert root.tag == "services"
    items = root.findall("service")
    assert len(items) == len(services)
    first = items[0]
    assert [child.tag for child in first] == ["service_code", "service_name", "description", "metadata", "type",
                                            "keywords", "group"]
    assert {s.findtext("metadata") for s in items} == {"true", "false"}


def test_service_definition_asks_for_the_standard_where_there_are_several(client, world):
    body = client.get(f"{BASE}/services/E0101.json").get_json()
    (attribute,) = body["attributes"]
    assert body["service_code"] == "E0101"
    assert attribute["code"] == "standard" and attribute["datatype"] == "singlevaluelist"
    assert attribute["required"] is True and attribute["variable"] is True and len(attribute["values"]) == 2
    root = xml(client.get(f"{BASE}/services/E0101.xml"))
    assert root.tag == "service_definition"
    assert root.findtext("service_code") == "E0101"
    assert len(root.findall("attributes/attribute/values/value")) == 2
    assert root.findtext("attributes/attribute/required") == "true"
    assert client.get(f"{BASE}/services/E0102.json").get_json() == {"service_code": "E0102", "attributes": []}
    for fmt in ("json", "xml"):
        response = client.get(f"{BASE}/services/E9999.{fmt}")
        assert response.status_code == 404 and errors_of(response, fmt)[0][0] == 404


# -- filing -------------------------------------------------------------------------------------------


def test_post_files_a_public_case_located_in_its_grid(client, world):
    response = post(client, world, first_name="张", last_name="三", email="zs@example.com", phone="13812345678",
                    address_string="建设路 12 号")
    assert response.status_code == 201, response.get_data(as_text=True)
    (answer,) = response.get_json()
    assert set(answer) == {"service_request_id", "service_notice", "account_id", "token"}
    case = db.session.scalar(select(Case).where(Case.number == answer["service_request_id"]))
    assert case.source == "public" and case.state == "verifying"
    assert case.unit_grid_id == world.areas["grid1"].id and case.datum == "wgs84"
    assert case.reporter_id == world.user("hotline_operator").id
    assert case.address == "建设路 12 号" and case.description == "路边垃圾"
    # Callers' personal data is not kept: nothing of it is anywhere in the case.
    assert "13812345678" not in json.dumps([case.description, case.address], ensure_ascii=False)

    token = client.get(f"{BASE}/tokens/{answer['token']}.json").get_json()
    assert token == [{"service_request_id": case.number, "token": answer["token"]}]
    root = xml(client.get(f"{BASE}/tokens/{answer['token']}.xml"))
    assert root.tag == "service_requests" and root.findtext("request/service_request_id") == case.number
    assert client.get(f"{BASE}/tokens/forged.json").status_code == 404


def test_post_in_xml_and_multipart_with_media(client, world):
    response = client.post(
        f"{BASE}/requests.xml",
        data={"api_key": world.api_key, "service_code": "C0302", "lat": str(LAT), "long": str(LONG),
              "media": (io.BytesIO(png_bytes()), "bin.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    root = xml(response)
    assert root.tag == "service_requests"
    number = root.findtext("request/service_request_id")
    case = db.session.scalar(select(Case).where(Case.number == number))
    assert case.small_class.full_code == "C0302"
    assert db.session.scalar(select(func.count()).select_from(CasePhoto).where(CasePhoto.case_id == case.id)) == 1


def test_post_with_a_standard_attribute(client, world):
    standards = client.get(f"{BASE}/services/E0101.json").get_json()["attributes"][0]["values"]
    response = post(client, world, service_code="E0101")
    assert response.status_code == 400 and "attribute[standard]" in errors_of(response)[0][1]
    response = post(client, world, service_code="E0101", **{"attribute[standard]": standards[1]["key"]})
    assert response.status_code == 201
    case = db.session.scalar(select(Case).where(Case.number == response.get_json()[0]["service_request_id"]))
    assert str(case.standard_id) == standards[1]["key"]


def test_the_same_idempotency_key_files_once(client, world):
    first = post(client, world, headers={"Idempotency-Key": "app-42"})
    again = post(client, world, headers={"Idempotency-Key": "app-42"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()[0]["service_request_id"] == again.get_json()[0]["service_request_id"]
    assert db.session.scalar(select(func.count()).select_from(Case)) == 1


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_refusals_are_the_specs_error_list(client, world, fmt):
    cases = [
        (dict(api_key=None), 403),
        (dict(api_key="gro_not-a-token"), 403),
        (dict(api_key=world.worker_key), 403),  # a grid worker's token may not file public reports
        (dict(service_code=None), 400),
        (dict(service_code="E9999"), 404),
        (dict(lat=None, long=None), 400),
        (dict(long=None), 400),
        (dict(lat="north"), 400),
        (dict(lat="91"), 400),
        (dict(lat="20.0", long="100.0"), 400),  # outside the territory
        (dict(lat=None, long=None, address_string="没有这个地方"), 400),
        (dict(description="x" * 5000), 400),
    ]
    for fields, status in cases:
        response = post(client, world, fmt, **fields)
        assert response.status_code == status, (fields, response.get_data(as_text=True))
        assert errors_of(response, fmt)[0][0] == status
    assert db.session.scalar(select(func.count()).select_from(Case)) == 0


# -- reading ------------------------------------------------------------------------------------------


def _iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


def test_a_request_as_json_array_and_xml(client, world):
    case = make_case("dispatched", world=world, now=utcnow() - timedelta(hours=1))
    db.session.commit()
    (item,) = client.get(f"{BASE}/requests/{case.number}.json").get_json()
    assert item["service_request_id"] == case.number and item["status"] == "open"
    assert item["status_notes"] == "Dispatched" or item["status_notes"] == "已派遣"
    assert item["agency_responsible"] == "环卫处" and item["service_code"] == "E0102"
    # W3C times with the city's offset, to the second.
    assert item["requested_datetime"].endswith("+08:00")
    assert _iso(item["requested_datetime"]) == case.reported_at.replace(microsecond=0)
    assert _iso(item["updated_datetime"]) >= _iso(item["requested_datetime"])
    assert _iso(item["expected_datetime"]) == case.handle_due_at.replace(microsecond=0)
    assert item["lat"] == pytest.approx(LAT, abs=1e-6) and item["long"] == pytest.approx(LONG, abs=1e-6)
    root = xml(client.get(f"{BASE}/requests/{case.number}.xml"))
    assert root.tag == "service_requests"
    (request,) = root.findall("request")
    assert request.findtext("service_request_id") == case.number and request.findtext("status") == "open"
    assert request.find("media_url") is not None and request.findtext("media_url") in (None, "")
    for fmt in ("json", "xml"):
        response = client.get(f"{BASE}/requests/20200101-1.{fmt}")
        assert response.status_code == 404 and errors_of(response, fmt)[0][0] == 404


def test_extensions_add_the_detailed_state_and_the_public_timeline(client, world):
    case = make_case("handling", world=world, now=utcnow())
    db.session.commit()
    (item,) = client.get(f"{BASE}/requests/{case.number}.json?extensions=true").get_json()
    extra = item["extended_attributes"]
    assert extra["state"] == "handling"
    assert [e["action"] for e in extra["timeline"]] == ["file", "register", "dispatch", "sign"]
    assert set(extra["timeline"][0]) == {"at", "action", "action_name", "from_state", "to_state"}
    root = xml(client.get(f"{BASE}/requests/{case.number}.xml?extensions=true"))
    assert [e.findtext("action") for e in root.findall("request/extended_attributes/timeline/event")] == [
        "file", "register", "dispatch", "sign"]
    assert "extended_attributes" not in client.get(f"{BASE}/requests/{case.number}.json").get_json()[0]


def test_no_personal_data_of_callers_or_staff(client, world):
    complaint = log_complaint(
        world.user("hotline_operator"), caller_name="李四", phone="13987654321",
        content="我是李四，电话13987654321，楼下垃圾没人清", case_type="event", small_class_code="0102",
        x=GRID1_XY[0], y=GRID1_XY[1], datum="gcj02", now=utcnow(),
    )
    patrol = make_case("closed", world=world, now=utcnow())
    db.session.commit()
    staff = {user.username for user in world.users.values()} | {user.full_name for user in world.users.values()}
    for number in (complaint.case.number, patrol.number):
        for fmt in ("json", "xml"):
            for query in ("", "?extensions=true"):
                text = client.get(f"{BASE}/requests/{number}.{fmt}{query}").get_data(as_text=True)
                assert "李四" not in text and "13987654321" not in text and "987654" not in text
                assert not any(name in text for name in staff), text
    listing = client.get(f"{BASE}/requests.json?extensions=true").get_data(as_text=True)
    assert "李四" not in listing and "13987654321" not in listing


def test_status_closed_for_final_states_and_merged_names_the_master(client, world):
    closed = make_case("closed", world=world, now=utcnow())
    master = make_case("reported", world=world, now=utcnow())
    duplicate = make_case("reported", world=world, now=utcnow())
    merge_case(duplicate, master, world.user("intake_operator"))
    db.session.commit()
    items = {i["service_request_id"]: i for i in client.get(
        f"{BASE}/requests.json?service_request_id={closed.number},{master.number},{duplicate.number}").get_json()}
    assert items[closed.number]["status"] == "closed" and items[master.number]["status"] == "open"
    assert items[duplicate.number]["status"] == "closed" and master.number in items[duplicate.number]["status_notes"]
    assert items[closed.number]["expected_datetime"] is None


def test_list_filters_and_pages(client, world):
    now = utcnow()
    cases = [make_case("reported", world=world, now=now - timedelta(hours=n)) for n in range(5)]
    light = make_case("closed", world=world, small_class_code="0104", now=now - timedelta(days=3))
    old = make_case("reported", world=world, now=now - timedelta(days=100))
    db.session.commit()

    def ids(query, fmt="json"):
        response = client.get(f"{BASE}/requests.{fmt}{query}")
        assert response.status_code == 200, response.get_data(as_text=True)
        if fmt == "xml":
            root = xml(response)
            assert root.tag == "service_requests"
            return [r.findtext("service_request_id") for r in root.findall("request")]
        return [item["service_request_id"] for item in response.get_json()]

    newest_first = [case.number for case in cases] + [light.number]
    assert ids("") == newest_first  # the last 90 days by default: the 100-day-old case is not listed
    assert ids("", "xml") == newest_first
    assert ids("?service_code=E0104") == [light.number]
    assert ids("?service_code=E0102,E0104&status=closed") == [light.number]
    assert ids("?status=open") == [case.number for case in cases]
    assert ids("?page_size=2&page=2") == newest_first[2:4]
    assert ids("?page_size=2&page=9") == []
    assert ids(f"?service_request_id={old.number},{cases[0].number}&status=closed") == [cases[0].number, old.number]
    start = (now - timedelta(days=120)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now - timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(f"?start_date={start}&end_date={end}") == [old.number]
    assert ids(f"?start_date={start}") == [old.number]
    day = (now - timedelta(days=3)).astimezone().date().isoformat()
    assert light.number in ids(f"?start_date={day}&end_date={now.date().isoformat()}")


@pytest.mark.parametrize("query", [
    "page=0", "page=x", "page_size=1000", "page_size=-1", "status=pending", "start_date=yesterday",
    "end_date=2026-13-01", "start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
    "start_date=2026-06-01T00:00:00Z&end_date=2026-05-01T00:00:00Z", "page=1&page=2", "service_code=E9999",
])
def test_bad_list_queries_are_400_or_404_errors(client, world, query):
    for fmt in ("json", "xml"):
        response = client.get(f"{BASE}/requests.{fmt}?{query}")
        assert response.status_code in (400, 404), (query, response.status_code)
        assert errors_of(response, fmt)[0][0] == response.status_code


def test_unknown_paths_and_formats_are_404_error_lists(client, world):
    for path, fmt in (("/nothing.xml", "xml"), ("/services.csv", "json"), ("/requests/1.yaml", "json")):
        response = client.get(BASE + path)
        assert response.status_code == 404 and errors_of(response, fmt)[0][0] == 404


def test_post_needs_no_csrf_token(app, world):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        client = FreshContextClient(app, app.response_class)
        assert post(client, world).status_code == 201
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


@pytest.mark.parametrize("path", [
    "/requests.json?end_date=9999-12-31", "/requests.json?start_date=0001-01-01", "/requests.json?end_date=1900-01-01",
    "/requests.json?service_request_id=%00", "/requests/%00.json", "/tokens/%00x.json",
    "/requests.json?start_date=2026-06-01T00:00:00%2B99:00", "/services/E01%00.json",
    "/requests.json?service_code=,,,", "/requests.json?page=99999",
])
def test_odd_queries_never_fail_the_server(client, world, path):
    response = client.get(BASE + path)
    assert response.status_code in (200, 400, 404), (path, response.status_code)
    assert isinstance(response.get_json(), list)


def test_odd_posts_never_fail_the_server(client, world):
    for fields in ({"description": "a\x00b"}, {"address_string": "x" * 10_000, "lat": None, "long": None},
                   {"lat": "1e308"}, {"long": "nan"}, {"idempotency_key": "k" * 500}):
        response = post(client, world, **fields)
        assert response.status_code == 400, (fields, response.get_data(as_text=True))


# -- jurisdiction_id ------------------------------------------------------------------------------


def _jurisdiction_calls(world, jurisdiction: str):
    """(method, path, form) for every endpoint, each sending ``jurisdiction``."""
    case = make_case("dispatched", world=world)
    db.session.commit()
    query = f"jurisdiction_id={jurisdiction}"
    for fmt in ("json", "xml"):
        yield "get", f"{BASE}/discovery.{fmt}?{query}", None
        yield "get", f"{BASE}/services.{fmt}?{query}", None
        yield "get", f"{BASE}/services/E0101.{fmt}?{query}", None
        yield "get", f"{BASE}/requests.{fmt}?{query}", None
        yield "get", f"{BASE}/requests/{case.number}.{fmt}?{query}", None
        yield "get", f"{BASE}/tokens/nothing.{fmt}?{query}", None
        yield "post", f"{BASE}/requests.{fmt}", {
            "api_key": world.api_key, "service_code": "E0102", "lat": str(LAT), "long": str(LONG),
            "description": "路边垃圾", "jurisdiction_id": jurisdiction, "idempotency_key": f"j-{fmt}"}


def test_discovery_announces_the_jurisdiction_by_default_the_host(client, world, app, monkeypatch):
    assert client.get(f"{BASE}/discovery.json").get_json()["jurisdiction_id"] == "localhost"
    assert xml(client.get(f"{BASE}/discovery.xml", base_url="http://City.Example:8080")).findtext(
        "jurisdiction_id") == "city.example"
    monkeypatch.setitem(app.config, "GRIDOPS_OPEN311_JURISDICTION", "luoyang.gov.cn")
    assert client.get(f"{BASE}/discovery.json").get_json()["jurisdiction_id"] == "luoyang.gov.cn"
    assert xml(client.get(f"{BASE}/discovery.xml")).findtext("jurisdiction_id") == "luoyang.gov.cn"


def test_every_endpoint_takes_this_citys_jurisdiction_id_in_any_case(client, world, app, monkeypatch):
    monkeypatch.setitem(app.config, "GRIDOPS_OPEN311_JURISDICTION", "luoyang.gov.cn")
    for method, path, form in _jurisdiction_calls(world, "LuoYang.gov.cn"):
        response = client.open(path, method=method.upper(), data=form)
        expected = 404 if "/tokens/" in path else (201 if method == "post" else 200)
        assert response.status_code == expected, (path, response.get_data(as_text=True))
        if expected == 404:  # the unknown token, not the jurisdiction
            assert "jurisdiction" not in response.get_data(as_text=True)


def test_every_endpoint_refuses_another_jurisdiction_with_the_specs_404(client, world, app, monkeypatch):
    monkeypatch.setitem(app.config, "GRIDOPS_OPEN311_JURISDICTION", "luoyang.gov.cn")
    for method, path, form in _jurisdiction_calls(world, "sfgov.org"):
        response = client.open(path, method=method.upper(), data=form)
        fmt = "xml" if ".xml" in path else "json"
        ((code, description),) = errors_of(response, fmt)
        assert response.status_code == 404 and code == 404, path
        assert "sfgov.org" in description and "luoyang.gov.cn" in description
    assert db.session.scalar(select(func.count()).select_from(Case).where(Case.source == "public")) == 0


def test_a_post_with_another_jurisdiction_in_the_query_string_files_nothing(client, world):
    response = client.post(f"{BASE}/requests.json?jurisdiction_id=sfgov.org",
                           data={"api_key": world.api_key, "service_code": "E0102", "lat": str(LAT),
                                 "long": str(LONG), "jurisdiction_id": "localhost"})
    assert response.status_code == 404 and errors_of(response)[0][0] == 404
    assert post(client, world, jurisdiction_id="localhost").status_code == 201
    assert db.session.scalar(select(func.count()).select_from(Case)) == 1
