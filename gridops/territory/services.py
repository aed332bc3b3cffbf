"""Administrators' edits to single areas of the territory (the layer itself changes by import)."""

from __future__ import annotations

from flask_babel import gettext as _

from gridops.auth.models import User
from gridops.auth.permissions import can_manage_territory
from gridops.catalogue.models import CatalogueChange
from gridops.errors import NotAllowed, ValidationFailed
from gridops.extensions import db
from gridops.territory.models import Area


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
