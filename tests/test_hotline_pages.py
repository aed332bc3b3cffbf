"""Hotline pages: the desk, an order, the gazetteer; who may open them and who sees callers unmasked."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from gridops.cases.models import Case
from gridops.extensions import db
from gridops.hotline.models import CallerDataView, GazetteerPlace, HotlineContact, HotlineOrder
from gridops.hotline.gazetteer import import_gazetteer
from gridops.hotline.services import log_complaint, reply_to_caller
from tests.case_factories import GRID1_XY, GRID4_XY, make_state, make_world

NAME, PHONE = "赵大海", "13912345678"


@pytest.fixture
def world(app):
    world = make_world()
    db.session.commit()
    return world


def logged(world):
    complaint = log_complaint(world.user("hotline_operator"), caller_name=NAME, phone=PHONE, content="井盖丢了",
                              case_type="component", small_class_code="0101", x=GRID1_XY[0], y=GRID1_XY[1],
                              datum="gcj02")
    db.session.commit()
    return complaint


def desk_form(**overrides) -> dict:
    form = {"phone": PHONE, "caller_name": NAME, "channel": "phone", "consent_callback": "1", "content": "路灯不亮",
            "small_class": "component:0118", "reply_limit_kind": "utility", "urgency": "normal",
            "x": str(GRID1_XY[0]), "y": str(GRID1_XY[1]), "datum": "gcj02", "idempotency_key": "form-1"}
    form.update(overrides)
    return form


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_the_desk_logs_a_complaint_and_shows_it_in_the_reply_queue(client, auth, world):
    auth.login("hotline_operator")
    page = client.get("/hotline/")
    assert page.status_code == 200 and 'id="intake"' in page.get_data(as_text=True)
    response = client.post("/hotline/complaints", data=desk_form())
    assert response.status_code == 303
    case = db.session.scalar(select(Case))
    assert response.headers["Location"].endswith(f"/hotline/cases/{case.number}")
    assert case.source == "hotline" and case.small_class.code == "0118"
    desk = client.get("/hotline/").get_data(as_text=True)
    assert case.number in desk and 'id="reply-queue"' in desk


def test_a_bad_desk_form_is_shown_again_with_the_field_marked(client, auth, world):
    auth.login("hotline_operator")
    response = client.post("/hotline/complaints", data=desk_form(phone="12345"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="h-phone-error"' in page and 'value="12345"' in page
    assert count(Case) == 0


def test_the_desk_adds_a_repeat_call_to_an_existing_case(client, auth, world):
    case = logged(world).case
    auth.login("hotline_operator")
    response = client.post(f"/hotline/cases/{case.number}/contacts", data=desk_form(phone="0377-63123456"))
    assert response.status_code == 303
    assert count(HotlineContact) == 2 and db.session.get(Case, case.id).repeat_count == 1


def gazetteer(*rows: tuple[str, tuple[float, float]]) -> None:
    lines = "".join(f"{name},road,{x},{y},gcj02,\n" for name, (x, y) in rows)
    import_gazetteer(None, "name,kind,x,y,datum,aliases\n" + lines, file_format="csv")
    db.session.commit()


def typed_place(text: str, **overrides) -> dict:
    """The desk form as a browser without the page's script sends it: the place name typed, no pick."""
    return desk_form(x="", y="", place_q=text, **overrides)


def test_without_the_script_a_typed_name_matching_one_place_is_that_place(client, auth, world):
    gazetteer(("建设路", GRID1_XY), ("工业路", GRID4_XY))
    auth.login("hotline_operator")
    response = client.post("/hotline/complaints", data=typed_place("建设"))
    assert response.status_code == 303
    order = db.session.scalar(select(HotlineOrder))
    assert order.located_by == "place" and order.place.name == "建设路"


def test_without_the_script_several_matches_are_offered_and_the_pick_is_filed(client, auth, world):
    gazetteer(("人民路", GRID1_XY), ("人民公园", GRID4_XY))
    auth.login("hotline_operator")
    response = client.post("/hotline/complaints", data=typed_place("人民"))
    assert response.status_code == 422 and count(Case) == 0
    page = response.get_data(as_text=True)
    assert 'id="h-place_q-error"' in page
    park = db.session.scalar(select(GazetteerPlace).where(GazetteerPlace.name == "人民公园"))
    assert f'name="place_pick" value="place:{park.id}"' in page and "人民路" in page
    response = client.post("/hotline/complaints", data=typed_place("人民", place_pick=f"place:{park.id}"))
    assert response.status_code == 303
    assert db.session.scalar(select(HotlineOrder)).place_id == park.id


def test_without_the_script_an_area_pick_files_an_unlocated_order(client, auth, world):
    auth.login("hotline_operator")
    code = world.areas["grid1"].code
    response = client.post("/hotline/complaints", data=typed_place(code, place_pick=f"area:{code}"))
    assert response.status_code == 303
    assert db.session.scalar(select(HotlineOrder)).located_by == "area"


@pytest.mark.parametrize(
    ("form", "field"),
    [
        (typed_place("没有这条路"), "place_q"),
        (typed_place("人民", place_pick="street:1"), "place_q"),
        (typed_place("人民", place_pick="place:999999"), "place_q"),
        (desk_form(y="north"), "y"),
        (desk_form(x="east"), "x"),
    ],
)
def test_a_place_that_cannot_be_found_or_picked_is_marked_and_nothing_is_written(client, auth, world, form, field):
    gazetteer(("人民路", GRID1_XY))
    auth.login("hotline_operator")
    response = client.post("/hotline/complaints", data=form)
    assert response.status_code == 422
    assert f'id="h-{field}-error"' in response.get_data(as_text=True)
    assert count(Case) == 0 and count(HotlineContact) == 0


@pytest.mark.parametrize("role", ["grid_worker", "intake_operator", "dispatcher", "unit_staff", "leader", "admin"])
def test_only_operators_open_the_desk(client, auth, world, role):
    auth.login(role)
    assert client.get("/hotline/").status_code == 403
    assert client.post("/hotline/complaints", data=desk_form()).status_code == 403


def test_reply_and_a_dissatisfied_follow_up_through_the_order_page(client, auth, world):
    complaint = logged(world)
    number = complaint.case.number
    make_state(world, complaint.case, "closed")
    db.session.commit()
    auth.login("hotline_operator")
    assert client.post(f"/hotline/cases/{number}/reply", data={"note": "已更换井盖"}).status_code == 303
    page = client.get(f"/hotline/cases/{number}").get_data(as_text=True)
    assert 'name="satisfaction"' in page
    client.post(f"/hotline/cases/{number}/follow-up", data={"satisfaction": "dissatisfied", "note": "井盖松动"})
    db.session.expire_all()
    order = db.session.scalar(select(HotlineOrder))
    assert order.satisfaction == "dissatisfied" and order.case.state == "handling"


#: Roles that see callers' names and phones unmasked, on every page.
UNMASKED = {"hotline_operator", "intake_operator", "shift_leader"}
ROLES = ["hotline_operator", "intake_operator", "shift_leader", "dispatcher", "grid_worker", "unit_staff",
         "area_lead", "leader", "evaluator", "admin"]


@pytest.mark.parametrize("role", ROLES)
def test_every_page_masks_callers_except_for_hotline_and_supervision_staff(client, auth, world, role):
    complaint = logged(world)
    number = complaint.case.number
    make_state(world, complaint.case, "handling")  # held by the unit, so its staff may see it
    db.session.commit()
    auth.login(role)
    before = count(CallerDataView)
    response = client.get(f"/hotline/cases/{number}")
    page = response.get_data(as_text=True)
    if role in UNMASKED:
        assert response.status_code == 200 and PHONE in page and NAME in page
        view = db.session.scalar(select(CallerDataView).order_by(CallerDataView.id.desc()).limit(1))
        assert count(CallerDataView) == before + 1
        assert view.user_id == world.user(role).id and view.case_id == complaint.case.id and view.context == "order_page"
    else:
        assert PHONE not in page and NAME not in page
        if response.status_code == 200:
            assert "139****5678" in page and "赵**" in page
        assert count(CallerDataView) == before
    # pages of other packages never show a caller at all
    for path in (f"/cases/{number}", "/cases", "/work/", "/work/inbox", "/work/leader", "/tablet/"):
        other = client.get(path, follow_redirects=True).get_data(as_text=True)
        assert PHONE not in other and NAME not in other, path


def test_an_out_of_scope_user_gets_404_not_a_masked_contact(client, auth, world):
    number = logged(world).case.number
    auth.login("outside_grid_worker")
    assert client.get(f"/hotline/cases/{number}").status_code == 404


def test_the_gazetteer_page_imports_for_administrators_only(client, auth, world):
    csv = f"name,kind,x,y,datum\n建设路,road,{GRID1_XY[0]},{GRID1_XY[1]},gcj02\n".encode()
    auth.login("hotline_operator")
    assert client.get("/hotline/gazetteer").status_code == 403
    auth.logout()
    auth.login("admin")
    assert client.get("/hotline/gazetteer").status_code == 200
    response = client.post("/hotline/gazetteer", data={"file": (io.BytesIO(csv), "roads.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 303 and count(GazetteerPlace) == 1
    bad = client.post("/hotline/gazetteer", data={"file": (io.BytesIO(b"name,x,y\nx,1,1\n"), "bad.csv")},
                      content_type="multipart/form-data")
    assert bad.status_code == 422 and "row 2.datum" in bad.get_data(as_text=True)
    assert count(GazetteerPlace) == 1


def test_the_case_page_flags_an_unlocated_fallback_order_for_the_intake_operator(client, auth, world):
    complaint = log_complaint(world.user("hotline_operator"), caller_name=NAME, phone=PHONE, content="不知道具体位置",
                              case_type="event", small_class_code="0102", area_code="411302001001",
                              no_clear_owner=True)
    db.session.commit()
    auth.login("intake_operator")
    page = client.get(f"/cases/{complaint.case.number}").get_data(as_text=True)
    assert 'id="hotline-panel-title"' in page and "badge-fallback" in page and "badge-red" in page
    assert f"/hotline/cases/{complaint.case.number}" in page
    assert PHONE not in page and NAME not in page


def test_administrators_change_the_hotline_limits_on_the_page(client, auth, world):
    from gridops.hotline.settings import LIMIT_NAMES, hotline_settings

    form = {f"{name}-value": "3" for name in LIMIT_NAMES}
    form.update({f"{name}-clock": "working_days" for name in LIMIT_NAMES})
    form["urgent_after_repeats"] = "4"
    auth.login("hotline_operator")
    assert client.post("/hotline/settings", data=form).status_code == 403
    auth.logout()
    auth.login("admin")
    assert 'name="general-value"' in client.get("/hotline/gazetteer").get_data(as_text=True)
    assert client.post("/hotline/settings", data={**form, "general-value": "0"}).status_code == 303
    assert hotline_settings().reply_limit("general").value == 7  # refused, nothing saved
    assert client.post("/hotline/settings", data=form).status_code == 303
    settings = hotline_settings()
    assert settings.reply_limit("emergency").value == 3 and settings.urgent_after_repeats == 4
    assert settings.followup_limit.clock.value == "working_days"
