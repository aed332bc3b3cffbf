"""The demo city: real Nanyang district boundaries, generated subdivisions, demo staff."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Callable

from flask import current_app
from sqlalchemy import func, select

from gridops.demo.catalogue import ensure_demo_catalogue
from gridops.demo.gazetteer import ensure_demo_gazetteer
from gridops.demo.generator import DEFAULT_SEED, generate_city, plan_city
from gridops.demo.notices import ensure_demo_notices
from gridops.demo.people import (
    DemoLogin,
    ensure_departments,
    ensure_responsibility_grids,
    ensure_staff,
)
from gridops.errors import ValidationFailed
from gridops.extensions import db
from gridops.territory.importer import import_layer
from gridops.territory.models import Area, GridLayer

__all__ = ["DemoLogin", "load_demo"]

LAYER_NAME = "南阳市演示城区（生成） / Nanyang demo territory (generated)"
CORE_SOURCE = f"gridops demo: core unit grids, seed {DEFAULT_SEED}"
FULL_SOURCE = f"gridops demo: full unit grids, seed {DEFAULT_SEED}"


def _load_territory(full_grids: bool, grid_area_m2: float, echo: Callable[[str], object]) -> None:
    """Import the demo layer into an empty territory, or upgrade the core layer to full grids."""
    layer = db.session.scalar(select(GridLayer).order_by(GridLayer.id).limit(1))
    active = db.session.scalar(select(func.count()).select_from(Area).where(Area.active.is_(True)))
    if layer is not None and active:
        if layer.source_name not in (CORE_SOURCE, FULL_SOURCE):
            raise ValidationFailed(
                "the database already holds another territory layer; the demo needs an empty one",
                {"territory": f"layer {layer.name!r} from {layer.source_name or 'an unknown source'}"},
            )
        if not (full_grids and layer.source_name == CORE_SOURCE):
            kind = "full" if layer.source_name == FULL_SOURCE else "core"
            echo(f"Territory: kept the demo layer ({kind} unit grids, {active:,} active areas).")
            return
    kind = "full" if full_grids else "core"
    echo(f"Territory: generating the demo city with {kind} unit grids …")
    started = time.perf_counter()
    collection = generate_city(full=full_grids, seed=DEFAULT_SEED, grid_area_m2=grid_area_m2)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    result = import_layer(
        collection,
        source_name=FULL_SOURCE if full_grids else CORE_SOURCE,
        layer_name=LAYER_NAME,
    )
    imported = time.perf_counter() - started
    counts = ", ".join(f"{key} {count:,}" for key, count in result.created.items()) or "nothing new"
    echo(
        f"Territory: {len(collection['features']):,} features generated in {generated:.1f} s, "
        f"imported in {imported:.1f} s (layer version {result.layer_version}; created: {counts})."
    )
    for warning in result.warnings:
        echo(f"  {warning}")


def load_demo(full_grids: bool = False, echo: Callable[[str], object] = print) -> list[DemoLogin]:
    """Load the demo city, handling units, catalogue and routing, users and responsibility grids; commit.

    Idempotent: what exists is kept (matched by code or username) and the layer is imported
    only into an empty territory, or again when full grids replace the core ones.
    """
    grid_area_m2 = float(current_app.config["GRIDOPS_GRID_AREA_M2"])
    _load_territory(full_grids, grid_area_m2, echo)
    plan = plan_city(DEFAULT_SEED, grid_area_m2)
    created, kept = ensure_departments(plan)
    echo(f"Handling units: {created} created, {kept} kept.")
    seeded, (created, kept), schedule_stored = ensure_demo_catalogue()
    echo(
        f"Catalogue: {sum(seeded.created.values())} entries created, {sum(seeded.kept.values())} kept; "
        f"routing rules: {created} created, {kept} kept; office hours "
        + ("stored (08:00–12:00, 14:00–18:00)." if schedule_stored else "kept.")
    )
    logins, created = ensure_staff(plan)
    echo(f"Users: {created} created, {len(logins) - created} kept.")
    created, kept = ensure_responsibility_grids(plan, worker_username="worker", chief_username="chief")
    echo(f"Responsibility grids in the central core: {created} created, {kept} kept.")
    places = ensure_demo_gazetteer(worker_username="worker")
    if places is not None:
        echo(f"Gazetteer: {places.created} demo places created, {places.updated} updated.")
    notices = ensure_demo_notices(datetime.now(timezone.utc))
    echo(f"Notices: {', '.join(notices.made) or 'none'} made and published; {', '.join(notices.kept) or 'none'} kept.")
    db.session.commit()
    return logins
