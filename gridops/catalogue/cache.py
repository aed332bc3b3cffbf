"""The reference data every filing reads — active classes, routing rules, departments — kept per process.

Loaded in one go (three queries) the first time it is needed and again whenever the
reference token (``gridops.versions``) moves on, which every change to those rows causes.
Callers get rows attached to their own session with ``merge(load=False)``: no query.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from gridops.catalogue.models import BigClass, RoutingRule, SmallClass
from gridops.extensions import db
from gridops.org.models import Department
from gridops.versions import current_versions

_EXTENSION_KEY = "gridops.reference_data"


@dataclass(frozen=True)
class RuleRow:
    """An active routing rule whose department is active."""

    id: int
    small_class_id: int | None
    area_id: int
    department_id: int
    basis: str
    priority: int


@dataclass(frozen=True)
class ReferenceData:
    #: (case type, code) → active small class under an active big class, standards loaded (detached).
    small_classes: dict[tuple[str, str], SmallClass]
    #: area id → the rules set on that area.
    rules_by_area: dict[int, list[RuleRow]]
    #: Active departments (detached), by id.
    departments: dict[int, Department]


def load_reference_data() -> ReferenceData:
    """Read the reference data in a session of its own and detach it.

    The session shares the current transaction's connection, so a change this transaction
    has made (and that gave the token its new value) is what gets cached.
    """
    with Session(bind=db.session.connection()) as session:
        small_classes = session.scalars(
            select(SmallClass)
            .join(SmallClass.big_class)
            .where(SmallClass.active.is_(True), BigClass.active.is_(True))
            .options(selectinload(SmallClass.standards), selectinload(SmallClass.big_class))
        ).all()
        departments = session.scalars(select(Department).where(Department.active.is_(True))).all()
        rules = session.execute(
            select(
                RoutingRule.id,
                RoutingRule.small_class_id,
                RoutingRule.area_id,
                RoutingRule.department_id,
                RoutingRule.basis,
                RoutingRule.priority,
            )
            .join(Department, Department.id == RoutingRule.department_id)
            .where(RoutingRule.active.is_(True), Department.active.is_(True))
        ).all()
    rules_by_area: dict[int, list[RuleRow]] = defaultdict(list)
    for row in rules:
        rules_by_area[row.area_id].append(RuleRow(*row))
    return ReferenceData(
        small_classes={(c.case_type, c.code): c for c in small_classes},
        rules_by_area=dict(rules_by_area),
        departments={d.id: d for d in departments},
    )


class _Slot:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.current: tuple[str | None, ReferenceData] | None = None


def reference_data() -> ReferenceData:
    """The reference data of the current token, loaded at most once per token and process."""
    # As a query would autoflush: this session's pending changes to the rows count (and
    # give the token its new value) before the answer is chosen.
    db.session.flush()
    version = current_versions().reference
    slot = current_app.extensions.setdefault(_EXTENSION_KEY, _Slot())
    current = slot.current
    if current is None or current[0] != version:
        with slot.lock:
            current = slot.current
            if current is None or current[0] != version:
                current = (version, load_reference_data())
                slot.current = current
    return current[1]


def reset_reference_data() -> None:
    """Forget the cached reference data (tests reuse an emptied database)."""
    slot = current_app.extensions.get(_EXTENSION_KEY)
    if slot is not None:
        with slot.lock:
            slot.current = None


def attached(instance):
    """``instance`` (cached, detached) as a row of the current session, without a query."""
    return db.session.merge(instance, load=False)
