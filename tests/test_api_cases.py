"""The cases JSON API: filing (JSON, multipart, idempotent), scoped lists and details, actions."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from PIL import Image

from gridops.auth.models import User
from gridops.auth.tokens import issue_token
from gridops.cases.models import Case, CaseEvent
from gridops.catalogue.services import seed_default_catalogue
from gridops.extensions import db
from gridops.org.models import Department
from gridops.territory.models import Area
from tests.factories import DX, DY, X0, Y0, make_department, make_small_city, make_user

#: A position inside unit grid 001 (north-west cell), in the test layer's datum.
GRID1 = (X0 + 0.5 * DX, Y0 + 1.5 * DY)
#: A position inside unit grid 004 (south-east cell).
GRID4 = (X0 + 1.5 * DX, Y0 + 0.5 * DY)


@dataclass
class World:
    areas: dict[str, Area]
    users: dict[str, User]
    tokens: dict[str, str]
    sanitation: Department

    def headers(self, who: str, **extra) -> dict:
        return {"Authorization": f"Bearer {self.tokens[who]}", **extra}


def make_world() -> World:
    """The small city, the default catalogue, two units and one token-holding user per part."""
    areas = make_small_city()
    seed_default_catalogue()
    sanitation = make_department("SAN01", "环卫处", "sanitation", area=areas["district"])
    law = make_department("LAW01", "执法局", "law_enforcement", area=areas["district"])
    users = {
        "worker": make_user("worker", "grid_worker", area=areas["community"]),
        "intake": make_user("intake", "intake_operator"),
        "dispatcher": make_user("dispatcher", "dispatcher"),
        "shift": make_user("shift", "shift_leader"),
        "staff": make_user("staff", "unit_staff", department=sanitation),
        "other_staff": make_user("other_staff", "unit_staff", department=law),
        "outsider": make_user("outsider", "grid_worker", area=areas["grid4"]),
        "admin": make_user("admin", "admin"),
    }
    tokens = {name: issue_token(user, "test tablet")[1] for name, user in users.items()}
    db.session.commit()
    return World(areas, users, tokens, sanitation)


def new_case(**overrides) -> dict:
    """A valid patrol report of exposed garbage in grid 001."""
    body = {
        "source": "patrol",
        "case_type": "event",
        "small_class": "0102",
        "x": GRID1[0],
        "y": GRID1[1],
        "datum": "gcj02",
        "description": "路边垃圾堆放",
        "address": "测试路 1 号",
    }
    body.update(overrides)
    return body


def jpeg_bytes(colour=(200, 40, 40)) -> bytes:
    """A small real JPEG."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def file_via_api(client, world: World, who: str = "worker", **overrides) -> dict:
    response = client.post("/api/v1/cases", json=new_case(**overrides), headers=world.headers(who))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def act(client, world: World, who: str, number: str, action: str, **body):
    return client.post(f"/api/v1/cases/{number}/actions/{action}", json=body, headers=world.headers(who))


class FreshContextClient(FlaskClient):
    """A test client whose every request runs in an app context of its own, as in production.

    The ``app`` fixture keeps one app context open, and requests would share its ``g`` (and
    with it Flask-Login's cached user) and its database session.
    """

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app):
    """A client for the app whose requests each get their own app context."""
    return FreshContextClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def world(app) -> World:
    """The small city with catalogue, units, users and their tokens."""
    return make_world()


# -- filing ----------------------------------------------------------------------------------------


def test_filing_returns_the_new_case_with_its_first_event(client, world):
    data = file_via_api(client, world)
    assert data["state"] == "reported"
    assert data["small_class"]["full_code"] == "E0102"
    assert data["unit_grid"]["code"] == world.areas["grid1"].code
    assert data["position"] == {"x": GRID1[0], "y": GRID1[1], "datum": "gcj02", "accuracy_m": None}
    assert [event["action"] for event in data["events"]] == ["file"]
    assert data["events"][0]["actor"]["username"] == "worker"
    assert data["due"]["register"] is not None
    assert data["colour"] in ("green", "yellow", "red")
    assert data["allowed_actions"] == [] or {a["name"] for a in data["allowed_actions"]} <= {"self_close"}


def test_the_same_idempotency_key_files_one_case(client, world):
    headers = world.headers("worker", **{"Idempotency-Key": "tablet-7-0001"})
    first = client.post("/api/v1/cases", json=new_case(), headers=headers)
    again = client.post("/api/v1/cases", json=new_case(), headers=headers)
    by_field = client.post(
        "/api/v1/cases", json=new_case(idempotency_key="tablet-7-0001"), headers=world.headers("worker")
    )
    assert (first.status_code, again.status_code, by_field.status_code) == (201, 200, 200)
    assert first.get_json()["number"] == again.get_json()["number"] == by_field.get_json()["number"]
    assert db.session.query(Case).count() == 1


def test_another_reporters_idempotency_key_is_refused(client, world):
    client.post("/api/v1/cases", json=new_case(idempotency_key="k-1"), headers=world.headers("worker"))
    response = client.post(
        "/api/v1/cases", json=new_case(source="hotline", idempotency_key="k-1"), headers=world.headers("intake")
    )
    assert response.status_code == 422
    assert "idempotency_key" in response.get_json()["fields"]


def test_filing_from_a_tablet_as_multipart_with_photos(client, world):
    form = {key: str(value) for key, value in new_case().items()}
    form["photos"] = [(io.BytesIO(jpeg_bytes()), "near.jpg"), (io.BytesIO(jpeg_bytes((0, 90, 0))), "far.jpg")]
    response = client.post(
        "/api/v1/cases", data=form, content_type="multipart/form-data", headers=world.headers("worker")
    )
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert len(data["photos"]) == 2
    assert data["photos"][0]["url"] == f"/api/v1/photos/{data['photos'][0]['id']}"
    assert data["photos"][0]["thumb_url"].endswith("/thumb")
    assert data["events"][0]["photos"] == data["photos"]


def test_filing_errors_name_the_fields_and_write_nothing(client, world):
    response = client.post(
        "/api/v1/cases",
        json=new_case(x="east", source="rumour", urgency=None),
        headers=world.headers("worker"),
    )
    assert response.status_code == 422
    envelope = response.get_json()
    assert envelope["error"] == "validation_failed"
    assert {"x"} <= set(envelope["fields"]) or {"source"} <= set(envelope["fields"])
    for body, field in (
        (new_case(x=None), "x"),
        (new_case(source="rumour"), "source"),
        (new_case(small_class="9999"), "small_class"),
        (new_case(description=123), "description"),
        (new_case(datum="osgb36"), "datum"),
    ):
        response = client.post("/api/v1/cases", json=body, headers=world.headers("worker"))
        assert response.status_code == 422, body
        assert field in response.get_json()["fields"], (body, response.get_json())
    not_json = client.post("/api/v1/cases", data="x=1", content_type="text/plain", headers=world.headers("worker"))
    assert not_json.status_code == 422 and "body" in not_json.get_json()["fields"]
    assert db.session.query(Case).count() == 0


def test_a_position_outside_the_territory_is_refused(client, world):
    response = client.post("/api/v1/cases", json=new_case(x=100.0, y=20.0), headers=world.headers("worker"))
    assert response.status_code == 422
    assert response.get_json()["error"] == "outside_territory"


def test_roles_that_may_not_file_get_403(client, world):
    response = client.post("/api/v1/cases", json=new_case(), headers=world.headers("staff"))
    assert response.status_code == 403
    assert response.get_json()["error"] == "not_allowed"


def test_the_api_needs_credentials(client, world):
    assert client.get("/api/v1/cases").status_code == 401
    response = client.post("/api/v1/cases", json=new_case(), headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


# -- lists -----------------------------------------------------------------------------------------


def test_list_filters_pages_and_links_the_next_page(client, world):
    numbers = [file_via_api(client, world, description=f"垃圾 {i}")["number"] for i in range(3)]
    file_via_api(client, world, description="另一处", x=GRID4[0], y=GRID4[1])
    page = client.get("/api/v1/cases?limit=2", headers=world.headers("intake")).get_json()
    assert page["total"] == 4 and len(page["items"]) == 2 and page["offset"] == 0
    second = client.get(page["next"], headers=world.headers("intake")).get_json()
    assert len(second["items"]) == 2 and second["next"] is None
    listed = [item["number"] for item in page["items"] + second["items"]]
    assert listed == sorted(listed, reverse=True)
    text = client.get("/api/v1/cases?q=垃圾", headers=world.headers("intake")).get_json()
    assert sorted(item["number"] for item in text["items"]) == sorted(numbers)
    in_grid4 = client.get(f"/api/v1/cases?area={world.areas['grid4'].code}", headers=world.headers("intake"))
    assert [item["description"] for item in in_grid4.get_json()["items"]] == ["另一处"]
    states = client.get("/api/v1/cases?state=registered,dispatched", headers=world.headers("intake"))
    assert states.get_json()["total"] == 0
    by_class = client.get("/api/v1/cases?class=E0102&source=patrol&supervised=false", headers=world.headers("intake"))
    assert by_class.get_json()["total"] == 4
    assert client.get("/api/v1/cases?class=C0118", headers=world.headers("intake")).get_json()["total"] == 0
    not_overdue = client.get("/api/v1/cases?overdue=false&from=2000-01-01", headers=world.headers("intake"))
    assert not_overdue.get_json()["total"] == 4


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("state=lost", "state"),
        ("area=999", "area"),
        ("unit=NOPE", "unit"),
        ("class=E9999", "class"),
        ("source=rumour", "source"),
        ("overdue=maybe", "overdue"),
        ("from=yesterday", "from"),
        ("from=2026-02-01&to=2026-01-01", "to"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("offset=-1", "offset"),
        ("limit=1&limit=2", "limit"),
        ("q=a&q=b", "q"),
    ],
)
def test_bad_list_parameters_are_named(client, world, query, field):
    response = client.get(f"/api/v1/cases?{query}", headers=world.headers("intake"))
    assert response.status_code == 422
    assert field in response.get_json()["fields"]


def test_lists_never_show_cases_outside_the_callers_scope(client, world):
    file_via_api(client, world)
    assert client.get("/api/v1/cases", headers=world.headers("outsider")).get_json()["total"] == 0
    assert client.get("/api/v1/cases", headers=world.headers("staff")).get_json()["total"] == 0
    assert client.get("/api/v1/cases", headers=world.headers("intake")).get_json()["total"] == 1


# -- detail and actions ----------------------------------------------------------------------------


def test_detail_shows_the_callers_allowed_actions_and_an_etag(client, world):
    number = file_via_api(client, world)["number"]
    response = client.get(f"/api/v1/cases/{number}", headers=world.headers("intake"))
    assert response.status_code == 200
    data = response.get_json()
    assert response.headers["ETag"] == f'"{data["version"]}"'
    assert [action["name"] for action in data["allowed_actions"]] == ["register", "cancel", "merge"]
    cancel = data["allowed_actions"][1]
    assert cancel["required"] == ["reason"] and cancel["target"] == "cancelled"
    dispatcher = client.get(f"/api/v1/cases/{number}", headers=world.headers("dispatcher")).get_json()
    assert [action["name"] for action in dispatcher["allowed_actions"]] == ["merge"]


def test_cases_outside_scope_look_like_unknown_cases(client, world):
    number = file_via_api(client, world)["number"]
    hidden = client.get(f"/api/v1/cases/{number}", headers=world.headers("outsider"))
    unknown = client.get("/api/v1/cases/19990101000001", headers=world.headers("outsider"))
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.get_json()["error"] == unknown.get_json()["error"] == "not_found"
    acted = act(client, world, "other_staff", number, "sign")
    assert acted.status_code == 404
    assert db.session.scalar(db.select(Case.state)) == "reported"


def test_the_loop_through_the_api(client, world):
    number = file_via_api(client, world)["number"]
    registered = act(client, world, "intake", number, "register", expected_version=1)
    assert registered.status_code == 200, registered.get_json()
    assert registered.get_json()["state"] == "registered"
    version = registered.get_json()["version"]
    dispatched = client.post(
        f"/api/v1/cases/{number}/actions/dispatch",
        json={"unit": "SAN01"},
        headers=world.headers("dispatcher", **{"If-Match": f'"{version}"'}),
    )
    assert dispatched.status_code == 200, dispatched.get_json()
    data = dispatched.get_json()
    assert data["state"] == "dispatched" and data["holder_unit"]["code"] == "SAN01"
    assert data["due"]["handle"] is not None
    signed = act(client, world, "staff", number, "sign")
    assert signed.get_json()["state"] == "handling"
    feedback = client.post(
        f"/api/v1/cases/{number}/actions/feedback",
        data={"note": "已清运", "photos": [(io.BytesIO(jpeg_bytes()), "after.jpg")]},
        content_type="multipart/form-data",
        headers=world.headers("staff"),
    )
    assert feedback.status_code == 200, feedback.get_json()
    data = feedback.get_json()
    assert data["state"] == "handled"
    assert data["events"][-1]["action"] == "feedback" and len(data["events"][-1]["photos"]) == 1
    assert [a["name"] for a in data["allowed_actions"]] == []
    worker_view = client.get(f"/api/v1/cases/{number}", headers=world.headers("worker")).get_json()
    assert {a["name"] for a in worker_view["allowed_actions"]} == {"check_pass", "check_fail"}
    events = [event["action"] for event in data["events"]]
    assert events == ["file", "register", "dispatch", "sign", "feedback"]
    assert db.session.query(CaseEvent).count() == 5


def test_action_errors_use_the_envelope(client, world):
    number = file_via_api(client, world)["number"]
    stale = act(client, world, "intake", number, "register", expected_version=7)
    assert (stale.status_code, stale.get_json()["error"]) == (409, "stale")
    wrong_state = act(client, world, "staff", number, "sign")
    assert wrong_state.status_code == 404  # the unit does not hold the case: it cannot see it
    wrong_role = act(client, world, "dispatcher", number, "register")
    assert (wrong_role.status_code, wrong_role.get_json()["error"]) == (403, "not_allowed")
    missing = act(client, world, "intake", number, "cancel")
    assert (missing.status_code, set(missing.get_json()["fields"])) == (422, {"reason"})
    invalid = act(client, world, "intake", number, "dispatch", unit="SAN01")
    assert invalid.status_code == 403
    assert act(client, world, "intake", number, "register").status_code == 200
    again = act(client, world, "intake", number, "register")
    assert (again.status_code, again.get_json()["error"]) == (409, "invalid_transition")
    no_unit = act(client, world, "dispatcher", number, "dispatch")
    assert no_unit.status_code == 422 and "unit" in no_unit.get_json()["fields"]
    unknown_unit = act(client, world, "dispatcher", number, "dispatch", unit="NOPE")
    assert unknown_unit.status_code == 422 and "unit" in unknown_unit.get_json()["fields"]
    bad_due = act(client, world, "dispatcher", number, "dispatch", unit="SAN01", due_at="2026-12-01T10:00")
    assert bad_due.status_code == 422 and "due_at" in bad_due.get_json()["fields"]
    mismatch = client.post(
        f"/api/v1/cases/{number}/actions/dispatch",
        json={"unit": "SAN01", "expected_version": 2},
        headers=world.headers("dispatcher", **{"If-Match": '"3"'}),
    )
    assert mismatch.status_code == 422 and "expected_version" in mismatch.get_json()["fields"]
    unknown_action = act(client, world, "dispatcher", number, "teleport")
    assert unknown_action.status_code == 404 and set(unknown_action.get_json()["fields"]) == {"action"}
    assert db.session.scalar(db.select(Case.state)) == "registered"
