"""Which unit should handle a case: routing rules, the class's default unit kind, territorial fallback.

domain.md §4: components go to the owner first, then the territory (部件先属主、后属地);
events go to the territory first, then the owner (事件先属地、后属主). In order:

1. **Routing rules** for the small class or for any class whose area is the case's area or
   one of its ancestors. Components take an ``owner`` rule before a ``territory`` rule,
   events the other way round; within a basis the deeper area wins, then the lower
   ``priority`` number, then a class-specific rule over an any-class one.
2. **Default unit kind**: the department whose ``kind`` is the class's ``default_unit_kind``
   serving the nearest enclosing area (a district counterpart before the city unit; a
   department without an area serves the whole city, last).
3. **Territorial fallback** (属地兜底): the street office serving the case's subdistrict (or
   nearest enclosing area), else the district's city administration bureau, else the city's.
4. Failing all that, the active department serving the nearest enclosing area, else the
   first active department: no case is left without a suggestion while any unit exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from gridops.catalogue.cache import ReferenceData, RuleRow, attached, reference_data
from gridops.catalogue.models import SmallClass
from gridops.org.models import Department
from gridops.territory.models import Area

BASIS_ORDER = {"component": ("owner", "territory"), "event": ("territory", "owner")}
STREET_OFFICE_KIND = "street_office"
BUREAU_KIND = "bureau"


@dataclass(frozen=True)
class RoutingReason:
    """Why a unit was suggested: ``source`` is ``rule``, ``default_kind``, ``territorial_fallback``,
    ``any_unit`` or ``none``; ``rule_id``/``basis`` for a rule, ``kind`` for a department kind."""

    source: str
    rule_id: int | None = None
    basis: str | None = None
    kind: str | None = None

    def to_dict(self) -> dict:
        return {"source": self.source, "rule_id": self.rule_id, "basis": self.basis, "kind": self.kind}


def _depths(area: Area | None) -> dict[int, int]:
    """Area id → depth (0 = the city) for ``area`` and its ancestors."""
    return {area_id: depth for depth, area_id in enumerate(area.ancestor_ids)} if area is not None else {}


def _best_rule(small_class: SmallClass, depths: dict[int, int], data: ReferenceData) -> RuleRow | None:
    rules = [
        rule
        for area_id in depths
        for rule in data.rules_by_area.get(area_id, ())
        if rule.small_class_id is None or rule.small_class_id == small_class.id
    ]
    order = BASIS_ORDER[small_class.case_type]
    return min(
        rules,
        key=lambda rule: (
            order.index(rule.basis),
            -depths[rule.area_id],
            rule.priority,
            rule.small_class_id is None,
            rule.id,
        ),
        default=None,
    )


def _nearest(departments: list[Department], depths: dict[int, int], kind: str | None) -> Department | None:
    """The department of ``kind`` (any kind if None) serving the deepest enclosing area."""
    candidates = [
        d for d in departments if (kind is None or d.kind == kind) and (d.area_id is None or d.area_id in depths)
    ]
    return min(
        candidates,
        key=lambda d: (-(depths[d.area_id] if d.area_id is not None else -1), d.parent_id is not None, d.id),
        default=None,
    )


def _choose(small_class: SmallClass, area: Area | None) -> tuple[Department | None, RoutingReason]:
    data = reference_data()
    depths = _depths(area)
    rule = _best_rule(small_class, depths, data)
    if rule is not None:
        return data.departments[rule.department_id], RoutingReason("rule", rule_id=rule.id, basis=rule.basis)
    departments = [d for d in data.departments.values() if d.area_id is None or d.area_id in depths]
    if small_class.default_unit_kind:
        department = _nearest(departments, depths, small_class.default_unit_kind)
        if department is not None:
            return department, RoutingReason("default_kind", kind=small_class.default_unit_kind)
    for kind in (STREET_OFFICE_KIND, BUREAU_KIND):
        department = _nearest(departments, depths, kind)
        if department is not None:
            return department, RoutingReason("territorial_fallback", kind=kind)
    department = _nearest(departments, depths, None) or min(
        data.departments.values(), key=lambda d: d.id, default=None
    )
    if department is not None:
        return department, RoutingReason("any_unit", kind=department.kind)
    return None, RoutingReason("none")


def suggest_unit_with_reason(small_class: SmallClass, area: Area | None) -> tuple[Department | None, RoutingReason]:
    """The suggested handling unit for a case of ``small_class`` located in ``area``, and why."""
    department, reason = _choose(small_class, area)
    return (attached(department) if department is not None else None), reason


def suggest_unit(small_class: SmallClass, area: Area | None) -> Department | None:
    """The suggested handling unit for a case of ``small_class`` located in ``area``."""
    return suggest_unit_with_reason(small_class, area)[0]
