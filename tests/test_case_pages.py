"""Case pages: the list, a case with its timeline and action forms, actions from the page, filing."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from gridops.auth.models import User
from gridops.cases.models import Case, CaseEvent, CasePhoto, CaseRequest
from gridops.cases.services import file_case, take_action
from gridops.catalogue.models import SmallClass
from gridops.catalogue.services import seed_default_catalogue
from gridops.extensions import db
from tests.factories import DX, DY, X0, Y0, make_area, make_department, make_small_city, make_user

#: The middle of grid 001 (north-west cell of the tiny city), in the layer's datum.
GRID1 = (X0 + DX / 2, Y0 + 1.5 * DY)


def _text(response) -> str:
    return response.get_data(as_text=True)


def _flashes(html: str) -> list[str]:
    return re.findall(r'<p class="flash flash-\w+" role="\w+">(.*?)</p>', html, re.S)


@pytest.fixture
def world(app):
    """The tiny city, the default catalogue, a sanitation unit and one user per working role."""
    areas = make_small_city()
    seed_default_catalogue()
    unit = make_department("SAN01", "环卫处", "sanitation", name_en="Sanitation", area=areas["district"])
    other_unit = make_department("LAW01", "城管执法局", "law_enforcement", name_en="Law enforcement")
    elsewhere = make_area("411303", "卧龙区", 1, areas["city"])
    users = {
        "worker": make_user("worker", "grid_worker", area=areas["community"], locale="en"),
        "intake": make_user("intake", "intake_operator", locale="en"),
        "dispatcher": make_user("dispatcher", "dispatcher", locale="en"),
        "staff": make_user("staff", "unit_staff", department=unit, locale="en"),
        "other_staff": make_user("other_staff", "unit_staff", department=other_unit, locale="en"),
        "outsider": make_user("outsider", "grid_worker", area=elsewhere, locale="en"),
        "leader": make_user("shift", "shift_leader", locale="en"),
        "evaluator": make_user("evaluator", "evaluator", locale="en"),
        "boss": make_user("boss", "leader", locale="en"),
    }
    db.session.commit()
    return {"areas": areas, "unit": unit, "other_unit": other_unit, **users}


def _file(world, **kwargs) -> Case:
    values = dict(source="patrol", case_type="event", small_class_code="0102", x=GRID1[0], y=GRID1[1],
                  datum="gcj02", address="建设路 12 号", description="垃圾堆在路边")
    values.update(kwargs)
    case = file_case(world["worker"], **values)
    db.session.commit()
    return case


def _registered(world, **kwargs) -> Case:
    case = _file(world, **kwargs)
    take_action(case, "register", world["intake"])
    db.session.commit()
    return case


def _action_urls(html: str) -> list[str]:
    return re.findall(r'action="/cases/\d+/actions/(\w+)"', html)


def test_list_shows_the_cases_a_user_may_see_with_filters(client, auth, world):
    registered = _registered(world)
    reported = _file(world, small_class_code="0104", address="人民路")
    auth.login("dispatcher")
    html = _text(client.get("/cases"))
    assert registered.number in html and reported.number in html
    assert "Cases found: 2" in html
    assert '<label for="f-state">State</label>' in html

    html = _text(client.get("/cases?state=registered"))
    assert registered.number in html and reported.number not in html

    html = _text(client.get("/cases?text=人民路"))
    assert reported.number in html and registered.number not in html

    auth.logout()
    auth.login("outsider")
    html = _text(client.get("/cases"))
    assert registered.number not in html and "No case matches these filters." in html


def test_list_sorts_by_time_left_and_ignores_a_bad_date(client, auth, world):
    wednesday = datetime(2026, 11, 18, 2, 0, tzinfo=timezone.utc)  # 10:00 in the city
    hotline = make_user("hotline", "hotline_operator")
    verifying = file_case(hotline, source="hotline", case_type="event", small_class_code="0102",
                          x=GRID1[0], y=GRID1[1], datum="gcj02", now=wednesday - timedelta(minutes=10))  # 24 h
    reported = _file(world, now=wednesday)  # register by 11:00
    registered = _file(world, small_class_code="0104", now=wednesday - timedelta(minutes=30))
    take_action(registered, "register", world["intake"], now=wednesday)  # dispatch by 11:00 + ε
    db.session.commit()
    auth.login("dispatcher")
    response = client.get("/cases?sort=time_left&date_from=not-a-date")
    html = _text(response)
    assert response.status_code == 200
    assert 'id="f-from-error"' in html
    positions = [html.index(case.number) for case in (reported, registered, verifying)]
    assert positions == sorted(positions)
    newest = _text(client.get("/cases"))
    positions = [newest.index(case.number) for case in (reported, verifying, registered)]
    assert positions == sorted(positions)


def test_detail_shows_facts_timeline_and_the_buttons_of_each_role(client, auth, world):
    case = _registered(world)
    auth.login("dispatcher")
    html = _text(client.get(f"/cases/{case.number}"))
    assert "E0102 Exposed garbage" in html
    assert "网格001" in html and "411302001001001" in html
    assert "Sanitation" in html  # the suggested unit
    assert "Filed" in html and "Register" in html and "Reported → Registered" in html
    assert _action_urls(html) == ["dispatch", "merge"]  # 并单 is open to the dispatcher too
    # The unit select is pre-set to the suggested unit.
    assert f'<option selected value="{world["unit"].id}">' in html
    assert re.search(r'<input [^>]*name="dispatch-expected_version"[^>]*type="hidden" value="2">', html)

    auth.logout()
    auth.login("intake")
    assert "dispatch" not in _action_urls(_text(client.get(f"/cases/{case.number}")))
    auth.logout()
    auth.login("evaluator")
    html = _text(client.get(f"/cases/{case.number}"))
    assert _action_urls(html) == [] and "There is nothing for you to do on this case now." in html


def test_a_posted_action_moves_the_state_and_joins_the_timeline(client, auth, world):
    case = _registered(world)
    auth.login("dispatcher")
    response = client.post(
        f"/cases/{case.number}/actions/dispatch",
        data={"dispatch-expected_version": case.version, "dispatch-unit": world["unit"].id},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/cases/{case.number}"
    db.session.expire_all()
    assert db.session.get(Case, case.id).state == "dispatched"
    html = _text(client.get(f"/cases/{case.number}"))
    assert "Done: Dispatch." in _flashes(html)
    assert "Registered → Dispatched" in html

    auth.logout()
    auth.login("staff")
    html = _text(client.get(f"/cases/{case.number}"))
    assert "sign" in _action_urls(html) and "dispatch" not in _action_urls(html)


def test_a_stale_version_asks_to_reload(client, auth, world):
    case = _registered(world)
    stale = case.version
    take_action(case, "supervise", world["boss"], instruction="快办")
    db.session.commit()
    auth.login("dispatcher")
    response = client.post(
        f"/cases/{case.number}/actions/dispatch",
        data={"dispatch-expected_version": stale, "dispatch-unit": world["unit"].id},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "The case changed while you were looking at it — reload" in _flashes(_text(response))
    db.session.expire_all()
    assert db.session.get(Case, case.id).state == "registered"


def test_a_missing_input_is_named_on_the_page(client, auth, world):
    case = _file(world)
    auth.login("intake")
    response = client.post(
        f"/cases/{case.number}/actions/cancel", data={"cancel-expected_version": case.version},
        follow_redirects=True,
    )
    assert ["Reason: is required"] == _flashes(_text(response))
    db.session.expire_all()
    assert db.session.get(Case, case.id).state == "reported"


def test_an_action_the_role_may_not_take_is_refused_with_a_message(client, auth, world):
    case = _registered(world)
    auth.login("intake")
    response = client.post(
        f"/cases/{case.number}/actions/dispatch",
        data={"dispatch-expected_version": case.version, "dispatch-unit": world["unit"].id},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Your role or scope does not allow this on this case." in _flashes(_text(response))


@pytest.mark.parametrize("who", ["outsider", "other_staff"])
def test_cases_outside_the_scope_are_not_found(client, auth, world, who):
    case = _registered(world)
    auth.login(who)
    assert client.get(f"/cases/{case.number}").status_code == 404
    response = client.post(f"/cases/{case.number}/actions/register", data={"register-expected_version": 2})
    assert response.status_code == 404
    assert client.post("/cases/NOPE/actions/register").status_code == 404


def test_filing_form_files_one_case_for_a_double_submit(client, auth, world):
    auth.login("worker")
    page = _text(client.get("/cases/new"))
    key = re.search(r'name="idempotency_key" type="hidden" value="(\w+)"', page).group(1)
    assert '<optgroup label="Event · 01 City appearance">' in page
    assert '<option value="patrol"' in page and 'value="hotline"' not in page  # a grid worker's sources
    form = {
        "small_class": "event:0102", "source": "patrol", "x": GRID1[0], "y": GRID1[1], "datum": "gcj02",
        "address": "建设路 12 号", "description": "垃圾", "urgency": "normal", "idempotency_key": key,
    }
    first = client.post("/cases/new", data=form)
    second = client.post("/cases/new", data=form)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(Case)) == 1
    case = db.session.scalar(select(Case))
    assert first.headers["Location"] == f"/cases/{case.number}"
    assert case.state == "reported" and case.reporter.username == "worker"
    assert db.session.scalar(select(func.count()).select_from(CaseEvent)) == 1


def test_filing_form_errors_name_the_field(client, auth, world):
    auth.login("intake")
    base = {"small_class": "event:0102", "source": "patrol", "datum": "gcj02", "urgency": "normal",
            "idempotency_key": "k1"}
    response = client.post("/cases/new", data=base)
    html = _text(response)
    assert response.status_code == 422
    assert 'id="x" name="x" aria-invalid="true"' in html or ('aria-describedby="x-error"' in html)
    assert 'id="x-error"' in html and 'id="y-error"' in html

    response = client.post("/cases/new", data={**base, "x": "100.0", "y": "10.0"})
    html = _text(response)
    assert response.status_code == 422
    assert 'id="x-error"' in html
    assert re.search(r'<p class="field-error" id="x-error">[^<]*outside', html)

    response = client.post("/cases/new", data={**base, "small_class": "event:9999", "x": GRID1[0], "y": GRID1[1]})
    assert response.status_code == 422
    assert 'id="small_class-error"' in _text(response)
    assert db.session.scalar(select(func.count()).select_from(Case)) == 0


def test_filing_needs_a_filing_role(client, auth, world):
    auth.login("staff")
    assert client.get("/cases/new").status_code == 403


@pytest.mark.parametrize(
    ("username", "start"),
    [
        ("worker", "/tablet/"),
        ("dispatcher", "/work/command"),
        ("staff", "/work/inbox"),
        ("evaluator", "/evaluation/notices"),
    ],
)
def test_home_opens_the_workspace_of_the_role(client, auth, world, username, start):
    auth.login(username)
    assert client.get("/").headers["Location"] == start


def test_pages_render_in_chinese(client, auth, world):
    case = _registered(world)
    world["dispatcher"].locale = "zh"
    db.session.commit()
    auth.login("dispatcher")
    html = _text(client.get(f"/cases/{case.number}"))
    assert "时间线" in html and "派遣" in html and "已立案" in html
    assert "案件" in _text(client.get("/cases"))
    response = client.post(
        f"/cases/{case.number}/actions/dispatch", data={"dispatch-expected_version": case.version},
        follow_redirects=True,
    )
    assert _flashes(_text(response)) == ["处置单位：必须填写"]


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 80, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def test_feedback_with_a_photo_shows_it_in_the_timeline(client, auth, world):
    case = _registered(world)
    take_action(case, "dispatch", world["dispatcher"], unit_id=world["unit"].id)
    take_action(case, "sign", world["staff"])
    db.session.commit()
    auth.login("staff")
    html = _text(client.get(f"/cases/{case.number}"))
    assert 'enctype="multipart/form-data" aria-label="Report back"' in html
    assert 'id="feedback-photos"' in html and 'id="feedback-note"' in html and 'id="feedback-reason"' not in html

    response = client.post(
        f"/cases/{case.number}/actions/feedback",
        data={"feedback-expected_version": case.version, "feedback-note": "已清运",
              "feedback-photos": (io.BytesIO(_png()), "after.png")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    html = _text(response)
    assert "Done: Report back." in _flashes(html)
    photo = db.session.scalar(select(CasePhoto))
    assert photo is not None
    assert f'<a href="/api/v1/photos/{photo.id}"><img src="/api/v1/photos/{photo.id}/thumb"' in html
    assert "Handling → Handled, awaiting check" in html and "已清运" in html


def test_a_refused_photo_is_named_and_changes_nothing(client, auth, world):
    case = _registered(world)
    take_action(case, "dispatch", world["dispatcher"], unit_id=world["unit"].id)
    take_action(case, "sign", world["staff"])
    db.session.commit()
    auth.login("staff")
    response = client.post(
        f"/cases/{case.number}/actions/feedback",
        data={"feedback-expected_version": case.version, "feedback-note": "已清运",
              "feedback-photos": (io.BytesIO(b"not an image at all"), "after.jpg")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    flashes = _flashes(_text(response))
    assert len(flashes) == 1 and flashes[0].startswith("Photos: ")
    db.session.expire_all()
    assert db.session.get(Case, case.id).state == "handling"
    assert db.session.scalar(select(func.count()).select_from(CasePhoto)) == 0


def test_a_hotline_report_shows_its_verification_clock(client, auth, world):
    make_user("hotline", "hotline_operator", locale="en")
    db.session.commit()
    case = file_case(db.session.scalar(select(User).where(User.username == "hotline")), source="hotline",
                     case_type="event", small_class_code="0102", x=GRID1[0], y=GRID1[1], datum="gcj02")
    db.session.commit()
    auth.login("worker")
    html = _text(client.get(f"/cases/{case.number}"))
    assert "Verifying on site" in html and "Verify on site by" in html
    assert _action_urls(html) == ["verify", "verify_not_found"]


def test_a_pending_return_shows_with_the_shift_leaders_choices(client, auth, world):
    case = _registered(world)
    take_action(case, "dispatch", world["dispatcher"], unit_id=world["unit"].id)
    db.session.commit()
    auth.login("staff")
    assert _action_urls(_text(client.get(f"/cases/{case.number}"))) == ["sign", "request_return"]
    client.post(
        f"/cases/{case.number}/actions/request_return",
        data={"request_return-expected_version": case.version, "request_return-reason": "不属于本单位职责"},
    )
    html = _text(client.get(f"/cases/{case.number}"))
    assert "Pending requests" in html and "不属于本单位职责" in html
    assert _action_urls(html) == ["sign"]

    auth.logout()
    auth.login("shift")
    html = _text(client.get(f"/cases/{case.number}"))
    assert "Pending requests" in html and "Staff" in html  # who asked
    assert _action_urls(html) == ["approve_return", "reject_return", "force_close"]
    assert 'id="reject_return-reason"' in html and 'id="approve_return-reason"' not in html


def test_filing_with_a_chosen_standard_and_a_standard_of_another_class(client, auth, world):
    structure = db.session.scalar(select(SmallClass).where(SmallClass.case_type == "event", SmallClass.code == "0101"))
    finished = [s for s in structure.standards if s.active][1]
    auth.login("worker")
    page = _text(client.get("/cases/new"))
    assert re.search(r'<optgroup label="E0101 [^"]*" data-class="event:0101">', page)
    assert f'<option value="{finished.id}">' in page
    form = {"small_class": "event:0101", "standard": str(finished.id), "source": "patrol", "x": GRID1[0],
            "y": GRID1[1], "datum": "gcj02", "urgency": "normal", "idempotency_key": "k-structure"}
    assert client.post("/cases/new", data=form).status_code == 303
    assert db.session.scalar(select(Case)).standard_id == finished.id

    response = client.post("/cases/new", data={**form, "small_class": "event:0102", "idempotency_key": "k-other"})
    assert response.status_code == 422
    assert 'id="standard-error"' in _text(response)
    assert db.session.scalar(select(func.count()).select_from(Case)) == 1


def test_action_and_filing_forms_carry_their_csrf_tokens(app, client, auth, world):
    case = _registered(world)
    auth.login("dispatcher")
    app.config["WTF_CSRF_ENABLED"] = True
    html = _text(client.get(f"/cases/{case.number}"))
    token = re.search(r'name="dispatch-csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    data = {"dispatch-expected_version": case.version, "dispatch-unit": world["unit"].id}
    assert client.post(f"/cases/{case.number}/actions/dispatch", data=data).status_code == 400
    response = client.post(f"/cases/{case.number}/actions/dispatch", data={**data, "dispatch-csrf_token": token},
                           follow_redirects=True)
    assert "Done: Dispatch." in _flashes(_text(response))

    page = _text(client.get("/cases/new"))
    form = {name: value for name, value in re.findall(r'<input id="(csrf_token|idempotency_key)" name="\1" '
                                                       r'type="hidden" value="([^"]+)">', page)}
    assert set(form) == {"csrf_token", "idempotency_key"}
    response = client.post("/cases/new", data={**form, "small_class": "event:0102", "source": "patrol",
                                               "x": GRID1[0], "y": GRID1[1], "datum": "gcj02", "urgency": "normal"})
    assert response.status_code == 303


@pytest.mark.parametrize(
    "query",
    ["page=abc", "page=0", "page=99999", "small_class=abc", "state=bogus", "source=nowhere",
     "date_from=2026-13-01", "date_to=yesterday", "text=" + "x" * 300, "sort=sideways", "overdue=y&supervised=y"],
)
def test_odd_list_queries_still_give_a_page(client, auth, world, query):
    case = _file(world)
    auth.login("dispatcher")
    response = client.get(f"/cases?{query}")
    assert response.status_code == 200
    assert (case.number in _text(response)) == (query != "overdue=y&supervised=y")


def test_an_extension_request_takes_a_due_time_in_the_city_zone(client, auth, world):
    case = _registered(world)
    take_action(case, "dispatch", world["dispatcher"], unit_id=world["unit"].id)
    take_action(case, "sign", world["staff"])
    db.session.commit()
    wanted = (case.handle_due_at + timedelta(days=3)).astimezone(ZoneInfo("Asia/Shanghai")).replace(second=0, microsecond=0)
    auth.login("staff")
    html = _text(client.get(f"/cases/{case.number}"))
    assert 'id="request_extension-due" name="request_extension-due_at" required type="datetime-local"' in html
    response = client.post(
        f"/cases/{case.number}/actions/request_extension",
        data={"request_extension-expected_version": case.version, "request_extension-reason": "需要采购材料",
              "request_extension-due_at": wanted.strftime("%Y-%m-%dT%H:%M")},
        follow_redirects=True,
    )
    html = _text(response)
    assert "Done: Ask for extension." in _flashes(html)
    assert f"New due time asked for: {wanted:%Y-%m-%d %H:%M}" in html
    stored = db.session.scalar(select(CaseRequest)).requested_due_at
    assert stored == wanted.astimezone(timezone.utc)
