"""Administrators' changes to the territory: layer imports kept in the history, and single-area edits."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from gridops.auth.models import User
from gridops.auth.permissions import can_manage_territory
from gridops.catalogue.models import CatalogueChange
from gridops.errors import NotAllowed, ValidationFailed
from gridops.extensions import db
from gridops.territory.importer import ImportResult, import_layer
from gridops.territory.models import Area, GridLayer


def set_urban_rural_fringe(actor: User | None, area: Area, fringe) -> Area:
    """Mark ``area`` (and so its subtree) as urban-rural fringe or not; kept in the history.

    Cases filed there afterwards get the fringe registration limit; cases filed before keep
    theirs. ``actor`` None is the command line.
    """
    if actor is not None and not can_manage_territory(actor):
        raise NotAllowed(_("Only administrators may change the territory."))
    if not isinstance(fringe, bool):
        raise ValidationFailed.field("urban_rural_fringe", _("must be true or false"))
    if area.urban_rural_fringe == fringe:
        return area
    CatalogueChange.record(
        "area", area.id, "update", actor,
        {"code": area.code, "urban_rural_fringe": area.urban_rural_fringe},
        {"code": area.code, "urban_rural_fringe": fringe},
    )
    area.urban_rural_fringe = fringe
    db.session.flush()
    return area


def import_territory(
    actor: User | None, collection, *, datum: str | None = None, source_name: str | None = None
) -> ImportResult:
    """Import a layer file (all or nothing, see ``import_layer``) and keep it in the history.

    Raises ``ImportRejected`` listing every problem when the file has any error.
    """
    if actor is not None and not can_manage_territory(actor):
        raise NotAllowed(_("Only administrators may change the territory."))
    result = import_layer(collection, datum=datum, source_name=source_name, imported_by=actor)
    layer = db.session.scalar(select(GridLayer).order_by(GridLayer.id).limit(1))
    CatalogueChange.record(
        "grid_layer", layer.id, "import", actor, None,
        {
            "version": result.layer_version,
            "datum": result.datum,
            "source_name": source_name,
            "features": result.feature_count,
            "created": sum(result.created.values()),
            "updated": sum(result.updated.values()),
            "unchanged": sum(result.unchanged.values()),
            "retired": sum(result.retired.values()),
            "warnings": len(result.warnings),
        },
    )
    db.session.flush()
    return result
