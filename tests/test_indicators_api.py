"""Indicators API: scoped reads, freezing, score schemes — wiring and permissions."""

from __future__ import annotations

import copy

import pytest

from gridops.auth.tokens import issue_token
from gridops.db import utcnow
from gridops.evaluation.periods import Period
from gridops.evaluation.scores import JINHUA_PARAMETERS
from gridops.extensions import db
from tests.test_api_cases import FreshContextClient
from tests.case_factories import make_staff
from tests.indicator_data import make_june

PREFIX = "/api/v1"


@pytest.fixture
def client(app):
    """A client whose requests each get their own app context (and signed-in user)."""
    return FreshContextClient(app, app.response_class, use_cookies=False)


@pytest.fixture
def june(app):
    """The hand-built June, with tokens for an evaluator, an area lead, unit staff and a grid worker."""
    data = make_june()
    world = data.world
    district = world.areas["district"]
    people = {
        "evaluator": world.user("evaluator"),
        "area_lead": world.user("area_lead"),
        "unit_staff": world.user("unit_staff"),
        "grid_worker": world.user("grid_worker"),
        "district_dispatcher": make_staff("dd", "dispatcher", area=district),
    }
    data.tokens = {name: issue_token(user, "test")[1] for name, user in people.items()}
    db.session.commit()
    return data


def _get(client, june, who, query):
    return client.get(f"{PREFIX}/indicators?{query}", headers={"Authorization": f"Bearer {june.tokens[who]}"})


def test_evaluator_reads_every_district_with_scores(client, june):
    response = _get(client, june, "evaluator", "period=2026-06&group_by=district")
    assert response.status_code == 200
    body = response.get_json()
    # June has ended: its first read freezes it.
    assert body["period"]["key"] == "2026-06" and body["scheme"]["code"] == "jinhua" and body["frozen"]
    rows = {r["key"]: r for r in body["rows"]}
    assert set(rows) == {"411302", "411303"}
    assert rows["411302"]["closure_rate"] == 0.6 and rows["411302"]["grade"] in ("excellent", "good", "pass", "fail")
    assert rows["411302"]["previous"] is not None


def test_area_leads_and_unit_staff_see_only_their_part(client, june):
    lead = _get(client, june, "area_lead", "period=2026-06&group_by=district").get_json()
    # The area lead's subdistrict lies in 411302: that district's row, counting the subdistrict's cases only.
    assert [r["key"] for r in lead["rows"]] == ["411302"]
    assert lead["rows"][0]["reports"] == 9
    staff = _get(client, june, "unit_staff", "period=2026-06&group_by=unit").get_json()
    assert [r["key"] for r in staff["rows"]] == ["SAN01"]
    assert _get(client, june, "unit_staff", "period=2026-06&unit=LAW01").status_code == 404
    assert _get(client, june, "area_lead", "period=2026-06&area=411303").status_code == 404
    assert _get(client, june, "grid_worker", "period=2026-06").status_code == 403
    centre = _get(client, june, "district_dispatcher", "period=2026-06&group_by=district").get_json()
    assert [r["key"] for r in centre["rows"]] == ["411302"]


def test_bad_queries_name_the_field(client, june):
    for query, field in (("period=2026-13", "period"), ("group_by=unit", "period"),
                         ("period=2026-06&group_by=planet", "group_by"), ("period=2026-06&scheme=abc", "scheme"),
                         ("period=2026-06&scheme=99999", "scheme"), ("period=2026-06&period=2026-05", "period")):
        response = _get(client, june, "evaluator", query)
        assert response.status_code == 422, query
        assert field in response.get_json()["fields"], query


def test_freezing_once_then_reading_the_frozen_figures(client, june):
    headers = {"Authorization": f"Bearer {june.tokens['evaluator']}"}
    this_month = Period.containing("month", utcnow()).key
    current = client.get(f"{PREFIX}/indicators?period={this_month}&group_by=unit", headers=headers).get_json()
    assert not current["frozen"]
    first = client.post(f"{PREFIX}/indicators/snapshots", json={"period": "2026-06", "group_by": "unit"}, headers=headers)
    assert first.status_code == 201 and first.get_json()["frozen"]
    again = client.post(f"{PREFIX}/indicators/snapshots", json={"period": "2026-06", "group_by": "unit"}, headers=headers)
    assert again.status_code == 200 and again.get_json()["frozen_at"] == first.get_json()["frozen_at"]
    assert _get(client, june, "unit_staff", "period=2026-06&group_by=unit").get_json()["frozen"]
    open_period = client.post(f"{PREFIX}/indicators/snapshots", json={"period": this_month}, headers=headers)
    assert open_period.status_code == 422 and "period" in open_period.get_json()["fields"]
    staff = {"Authorization": f"Bearer {june.tokens['unit_staff']}"}
    assert client.post(f"{PREFIX}/indicators/snapshots", json={"period": "2026-06"}, headers=staff).status_code == 403


def test_score_schemes_listed_created_and_edited_by_evaluators(client, june):
    headers = {"Authorization": f"Bearer {june.tokens['evaluator']}"}
    listed = client.get(f"{PREFIX}/score-schemes", headers=headers).get_json()["items"]
    assert [s["code"] for s in listed] == ["jinhua"] and listed[0]["parameters"] == JINHUA_PARAMETERS
    parameters = copy.deepcopy(JINHUA_PARAMETERS)
    parameters["deductions"].append({"indicator": "overdue_open", "points": 1})
    created = client.post(f"{PREFIX}/score-schemes", headers=headers,
                          json={"code": "strict", "name": "从严", "parameters": parameters})
    assert created.status_code == 201
    scheme_id = created.get_json()["id"]
    changed = client.patch(f"{PREFIX}/score-schemes/{scheme_id}", json={"is_default": True}, headers=headers)
    assert changed.status_code == 200 and changed.get_json()["is_default"] and changed.get_json()["revision"] == 2
    table = _get(client, june, "evaluator", "period=2026-06&group_by=city").get_json()
    assert table["scheme"]["code"] == "strict" and table["rows"][0]["deductions"]["overdue_open"] == 2.0
    bad = client.patch(f"{PREFIX}/score-schemes/{scheme_id}", json={"parameters": {"items": []}}, headers=headers)
    assert bad.status_code == 422 and "parameters.items" in bad.get_json()["fields"]
    staff = {"Authorization": f"Bearer {june.tokens['unit_staff']}"}
    assert client.patch(f"{PREFIX}/score-schemes/{scheme_id}", json={"name": "x"}, headers=staff).status_code == 403
    assert client.get(f"{PREFIX}/score-schemes/{scheme_id}", headers=staff).status_code == 200
