"""The demo's catalogue, routing matrix and working calendar settings, created only where missing."""

from __future__ import annotations

from sqlalchemy import select

from gridops.catalogue.defaults import SMALL_CLASSES
from gridops.catalogue.models import RoutingRule
from gridops.catalogue.services import SeedResult, create_routing_rule, seed_default_catalogue, small_class_by_full_code
from gridops.demo.generator import CITY_CODE
from gridops.demo.people import DISTRICT_BUREAUS
from gridops.extensions import db
from gridops.org.models import Department
from gridops.territory.models import Area
from gridops.worktime.models import CitySetting
from gridops.worktime.schedules import WorkSchedule
from gridops.worktime.store import SCHEDULE_KEY, set_work_schedule

#: Components go to their owner first: (small class, city unit that owns the facilities).
OWNER_RULES = (
    ("C0101", "NY-GSGS"),
    ("C0102", "NY-PSGS"),
    ("C0104", "NY-PSGS"),
    ("C0118", "NY-CGJ-LDS"),
    ("C0207", "NY-JJZD"),
    ("C0208", "NY-GJGS"),
)

#: Events go to the territory first: a district counterpart's unit suffix per default unit kind.
DISTRICT_UNITS = {"sanitation": "HWS", "law_enforcement": "ZFDD"}


def demo_routing_rules() -> list[dict]:
    """The demo's routing rules as the services take them (codes for class, area and unit)."""
    rules = [
        {"small_class": small_class, "area": CITY_CODE, "department": unit, "basis": "owner", "priority": 10}
        for small_class, unit in OWNER_RULES
    ]
    for prefix, district_code, _name, _name_en in DISTRICT_BUREAUS:
        for case_type, code, _zh, _en, _nine, kind, _standards in SMALL_CLASSES:
            if case_type == "event" and kind in DISTRICT_UNITS:
                rules.append(
                    {
                        "small_class": f"E{code}",
                        "area": district_code,
                        "department": f"{prefix}-CGJ-{DISTRICT_UNITS[kind]}",
                        "basis": "territory",
                        "priority": 50,
                    }
                )
    return rules


def ensure_demo_routing() -> tuple[int, int]:
    """Create the demo routing rules that do not exist yet (an edited or retired one is kept)."""
    existing = {
        tuple(row)
        for row in db.session.execute(
            select(RoutingRule.small_class_id, Area.code, Department.code, RoutingRule.basis)
            .join(Area, RoutingRule.area_id == Area.id)
            .join(Department, RoutingRule.department_id == Department.id)
        )
    }
    created = 0
    rules = demo_routing_rules()
    for rule in rules:
        small_class = small_class_by_full_code(rule["small_class"])
        if (small_class.id, rule["area"], rule["department"], rule["basis"]) in existing:
            continue
        create_routing_rule(None, rule)
        created += 1
    return created, len(rules) - created


def ensure_demo_catalogue() -> tuple[SeedResult, tuple[int, int], bool]:
    """Seed the catalogue, the demo routing rules, and store the office hours if none are."""
    seeded = seed_default_catalogue()
    routing = ensure_demo_routing()
    schedule_stored = db.session.get(CitySetting, SCHEDULE_KEY) is None
    if schedule_stored:
        set_work_schedule(None, WorkSchedule().to_dict())
    return seeded, routing, schedule_stored
