"""Hotline services: logging complaints, repeats, replies, follow-up calls, limits and the gazetteer."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gridops.cases.models import Case, CaseEvent
from gridops.errors import InvalidTransition, NotAllowed, StaleCase, ValidationFailed
from gridops.extensions import db
from gridops.hotline.gazetteer import import_gazetteer, search_places
from gridops.hotline.models import GazetteerPlace, HotlineContact, HotlineOrder
from gridops.hotline.services import add_repeat_contact, log_complaint, record_follow_up, reply_to_caller
from gridops.hotline.settings import hotline_settings, set_hotline_settings
from tests.case_factories import GAP_XY, GRID1_XY, GRID4_XY, T0, later, make_state, make_world
from tests.factories import DX, DY, X0, Y0, make_department

PHONE = "138 1234 5678"


def complaint(world, *, now=T0, **overrides):
    """A complaint about exposed garbage in grid 1, logged by the world's hotline operator."""
    fields = dict(
        caller_name="张三", phone=PHONE, channel="phone", content="小区门口垃圾三天没人清",
        case_type="event", small_class_code="0102", x=GRID1_XY[0], y=GRID1_XY[1], datum="gcj02",
    )
    fields.update(overrides)
    return log_complaint(world.user("hotline_operator"), now=now, **fields)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def world(app):
    return make_world()


def test_a_complaint_files_a_hotline_case_with_its_order_and_contact(world):
    result = complaint(world)
    case, contact, order = result.case, result.contact, result.order
    assert case.source == "hotline" and case.state == "verifying"
    assert case.unit_grid_id == world.areas["grid1"].id
    assert case.description == "小区门口垃圾三天没人清"
    assert contact.case_id == case.id and contact.phone == "+8613812345678" and contact.caller_name == "张三"
    assert contact.operator_id == world.user("hotline_operator").id and contact.repeat is False
    assert order.case_id == case.id and order.located_by == "point" and not order.unlocated
    # general: 7 natural days, ending at midnight (city time) of the 7th day after Monday 1 June
    assert order.reply_due_at == T0.replace(hour=16) + timedelta(days=7)
    assert order.replied_at is None and order.satisfaction is None


def test_the_reply_limit_follows_the_kind(world):
    assert complaint(world, reply_limit_kind="emergency").order.reply_due_at == later(2)
    assert complaint(world, reply_limit_kind="utility").order.reply_due_at == later(24)


def test_case_events_never_carry_caller_data(world):
    case = complaint(world).case
    add_repeat_contact(case, world.user("hotline_operator"), caller_name="李四", phone="0377-63123456",
                       content="又来了", now=later(1))
    for event in db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)):
        text = json.dumps(event.payload or {}, ensure_ascii=False) + event.note
        for secret in ("张三", "李四", "13812345678", "63123456"):
            assert secret not in text, event.action


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("phone", {"phone": "12345"}),
        ("channel", {"channel": "pigeon"}),
        ("content", {"content": "  "}),
        ("reply_limit_kind", {"reply_limit_kind": "someday"}),
        ("location", {"x": None, "y": None}),
        ("location", {"area_code": "411302001001"}),
        ("place_id", {"x": None, "y": None, "place_id": 999}),
        ("area_code", {"x": None, "y": None, "area_code": "999"}),
    ],
)
def test_bad_input_writes_nothing(world, field, overrides):
    with pytest.raises(ValidationFailed) as info:
        complaint(world, **overrides)
    assert field in info.value.fields
    assert count(Case) == count(HotlineOrder) == count(HotlineContact) == 0


@pytest.mark.parametrize("role", ["grid_worker", "intake_operator", "dispatcher", "unit_staff", "leader", "admin"])
def test_only_hotline_operators_log_complaints(world, role):
    with pytest.raises(NotAllowed):
        log_complaint(world.user(role), phone=PHONE, content="x", case_type="event", small_class_code="0102",
                      x=GRID1_XY[0], y=GRID1_XY[1], datum="gcj02", now=T0)


def test_a_complaint_about_an_area_only_is_flagged_unlocated(world):
    order = complaint(world, x=None, y=None, area_code="411302001001").order
    assert order.located_by == "area" and order.unlocated
    assert order.case.area_path.startswith(world.areas["community"].path)


def test_no_clear_owner_falls_to_the_district(world):
    bureau = make_department("WC-CGJ", "宛城区城市管理局", "bureau", area_id=world.areas["district"].id)
    order = complaint(world, no_clear_owner=True).order
    assert order.territorial_fallback is True
    assert order.case.suggested_department_id == bureau.id
    # With a unit of the class's kind serving the district, routing is clear: no fallback.
    assert complaint(world).order.territorial_fallback is False


def test_routing_without_any_owner_is_marked_as_fallback(world):
    # The catalogue's 0503 (cooking fumes) goes to "environment": no such unit exists here.
    bureau = make_department("WC-CGJ", "宛城区城市管理局", "bureau", area_id=world.areas["district"].id)
    order = complaint(world, small_class_code="0503").order
    assert order.territorial_fallback is True
    assert order.case.suggested_department_id == bureau.id


def test_repeat_complaints_raise_the_count_and_then_the_priority(world):
    case = complaint(world).case
    operator = world.user("hotline_operator")
    add_repeat_contact(case, operator, phone="13900001111", content="还没处理", now=later(1))
    assert case.repeat_count == 1 and case.urgency == "normal"
    contact = add_repeat_contact(case, operator, phone="13900002222", content="第三次", now=later(2))
    assert case.repeat_count == 2 and case.urgency == "urgent"
    assert contact.repeat is True
    assert count(HotlineContact) == 3 and count(Case) == 1
    events = [e.action for e in db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))]
    assert events.count("repeat_complaint") == 2


def test_a_repeat_on_a_stale_or_finished_case_is_refused(world):
    case = complaint(world).case
    operator = world.user("hotline_operator")
    with pytest.raises(StaleCase):
        add_repeat_contact(case, operator, phone=PHONE, content="x", expected_version=case.version - 1, now=T0)
    make_state(world, case, "closed")
    with pytest.raises(InvalidTransition):
        add_repeat_contact(case, operator, phone=PHONE, content="x", now=later(1))


def test_reply_records_the_time_once(world):
    order = complaint(world, reply_limit_kind="emergency").order
    operator = world.user("hotline_operator")
    with pytest.raises(ValidationFailed):
        reply_to_caller(order, operator, note=" ", now=later(1))
    reply_to_caller(order, operator, note="已派环卫处理", now=later(3))
    assert order.replied_at == later(3) and order.replied_by_id == operator.id
    event = db.session.scalar(select(CaseEvent).where(CaseEvent.action == "hotline_reply"))
    assert event.payload["on_time"] is False
    with pytest.raises(InvalidTransition):
        reply_to_caller(order, operator, note="again", now=later(4))


def test_follow_up_waits_for_reply_and_finish(world):
    result = complaint(world)
    operator = world.user("hotline_operator")
    with pytest.raises(InvalidTransition):
        record_follow_up(result.order, operator, satisfaction="satisfied", now=later(1))
    reply_to_caller(result.order, operator, note="处理中", now=later(1))
    assert result.order.followup_due_at is None  # not finished yet
    with pytest.raises(InvalidTransition):
        record_follow_up(result.order, operator, satisfaction="satisfied", now=later(2))
    make_state(world, result.case, "closed", now=later(2))
    record_follow_up(result.order, operator, satisfaction="basically_satisfied", now=later(3))
    assert result.order.satisfaction == "basically_satisfied" and result.order.followed_up_at == later(3)
    # 3 working days after the close on Monday 12:00: Thursday's end of office hours
    assert result.order.followup_due_at == T0.replace(hour=10) + timedelta(days=3)
    assert result.case.state == "closed"
    with pytest.raises(InvalidTransition):
        record_follow_up(result.order, operator, satisfaction="satisfied", now=later(4))


def test_a_dissatisfied_follow_up_reopens_the_case_with_new_due_times(world):
    result = complaint(world, reply_limit_kind="utility")
    case, order = result.case, result.order
    operator = world.user("hotline_operator")
    make_state(world, case, "closed")
    reply_to_caller(order, operator, note="已清理", now=later(1))
    with pytest.raises(ValidationFailed):
        record_follow_up(order, operator, satisfaction="dissatisfied", now=later(2))  # needs the reason
    record_follow_up(order, operator, satisfaction="dissatisfied", note="垃圾又堆起来了", now=later(2))
    assert case.state == "handling" and case.closed_at is None
    assert case.handle_due_at > later(2)
    assert order.satisfaction == "dissatisfied" and order.reopen_count == 1
    assert order.reply_due_at == later(26) and order.replied_at is None and order.followed_up_at is None
    reopen = db.session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "reopen"))
    assert reopen.note == "垃圾又堆起来了"


def test_only_operators_reply_and_follow_up(world):
    order = complaint(world).order
    with pytest.raises(NotAllowed):
        reply_to_caller(order, world.user("dispatcher"), note="x", now=later(1))
    with pytest.raises(NotAllowed):
        record_follow_up(order, world.user("leader"), satisfaction="satisfied", now=later(1))


def test_limits_are_city_settings(world):
    with pytest.raises(NotAllowed):
        set_hotline_settings(world.user("hotline_operator"), {"urgent_after_repeats": 3})
    with pytest.raises(ValidationFailed) as info:
        set_hotline_settings(world.user("admin"), {"limits": {"general": {"value": 0, "clock": "working_days"}}})
    assert "limits.general" in info.value.fields
    set_hotline_settings(world.user("admin"), {"limits": {"general": {"value": 5, "clock": "working_days"}},
                                               "urgent_after_repeats": 3})
    assert hotline_settings().reply_limit("general").value == 5
    # Monday 10:00 + 5 working days: Monday 8 June, end of office hours (18:00 city time)
    assert complaint(world).order.reply_due_at == T0.replace(hour=10) + timedelta(days=7)


CSV = (
    "name,kind,x,y,datum,name_en,aliases\n"
    f"人民路,road,{GRID1_XY[0]},{GRID1_XY[1]},gcj02,Renmin Road,人民大道\n"
    f"市政府,landmark,{GRID4_XY[0]},{GRID4_XY[1]},gcj02,,老政府|市府\n"
    f"东边空地,other,{GAP_XY[0]},{GAP_XY[1]},gcj02,,\n"
)


def test_gazetteer_csv_import_locates_places(world):
    result = import_gazetteer(world.user("admin"), CSV, file_format="csv", source_name="places.csv")
    assert result.to_dict() == {"created": 3, "updated": 0, "in_gap": 1}
    road = db.session.scalar(select(GazetteerPlace).where(GazetteerPlace.name == "人民路"))
    assert road.unit_grid_id == world.areas["grid1"].id
    again = import_gazetteer(None, CSV, file_format="csv")
    assert again.to_dict() == {"created": 0, "updated": 3, "in_gap": 1}
    assert count(GazetteerPlace) == 3


def test_gazetteer_geojson_lines_are_located_at_their_middle(world):
    line = {"type": "LineString", "coordinates": [[X0 + 0.1 * DX, Y0 + 1.5 * DY], [X0 + 0.9 * DX, Y0 + 1.5 * DY]]}
    collection = {"type": "FeatureCollection", "datum": "gcj02",
                  "features": [{"type": "Feature", "geometry": line, "properties": {"name": "工业路", "kind": "road"}}]}
    import_gazetteer(world.user("admin"), json.dumps(collection), file_format="geojson")
    place = db.session.scalar(select(GazetteerPlace))
    assert place.unit_grid_id == world.areas["grid1"].id and place.geometry_wkb is not None
    order = complaint(world, x=None, y=None, place_id=place.id).order
    assert order.located_by == "place" and order.place_id == place.id
    assert order.case.unit_grid_id == world.areas["grid1"].id and order.case.address == "工业路"


def test_a_bad_gazetteer_row_rejects_the_whole_file(world):
    bad = CSV + "远方,road,100.0,20.0,gcj02,,\n" + "无名,castle,112.55,33.0,gcj02,,\n"
    with pytest.raises(ValidationFailed) as info:
        import_gazetteer(world.user("admin"), bad, file_format="csv")
    assert set(info.value.fields) == {"row 5.geometry", "row 6.kind"}
    assert count(GazetteerPlace) == 0
    with pytest.raises(NotAllowed):
        import_gazetteer(world.user("hotline_operator"), CSV, file_format="csv")
    with pytest.raises(ValidationFailed):
        import_gazetteer(world.user("admin"), "not,a,gazetteer\n1,2,3\n", file_format="csv")
    with pytest.raises(ValidationFailed):
        import_gazetteer(world.user("admin"), "{", file_format="geojson")


def test_place_search_finds_places_by_name_or_alias_and_areas_by_name_or_code(world):
    import_gazetteer(None, CSV, file_format="csv")
    assert [h.name for h in search_places("人民")] == ["人民路"]
    assert [h.name for h in search_places("市府")] == ["市政府"]
    hits = search_places("411302001001")
    assert [h.type for h in hits][:1] == ["area"] and hits[0].area_code == "411302001001"
    assert {h.name for h in search_places("测试社区")} == {"测试社区"}
    assert search_places("") == [] and search_places("%") == []


def test_gazetteer_import_command(world, runner, tmp_path):
    db.session.commit()
    path = tmp_path / "places.csv"
    path.write_text(CSV, encoding="utf-8")
    result = runner.invoke(args=["gazetteer", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "3 places created" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("name,x,y\n远方,100,20\n", encoding="utf-8")
    result = runner.invoke(args=["gazetteer", "import", str(bad), "--datum", "gcj02"])
    assert result.exit_code != 0 and "row 2.geometry" in result.output
    assert count(GazetteerPlace) == 3


def test_a_hotline_order_is_reopened_only_by_a_dissatisfied_follow_up(world):
    from gridops.cases.services import allowed_actions, take_action

    result = complaint(world)
    operator = world.user("hotline_operator")
    make_state(world, result.case, "closed")
    assert "reopen" not in [a.name for a in allowed_actions(result.case, operator, later(1))]
    with pytest.raises(InvalidTransition):
        take_action(result.case, "reopen", operator, reason="想重办", now=later(1))
    reply_to_caller(result.order, operator, note="已清理", now=later(1))
    record_follow_up(result.order, operator, satisfaction="satisfied", now=later(2))
    with pytest.raises(InvalidTransition):
        take_action(result.case, "reopen", operator, reason="想重办", now=later(3))
