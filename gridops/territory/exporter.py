"""Export the territory layer as GeoJSON in the shape the importer reads, so it imports back."""

from __future__ import annotations

import json

import shapely
from sqlalchemy import select
from sqlalchemy.orm import aliased

from gridops.errors import NotFound
from gridops.extensions import db
from gridops.territory.models import Area, AreaLevel, GridLayer


def export_layer(include_retired: bool = False) -> dict:
    """The layer as a FeatureCollection with its datum, sorted by level then code.

    Retired areas are left out unless asked for; they then carry ``"active": false``, which
    the importer refuses, so an archive copy cannot silently bring them back.
    """
    layer = db.session.scalar(select(GridLayer).order_by(GridLayer.id).limit(1))
    if layer is None:
        raise NotFound("No territory layer has been imported yet.")
    level_keys = {rank: key for rank, key in db.session.execute(select(AreaLevel.rank, AreaLevel.key))}
    parent = aliased(Area)
    query = (
        select(
            Area.code, Area.name, Area.name_en, Area.level_rank, parent.code.label("parent_code"),
            Area.generated, Area.urban_rural_fringe, Area.active, Area.geometry_wkb,
        )
        .outerjoin(parent, Area.parent_id == parent.id)
        .order_by(Area.level_rank, Area.code)
    )
    if not include_retired:
        query = query.where(Area.active.is_(True))
    rows = db.session.execute(query).all()
    geometries = shapely.to_geojson(shapely.from_wkb([row.geometry_wkb for row in rows]))
    features = []
    for row, geometry in zip(rows, geometries):
        properties = {"code": row.code, "name": row.name}
        if row.name_en:
            properties["name_en"] = row.name_en
        properties["level"] = level_keys[row.level_rank]
        if row.parent_code:
            properties["parent_code"] = row.parent_code
        properties["generated"] = row.generated
        properties["urban_rural_fringe"] = row.urban_rural_fringe
        if not row.active:
            properties["active"] = False
        features.append(
            {
                "type": "Feature",
                "properties": properties,
                "geometry": json.loads(geometry) if geometry is not None else None,
            }
        )
    return {"type": "FeatureCollection", "datum": layer.datum, "features": features}
