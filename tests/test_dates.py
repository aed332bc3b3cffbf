"""Dates far outside the years anyone means (year 1, year 9999) are refused on their field, never a 500."""

from __future__ import annotations

import pytest

from gridops.cases.models import Case
from gridops.extensions import db
from gridops.evaluation.models import Campaign
from sqlalchemy import func, select
from tests.case_factories import make_case, make_world
from tests.factories import PASSWORD


@pytest.fixture
def world(app):
    world = make_world()
    db.session.commit()
    return world


def login(client, username):
    client.post("/logout")
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code in (302, 303)


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/cases?from=0001-01-01", "from"),
        ("/api/v1/cases?to=9999-12-31", "to"),
        ("/api/v1/cases?from=1899-12-31", "from"),
        ("/api/v1/cases/export.csv?from=0001-01-01", "from"),
        ("/api/v1/work/changes?workspace=command&from=0001-01-01", "from"),
    ],
)
def test_the_api_refuses_far_dates_on_their_field(client, world, url, field):
    login(client, "dispatcher")
    response = client.get(url)
    assert response.status_code == 422 and field in response.get_json()["fields"]


def test_the_api_accepts_the_edge_years(client, world):
    login(client, "dispatcher")
    assert client.get("/api/v1/cases?from=1900-01-01&to=2200-12-31").status_code == 200


@pytest.mark.parametrize("due_at", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:00+08:00"])
def test_an_action_refuses_a_far_due_time(client, world, due_at):
    case = make_case("handling", world=world)
    db.session.commit()
    login(client, "unit_staff")
    response = client.post(f"/api/v1/cases/{case.number}/actions/request_extension",
                           json={"due_at": due_at, "reason": "材料未到"})
    assert response.status_code == 422 and "due_at" in response.get_json()["fields"]
    db.session.expire_all()
    assert db.session.get(Case, case.id).state == "handling"


@pytest.mark.parametrize("query", ["date_from=0001-01-01", "date_to=9999-12-31"])
def test_the_case_list_page_marks_a_far_date(client, world, query):
    login(client, "dispatcher")
    response = client.get(f"/cases?{query}")
    assert response.status_code == 200 and "1900" in response.get_data(as_text=True)


def test_the_case_page_refuses_a_far_due_time(client, world):
    case = make_case("handling", world=world)
    db.session.commit()
    login(client, "unit_staff")
    response = client.post(f"/cases/{case.number}/actions/request_extension", follow_redirects=True, data={
        "request_extension-due_at": "0001-01-01T00:00", "request_extension-reason": "材料未到",
        "request_extension-expected_version": str(case.version),
    })
    assert response.status_code == 200 and "1900" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Case, case.id).state == "handling"


def test_a_campaign_with_far_dates_is_refused_on_the_page(client, world):
    login(client, "evaluator")
    response = client.post("/evaluation/campaigns", data={"name": "x", "starts_on": "0001-01-01",
                                                          "ends_on": "9999-12-31", "target_count": "3"})
    assert response.status_code == 422 and 'id="c-start-error"' in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0
    assert client.get("/evaluation/campaigns").status_code == 200


def test_a_calendar_day_in_year_one_is_refused(client, world):
    login(client, "admin")
    response = client.put("/api/v1/calendar/days/0001-01-01", json={"working": True})
    assert response.status_code == 422 and "day" in response.get_json()["fields"]
