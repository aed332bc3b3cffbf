"""Routing: rules (owner vs territory, deeper area, priority), default unit kind, territorial fallback."""

from __future__ import annotations

import pytest

from gridops.catalogue.models import RoutingRule
from gridops.catalogue.routing import RoutingReason, suggest_unit, suggest_unit_with_reason
from gridops.catalogue.services import find_small_class, seed_default_catalogue
from gridops.extensions import db
from tests.factories import make_area, make_department, make_small_city


@pytest.fixture
def city(app):
    """The tiny city with the default catalogue and a typical set of units."""
    seed_default_catalogue()
    areas = make_small_city()
    units = {
        "city_bureau": make_department("NY-CGJ", "市城管局", "bureau", area=areas["city"]),
        "city_sanitation": make_department("NY-HW", "市环卫处", "sanitation", area=areas["city"]),
        "district_bureau": make_department("WC-CGJ", "宛城区城管局", "bureau", area=areas["district"]),
        "district_sanitation": make_department("WC-HWS", "宛城区环卫所", "sanitation", area=areas["district"]),
        "street_office": make_department("JD-1", "测试街道办事处", "street_office", area=areas["subdistrict"]),
        "water": make_department("NY-GSGS", "供水公司", "water_utility", area=areas["city"]),
        "lighting": make_department("NY-LDS", "路灯所", "street_lighting", area=areas["city"]),
    }
    return {**areas, **units}


def _rule(small_class, area, department, basis, priority=100, active=True) -> RoutingRule:
    rule = RoutingRule(
        small_class=small_class, area=area, department=department, basis=basis, priority=priority, active=active
    )
    db.session.add(rule)
    db.session.flush()
    return rule


def test_default_kind_prefers_the_district_counterpart(city):
    garbage = find_small_class("event", "0102")
    unit, reason = suggest_unit_with_reason(garbage, city["grid1"])
    assert unit is city["district_sanitation"]
    assert reason == RoutingReason("default_kind", kind="sanitation")
    city["district_sanitation"].active = False
    assert suggest_unit(garbage, city["grid1"]) is city["city_sanitation"]


def test_a_city_wide_department_without_an_area_comes_last(city):
    drainage = make_department("NY-PSGS", "排水公司", "drainage")
    assert suggest_unit(find_small_class("event", "0403"), city["grid2"]) is drainage
    local = make_department("WC-PS", "宛城区排水", "drainage", area=city["district"])
    assert suggest_unit(find_small_class("event", "0403"), city["grid2"]) is local


def test_events_take_a_territory_rule_before_an_owner_rule(city):
    bikes = find_small_class("event", "0504")
    owner = _rule(bikes, city["community"], city["water"], "owner")
    territory = _rule(bikes, city["district"], city["street_office"], "territory")
    unit, reason = suggest_unit_with_reason(bikes, city["grid3"])
    assert unit is city["street_office"]
    assert reason == RoutingReason("rule", rule_id=territory.id, basis="territory")
    territory.active = False
    assert suggest_unit_with_reason(bikes, city["grid3"])[1].rule_id == owner.id


def test_components_take_an_owner_rule_before_a_territory_rule(city):
    light = find_small_class("component", "0118")
    _rule(light, city["subdistrict"], city["street_office"], "territory")
    owner = _rule(light, city["city"], city["lighting"], "owner")
    assert suggest_unit_with_reason(light, city["grid1"]) == (
        city["lighting"], RoutingReason("rule", rule_id=owner.id, basis="owner"),
    )


def test_within_a_basis_the_deeper_area_wins_then_the_priority(city):
    garbage = find_small_class("event", "0102")
    _rule(garbage, city["district"], city["district_bureau"], "territory", priority=1)
    deeper = _rule(garbage, city["subdistrict"], city["street_office"], "territory", priority=50)
    assert suggest_unit(garbage, city["grid4"]) is city["street_office"]
    better = _rule(garbage, city["subdistrict"], city["district_sanitation"], "territory", priority=10)
    assert suggest_unit_with_reason(garbage, city["grid4"])[1].rule_id == better.id
    better.priority = deeper.priority
    any_class = _rule(None, city["subdistrict"], city["city_bureau"], "territory", priority=50)
    assert suggest_unit_with_reason(garbage, city["grid4"])[1].rule_id == min(deeper.id, better.id)
    deeper.active = better.active = False
    assert suggest_unit_with_reason(garbage, city["grid4"])[1].rule_id == any_class.id


def test_rules_elsewhere_or_for_other_classes_do_not_apply(city):
    garbage = find_small_class("event", "0102")
    other_district = make_area("411303", "卧龙区", 1, city["city"])
    _rule(garbage, other_district, city["city_bureau"], "territory")
    _rule(find_small_class("event", "0104"), city["district"], city["city_bureau"], "territory")
    inactive_unit = make_department("WC-X", "已撤销", "bureau", area=city["district"], active=False)
    _rule(garbage, city["district"], inactive_unit, "territory")
    assert suggest_unit_with_reason(garbage, city["grid1"])[1].source == "default_kind"


def test_territorial_fallback_street_office_then_district_then_city_bureau(city):
    structure = find_small_class("event", "0101")  # law enforcement: no such unit here
    assert suggest_unit_with_reason(structure, city["grid1"]) == (
        city["street_office"], RoutingReason("territorial_fallback", kind="street_office"),
    )
    city["street_office"].active = False
    assert suggest_unit_with_reason(structure, city["grid1"]) == (
        city["district_bureau"], RoutingReason("territorial_fallback", kind="bureau"),
    )
    city["district_bureau"].active = False
    assert suggest_unit(structure, city["grid1"]) is city["city_bureau"]


def test_never_none_while_any_department_exists(city):
    structure = find_small_class("event", "0101")
    for key in ("city_bureau", "district_bureau", "street_office", "city_sanitation", "district_sanitation"):
        city[key].active = False
    unit, reason = suggest_unit_with_reason(structure, city["grid1"])
    assert unit is city["water"] and reason.source == "any_unit"
    elsewhere = make_area("411303", "卧龙区", 1, city["city"])
    city["water"].active = city["lighting"].active = False
    remote = make_department("WL-X", "卧龙区某单位", "environment", area=elsewhere)
    assert suggest_unit(structure, city["grid1"]) is remote
    assert suggest_unit(structure, None) is remote
    remote.active = False
    assert suggest_unit_with_reason(structure, city["grid1"]) == (None, RoutingReason("none"))


def test_reason_serializes(city):
    reason = suggest_unit_with_reason(find_small_class("event", "0102"), city["grid1"])[1]
    assert reason.to_dict() == {"source": "default_kind", "rule_id": None, "basis": None, "kind": "sanitation"}


def test_demo_routing_sends_cases_to_sensible_units(app):
    from sqlalchemy import func, select

    from gridops import demo
    from gridops.catalogue.models import CatalogueChange
    from gridops.catalogue.services import small_class_by_full_code
    from gridops.demo.catalogue import demo_routing_rules
    from gridops.org.models import Department
    from gridops.territory.models import Area
    from gridops.worktime.store import work_schedule

    lines: list[str] = []
    demo.load_demo(echo=lines.append)
    rules = db.session.scalar(select(func.count()).select_from(RoutingRule))
    changes = db.session.scalar(select(func.count()).select_from(CatalogueChange))
    assert rules == len(demo_routing_rules()) > 0
    demo.load_demo(echo=lines.append)
    assert db.session.scalar(select(func.count()).select_from(RoutingRule)) == rules
    assert db.session.scalar(select(func.count()).select_from(CatalogueChange)) == changes
    assert any(line.startswith("Catalogue: 0 entries created, 80 kept; routing rules: 0 created") for line in lines)
    assert work_schedule().to_dict()["hours"] == [["08:00", "12:00"], ["14:00", "18:00"]]

    office = db.session.scalar(select(Department).where(Department.kind == "street_office").limit(1))
    grid = db.session.scalar(
        select(Area).where(Area.path.like(f"{office.area.path}%"), Area.level_rank == 4).limit(1)
    )

    def unit_of(code):
        return suggest_unit_with_reason(small_class_by_full_code(code), grid)

    district = "WC" if grid.code.startswith("411302") else "WL"
    assert (unit_of("E0102")[0].code, unit_of("E0102")[1].source) == (f"{district}-CGJ-HWS", "rule")
    assert (unit_of("E0101")[0].code, unit_of("E0101")[1].basis) == (f"{district}-CGJ-ZFDD", "territory")
    assert (unit_of("C0118")[0].code, unit_of("C0118")[1].basis) == ("NY-CGJ-LDS", "owner")
    assert unit_of("E0504") == (office, RoutingReason("default_kind", kind="street_office"))
    assert unit_of("E0303")[0].code == "NY-ZJJ"
