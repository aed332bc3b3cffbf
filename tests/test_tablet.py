"""The grid worker's tablet: tasks, today's reports, category tiles, on-site answers, the installable shell."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from gridops.cases.models import Case
from gridops.catalogue.models import BigClass, SmallClass
from gridops.extensions import db
from gridops.tablet.queries import active_classes, local_midnight, open_tasks, recent_class_ids, todays_reports
from gridops.tablet.tiles import catalogue_tiles
from tests.case_factories import GRID1_XY, GRID4_XY, T0, later, make_case, make_state, make_world, png_bytes
from tests.factories import PASSWORD


@pytest.fixture
def world(app):
    """The staffed small city; the grid worker answers for unit grids 1 and 2."""
    return make_world()


def sign_in(client, username):
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code in (302, 303)


# -- queries ------------------------------------------------------------------------------------


def test_tasks_are_my_verifications_and_checks_least_time_left_first(world):
    worker = world.user("grid_worker")
    to_verify = make_case("verifying", world=world, now=T0)
    to_check = make_case("handled", world=world, now=later(1))
    # Neither a case waiting for registration nor one outside the worker's grids is a task.
    make_case("reported", world=world, now=T0)
    make_case("verifying", world=world, xy=GRID4_XY, now=T0)
    tasks = open_tasks(worker, later(2))
    assert [(task.case.id, task.kind) for task in tasks] == [(to_check.id, "check"), (to_verify.id, "verify")]
    # The check is due 2 working hours after feedback, the verification 24 hours after the report.
    assert tasks[0].due == to_check.check_due_at
    assert tasks[1].due == to_verify.reported_at + timedelta(hours=24)
    assert tasks[1].colour == "green"


def test_tasks_of_another_worker_are_not_mine(world):
    make_case("handled", world=world)
    assert open_tasks(world.outsiders["grid_worker"], later(1)) == []


def test_a_task_follows_its_assignee_not_the_grid(world):
    worker, other = world.user("grid_worker"), world.outsiders["grid_worker"]
    case = make_case("verifying", world=world)
    assert case.assignee_id == worker.id
    case.assignee_id = other.id
    db.session.flush()
    assert open_tasks(worker, later(1)) == []
    assert [task.case.id for task in open_tasks(other, later(1))] == []  # assigned, but outside their scope
    case.assignee_id = worker.id
    make_state(world, case, "reported")
    assert case.assignee_id is None and open_tasks(worker, later(1)) == []


def test_todays_reports_count_from_midnight_in_the_city(world):
    worker = world.user("grid_worker")
    # T0 is 10:00 in the city; 01:30 UTC the same day is 09:30 there, 15:30 UTC the day before is 23:30.
    yesterday = make_case("reported", world=world, now=T0 - timedelta(hours=10, minutes=30))
    morning = make_case("reported", world=world, now=T0 - timedelta(minutes=30))
    latest = make_case("reported", world=world, now=later(1))
    assert local_midnight(T0) == T0 - timedelta(hours=10)
    reports = todays_reports(worker, later(2))
    assert [case.id for case in reports] == [latest.id, morning.id]
    assert yesterday not in reports
    assert todays_reports(world.user("hotline_operator"), later(2)) == []


def test_recent_classes_latest_first_and_tiles_put_them_first(world):
    worker = world.user("grid_worker")
    make_case("reported", world=world, small_class_code="0102", now=T0)
    make_case("reported", world=world, small_class_code="0501", now=later(1))
    make_case("reported", world=world, small_class_code="0102", now=later(2))
    ids = recent_class_ids(worker)
    codes = [db.session.get(SmallClass, class_id).code for class_id in ids]
    assert codes == ["0102", "0501"]
    tiles = catalogue_tiles(active_classes(), ids, "en")
    assert [(tile["full_code"], tile["recent"]) for tile in tiles[:3]] == [
        ("E0102", True), ("E0501", True), ("C0101", False)
    ]
    first = tiles[0]
    assert first["name"] == "Exposed garbage"
    assert first["icon"] == "litter"
    assert "暴露垃圾" in first["search"] and "e0102" in first["search"]
    assert len(tiles) == db.session.scalar(select(db.func.count()).select_from(SmallClass))


def test_retired_classes_are_not_offered(world):
    big = db.session.scalar(select(BigClass).where(BigClass.case_type == "event", BigClass.code == "01"))
    big.active = False
    db.session.flush()
    codes = {tile["full_code"] for tile in catalogue_tiles(active_classes(), [], "zh")}
    assert "E0102" not in codes and "E0501" in codes


# -- pages --------------------------------------------------------------------------------------


def test_only_grid_workers_open_the_tablet(client, world):
    db.session.commit()
    assert client.get("/tablet/").status_code == 302
    sign_in(client, "dispatcher")
    assert client.get("/tablet/").status_code == 403
    assert client.get("/tablet/report").status_code == 403


def test_home_lists_my_tasks_and_todays_reports(client, world):
    case = make_case("handled", world=world)
    db.session.commit()
    sign_in(client, "grid_worker")
    page = client.get("/tablet/").get_data(as_text=True)
    assert case.number in page
    assert f'href="/tablet/tasks/{case.number}"' in page
    assert 'rel="manifest"' in page
    config = json.loads(page.split('id="tablet-map-config">')[1].split("</script>")[0])
    assert {feature["id"] for feature in config["grids"]["features"]} == {"411302001001001", "411302001001002"}
    assert config["tasks"][0]["number"] == case.number


def test_report_page_offers_camera_tiles_and_urgency(client, world):
    db.session.commit()
    sign_in(client, "grid_worker")
    page = client.get("/tablet/report").get_data(as_text=True)
    assert 'capture="environment"' in page and 'accept="image/*"' in page
    assert 'value="event:0102"' in page
    assert 'name="urgency" value="urgent"' in page
    # Every tile's radio button has its label.
    radios = re.findall(r'<input type="radio" name="small_class" id="(class-\d+)"', page)
    assert len(radios) == 33 and all(f'<label for="{id_}">' in page for id_ in radios)


def _answer(client, number, action, **fields):
    data = {f"{action}-{name}": value for name, value in fields.items()}
    return client.post(f"/tablet/tasks/{number}/{action}", data=data, content_type="multipart/form-data")


def test_verify_on_site_with_a_photo(client, world):
    case = make_case("verifying", world=world)
    db.session.commit()
    sign_in(client, "grid_worker")
    assert "核实属实" in client.get(f"/tablet/tasks/{case.number}").get_data(as_text=True)
    response = _answer(client, case.number, "verify", expected_version=case.version,
                       photos=(io.BytesIO(png_bytes()), "near.png"))
    assert response.status_code == 303 and response.location.endswith("/tablet/")
    db.session.expire_all()
    assert db.session.get(Case, case.id).state == "reported"


def test_an_answer_without_its_photo_changes_nothing(client, world):
    case = make_case("handled", world=world)
    db.session.commit()
    sign_in(client, "grid_worker")
    response = _answer(client, case.number, "check_pass", expected_version=case.version)
    assert response.status_code == 303 and response.location.endswith(f"/tablet/tasks/{case.number}")
    db.session.expire_all()
    assert db.session.get(Case, case.id).state == "handled"


def test_check_passed_closes_and_failed_sends_back(client, world):
    passing = make_case("handled", world=world)
    failing = make_case("handled", world=world)
    db.session.commit()
    sign_in(client, "grid_worker")
    _answer(client, passing.number, "check_pass", expected_version=passing.version,
            photos=(io.BytesIO(png_bytes()), "after.png"))
    _answer(client, failing.number, "check_fail", expected_version=failing.version, reason="仍有垃圾",
            photos=(io.BytesIO(png_bytes()), "after.png"))
    db.session.expire_all()
    assert db.session.get(Case, passing.id).state == "closed"
    assert db.session.get(Case, failing.id).state == "handling"
    assert db.session.get(Case, failing.id).rework_count == 1


def test_only_on_site_answers_are_taken_here(client, world):
    case = make_case("reported", world=world)
    db.session.commit()
    sign_in(client, "grid_worker")
    assert client.post(f"/tablet/tasks/{case.number}/register", data={}).status_code == 404
    # A case outside the worker's scope is unknown here too.
    other = make_case("verifying", world=world, xy=GRID4_XY)
    db.session.commit()
    assert client.get(f"/tablet/tasks/{other.number}").status_code == 404


def test_a_report_fixed_on_the_spot_is_filed_then_closed_once(client, world):
    """What the outbox sends: the filing (keyed), then self_close with the after photo at the filed version."""
    db.session.commit()
    sign_in(client, "grid_worker")
    fields = {"source": "patrol", "case_type": "event", "small_class": "0102",
              "x": str(GRID1_XY[0]), "y": str(GRID1_XY[1]), "datum": "gcj02", "urgency": "normal"}
    headers = {"Idempotency-Key": "tablet-test-1"}

    def file_it():
        return client.post("/api/v1/cases", data={**fields, "photos": (io.BytesIO(png_bytes()), "near.png")},
                           headers=headers, content_type="multipart/form-data")

    first = file_it()
    again = file_it()
    assert (first.status_code, again.status_code) == (201, 200)
    number, version = first.json["number"], first.json["version"]
    assert again.json["number"] == number

    def close_it():
        return client.post(f"/api/v1/cases/{number}/actions/self_close",
                           data={"expected_version": str(version), "photos": (io.BytesIO(png_bytes()), "after.png")},
                           content_type="multipart/form-data")

    closed = close_it()
    assert closed.status_code == 200 and closed.json["state"] == "closed"
    assert close_it().status_code == 409
    assert db.session.scalar(select(db.func.count()).select_from(Case)) == 1


def test_session_tells_the_outbox_who_is_signed_in(client, world):
    db.session.commit()
    response = client.get("/tablet/session")
    assert response.status_code == 401 and response.json["error"] == "not_authenticated"
    sign_in(client, "grid_worker")
    response = client.get("/tablet/session")
    assert response.json["username"] == "grid_worker" and response.json["csrf_token"]
    assert response.headers["Cache-Control"] == "no-store"


def test_manifest_and_service_worker_are_public_and_scoped(client):
    manifest = client.get("/tablet/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    assert manifest.json["scope"] == "/tablet/" and manifest.json["start_url"] == "/tablet/"
    assert {icon["sizes"] for icon in manifest.json["icons"]} == {"192x192", "512x512"}
    for icon in manifest.json["icons"]:
        with client.get(icon["src"]) as response:
            assert response.status_code == 200 and response.mimetype == "image/png"
    worker = client.get("/tablet/sw.js")
    body = worker.get_data(as_text=True)
    assert worker.mimetype == "text/javascript"
    assert worker.headers["Service-Worker-Allowed"] == "/tablet/"
    assert "/static/js/tablet-outbox.js" in body and "/static/vendor/leaflet/leaflet.js" in body
    # API answers are never kept by the service worker: it only answers static files and tablet pages.
    assert '"/api/' not in body
