"""The OpenAPI document: valid, complete, and matched by real responses of every endpoint."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from gridops.api.openapi import build_document, registered_operations
from gridops.cases.states import ACTIONS, State
from gridops.db import utcnow
from gridops.evaluation.notices import generate_notice
from gridops.evaluation.periods import Period
from gridops.extensions import db
from gridops.supervision.services import sweep_escalations
from tests.test_api_cases import FreshContextClient, jpeg_bytes, make_world, new_case

PREFIX = "/api/v1"
DOCUMENT_URI = "urn:gridops:openapi"


@pytest.fixture
def client(app):
    """A client whose requests each get their own app context."""
    return FreshContextClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def world(app):
    """The small city with catalogue, units, users and their tokens."""
    return make_world()


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


class Conformance:
    """Checks real responses against the document: documented status, media type and body schema."""

    def __init__(self, document: dict):
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(DOCUMENT_URI, resource)
        self.seen: set[tuple[str, str]] = set()

    def check(self, response, path: str, method: str) -> dict | None:
        operation = self.document["paths"][path][method]
        status = str(response.status_code)
        assert status in operation["responses"], f"{method.upper()} {path} answered undocumented {status}"
        self.seen.add((path, method))
        content = operation["responses"][status].get("content")
        if not content:
            return None
        media_type = response.mimetype
        assert media_type in content, f"{method.upper()} {path} {status} sent undocumented {media_type}"
        if not media_type.endswith("json"):
            return None
        pointer = "/".join(
            ["", "paths", _escape(path), method, "responses", status, "content", _escape(media_type), "schema"]
        )
        validator = Draft202012Validator(
            {"$ref": f"{DOCUMENT_URI}#{pointer}"},
            registry=self.registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        body = response.get_json()
        errors = sorted(validator.iter_errors(body), key=str)
        assert not errors, f"{method.upper()} {path} {status}: {errors[0].message} at {list(errors[0].path)}"
        return body


def test_the_document_is_valid_openapi_3_1(client, world):
    response = client.get(f"{PREFIX}/openapi.json", headers=world.headers("worker"))
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_api_route_is_documented_and_nothing_more(app):
    document = build_document(app)
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert documented == registered_operations(app)
    assert {"/cases", "/cases/{number}/actions/{action}", "/cases/export.xlsx", "/units", "/catalogue",
            "/calendar", "/photos/{photo_id}", "/me", "/areas", "/locate"} <= set(document["paths"])


def test_action_names_and_states_come_from_the_transition_table(app):
    document = build_document(app)
    operation = document["paths"]["/cases/{number}/actions/{action}"]["post"]
    (action_param,) = [p for p in operation["parameters"] if p["name"] == "action"]
    assert action_param["schema"]["enum"] == list(ACTIONS)
    for action in ACTIONS.values():
        assert f"| {action.name} |" in operation["description"]
    schemas = document["components"]["schemas"]
    assert schemas["CaseSummary"]["properties"]["state"]["enum"] == [s.value for s in State]


def test_real_responses_match_the_document(client, world, app):
    document = build_document(app)
    conform = Conformance(document)
    worker, intake, admin = world.headers("worker"), world.headers("intake"), world.headers("admin")

    def call(method: str, path: str, template: str | None = None, **kwargs):
        response = client.open(PREFIX + path, method=method.upper(), **kwargs)
        return response, conform.check(response, template or path.split("?")[0], method)

    call("get", "/openapi.json", headers=worker)
    call("get", "/me", headers=worker)
    call("get", "/me")  # 401
    call("get", "/areas?level=community", headers=worker)
    call("get", "/areas", headers=worker)  # 422: unit grids need a parent or bbox
    grid = world.areas["grid1"].code
    call("get", f"/areas/{grid}", "/areas/{code}", headers=worker)
    call("get", "/areas/000", "/areas/{code}", headers=worker)
    call("get", "/locate?x=112.5505&y=33.0013&datum=gcj02", headers=worker)
    call("post", "/locate", json={"x": 112.5505, "y": 33.0013, "datum": "gcj02"}, headers=worker)
    call("post", "/locate", json={"x": 100, "y": 20}, headers=worker)

    _, filed = call("post", "/cases", json=new_case(), headers={**worker, "Idempotency-Key": "doc-1"})
    call("post", "/cases", json=new_case(), headers={**worker, "Idempotency-Key": "doc-1"})
    call("post", "/cases", json=new_case(x="far"), headers=worker)
    call("post", "/cases", json=new_case(), headers=world.headers("staff"))  # 403
    number = filed["number"]
    form = {key: str(value) for key, value in new_case(description="带照片").items()}
    form["photos"] = [(io.BytesIO(jpeg_bytes()), "near.jpg")]
    _, with_photo = call("post", "/cases", data=form, content_type="multipart/form-data", headers=worker)
    call("get", "/cases?state=reported&limit=1", headers=intake)
    call("get", "/cases?state=nowhere", headers=intake)
    call("get", f"/cases/{number}", "/cases/{number}", headers=intake)
    call("get", f"/cases/{number}", "/cases/{number}", headers=world.headers("outsider"))
    action = "/cases/{number}/actions/{action}"
    call("post", f"/cases/{number}/actions/register", action, json={"expected_version": 9}, headers=intake)
    call("post", f"/cases/{number}/actions/register", action, json={}, headers=world.headers("dispatcher"))
    call("post", f"/cases/{number}/actions/cancel", action, json={}, headers=intake)
    call("post", f"/cases/{number}/actions/register", action, json={"expected_version": 1}, headers=intake)
    call("post", f"/cases/{number}/actions/register", action, json={}, headers=intake)  # 409
    call("post", f"/cases/{number}/actions/dispatch", action, json={"unit": "SAN01"},
         headers=world.headers("dispatcher"))
    near = new_case()
    call("get", f"/cases/duplicates?small_class=E0102&x={near['x']}&y={near['y']}&datum=gcj02&exclude={number}",
         headers=intake)
    call("get", "/cases/duplicates?small_class=E9999&x=1&y=1", headers=intake)  # 422
    call("get", f"/cases/{with_photo['number']}/duplicates", "/cases/{number}/duplicates", headers=intake)
    call("get", "/cases/nope/duplicates", "/cases/{number}/duplicates", headers=intake)  # 404
    for kind in ("csv", "xlsx", "geojson"):
        call("get", f"/cases/export.{kind}?state=dispatched", headers=intake)
        call("get", f"/cases/export.{kind}?overdue=perhaps", headers=intake)

    photo_id = with_photo["photos"][0]["id"]
    call("get", f"/photos/{photo_id}", "/photos/{photo_id}", headers=worker)
    call("get", f"/photos/{photo_id}/thumb", "/photos/{photo_id}/thumb", headers=worker)
    call("get", f"/photos/{photo_id}", "/photos/{photo_id}", headers=world.headers("outsider"))

    call("get", "/catalogue?active=all", headers=worker)
    call("get", "/catalogue?active=sometimes", headers=worker)
    call("get", "/catalogue/routing-rules", headers=worker)
    call("get", "/units?kind=sanitation", headers=worker)
    call("get", "/catalogue/history", headers=worker)  # 403
    _, small = call("post", "/catalogue/small-classes",
                    json={"case_type": "event", "code": "0699", "name": "测试小类", "nine_word": "净"}, headers=admin)
    call("post", "/catalogue/small-classes", json={"case_type": "event"}, headers=admin)  # 422
    call("post", "/catalogue/small-classes", json={"case_type": "event", "code": "0698", "name": "x"}, headers=worker)
    code = small["full_code"]
    call("patch", f"/catalogue/small-classes/{code}", "/catalogue/small-classes/{full_code}",
         json={"name_en": "Test class"}, headers=admin)
    _, standard = call("post", f"/catalogue/small-classes/{code}/standards",
                       "/catalogue/small-classes/{full_code}/standards",
                       json={"limit_value": 4, "limit_clock": "working_hours"}, headers=admin)
    call("patch", f"/catalogue/standards/{standard['id']}", "/catalogue/standards/{standard_id}",
         json={"limit_value": 2}, headers=admin)
    call("delete", f"/catalogue/standards/{standard['id']}", "/catalogue/standards/{standard_id}", headers=admin)
    _, rule = call("post", "/catalogue/routing-rules",
                   json={"small_class": code, "area": world.areas["district"].code, "department": "SAN01",
                         "basis": "territory"}, headers=admin)
    call("patch", f"/catalogue/routing-rules/{rule['id']}", "/catalogue/routing-rules/{rule_id}",
         json={"priority": 5}, headers=admin)
    call("delete", f"/catalogue/routing-rules/{rule['id']}", "/catalogue/routing-rules/{rule_id}", headers=admin)
    call("delete", "/catalogue/routing-rules/999999", "/catalogue/routing-rules/{rule_id}", headers=admin)
    call("delete", f"/catalogue/small-classes/{code}", "/catalogue/small-classes/{full_code}", headers=admin)
    call("get", "/catalogue/history?limit=5", headers=admin)

    call("get", "/calendar?year=2026", headers=worker)
    call("put", "/calendar/days/2027-01-01", "/calendar/days/{day}", json={"working": False, "note": "元旦"},
         headers=admin)
    call("put", "/calendar/days/2027-01-02", "/calendar/days/{day}", json={"working": True}, headers=worker)
    call("delete", "/calendar/days/2027-01-01", "/calendar/days/{day}", headers=admin)
    call("post", "/calendar/years", json={"year": 2027}, headers=admin)
    call("put", "/calendar/schedule", json={"hours": [["08:00", "12:00"], ["14:00", "18:00"]], "seasons": []},
         headers=admin)
    call("put", "/calendar/thresholds", json={"working_hours": {"yellow": 0.75, "red": 1.0}}, headers=admin)

    call("get", "/supervision/policy", headers=worker)
    call("get", "/supervision/policy")  # 401
    call("put", "/supervision/policy", json={"level3_working_days": 5, "reply_hours": {"leader": None}}, headers=admin)
    call("put", "/supervision/policy", json={"level2_share": -1, "reply_hours": {"timeout1": 0}}, headers=admin)  # 422
    call("put", "/supervision/policy", json={"level3_working_days": 5}, headers=worker)  # 403
    call("delete", "/supervision/policy", headers=admin)
    call("delete", "/supervision/policy", headers=worker)  # 403
    call("get", "/cases/duplicate-rules", headers=worker)
    call("get", "/cases/duplicate-rules")  # 401
    call("put", "/cases/duplicate-rules", json={"radius_m": 80}, headers=admin)
    call("put", "/cases/duplicate-rules", json={"radius_m": 0, "window_hours": None}, headers=admin)  # 422
    call("put", "/cases/duplicate-rules", json={"radius_m": 80}, headers=worker)  # 403
    call("delete", "/cases/duplicate-rules", headers=admin)
    call("delete", "/cases/duplicate-rules", headers=worker)  # 403
    call("get", "/catalogue/history?entity=duplicate_rules", headers=admin)

    dispatcher = world.headers("dispatcher")
    call("get", "/work/changes?workspace=command&since=0", headers=dispatcher)
    call("get", "/work/changes?workspace=inbox", headers=dispatcher)  # 403
    call("get", "/work/changes?workspace=nowhere", headers=dispatcher)  # 422
    call("get", "/work/map?queue=all&bbox=112,32,113,34", headers=dispatcher)
    call("get", "/work/map", headers=worker)  # 403
    batch = {"cases": [{"number": number, "unit": "NOPE"}, {"number": number + "9"}]}
    call("post", "/work/dispatch", json=batch, headers=dispatcher)  # 200: each refused, with its error
    call("post", "/work/dispatch", json={"cases": []}, headers=dispatcher)  # 422
    call("post", "/work/dispatch", json=batch, headers=worker)  # 403
    hotline = "/hotline/cases/{number}"
    call("get", "/hotline/places?q=测试", headers=admin)
    call("post", "/hotline/complaints", json={"phone": "13812345678", "content": "x"}, headers=admin)  # 403
    call("get", f"/hotline/cases/{number}", hotline, headers=admin)  # 404: not a hotline case
    for step, body in (("contacts", {"phone": "13812345678", "content": "x"}), ("reply", {"note": "x"}),
                       ("follow-up", {"satisfaction": "satisfied"})):
        call("post", f"/hotline/cases/{number}/{step}", f"{hotline}/{step}", json=body, headers=admin)  # 403
    call("get", "/hotline/queues", headers=admin)  # 403
    call("get", "/hotline/callers?phone=13812345678", headers=admin)  # 403
    call("get", "/hotline/caller-views?limit=5", headers=admin)
    call("get", "/hotline/caller-views?from=2026-02-30", headers=admin)  # 422
    call("get", "/hotline/caller-views", headers=intake)  # 403

    call("get", "/indicators?period=2026-06&group_by=district", headers=admin)
    call("get", "/indicators?period=2026-06&group_by=unit", headers=world.headers("staff"))
    call("get", "/indicators?period=2026-13", headers=admin)  # 422
    call("get", "/indicators?period=2026-06", headers=worker)  # 403
    call("get", "/indicators?period=2026-06&area=000", headers=admin)  # 404
    call("post", "/indicators/snapshots", json={"period": "2026-06", "group_by": "district"}, headers=admin)
    call("post", "/indicators/snapshots", json={"period": "2026-06", "group_by": "district"}, headers=admin)
    _, schemes = call("get", "/score-schemes", headers=admin)
    scheme_path = "/score-schemes/{scheme_id}"
    scheme_id = schemes["items"][0]["id"]
    call("get", f"/score-schemes/{scheme_id}", scheme_path, headers=admin)
    call("get", "/score-schemes/999999", scheme_path, headers=admin)  # 404
    parameters = schemes["items"][0]["parameters"]
    call("post", "/score-schemes", json={"code": "doc", "name": "文档", "parameters": parameters}, headers=admin)
    call("post", "/score-schemes", json={"code": "doc2"}, headers=admin)  # 422
    call("patch", f"/score-schemes/{scheme_id}", scheme_path, json={"name": "金华"}, headers=admin)
    call("patch", f"/score-schemes/{scheme_id}", scheme_path, json={"name": "x"}, headers=worker)  # 403

    sweep_escalations(utcnow() + timedelta(days=30))  # the dispatched case's orders, every level
    db.session.commit()
    staff, order = world.headers("staff"), "/supervision/orders/{order_id}"
    call("get", "/supervision/counts", headers=staff)
    call("get", "/supervision/counts", headers=worker)  # 403
    _, orders = call("get", "/supervision/orders?filter=awaiting_reply&limit=5", headers=staff)
    call("get", "/supervision/orders?filter=nope", headers=staff)  # 422
    order_id = orders["items"][0]["id"]
    call("get", f"/supervision/orders/{order_id}", order, headers=staff)
    call("get", "/supervision/orders/999999", order, headers=staff)  # 404
    call("post", f"/supervision/orders/{order_id}/replies", f"{order}/replies", json={"body": "已清运"}, headers=staff)
    call("post", f"/supervision/orders/{order_id}/replies", f"{order}/replies", json={}, headers=staff)  # 422

    notice = generate_notice("weekly", Period.last_closed("week", utcnow()), now=utcnow())
    db.session.commit()
    call("get", "/notices", headers=admin)
    call("get", "/notices?kind=yearly", headers=admin)  # 422
    call("get", "/notices", headers=worker)  # 403
    call("get", f"/notices/{notice.id}", "/notices/{notice_id}", headers=admin)
    call("get", f"/notices/{notice.id}", "/notices/{notice_id}", headers=world.headers("staff"))  # 404: a draft
    call("get", "/campaigns", headers=admin)
    call("get", "/campaigns", headers=worker)  # 403

    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert conform.seen == documented, f"not exercised: {sorted(documented - conform.seen)}"
