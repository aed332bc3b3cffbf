"""Catalogue services: the default seed, class lookup, administrators' edits and their history."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from gridops.catalogue.defaults import BIG_CLASSES, SMALL_CLASSES
from gridops.catalogue.models import BigClass, CatalogueChange, FilingStandard
from gridops.catalogue.services import (
    create_big_class,
    create_routing_rule,
    create_small_class,
    create_standard,
    deactivate_big_class,
    deactivate_routing_rule,
    deactivate_small_class,
    deactivate_standard,
    find_small_class,
    seed_default_catalogue,
    small_class_by_full_code,
    update_big_class,
    update_routing_rule,
    update_small_class,
    update_standard,
)
from gridops.errors import NotAllowed, ValidationFailed
from gridops.extensions import db
from tests.factories import make_department, make_small_city, make_user


@pytest.fixture
def admin(app):
    """A system administrator."""
    return make_user("admin", role="admin")


@pytest.fixture
def seeded(app):
    """The default catalogue, seeded from the command line."""
    return seed_default_catalogue()


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _history(entity: str, entity_id: int) -> list[CatalogueChange]:
    return list(
        db.session.scalars(
            select(CatalogueChange)
            .where(CatalogueChange.entity == entity, CatalogueChange.entity_id == entity_id)
            .order_by(CatalogueChange.id)
        )
    )


# --- seeding ------------------------------------------------------------------------------


def test_seed_creates_every_row_of_the_default_catalogue(seeded):
    assert seeded.created == {"big_class": 12, "small_class": 33, "standard": 35}
    assert _count(BigClass) == sum(len(classes) for classes in BIG_CLASSES.values())
    for case_type, code, name, name_en, nine, unit, standards in SMALL_CLASSES:
        row = find_small_class(case_type, code)
        assert (row.name, row.name_en, row.nine_word, row.default_unit_kind) == (name, name_en, nine, unit)
        assert row.big_class.code == code[:2] and row.big_class.case_type == case_type
        limits = [(s.limit_value, s.limit_clock) for s in row.standards]
        assert limits == [(value, clock) for _, _, value, clock in standards]


def test_two_standard_classes_carry_both_limits(seeded):
    structure = find_small_class("event", "0101")
    assert [(s.name, s.limit_value, s.limit_clock) for s in structure.standards] == [
        ("在建", 4, "working_hours"),
        ("已建成", 20, "working_days"),
    ]
    tree = find_small_class("component", "0401")
    assert [(s.limit_value, s.limit_clock) for s in tree.standards] == [(1, "working_days"), (2, "urgent_hours")]
    assert find_small_class("event", "0107").standards[0].limit_clock == "urgent_hours"


def test_seed_is_idempotent_and_keeps_administrators_edits(seeded, admin):
    garbage = find_small_class("event", "0102")
    update_small_class(admin, garbage, {"name": "暴露垃圾（含桶边垃圾）", "nine_word": "清"})
    update_standard(admin, garbage.standards[0], {"limit_value": 3})
    deactivate_small_class(admin, find_small_class("event", "0104"))
    changes = _count(CatalogueChange)
    again = seed_default_catalogue()
    assert again.created == {"big_class": 0, "small_class": 0, "standard": 0}
    assert again.kept == {"big_class": 12, "small_class": 33, "standard": 35}
    assert _count(CatalogueChange) == changes
    garbage = find_small_class("event", "0102")
    assert (garbage.name, garbage.nine_word, garbage.standards[0].limit_value) == ("暴露垃圾（含桶边垃圾）", "清", 3)
    assert small_class_by_full_code("E0104").active is False


def test_seed_fills_in_only_what_is_missing(seeded):
    db.session.delete(find_small_class("event", "0503").standards[0])
    db.session.flush()
    again = seed_default_catalogue()
    assert again.created == {"big_class": 0, "small_class": 0, "standard": 1}
    assert find_small_class("event", "0503").standards[0].limit_value == 5


def test_seed_is_recorded_in_the_history(seeded):
    row = find_small_class("component", "0118")
    (change,) = _history("small_class", row.id)
    assert (change.action, change.before, change.changed_by_id) == ("create", None, None)
    assert change.after["nine_word"] == "亮"


def test_only_administrators_edit_the_catalogue(seeded):
    dispatcher = make_user("dispatcher", role="dispatcher")
    with pytest.raises(NotAllowed):
        seed_default_catalogue(dispatcher)
    with pytest.raises(NotAllowed):
        update_small_class(dispatcher, find_small_class("event", "0102"), {"name": "x"})


# --- lookup -------------------------------------------------------------------------------


def test_find_small_class_names_the_field(seeded, admin):
    assert find_small_class("event", "0504").name == "非机动车乱停放"
    with pytest.raises(ValidationFailed) as caught:
        find_small_class("event", "9999")
    assert "small_class" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        find_small_class("facility", "0101")
    assert "case_type" in caught.value.fields
    deactivate_big_class(admin, db.session.scalar(select(BigClass).filter_by(case_type="event", code="05")))
    with pytest.raises(ValidationFailed):
        find_small_class("event", "0504")


def test_full_codes_name_the_type():
    assert small_class_by_full_code("X0101") is None
    assert small_class_by_full_code("E01") is None


# --- edits --------------------------------------------------------------------------------


def test_small_class_edits_keep_before_and_after(seeded, admin):
    row = create_small_class(
        admin,
        {"case_type": "event", "code": "0505", "name": "占道晾晒", "nine_word": "齐", "default_unit_kind": "street_office"},
    )
    assert row.big_class.code == "05" and row.full_code == "E0505"
    update_small_class(admin, row, {"name_en": "Drying clothes on the pavement"})
    deactivate_small_class(admin, row)
    create, update, deactivate = _history("small_class", row.id)
    assert (create.action, create.before, create.changed_by_id) == ("create", None, admin.id)
    assert update.before["name_en"] is None and update.after["name_en"] == "Drying clothes on the pavement"
    assert (deactivate.before["active"], deactivate.after["active"]) == (True, False)
    assert all(change.changed_at is not None for change in (create, update, deactivate))


def test_small_class_validation_names_every_field(seeded, admin):
    with pytest.raises(ValidationFailed) as caught:
        create_small_class(admin, {"case_type": "thing", "code": "5", "nine_word": "好", "colour": "red"})
    assert set(caught.value.fields) == {"case_type", "code", "nine_word", "colour", "name"}
    with force_locale("en"), pytest.raises(ValidationFailed) as caught:
        create_small_class(admin, {"case_type": "event", "code": "0101", "name": "重复"})
    assert caught.value.fields["code"] == "this small class exists already"
    with pytest.raises(ValidationFailed) as caught:
        create_small_class(admin, {"case_type": "event", "code": "0901", "name": "无大类"})
    assert caught.value.fields["code"] == "此类型下没有大类 09"
    with pytest.raises(ValidationFailed) as caught:
        update_small_class(admin, find_small_class("event", "0102"), {"code": "0109", "default_unit_kind": "Bad Kind"})
    assert set(caught.value.fields) == {"code", "default_unit_kind"}


def test_big_class_edits(seeded, admin):
    row = create_big_class(admin, {"case_type": "component", "code": "07", "name": "扩展部件"})
    update_big_class(admin, row, {"name_en": "Local extensions"})
    deactivate_big_class(admin, row)
    assert [c.action for c in _history("big_class", row.id)] == ["create", "update", "deactivate"]
    with pytest.raises(ValidationFailed) as caught:
        create_big_class(admin, {"case_type": "component", "code": "07", "name": "again"})
    assert "code" in caught.value.fields


def test_standard_edits_and_the_last_active_standard(seeded, admin):
    garbage = find_small_class("event", "0102")
    added = create_standard(
        admin,
        garbage,
        {"name": "大面积", "limit_value": 8, "limit_clock": "working_hours", "closing_condition": "清运完毕"},
    )
    assert added.sort == 1
    update_standard(admin, added, {"limit_value": 1, "limit_clock": "working_days"})
    (create, update) = _history("standard", added.id)
    assert (update.before["limit_value"], update.after["limit_value"]) == (8, 1)
    assert update.after["limit_clock"] == "working_days" and update.after["small_class"] == "E0102"
    deactivate_standard(admin, garbage.standards[0])
    with pytest.raises(ValidationFailed) as caught:
        deactivate_standard(admin, added)
    assert "active" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        update_standard(admin, added, {"active": False})
    assert "active" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        create_standard(admin, garbage, {"limit_value": 0, "limit_clock": "weeks", "sort": True})
    assert set(caught.value.fields) == {"limit_value", "limit_clock", "sort"}
    assert _count(FilingStandard) == 36


def test_routing_rule_edits(seeded, admin):
    areas = make_small_city()
    office = make_department("JD-1", "测试街道办事处", "street_office", area=areas["subdistrict"])
    rule = create_routing_rule(
        admin, {"small_class": "E0504", "area": "411302001", "department": "JD-1", "basis": "territory"}
    )
    assert (rule.small_class.code, rule.area_id, rule.department_id, rule.priority) == (
        "0504", areas["subdistrict"].id, office.id, 100,
    )
    update_routing_rule(admin, rule, {"priority": 10, "small_class": None})
    deactivate_routing_rule(admin, rule)
    create, update, deactivate = _history("routing_rule", rule.id)
    assert create.after == {
        "small_class": "E0504", "area": "411302001", "department": "JD-1",
        "basis": "territory", "priority": 100, "active": True,
    }
    assert (update.after["priority"], update.after["small_class"]) == (10, None)
    assert deactivate.after["active"] is False
    with pytest.raises(ValidationFailed) as caught:
        create_routing_rule(admin, {"small_class": "E9999", "area": "nowhere", "department": "JD-9", "basis": "x"})
    assert set(caught.value.fields) == {"small_class", "area", "department", "basis"}
    with pytest.raises(ValidationFailed) as caught:
        create_routing_rule(admin, ["not", "an", "object"])
    assert "body" in caught.value.fields
    assert rule.small_class is None and rule.active is False


def test_seed_command_is_idempotent(runner):
    first = runner.invoke(args=["catalogue", "seed"])
    assert first.exit_code == 0, first.output
    assert "created: big_class 12, small_class 33, standard 35" in first.output
    again = runner.invoke(args=["catalogue", "seed"])
    assert (
        "created: big_class 0, small_class 0, standard 0; kept: big_class 12, small_class 33, standard 35"
        in again.output
    )
