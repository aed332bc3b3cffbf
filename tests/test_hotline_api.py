"""Hotline API: wiring, permissions, conformance with the OpenAPI document, and callers' privacy per role."""

from __future__ import annotations

import io
import json

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from gridops.api.openapi import build_document
from gridops.auth.roles import Role
from gridops.auth.tokens import issue_token
from gridops.extensions import db
from gridops.hotline.gazetteer import import_gazetteer
from gridops.hotline.models import CallerDataView, HotlineOrder
from tests.test_api_cases import GRID1, FreshContextClient, make_world
from tests.factories import make_user
from tests.test_openapi import Conformance

PREFIX = "/api/v1"
PHONE = "13812345678"
NAME = "王小明"


@pytest.fixture
def client(app):
    """A client whose requests each get their own app context."""
    return FreshContextClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def world(app):
    """The API test city plus a token-holding user of every other role."""
    world = make_world()
    for role in (Role.HOTLINE_OPERATOR, Role.LEADER, Role.EVALUATOR, Role.AREA_LEAD):
        user = make_user(role.value, role.value, area=world.areas["district"] if role is Role.AREA_LEAD else None)
        world.users[role.value] = user
        world.tokens[role.value] = issue_token(user, "test")[1]
    import_gazetteer(None, f"name,kind,x,y,datum,aliases\n人民路,road,{GRID1[0]},{GRID1[1]},gcj02,人民大道\n",
                     file_format="csv")
    db.session.commit()
    return world


def complaint_body(**overrides) -> dict:
    body = {"caller_name": NAME, "phone": PHONE, "channel": "phone", "content": "路口垃圾堆了三天",
            "case_type": "event", "small_class": "0102", "x": GRID1[0], "y": GRID1[1], "datum": "gcj02"}
    body.update(overrides)
    return body


def log(client, world, **overrides) -> dict:
    response = client.post(f"{PREFIX}/hotline/complaints", json=complaint_body(**overrides),
                           headers=world.headers("hotline_operator"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def text_of(response) -> str:
    """The body as text, JSON with its characters unescaped (so a name cannot hide as \\u escapes)."""
    data = response.get_json(silent=True)
    return response.get_data(as_text=True) if data is None else json.dumps(data, ensure_ascii=False)


def views() -> int:
    return db.session.scalar(select(func.count()).select_from(CallerDataView))


def test_log_reply_and_follow_up_through_the_api(client, world):
    order = log(client, world)
    number = order["case"]["number"]
    assert order["case"]["state"] == "verifying" and order["contacts"][0]["phone"] == PHONE
    op = world.headers("hotline_operator")
    repeat = client.post(f"{PREFIX}/hotline/cases/{number}/contacts", json={"phone": "0377-63123456", "content": "还在"},
                         headers=op)
    assert repeat.status_code == 201 and repeat.get_json()["case"]["repeat_count"] == 1
    reply = client.post(f"{PREFIX}/hotline/cases/{number}/reply", json={"note": "已转环卫处理"}, headers=op)
    assert reply.status_code == 200 and reply.get_json()["replied_at"]
    early = client.post(f"{PREFIX}/hotline/cases/{number}/follow-up", json={"satisfaction": "satisfied"}, headers=op)
    assert early.status_code == 409
    queues = client.get(f"{PREFIX}/hotline/queues", headers=op).get_json()
    assert queues["reply"] == [] and queues["follow_up"] == []


def test_a_complaint_by_place_lands_in_the_places_grid(client, world):
    hits = client.get(f"{PREFIX}/hotline/places?q=人民大道", headers=world.headers("hotline_operator")).get_json()
    (hit,) = hits["items"]
    order = log(client, world, x=None, y=None, datum=None, place_id=hit["id"])
    assert order["located_by"] == "place" and order["case"]["unit_grid"]["code"] == world.areas["grid1"].code
    assert order["place"] == "人民路"


def test_same_idempotency_key_files_once(client, world):
    first = log(client, world, idempotency_key="call-1")
    again = client.post(f"{PREFIX}/hotline/complaints", json=complaint_body(idempotency_key="call-1"),
                        headers=world.headers("hotline_operator"))
    assert again.status_code == 200 and again.get_json()["case"]["number"] == first["case"]["number"]
    assert db.session.scalar(select(func.count()).select_from(HotlineOrder)) == 1


@pytest.mark.parametrize("who", ["worker", "intake", "dispatcher", "staff", "admin", "leader"])
def test_only_operators_write(client, world, who):
    response = client.post(f"{PREFIX}/hotline/complaints", json=complaint_body(), headers=world.headers(who))
    assert response.status_code == 403
    assert client.get(f"{PREFIX}/hotline/queues", headers=world.headers(who)).status_code == 403


def test_bad_input_is_422_with_the_field(client, world):
    response = client.post(f"{PREFIX}/hotline/complaints", json=complaint_body(phone="110"),
                           headers=world.headers("hotline_operator"))
    assert response.status_code == 422 and "phone" in response.get_json()["fields"]


#: Who sees a caller's name and phone unmasked through the API (the rest get them masked or nothing).
UNMASKED = {"hotline_operator", "intake", "shift"}


@pytest.mark.parametrize(
    "who", ["hotline_operator", "intake", "shift", "dispatcher", "worker", "staff", "admin", "leader", "evaluator",
            "area_lead", "outsider"],
)
def test_callers_are_masked_for_every_other_role_and_unmasked_views_are_recorded(client, world, who):
    order = log(client, world)
    number = order["case"]["number"]
    before = views()
    response = client.get(f"{PREFIX}/hotline/cases/{number}", headers=world.headers(who))
    body = text_of(response)
    if who in UNMASKED:
        assert response.status_code == 200 and PHONE in body and NAME in body
        assert views() == before + 1
        row = db.session.scalar(select(CallerDataView).order_by(CallerDataView.id.desc()).limit(1))
        assert row.user_id == world.users[who].id and row.context == "api:order"
    else:
        assert PHONE not in body and NAME not in body and "5678" not in body.replace("****5678", "")
        if response.status_code == 200:
            assert response.get_json()["contacts"][0]["phone"] == "138****5678"
        assert views() == before
    # the case API and every export never show caller data, to anyone
    for path in (f"/cases/{number}", "/cases", "/cases/export.csv", "/cases/export.geojson"):
        text = text_of(client.get(PREFIX + path, headers=world.headers(who)))
        assert PHONE not in text and NAME not in text and "+86" not in text
    workbook = client.get(f"{PREFIX}/cases/export.xlsx", headers=world.headers(who))
    if workbook.status_code == 200:
        cells = " ".join(
            str(value)
            for row in load_workbook(io.BytesIO(workbook.data), read_only=True).active.iter_rows(values_only=True)
            for value in row
            if value is not None
        )
        listed = number in text_of(client.get(f"{PREFIX}/cases", headers=world.headers(who)))
        assert (number in cells) == listed
        assert PHONE not in cells and NAME not in cells and "+86" not in cells


@pytest.mark.parametrize("who", ["dispatcher", "worker", "staff", "admin", "leader"])
def test_caller_lookup_by_phone_is_for_hotline_and_supervision_only(client, world, who):
    log(client, world)
    assert client.get(f"{PREFIX}/hotline/callers?phone={PHONE}", headers=world.headers(who)).status_code == 403


def test_caller_lookup_lists_earlier_contacts_and_is_recorded(client, world):
    log(client, world)
    log(client, world, content="另一处路灯不亮", small_class="0118", case_type="component")
    before = views()
    response = client.get(f"{PREFIX}/hotline/callers?phone=138-1234-5678", headers=world.headers("intake"))
    items = response.get_json()["items"]
    assert [item["content"] for item in items] == ["另一处路灯不亮", "路口垃圾堆了三天"]
    assert views() == before + 2


def test_a_place_search_with_a_nul_character_is_refused_on_its_field(client, world):
    response = client.get(f"{PREFIX}/hotline/places?q=%00", headers=world.headers("hotline_operator"))
    assert response.status_code == 422
    assert "q" in response.get_json()["fields"]


def test_hotline_responses_match_the_document(client, world, app):
    conform = Conformance(build_document(app))
    op = world.headers("hotline_operator")

    def call(method, path, template=None, **kwargs):
        response = client.open(PREFIX + path, method=method.upper(), **kwargs)
        return response, conform.check(response, template or path.split("?")[0], method)

    call("get", "/hotline/places?q=人民", headers=op)
    call("get", "/hotline/places?q=" + "x" * 200, headers=op)
    call("get", "/hotline/places?q=%00", headers=op)
    _, order = call("post", "/hotline/complaints", json=complaint_body(idempotency_key="k"), headers=op)
    call("post", "/hotline/complaints", json=complaint_body(idempotency_key="k"), headers=op)
    call("post", "/hotline/complaints", json=complaint_body(phone="1"), headers=op)
    call("post", "/hotline/complaints", json=complaint_body(), headers=world.headers("worker"))
    number = order["case"]["number"]
    one = "/hotline/cases/{number}"
    call("get", f"/hotline/cases/{number}", one, headers=world.headers("dispatcher"))
    call("get", "/hotline/cases/000", one, headers=op)
    call("post", f"/hotline/cases/{number}/contacts", one + "/contacts", json={"phone": PHONE, "content": "又来"}, headers=op)
    call("post", f"/hotline/cases/{number}/reply", one + "/reply", json={"note": "已处理"}, headers=op)
    call("post", f"/hotline/cases/{number}/reply", one + "/reply", json={"note": "again"}, headers=op)
    call("post", f"/hotline/cases/{number}/follow-up", one + "/follow-up", json={"satisfaction": "satisfied"}, headers=op)
    call("get", "/hotline/queues", headers=op)
    call("get", f"/hotline/callers?phone={PHONE}", headers=op)
    call("get", "/hotline/callers?phone=1", headers=op)
    _, log = call("get", f"/hotline/caller-views?phone={PHONE}", headers=world.headers("admin"))
    assert log["total"] >= 1 and {item["case_number"] for item in log["items"]} == {number}
    call("get", "/hotline/caller-views?context=nowhere", headers=world.headers("admin"))  # 422
    call("get", "/hotline/caller-views", headers=op)  # 403
    hotline_ops = {key for key in conform.document["paths"] if key.startswith("/hotline")}
    assert {path for path, _m in conform.seen} == hotline_ops


def test_open311_never_shows_a_caller(client, world):
    number = log(client, world, content=f"我是{NAME}，电话{PHONE}，路口垃圾没人清")["case"]["number"]
    client.post(f"{PREFIX}/hotline/cases/{number}/contacts", json={"caller_name": "李四", "phone": "0377-63123456",
                "content": "还是没人清"}, headers=world.headers("hotline_operator"))
    for path in ("/open311/v2/requests.json?extensions=true", "/open311/v2/requests.xml?extensions=true",
                 f"/open311/v2/requests/{number}.json?extensions=true", f"/open311/v2/requests/{number}.xml"):
        response = client.get(path)
        assert response.status_code == 200, path
        text = text_of(response)
        for secret in (PHONE, NAME, "李四", "63123456", "****"):
            assert secret not in text, (path, secret)
