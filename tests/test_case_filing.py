"""Filing a case: validation, idempotency, location, classification, numbering, initial state."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from gridops.cases.models import Case, CaseEvent, CaseNumberCounter, CasePhoto
from gridops.cases.numbers import next_case_number
from gridops.cases.services import file_case, file_or_find_case
from gridops.catalogue.models import FilingStandard, RoutingRule, SmallClass
from gridops.errors import NotAllowed, OutsideTerritory, ValidationFailed
from gridops.extensions import db
from tests.case_factories import GAP_XY, GRID1_XY, T0, make_photos, make_staff, make_world
from tests.factories import DX, X0, Y0


def _fields(**overrides) -> dict:
    values = dict(source="patrol", case_type="event", small_class_code="0102", x=GRID1_XY[0],
                  y=GRID1_XY[1], datum="gcj02", now=T0)
    values.update(overrides)
    return values


def _file(world, role="grid_worker", **overrides):
    return file_case(world.user(role), **_fields(**overrides))


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_patrol_report_is_located_classified_numbered_and_logged(app):
    """A patrol report lands in its unit grid, waits for registration within 1 working hour."""
    world = make_world()
    case = _file(world, description="  路边垃圾  ", address="建设路 1 号", accuracy_m=5)
    assert case.number == "20260601000001"
    assert (case.state, case.source, case.urgency) == ("reported", "patrol", "normal")
    assert case.unit_grid_id == world.areas["grid1"].id and case.area_id == world.areas["grid1"].id
    assert case.area_path == world.areas["grid1"].path and case.located_in_gap is False
    assert (case.layer_x, case.layer_y, case.layer_version) == (GRID1_XY[0], GRID1_XY[1], 1)
    assert case.small_class.code == "0102" and case.standard.limit_value == 4
    assert case.description == "路边垃圾" and case.accuracy_m == 5.0
    assert case.reported_at == T0 and case.register_due_at == T0 + timedelta(hours=1)
    assert case.version == 1
    [event] = db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))
    assert (event.action, event.from_state, event.to_state, event.actor_id) == (
        "file", None, "reported", world.user("grid_worker").id
    )


def test_numbers_follow_the_city_date_and_a_daily_sequence(app):
    """YYYYMMDD in Asia/Shanghai (UTC+8) plus six digits, restarting each local day."""
    make_world()
    evening_utc = datetime(2026, 6, 1, 15, 59, tzinfo=timezone.utc)  # 23:59 local
    assert next_case_number(evening_utc) == "20260601000001"
    assert next_case_number(evening_utc) == "20260601000002"
    assert next_case_number(evening_utc + timedelta(minutes=1)) == "20260602000001"
    assert db.session.get(CaseNumberCounter, "20260601").last == 2


def test_public_and_hotline_reports_wait_for_verification_by_the_grid_worker(app):
    """Public/hotline reports start in verifying, assigned to the responsible grid worker."""
    world = make_world()
    for source in ("hotline", "public"):
        case = _file(world, "hotline_operator", source=source)
        assert case.state == "verifying" and case.register_due_at is None
        event = db.session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id))
        assert event.payload["assigned_to"] == world.user("grid_worker").id


@pytest.mark.parametrize("source", ["leader", "media", "video"])
def test_other_sources_wait_for_registration(app, source):
    """Leader, media and video reports go straight to registration."""
    world = make_world()
    role = "leader" if source == "leader" else "intake_operator"
    assert _file(world, role, source=source).state == "reported"


def test_self_handled_case_is_registered_and_closed_at_once(app):
    """A worker's fix on the spot: closed on filing, counted apart, the photo kept as 'after'."""
    world = make_world()
    case = _file(world, self_handled=True, photos=make_photos(2))
    assert (case.state, case.self_handled, case.closed_on_time) == ("closed", True, True)
    assert case.registered_at == case.closed_at == T0
    actions = list(
        db.session.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))
    )
    assert actions == ["file", "self_close"]
    kinds = set(db.session.scalars(select(CasePhoto.kind).where(CasePhoto.case_id == case.id)))
    assert kinds == {"after"} and _count(CasePhoto) == 2


def test_filing_photos_are_attached_to_the_first_event(app):
    """Photos sent with a report belong to its filing event, as near views."""
    world = make_world()
    case = _file(world, photos=make_photos(3))
    event_id = db.session.scalar(select(CaseEvent.id).where(CaseEvent.case_id == case.id))
    photos = list(db.session.scalars(select(CasePhoto).where(CasePhoto.case_id == case.id)))
    assert len(photos) == 3 and {(p.event_id, p.kind) for p in photos} == {(event_id, "near")}


def test_same_idempotency_key_returns_the_first_case(app):
    """The same report sent twice creates one case; a key reused by someone else is refused."""
    world = make_world()
    first = _file(world, idempotency_key="abc-123")
    again = _file(world, idempotency_key="abc-123", description="重发")
    assert again.id == first.id and _count(Case) == 1 and _count(CaseEvent) == 1
    with pytest.raises(ValidationFailed) as refused:
        _file(world, "hotline_operator", source="hotline", idempotency_key="abc-123")
    assert set(refused.value.fields) == {"idempotency_key"}
    assert _count(Case) == 1


def test_a_repeated_key_leaves_no_gap_in_case_numbers(app):
    """The number drawn for a refused duplicate goes back: the next case takes it."""
    world = make_world()
    first = _file(world, idempotency_key="k-1")
    case, created = file_or_find_case(world.user("grid_worker"), **_fields(idempotency_key="k-1"))
    assert (case.id, created) == (first.id, False)
    following = _file(world, idempotency_key="k-2")
    assert int(following.number[8:]) == int(first.number[8:]) + 1


def test_gap_and_outside_positions(app):
    """A gap files against the enclosing area (flagged); outside the territory is refused (422)."""
    world = make_world()
    case = _file(world, x=GAP_XY[0], y=GAP_XY[1])
    assert case.located_in_gap and case.unit_grid_id is None
    assert case.area_id == world.areas["community"].id
    with pytest.raises(OutsideTerritory) as refused:
        _file(world, x=X0 - 1, y=Y0)
    assert refused.value.status == 422 and _count(Case) == 1


def test_other_datums_are_converted_to_the_layer(app):
    """A WGS-84 position is converted to the layer's GCJ-02 before locating."""
    world = make_world()
    case = _file(world, x=GRID1_XY[0] - 0.005, y=GRID1_XY[1] + 0.001, datum="WGS84")
    assert case.datum == "wgs84" and (case.x, case.y) != (case.layer_x, case.layer_y)
    assert abs(case.layer_x - GRID1_XY[0]) < 2 * DX


def test_standard_choice_and_suggested_unit(app):
    """A named standard is used (the first active one otherwise); routing suggests the unit."""
    world = make_world()
    structure = db.session.scalar(
        select(SmallClass).where(SmallClass.case_type == "event", SmallClass.code == "0101")
    )
    finished = db.session.scalar(select(FilingStandard).where(
        FilingStandard.small_class_id == structure.id, FilingStandard.limit_clock == "working_days"))
    case = _file(world, small_class_code="0101", standard_id=finished.id)
    assert case.standard_id == finished.id
    assert _file(world, small_class_code="0101").standard.limit_clock == "working_hours"
    db.session.add(RoutingRule(small_class_id=structure.id, area_id=world.areas["district"].id,
                               department_id=world.other_unit.id, basis="territory"))
    db.session.flush()
    assert _file(world, small_class_code="0101").suggested_department_id == world.other_unit.id


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"source": "rumour"}, {"source"}),
        ({"source": "hotline"}, {"source"}),  # a grid worker files patrol reports only
        ({"case_type": "thing"}, {"case_type"}),
        ({"small_class_code": "9999"}, {"small_class"}),
        ({"standard_id": 10_000}, {"standard_id"}),
        ({"x": float("nan"), "y": "33"}, {"x", "y"}),
        ({"datum": "mars"}, {"datum"}),
        ({"accuracy_m": -1}, {"accuracy_m"}),
        ({"address": "x" * 256}, {"address"}),
        ({"description": 5}, {"description"}),
        ({"urgency": "now"}, {"urgency"}),
        ({"idempotency_key": " "}, {"idempotency_key"}),
        ({"idempotency_key": "k" * 65}, {"idempotency_key"}),
        ({"self_handled": True}, {"photos"}),
        ({"source": "rumour", "urgency": "now", "x": None}, {"source", "urgency", "x"}),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(app, overrides, fields):
    """Every invalid input is reported under its field name; nothing is stored."""
    world = make_world()
    with pytest.raises(ValidationFailed) as refused:
        _file(world, **overrides)
    assert set(refused.value.fields) == fields
    assert _count(Case) == _count(CaseEvent) == _count(CaseNumberCounter) == 0


def test_too_many_photos_and_self_handling_rules(app):
    """At most nine photos; only a grid worker's patrol can be self-handled."""
    world = make_world()
    with pytest.raises(ValidationFailed) as refused:
        _file(world, photos=make_photos(10))
    assert set(refused.value.fields) == {"photos"}
    with pytest.raises(ValidationFailed) as refused:
        _file(world, "intake_operator", source="media", self_handled=True, photos=make_photos())
    assert set(refused.value.fields) == {"self_handled"}
    assert _count(Case) == 0


def test_who_may_file(app):
    """Unit staff, evaluators and inactive users cannot file."""
    world = make_world()
    for role in ("unit_staff", "evaluator"):
        with pytest.raises(NotAllowed):
            _file(world, role, source="media")
    retired = make_staff("retired", "intake_operator")
    retired.active = False
    with pytest.raises(NotAllowed):
        file_case(retired, source="media", case_type="event", small_class_code="0102",
                  x=GRID1_XY[0], y=GRID1_XY[1], datum="gcj02", now=T0)
    assert _count(Case) == 0
