"""Catalogue API: the tree, units, routing rules, history; edits for administrators only."""

from __future__ import annotations

import re

import pytest

from gridops.auth.tokens import issue_token
from gridops.catalogue.services import find_small_class, seed_default_catalogue
from gridops.extensions import db
from tests.factories import make_department, make_small_city, make_user


@pytest.fixture
def world(app):
    """Seeded catalogue, the tiny city, two units, and API tokens for an admin and a dispatcher."""
    seed_default_catalogue()
    areas = make_small_city()
    bureau = make_department("WC-CGJ", "宛城区城管局", "bureau", area=areas["district"])
    make_department("JD-1", "测试街道办事处", "street_office", area=areas["subdistrict"], parent=bureau)
    make_department("OLD", "已撤销单位", "sanitation", active=False)
    tokens = {}
    for role in ("admin", "dispatcher"):
        _, tokens[role] = issue_token(make_user(role, role=role), "test")
    db.session.commit()
    return tokens


def call(client, token, method, url, **kwargs):
    """Call the API with a bearer token, in an app context of its own as a real request has
    (the test's open context would otherwise keep the first caller as ``current_user``)."""
    with client.application.app_context():
        return getattr(client, method)(url, headers={"Authorization": f"Bearer {token}"}, **kwargs)


def assert_envelope(response, status, error, *fields) -> dict:
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["error"] == error and body["message"]
    assert sorted(body["fields"]) == sorted(fields)
    return body


def test_catalogue_tree_with_limits_and_nine_words(client, world):
    body = call(client, world["dispatcher"], "get", "/api/v1/catalogue").get_json()
    assert [t["case_type"] for t in body["types"]] == ["component", "event"]
    events = body["types"][1]
    assert [b["code"] for b in events["big_classes"]] == ["01", "02", "03", "04", "05", "06"]
    structure = events["big_classes"][0]["small_classes"][0]
    assert (structure["full_code"], structure["nine_word"], structure["nine_word_en"]) == ("E0101", "齐", "tidy")
    assert [s["limit"] for s in structure["standards"]] == [
        {"value": 4, "clock": "working_hours"},
        {"value": 20, "clock": "working_days"},
    ]
    assert len(body["nine_words"]) == 9
    total = sum(len(b["small_classes"]) for t in body["types"] for b in t["big_classes"])
    assert total == 33


def test_inactive_entries_only_with_active_all(client, world):
    call(client, world["admin"], "delete", "/api/v1/catalogue/small-classes/E0102")

    def codes(body):
        return {s["full_code"] for t in body["types"] for b in t["big_classes"] for s in b["small_classes"]}

    assert "E0102" not in codes(call(client, world["dispatcher"], "get", "/api/v1/catalogue").get_json())
    assert "E0102" in codes(call(client, world["dispatcher"], "get", "/api/v1/catalogue?active=all").get_json())
    assert_envelope(call(client, world["dispatcher"], "get", "/api/v1/catalogue?active=maybe"), 422,
                    "validation_failed", "active")


def test_units_with_kind_area_and_parent(client, world):
    body = call(client, world["dispatcher"], "get", "/api/v1/units").get_json()
    assert [u["code"] for u in body["units"]] == ["JD-1", "WC-CGJ"]
    office = body["units"][0]
    assert (office["kind"], office["area"]["code"], office["parent"]) == ("street_office", "411302001", "WC-CGJ")
    narrowed = call(client, world["dispatcher"], "get", "/api/v1/units?kind=bureau&active=all").get_json()
    assert [u["code"] for u in narrowed["units"]] == ["WC-CGJ"]
    everything = call(client, world["dispatcher"], "get", "/api/v1/units?active=all").get_json()
    assert len(everything["units"]) == 3


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("post", "/api/v1/catalogue/small-classes", {"case_type": "event", "code": "0505", "name": "x"}),
        ("patch", "/api/v1/catalogue/small-classes/E0102", {"name": "x"}),
        ("delete", "/api/v1/catalogue/small-classes/E0102", None),
        ("post", "/api/v1/catalogue/small-classes/E0102/standards", {"limit_value": 1, "limit_clock": "working_days"}),
        ("patch", "/api/v1/catalogue/standards/{standard}", {"limit_value": 1}),
        ("delete", "/api/v1/catalogue/standards/{standard}", None),
        ("post", "/api/v1/catalogue/routing-rules",
         {"area": "411302", "department": "WC-CGJ", "basis": "territory"}),
        ("get", "/api/v1/catalogue/history", None),
    ],
)
def test_edits_and_history_are_for_administrators(client, world, method, url, body):
    url = url.format(standard=find_small_class("event", "0101").standards[1].id)
    kwargs = {"json": body} if body is not None else {}
    assert_envelope(call(client, world["dispatcher"], method, url, **kwargs), 403, "not_allowed")
    assert call(client, world["admin"], method, url, **kwargs).status_code in (200, 201)


def test_routing_rules_are_for_administrators_to_change_too(client, world):
    created = call(client, world["admin"], "post", "/api/v1/catalogue/routing-rules",
                   json={"small_class": "E0504", "area": "411302001", "department": "JD-1",
                         "basis": "territory", "priority": 5})
    assert created.status_code == 201
    rule = created.get_json()
    assert (rule["small_class"], rule["area"]["code"], rule["department"]["code"]) == ("E0504", "411302001", "JD-1")
    url = f"/api/v1/catalogue/routing-rules/{rule['id']}"
    assert_envelope(call(client, world["dispatcher"], "patch", url, json={"priority": 1}), 403, "not_allowed")
    assert_envelope(call(client, world["dispatcher"], "delete", url), 403, "not_allowed")
    assert call(client, world["admin"], "patch", url, json={"priority": 1}).get_json()["priority"] == 1
    listed = call(client, world["dispatcher"], "get", "/api/v1/catalogue/routing-rules").get_json()
    assert [r["id"] for r in listed["rules"]] == [rule["id"]]
    assert call(client, world["admin"], "delete", url).get_json()["active"] is False
    assert call(client, world["dispatcher"], "get", "/api/v1/catalogue/routing-rules").get_json()["rules"] == []


def test_validation_errors_name_the_fields(client, world):
    admin = world["admin"]
    response = call(client, admin, "post", "/api/v1/catalogue/small-classes",
                    json={"case_type": "event", "code": "05x", "nine_word": "好"})
    assert_envelope(response, 422, "validation_failed", "code", "nine_word", "name")
    response = call(client, admin, "post", "/api/v1/catalogue/small-classes/E0102/standards",
                    json={"limit_value": -1, "limit_clock": "fortnights"})
    assert_envelope(response, 422, "validation_failed", "limit_value", "limit_clock")
    response = call(client, admin, "post", "/api/v1/catalogue/routing-rules",
                    json={"area": "000", "department": "OLD", "basis": "territory"})
    assert_envelope(response, 422, "validation_failed", "area", "department")
    response = call(client, admin, "patch", "/api/v1/catalogue/small-classes/E0102", data="not json")
    assert_envelope(response, 422, "validation_failed", "body")
    standard = find_small_class("event", "0102").standards[0].id
    response = call(client, admin, "delete", f"/api/v1/catalogue/standards/{standard}")
    assert_envelope(response, 422, "validation_failed", "active")


def test_unknown_entries_are_404(client, world):
    for method, url in [
        ("patch", "/api/v1/catalogue/small-classes/E9999"),
        ("post", "/api/v1/catalogue/small-classes/bogus/standards"),
        ("patch", "/api/v1/catalogue/standards/999999"),
        ("delete", "/api/v1/catalogue/routing-rules/999999"),
    ]:
        assert_envelope(call(client, world["admin"], method, url, json={}), 404, "not_found")


def test_history_lists_edits_newest_first_with_who(client, world):
    admin = world["admin"]
    call(client, admin, "patch", "/api/v1/catalogue/small-classes/E0102", json={"name_en": "Garbage"})
    standard = call(client, admin, "post", "/api/v1/catalogue/small-classes/E0102/standards",
                    json={"name": "大面积", "limit_value": 8, "limit_clock": "working_hours"}).get_json()
    body = call(client, admin, "get", "/api/v1/catalogue/history?limit=2").get_json()
    assert body["total"] == 12 + 33 + 35 + 2 and body["limit"] == 2
    newest, previous = body["changes"]
    assert (newest["entity"], newest["entity_id"], newest["action"]) == ("standard", standard["id"], "create")
    assert newest["changed_by"] == "admin" and newest["before"] is None
    assert (previous["before"]["name_en"], previous["after"]["name_en"]) == ("Exposed garbage", "Garbage")
    only = call(client, admin, "get", "/api/v1/catalogue/history?entity=small_class&entity_id="
                f"{find_small_class('event', '0102').id}").get_json()
    assert [c["action"] for c in only["changes"]] == ["update", "create"]
    assert only["changes"][1]["changed_by"] is None
    assert_envelope(call(client, admin, "get", "/api/v1/catalogue/history?entity=case"), 422,
                    "validation_failed", "entity")
    assert_envelope(call(client, admin, "get", "/api/v1/catalogue/history?limit=0"), 422,
                    "validation_failed", "limit")


def test_signed_out_callers_get_401(client, world):
    for url in ("/api/v1/catalogue", "/api/v1/units", "/api/v1/catalogue/history"):
        assert_envelope(client.get(url), 401, "not_authenticated")


def test_responses_match_the_published_schemas(client, world, app):
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    from gridops.api.catalogue import openapi_operations, openapi_schemas

    mine = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1")), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        and rule.rule.startswith(("/api/v1/catalogue", "/api/v1/units", "/api/v1/calendar"))
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert set(openapi_operations()) == mine
    error = {"type": "object", "required": ["error", "message", "fields"]}
    document = {"components": {"schemas": {**openapi_schemas(), "Error": error}}}
    registry = Registry().with_resource("urn:doc", Resource.from_contents(document, DRAFT202012))

    def check(response, path, method):
        operation = openapi_operations()[(path, method)]
        content = operation["responses"][str(response.status_code)]["content"]["application/json"]
        schema = {"$ref": "urn:doc#" + content["schema"]["$ref"][1:]}
        Draft202012Validator(schema, registry=registry).validate(response.get_json())

    admin, dispatcher = world["admin"], world["dispatcher"]
    check(call(client, dispatcher, "get", "/api/v1/catalogue?active=all"), "/catalogue", "get")
    check(call(client, dispatcher, "get", "/api/v1/units?active=all"), "/units", "get")
    created = call(client, admin, "post", "/api/v1/catalogue/routing-rules",
                   json={"area": "411302", "department": "WC-CGJ", "basis": "territory"})
    check(created, "/catalogue/routing-rules", "post")
    check(call(client, dispatcher, "get", "/api/v1/catalogue/routing-rules"), "/catalogue/routing-rules", "get")
    check(call(client, admin, "patch", f"/api/v1/catalogue/routing-rules/{created.get_json()['id']}",
               json={"priority": 3}), "/catalogue/routing-rules/{rule_id}", "patch")
    small = call(client, admin, "post", "/api/v1/catalogue/small-classes",
                 json={"case_type": "component", "code": "0601", "name": "其他"})
    check(small, "/catalogue/small-classes", "post")
    standard = call(client, admin, "post", "/api/v1/catalogue/small-classes/C0601/standards",
                    json={"limit_value": 3, "limit_clock": "natural_days"})
    check(standard, "/catalogue/small-classes/{full_code}/standards", "post")
    check(call(client, admin, "patch", f"/api/v1/catalogue/standards/{standard.get_json()['id']}",
               json={"closing_condition": "已修复"}), "/catalogue/standards/{standard_id}", "patch")
    check(call(client, admin, "get", "/api/v1/catalogue/history"), "/catalogue/history", "get")
    check(call(client, dispatcher, "get", "/api/v1/catalogue/history"), "/catalogue/history", "get")
    check(call(client, admin, "delete", "/api/v1/catalogue/small-classes/C0601"),
          "/catalogue/small-classes/{full_code}", "delete")
    check(call(client, admin, "patch", "/api/v1/catalogue/small-classes/C9999", json={}),
          "/catalogue/small-classes/{full_code}", "patch")
    check(call(client, admin, "put", "/api/v1/calendar/days/2027-01-01", json={"working": False, "note": "元旦"}),
          "/calendar/days/{day}", "put")
    check(call(client, admin, "delete", "/api/v1/calendar/days/2027-01-01"), "/calendar/days/{day}", "delete")
    check(call(client, admin, "post", "/api/v1/calendar/years", json={"year": 2031}), "/calendar/years", "post")
    check(call(client, admin, "put", "/api/v1/calendar/schedule", json={"hours": [["08:00", "12:00"]]}),
          "/calendar/schedule", "put")
    check(call(client, admin, "put", "/api/v1/calendar/thresholds", json={"natural_days": {"red": 1.5}}),
          "/calendar/thresholds", "put")
    check(call(client, dispatcher, "get", "/api/v1/calendar?year=2031"), "/calendar", "get")
    check(call(client, dispatcher, "put", "/api/v1/calendar/schedule", json={}), "/calendar/schedule", "put")


def test_control_characters_are_refused_not_stored(client, world):
    response = call(client, world["admin"], "patch", "/api/v1/catalogue/small-classes/E0102",
                    json={"name": "bad\u0000name"})
    assert_envelope(response, 422, "validation_failed", "name")
    response = call(client, world["admin"], "post", "/api/v1/catalogue/routing-rules",
                    json={"area": "41\u00001302", "department": "WC-CGJ", "basis": "owner"})
    assert_envelope(response, 422, "validation_failed", "area")
    assert_envelope(call(client, world["dispatcher"], "get", "/api/v1/units?kind=a%00b"), 422,
                    "validation_failed", "kind")


def test_calendar_read_by_all_changed_by_administrators(client, world):
    admin, dispatcher = world["admin"], world["dispatcher"]
    body = call(client, dispatcher, "get", "/api/v1/calendar?year=2026").get_json()
    assert (body["year"], body["source"], body["overrides"]) == (2026, "official", [])
    assert body["schedule"]["hours"] == [["08:00", "12:00"], ["14:00", "18:00"]]
    assert body["thresholds"]["working_hours"] == {"yellow": 0.8, "red": 1.0}
    assert call(client, dispatcher, "get", "/api/v1/calendar?year=2027").get_json()["source"] == "provisional"
    for method, url, payload in [
        ("put", "/api/v1/calendar/days/2027-01-01", {"working": False}),
        ("delete", "/api/v1/calendar/days/2027-01-01", None),
        ("post", "/api/v1/calendar/years", {"year": 2027}),
        ("put", "/api/v1/calendar/schedule", {"hours": [["08:00", "12:00"]]}),
        ("put", "/api/v1/calendar/thresholds", {}),
    ]:
        kwargs = {"json": payload} if payload is not None else {}
        assert_envelope(call(client, dispatcher, method, url, **kwargs), 403, "not_allowed")

    day = call(client, admin, "put", "/api/v1/calendar/days/2027-01-01", json={"working": False, "note": "元旦"})
    assert day.get_json() == {"day": "2027-01-01", "working": False, "source": "override", "note": "元旦"}
    assert call(client, dispatcher, "get", "/api/v1/calendar?year=2027").get_json()["overrides"] == [
        {"day": "2027-01-01", "working": False, "note": "元旦"}
    ]
    cleared = call(client, admin, "delete", "/api/v1/calendar/days/2027-01-01").get_json()
    assert cleared == {"day": "2027-01-01", "working": True, "source": "provisional", "note": ""}
    assert call(client, admin, "post", "/api/v1/calendar/years", json={"year": 2027}).get_json() == {
        "entered_years": [2027]
    }
    body = call(client, dispatcher, "get", "/api/v1/calendar?year=2027").get_json()
    assert body["source"] == "entered" and 2027 not in body["provisional_years"]


def test_calendar_validation_names_fields(client, world):
    admin = world["admin"]
    assert_envelope(call(client, admin, "put", "/api/v1/calendar/days/2027-02-30", json={"working": True}),
                    422, "validation_failed", "day")
    assert_envelope(call(client, admin, "put", "/api/v1/calendar/days/2027-02-01", json={"note": "x", "colour": 1}),
                    422, "validation_failed", "colour")
    assert_envelope(call(client, admin, "put", "/api/v1/calendar/days/2027-02-01", json={"note": "x"}),
                    422, "validation_failed", "working")
    assert_envelope(call(client, admin, "delete", "/api/v1/calendar/days/2027-02-01"), 422, "validation_failed", "day")
    assert_envelope(call(client, admin, "post", "/api/v1/calendar/years", json={"year": 2025}),
                    422, "validation_failed", "year")
    assert_envelope(call(client, admin, "put", "/api/v1/calendar/schedule", json={"hours": 5}),
                    422, "validation_failed", "hours")
    assert_envelope(call(client, admin, "put", "/api/v1/calendar/schedule", json={"seasons": [5]}),
                    422, "validation_failed", "seasons[0]")
    assert_envelope(call(client, admin, "put", "/api/v1/calendar/thresholds", json={"weeks": {}}),
                    422, "validation_failed", "thresholds.weeks")
    assert_envelope(call(client, admin, "get", "/api/v1/calendar?year=99999"), 422, "validation_failed", "year")
