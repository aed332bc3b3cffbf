"""Workspace queues (SQL), the batch dispatch service, and the command centre, inbox and leader pages."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from gridops.cases.clocks import case_colour
from gridops.cases.models import Case
from gridops.errors import StaleCase
from gridops.extensions import db
from gridops.workspaces import queues
from gridops.workspaces.services import DispatchItem, dispatch_batch
from tests.case_factories import GRID1_XY, GRID4_XY, T0, act, later, make_case, make_world, png_bytes
from tests.factories import PASSWORD


@pytest.fixture
def world(app):
    """The small city with one user per role."""
    return make_world()


def counts_for(user, queue_set, now):
    return queues.queue_counts_for(queues.open_cases(user), queue_set, now)[0]


def listed(user, key, now):
    base = queues.open_cases(user)
    _counts, yellow = queues.queue_counts_for(base, queues.COMMAND_QUEUES, now)
    stmt = queues.by_time_left(base.where(queues.queue_clause(key, now, yellow)))
    return [case.number for case in db.session.scalars(stmt)]


def test_command_queues_count_and_list_the_cases_waiting_for_each_step(world):
    reported = make_case("reported", world=world)
    registered = make_case("registered", world=world)
    dispatched = make_case("dispatched", world=world)
    make_case("closed", world=world)
    intake = world.user("intake_operator")
    counts = counts_for(intake, queues.COMMAND_QUEUES, T0)
    assert counts["register"] == 1 and counts["dispatch"] == 1
    assert counts["approvals"] == 0 and counts["rework"] == 0 and counts["overdue"] == 0
    assert listed(intake, "register", T0) == [reported.number]
    assert listed(intake, "dispatch", T0) == [registered.number]
    # An hour and a half later every one-working-hour stage is overdue: least time left first.
    assert listed(intake, "overdue", later(1.5)) == [reported.number, registered.number, dispatched.number]
    # Nobody outside the district sees any of it.
    outsider = world.outsiders["dispatcher"]
    assert set(counts_for(outsider, queues.COMMAND_QUEUES, T0).values()) == {0}


def test_queues_sort_by_time_left(world):
    late = make_case("registered", world=world, now=later(0.5))
    early = make_case("registered", world=world, now=T0)
    assert listed(world.user("dispatcher"), "dispatch", later(0.6)) == [early.number, late.number]


def test_approvals_and_rework_queues(world):
    extension = make_case("handling", world=world)
    act(world, extension, "request_extension", "unit_staff", reason="材料未到", due_at=later(48))
    returned = make_case("dispatched", world=world)
    act(world, returned, "request_return", "unit_staff", reason="不归我单位")
    rework = make_case("handled", world=world)
    act(world, rework, "check_fail", "grid_worker", photos=True, reason="仍有垃圾")
    leader = world.user("shift_leader")
    assert set(listed(leader, "approvals", T0)) == {extension.number, returned.number}
    assert listed(leader, "rework", T0) == [rework.number]
    staff = world.user("unit_staff")
    inbox = counts_for(staff, queues.INBOX_QUEUES, T0)
    assert inbox == {"to_sign": 1, "in_progress": 1, "returned": 1}
    act(world, extension, "approve_extension", "shift_leader")
    assert listed(leader, "approvals", T0) == [returned.number]


@pytest.mark.parametrize("hours", [0.0, 0.7, 0.85, 1.2, 3.0, 6.5, 26.0, 50.0, 170.0])
def test_due_soon_queue_is_exactly_the_yellow_cases(world, hours):
    cases = [
        make_case("reported", world=world),
        make_case("registered", world=world, now=later(0.3)),
        make_case("dispatched", world=world),
        make_case("handling", world=world),
        make_case("handling", world=world, small_class_code="0105"),  # 1 working day
        make_case("handling", world=world, small_class_code="0203", now=later(2)),  # 5 working days
        make_case("handled", world=world, now=later(0.5)),
        make_case("verifying", world=world),
        make_case("suspended", world=world),
    ]
    extended = make_case("handling", world=world, small_class_code="0105")
    act(world, extended, "request_extension", "unit_staff", reason="雨天", due_at=later(60))
    act(world, extended, "approve_extension", "shift_leader")
    cases.append(extended)
    now = later(hours)
    expected = {case.number for case in cases if case_colour(case, now) == "yellow"}
    assert set(listed(world.user("shift_leader"), "yellow", now)) == expected
    colours = queues.warning_colours([case.id for case in cases], now)
    assert colours == {case.id: case_colour(case, now) for case in cases}


def test_some_hours_do_show_due_soon_cases(world):
    """The exactness test above would pass vacuously if nothing ever turned yellow."""
    case = make_case("registered", world=world)
    assert listed(world.user("dispatcher"), "yellow", later(0.85)) == [case.number]
    assert listed(world.user("dispatcher"), "yellow", later(0.5)) == []


def test_batch_dispatch_dispatches_each_case_on_its_own(world):
    first = make_case("registered", world=world)
    stale = make_case("registered", world=world)
    third = make_case("registered", world=world)
    dispatcher = world.user("dispatcher")
    outcomes = dispatch_batch(
        [
            DispatchItem(first, world.unit.id, first.version),
            DispatchItem(stale, world.unit.id, stale.version - 1),
            DispatchItem(third, None, third.version),
        ],
        dispatcher,
        now=later(0.2),
    )
    assert [o.ok for o in outcomes] == [True, False, False]
    assert isinstance(outcomes[1].error, StaleCase)
    assert "unit_id" in outcomes[2].error.fields
    db.session.commit()
    states = dict(db.session.execute(select(Case.number, Case.state)).all())
    assert states == {first.number: "dispatched", stale.number: "registered", third.number: "registered"}


# -- pages ---------------------------------------------------------------------------------------


def login(client, username):
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code in (302, 303)


def test_each_workspace_opens_only_for_its_roles(world, client):
    db.session.commit()
    allowed = {
        "/work/command": {"intake_operator", "dispatcher", "shift_leader"},
        "/work/inbox": {"unit_staff"},
        "/work/leader": {"leader", "area_lead"},
    }
    for role in world.users:
        login(client, role)
        for path, roles in allowed.items():
            status = client.get(path).status_code
            assert status == (200 if role in roles else 403), (role, path, status)
        client.post("/logout")


def test_command_centre_page_lists_the_queue_with_counts_and_suggested_unit(world, client):
    case = make_case("registered", world=world)
    make_case("reported", world=world)
    db.session.commit()
    login(client, "dispatcher")
    page = client.get("/work/command").get_data(as_text=True)
    assert 'data-count="dispatch">1<' in page and 'data-count="register">1<' in page
    assert f'name="case" value="{case.number}"' in page
    assert f'<option value="{world.unit.id}" selected>' in page
    # Filtered to another district, the queue is empty.
    page = client.get("/work/command?area=411303").get_data(as_text=True)
    assert 'data-count="dispatch">0<' in page


def test_batch_dispatch_page_reports_each_case(world, client):
    good = make_case("registered", world=world)
    gone = make_case("registered", world=world)
    db.session.commit()
    login(client, "dispatcher")
    response = client.post(
        "/work/command/dispatch",
        data={
            "case": [good.number, gone.number, "20990101999"],
            f"unit-{good.number}": str(world.unit.id), f"version-{good.number}": str(good.version),
            f"unit-{gone.number}": str(world.unit.id), f"version-{gone.number}": "99",
        },
    )
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert good.number in page and "flash-success" in page
    assert page.count("flash-error") == 2
    db.session.expire_all()
    assert db.session.get(Case, good.id).state == "dispatched"
    assert db.session.get(Case, gone.id).state == "registered"


def test_unit_signs_and_reports_back_from_the_inbox(world, client):
    case = make_case("dispatched", world=world)
    db.session.commit()
    login(client, "unit_staff")
    page = client.get("/work/inbox").get_data(as_text=True)
    assert case.number in page and 'data-count="to_sign">1<' in page
    response = client.post(f"/work/inbox/cases/{case.number}/sign",
                           data={f"sign-{case.id}-expected_version": case.version})
    assert response.status_code == 303 and response.headers["Location"].startswith("/work/inbox")
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert case.state == "handling"
    response = client.post(
        f"/work/inbox/cases/{case.number}/feedback",
        data={f"feedback-{case.id}-expected_version": case.version, f"feedback-{case.id}-note": "已清运",
              f"feedback-{case.id}-photos": (io.BytesIO(png_bytes()), "after.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Case, case.id).state == "handled"


def test_a_refused_inbox_action_changes_nothing_and_says_why(world, client):
    case = make_case("handling", world=world)
    db.session.commit()
    login(client, "unit_staff")
    response = client.post(f"/work/inbox/cases/{case.number}/feedback",
                           data={f"feedback-{case.id}-expected_version": case.version,
                                 f"feedback-{case.id}-note": "没有照片"})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "flash-error" in page
    db.session.expire_all()
    assert db.session.get(Case, case.id).state == "handling"


def test_leader_supervises_an_overdue_case(world, client):
    case = make_case("handling", world=world)
    db.session.commit()
    login(client, "leader")
    page = client.get("/work/leader").get_data(as_text=True)
    assert case.number in page  # overdue by now
    response = client.post(f"/work/leader/cases/{case.number}/supervise",
                           data={f"supervise-{case.id}-expected_version": case.version,
                                 f"supervise-{case.id}-instruction": "今天下班前处理完毕"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Case, case.id).supervised is True
    page = client.get("/work/leader?queue=supervised").get_data(as_text=True)
    assert case.number in page


# -- API -----------------------------------------------------------------------------------------


def test_batch_dispatch_api_dispatches_each_case_on_its_own_and_says_why_not(world, client):
    good = make_case("registered", world=world)
    stale = make_case("registered", world=world)
    no_unit = make_case("registered", world=world)
    reported = make_case("reported", world=world)
    db.session.commit()
    version = good.version
    login(client, "dispatcher")
    unit = world.unit.code
    response = client.post("/api/v1/work/dispatch", json={"cases": [
        {"number": good.number, "unit": unit, "expected_version": good.version},
        {"number": stale.number, "unit": unit, "expected_version": stale.version + 5},
        {"number": no_unit.number, "unit": "NO-SUCH-UNIT"},
        {"number": reported.number, "unit": unit},
        {"number": "20990101999"},
    ]})
    assert response.status_code == 200
    body = response.get_json()
    results = {item["number"]: item for item in body["results"]}
    assert [item["number"] for item in body["results"]][:4] == [good.number, stale.number, no_unit.number,
                                                                  reported.number]
    assert body["dispatched"] == 1 and body["refused"] == 4
    assert results[good.number]["dispatched"] is True and results[good.number]["state"] == "dispatched"
    assert results[good.number]["version"] > version
    assert results[stale.number]["error"]["error"] == "stale"
    assert set(results[no_unit.number]["error"]["fields"]) == {"unit"}
    assert results[reported.number]["error"]["error"] == "invalid_transition"
    assert results["20990101999"]["error"]["error"] == "not_found"
    db.session.expire_all()
    states = dict(db.session.execute(select(Case.number, Case.state)).all())
    assert states == {good.number: "dispatched", stale.number: "registered", no_unit.number: "registered",
                      reported.number: "reported"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({}, "cases"),
        ({"cases": []}, "cases"),
        ({"cases": [{"number": str(n)} for n in range(51)]}, "cases"),
        ({"cases": ["20260601000001"]}, "cases[0]"),
        ({"cases": [{"unit": "SAN01"}]}, "cases[0].number"),
        ({"cases": [{"number": 7}]}, "cases[0].number"),
        ({"cases": [{"number": "1" * 21}]}, "cases[0].number"),
        ({"cases": [{"number": "1"}, {"number": "1"}]}, "cases[1].number"),
        ({"cases": [{"number": "1", "expected_version": 0}]}, "cases[0].expected_version"),
        ({"cases": [{"number": "1", "unit": ["SAN01"]}]}, "cases[0].unit"),
    ],
)
def test_batch_dispatch_api_refuses_a_malformed_batch_whole(world, client, body, field):
    case = make_case("registered", world=world)
    db.session.commit()
    login(client, "dispatcher")
    response = client.post("/api/v1/work/dispatch", json=body)
    assert response.status_code == 422 and field in response.get_json()["fields"]
    db.session.expire_all()
    assert db.session.get(Case, case.id).state == "registered"


def test_batch_dispatch_api_is_for_the_command_centre_only(world, client):
    case = make_case("registered", world=world)
    db.session.commit()
    for role in ("unit_staff", "grid_worker", "leader"):
        login(client, role)
        response = client.post("/api/v1/work/dispatch", json={"cases": [{"number": case.number, "unit": "SAN01"}]})
        assert response.status_code == 403, role
        client.post("/logout")
    # Someone outside the district does not learn that the case exists.
    login(client, "dispatcher")
    client.post("/logout")
    outsider = world.outsiders["dispatcher"]
    login(client, outsider.username)
    result = client.post("/api/v1/work/dispatch", json={"cases": [{"number": case.number}]}).get_json()
    assert result["results"][0]["error"]["error"] == "not_found"
    db.session.expire_all()
    assert db.session.get(Case, case.id).state == "registered"


def test_changes_endpoint_counts_and_moves_when_someone_acts(world, client):
    case = make_case("registered", world=world)
    db.session.commit()
    login(client, "dispatcher")
    first = client.get("/api/v1/work/changes?workspace=command").get_json()
    assert first["counts"]["dispatch"] == 1 and first["changed"] is True
    since = first["last_event_id"]
    assert client.get(f"/api/v1/work/changes?workspace=command&since={since}").get_json()["changed"] is False
    act(world, case, "dispatch", "dispatcher", unit=True, now=later(0.1))
    db.session.commit()
    after = client.get(f"/api/v1/work/changes?workspace=command&since={since}").get_json()
    assert after["changed"] is True and after["last_event_id"] > since
    assert after["counts"]["dispatch"] == 0
    assert client.get("/api/v1/work/changes?workspace=inbox").status_code == 403
    assert client.get("/api/v1/work/changes?workspace=nowhere").status_code == 422


def test_map_endpoint_gives_points_of_the_queue_inside_the_bbox(world, client):
    inside = make_case("registered", world=world)
    make_case("registered", world=world, xy=GRID4_XY)
    make_case("reported", world=world)
    db.session.commit()
    login(client, "dispatcher")
    everything = client.get("/api/v1/work/map").get_json()
    assert len(everything["features"]) == 3 and everything["datum"] == "gcj02"
    queue = client.get("/api/v1/work/map?queue=dispatch").get_json()
    assert len(queue["features"]) == 2
    x, y = inside.layer_x, inside.layer_y
    box = client.get(f"/api/v1/work/map?queue=dispatch&bbox={x - 1e-5},{y - 1e-5},{x + 1e-5},{y + 1e-5}").get_json()
    assert [f["id"] for f in box["features"]] == [inside.number]
    assert box["features"][0]["properties"]["state"] == "registered"
    assert client.get("/api/v1/work/map?bbox=1,2,3").status_code == 422
    client.post("/logout")
    login(client, "unit_staff")
    assert client.get("/api/v1/work/map").status_code == 403


def test_leader_figures_count_today_per_area_and_unit(world, client):
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    case = make_case("registered", world=world, now=now)
    act(world, case, "dispatch", "dispatcher", unit=True, now=now)
    make_case("reported", world=world, now=now - timedelta(days=8))
    db.session.commit()
    login(client, "leader")
    page = client.get("/work/leader?span=today").get_data(as_text=True)
    # One district row (宛城区) with today's report, registration and dispatch; the unit row too.
    district = page[page.index("宛城区"):]
    cells = district[: district.index("</tr>")]
    assert cells.count(">1</td>") >= 3
    assert "环卫处" in page
    week = client.get("/work/leader?span=week").get_data(as_text=True)
    assert "宛城区" in week


def test_due_soon_uses_the_longer_registration_limit_in_the_urban_rural_fringe(world):
    world.areas["grid2"].urban_rural_fringe = True
    db.session.flush()
    fringe = make_case("reported", world=world, xy=(GRID1_XY[0] + 0.001073, GRID1_XY[1]))
    plain = make_case("reported", world=world)
    assert fringe.in_fringe and not plain.in_fringe
    intake = world.user("intake_operator")
    # 1.7 h after filing: the plain case (1 wh) is overdue, the fringe case (2 wh) is due soon.
    assert listed(intake, "yellow", later(1.7)) == [fringe.number]
    assert case_colour(fringe, later(1.7)) == "yellow"
    assert listed(intake, "overdue", later(1.7)) == [plain.number]
