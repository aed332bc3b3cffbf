"""What the grid worker's tablet shows: my grids, my on-site tasks, my reports, my usual classes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

import shapely
from flask import current_app
from shapely.geometry import mapping
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from gridops.auth.models import User
from gridops.cases.clocks import case_colour, current_stage
from gridops.cases.models import Case
from gridops.cases.queries import visible_cases
from gridops.cases.states import State
from gridops.catalogue.models import BigClass, SmallClass
from gridops.extensions import db
from gridops.territory.models import Area, ResponsibilityGrid, responsibility_grid_area

#: States in which a case waits for its grid worker on site, and the step each one asks for.
TASK_STATES = {State.VERIFYING: "verify", State.HANDLED: "check"}
#: Most tasks loaded at once (a worker's backlog is tens of cases; this only bounds a bad day).
MAX_TASKS = 300
#: How many of the worker's recent small classes are offered first.
RECENT_CLASSES = 6


@dataclass(frozen=True)
class Task:
    """A case waiting for the worker on site: verify a report, or check a unit's work."""

    case: Case
    kind: str  # "verify" or "check"
    due: datetime | None
    colour: str


def my_grid_ids(user: User):
    """SELECT of the unit grids in the user's responsibility grids."""
    return (
        select(responsibility_grid_area.c.area_id)
        .join(ResponsibilityGrid)
        .where(ResponsibilityGrid.worker_id == user.id)
    )


def open_tasks(user: User, now: datetime) -> list[Task]:
    """The verifications and checks assigned to the user, the least time left first."""
    cases = db.session.scalars(
        visible_cases(user)
        .where(Case.state.in_([state.value for state in TASK_STATES]), Case.assignee_id == user.id)
        .options(joinedload(Case.small_class), joinedload(Case.unit_grid))
        .order_by(Case.reported_at, Case.id)
        .limit(MAX_TASKS)
    ).all()
    tasks = []
    for case in cases:
        stage = current_stage(case)
        tasks.append(Task(case, TASK_STATES[case.state_enum], stage[1] if stage else None, case_colour(case, now)))
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return sorted(tasks, key=lambda task: (task.due or far, task.case.id))


def local_midnight(now: datetime) -> datetime:
    """The start of ``now``'s day in the city's time zone."""
    zone = ZoneInfo(current_app.config["GRIDOPS_TIMEZONE"])
    return datetime.combine(now.astimezone(zone).date(), time.min, tzinfo=zone)


def todays_reports(user: User, now: datetime) -> list[Case]:
    """The cases the user filed since midnight in the city, newest first."""
    return list(
        db.session.scalars(
            visible_cases(user)
            .where(Case.reporter_id == user.id, Case.reported_at >= local_midnight(now))
            .options(joinedload(Case.small_class), joinedload(Case.unit_grid))
            .order_by(Case.reported_at.desc(), Case.id.desc())
        )
    )


def recent_class_ids(user: User, limit: int = RECENT_CLASSES) -> list[int]:
    """The small classes the user filed most recently, latest first."""
    last = func.max(Case.reported_at)
    rows = db.session.execute(
        select(Case.small_class_id, last)
        .where(Case.reporter_id == user.id)
        .group_by(Case.small_class_id)
        .order_by(last.desc(), Case.small_class_id)
        .limit(limit)
    )
    return [row[0] for row in rows]


def active_classes() -> list[tuple[SmallClass, BigClass]]:
    """Every active small class with its big class, components first, by code."""
    rows = db.session.execute(
        select(SmallClass, BigClass)
        .join(BigClass, SmallClass.big_class_id == BigClass.id)
        .where(SmallClass.active.is_(True), BigClass.active.is_(True))
        .order_by(SmallClass.case_type, BigClass.code, SmallClass.code)
    )
    return [(small, big) for small, big in rows]


def my_grids_geojson(user: User) -> dict:
    """The user's unit grids (or, without a responsibility grid, their area) as a FeatureCollection."""
    areas = list(db.session.scalars(select(Area).where(Area.id.in_(my_grid_ids(user))).order_by(Area.code)))
    if not areas and user.area is not None and user.area.geometry_wkb is not None:
        areas = [user.area]
    features = []
    for area in areas:
        if area.geometry_wkb is None:
            continue
        features.append(
            {
                "type": "Feature",
                "id": area.code,
                "geometry": mapping(shapely.from_wkb(area.geometry_wkb)),
                "properties": {"code": area.code, "name": area.name, "name_en": area.name_en},
            }
        )
    return {"type": "FeatureCollection", "features": features}
