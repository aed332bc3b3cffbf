"""No list, detail, photo, export or action endpoint reveals or changes a case outside the caller's scope."""

from __future__ import annotations

import csv
import io

import pytest
from flask.testing import FlaskClient

from gridops.auth.tokens import issue_token
from gridops.cases.models import Case, CaseEvent, CasePhoto
from gridops.cases.states import ACTIONS
from gridops.extensions import db
from tests.case_factories import make_case, make_world
from tests.factories import PASSWORD

ROLES_WITH_A_SCOPE = [
    "grid_worker",
    "hotline_operator",
    "intake_operator",
    "dispatcher",
    "shift_leader",
    "unit_staff",
    "area_lead",
]


class FreshContextClient(FlaskClient):
    """Each request in an app context of its own, as under a real server."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def scene(app):
    """A handled case (with photos) in the test community, and a token for every outsider."""
    world = make_world()
    case = make_case("handled", world=world)
    tokens = {role: issue_token(world.outsiders[role], "outside tablet")[1] for role in ROLES_WITH_A_SCOPE}
    db.session.commit()
    photo_ids = list(db.session.scalars(db.select(CasePhoto.id).where(CasePhoto.case_id == case.id)))
    assert photo_ids, "the scene needs photos to prove they are hidden"
    return {"number": case.number, "case_id": case.id, "tokens": tokens, "photo_ids": photo_ids}


@pytest.fixture
def http(app):
    return FreshContextClient(app, app.response_class, use_cookies=False)


@pytest.mark.parametrize("role", ROLES_WITH_A_SCOPE)
def test_an_outsider_can_neither_see_nor_change_the_case(http, scene, role):
    headers = {"Authorization": f"Bearer {scene['tokens'][role]}"}
    number = scene["number"]
    before = db.session.scalar(db.select(Case.version).where(Case.id == scene["case_id"]))
    events_before = db.session.scalar(db.select(db.func.count(CaseEvent.id)))

    listed = http.get("/api/v1/cases", headers=headers).get_json()
    assert number not in [row["number"] for row in listed["items"]] and listed["total"] == 0
    searched = http.get(f"/api/v1/cases?q={number}", headers=headers).get_json()
    assert searched["total"] == 0

    unknown = http.get("/api/v1/cases/19990101000001", headers=headers)
    hidden = http.get(f"/api/v1/cases/{number}", headers=headers)
    assert hidden.status_code == unknown.status_code == 404
    # The same answer as for a number that never existed (each message names the number asked for).
    assert hidden.get_json() == {
        key: value.replace("19990101000001", number) if isinstance(value, str) else value
        for key, value in unknown.get_json().items()
    }

    for photo_id in scene["photo_ids"]:
        for suffix in ("", "/thumb"):
            response = http.get(f"/api/v1/photos/{photo_id}{suffix}", headers=headers)
            assert response.status_code == 404, (photo_id, suffix)

    for action in ACTIONS:
        response = http.post(
            f"/api/v1/cases/{number}/actions/{action}",
            json={"reason": "x", "note": "x", "instruction": "x", "expected_version": before},
            headers=headers,
        )
        assert response.status_code == 404, (action, response.get_json())

    rows = list(csv.DictReader(io.StringIO(http.get("/api/v1/cases/export.csv", headers=headers).get_data(as_text=True))))
    assert number not in [row.get("number") for row in rows]
    geojson = http.get("/api/v1/cases/export.geojson", headers=headers).get_json()
    assert geojson["features"] == []

    db.session.expire_all()
    assert db.session.scalar(db.select(Case.version).where(Case.id == scene["case_id"])) == before
    assert db.session.scalar(db.select(db.func.count(CaseEvent.id))) == events_before


@pytest.mark.parametrize("role", ROLES_WITH_A_SCOPE)
def test_an_outsider_does_not_find_the_case_page(app, scene, role):
    client = app.test_client()
    client.post("/login", data={"username": f"outside_{role}", "password": PASSWORD})
    assert client.get(f"/cases/{scene['number']}").status_code == 404
    assert scene["number"] not in client.get("/cases").get_data(as_text=True)
