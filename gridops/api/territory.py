"""Territory endpoints: areas as GeoJSON, one area with its chain, and locate.

Areas and positions are visible to every signed-in user: the territory is not secret.
Geometry comes back in the layer's datum, named by the collection's ``datum`` member.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import geojson
import numpy as np
import shapely
from flask import jsonify, request
from shapely.geometry import mapping
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import aliased

from gridops.api import bp
from gridops.errors import NotFound, ValidationFailed
from gridops.extensions import db
from gridops.territory import locator
from gridops.territory.models import Area, AreaLevel, GridLayer

DEFAULT_LIMIT = 500
MAX_LIMIT = 5000
MAX_QUERY_LENGTH = 100

_Parent = aliased(Area, name="parent_area")

_AREA_COLUMNS = (
    Area.code,
    Area.name,
    Area.name_en,
    Area.generated,
    Area.area_m2,
    Area.active,
    Area.path,
    Area.geometry_wkb,
    AreaLevel.key.label("level"),
    AreaLevel.name_zh.label("level_name"),
    AreaLevel.name_en.label("level_name_en"),
    _Parent.code.label("parent_code"),
)


@dataclass(frozen=True)
class AreaFilters:
    """What ``GET /areas`` was asked for, parsed and checked."""

    level: AreaLevel | None
    parent: Area | None
    bbox: tuple[float, float, float, float] | None
    text: str | None
    limit: int
    offset: int
    simplify: float | None


def _number(raw: object, field: str) -> float:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise ValidationFailed.field(field, "required")
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ValidationFailed.field(field, "must be a number")
    try:
        value = float(raw)
    except ValueError:
        raise ValidationFailed.field(field, "must be a number") from None
    if not math.isfinite(value):
        raise ValidationFailed.field(field, "must be a finite number")
    return value


def _integer(args: Mapping, field: str, default: int, minimum: int, maximum: int | None = None) -> int:
    raw = args.get(field, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed.field(field, "must be a whole number") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ValidationFailed.field(field, f"must be {bounds}")
    return value


def _bbox(raw: str) -> tuple[float, float, float, float]:
    parts = raw.split(",")
    if len(parts) != 4:
        raise ValidationFailed.field("bbox", "must be minx,miny,maxx,maxy")
    try:
        min_x, min_y, max_x, max_y = (_number(part, "bbox") for part in parts)
    except ValidationFailed:
        raise ValidationFailed.field("bbox", "must be four numbers: minx,miny,maxx,maxy") from None
    if min_x > max_x or min_y > max_y:
        raise ValidationFailed.field("bbox", "minimum must not exceed maximum")
    return min_x, min_y, max_x, max_y


def parse_area_filters(args: Mapping) -> AreaFilters:
    """Read and check the query string of ``GET /areas``; each problem names its parameter."""
    level = None
    level_key = args.get("level", "").strip()
    if level_key:
        level = db.session.scalar(select(AreaLevel).where(AreaLevel.key == level_key))
        if level is None:
            keys = ", ".join(db.session.scalars(select(AreaLevel.key).order_by(AreaLevel.rank)))
            raise ValidationFailed.field("level", f"unknown level {level_key!r}; use one of {keys}")
    parent = None
    parent_code = args.get("parent", "").strip()
    if parent_code:
        parent = db.session.scalar(select(Area).where(Area.code == parent_code))
        if parent is None:
            raise ValidationFailed.field("parent", f"no area has code {parent_code!r}")
    bbox = _bbox(args["bbox"]) if args.get("bbox", "").strip() else None
    if (level is None or level.is_unit) and parent is None and bbox is None:
        reason = "unit grids are listed only within parent=<code> or bbox=minx,miny,maxx,maxy"
        raise ValidationFailed(
            "give parent or bbox (or a level above unit grids): there are too many unit grids to list",
            {"parent": reason, "bbox": reason},
        )
    text = args.get("q", "").strip() or None
    if text is not None and len(text) > MAX_QUERY_LENGTH:
        raise ValidationFailed.field("q", f"at most {MAX_QUERY_LENGTH} characters")
    simplify = None
    if args.get("simplify", "").strip():
        simplify = _number(args["simplify"], "simplify")
        if simplify < 0:
            raise ValidationFailed.field("simplify", "must not be negative")
    return AreaFilters(
        level=level,
        parent=parent,
        bbox=bbox,
        text=text,
        limit=_integer(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        offset=_integer(args, "offset", 0, 0),
        simplify=simplify,
    )


def _area_select() -> Select:
    return (
        select(*_AREA_COLUMNS)
        .join(AreaLevel, Area.level_rank == AreaLevel.rank)
        .outerjoin(_Parent, Area.parent_id == _Parent.id)
    )


def _filtered(filters: AreaFilters) -> Select:
    stmt = _area_select().where(Area.active)
    if filters.level is not None:
        stmt = stmt.where(Area.level_rank == filters.level.rank)
    if filters.parent is not None:
        stmt = stmt.where(Area.path.startswith(filters.parent.path), Area.id != filters.parent.id)
    if filters.bbox is not None:
        min_x, min_y, max_x, max_y = filters.bbox
        stmt = stmt.where(Area.max_x >= min_x, Area.min_x <= max_x, Area.max_y >= min_y, Area.min_y <= max_y)
    if filters.text is not None:
        stmt = stmt.where(
            or_(
                Area.code.startswith(filters.text, autoescape=True),
                Area.name.contains(filters.text, autoescape=True),
                Area.name_en.icontains(filters.text, autoescape=True),
            )
        )
    return stmt


def _features(rows, simplify: float | None = None) -> list[geojson.Feature]:
    geometries = shapely.from_wkb(np.array([row.geometry_wkb for row in rows], dtype=object))
    if simplify:
        geometries = shapely.simplify(geometries, simplify, preserve_topology=True)
    return [
        geojson.Feature(
            id=row.code,
            geometry=mapping(geometry) if geometry is not None else None,
            properties={
                "code": row.code,
                "name": row.name,
                "name_en": row.name_en,
                "level": row.level,
                "level_name": row.level_name,
                "level_name_en": row.level_name_en,
                "parent_code": row.parent_code,
                "generated": row.generated,
                "area_m2": row.area_m2,
            },
        )
        for row, geometry in zip(rows, geometries.tolist())
    ]


def _layer_datum() -> str | None:
    return db.session.scalar(select(GridLayer.datum).order_by(GridLayer.id).limit(1))


@bp.get("/areas")
def list_areas():
    """Active areas as a GeoJSON FeatureCollection, by level, parent subtree, bbox and text, in pages."""
    filters = parse_area_filters(request.args)
    stmt = _filtered(filters)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.execute(
        stmt.order_by(Area.level_rank, Area.code).limit(filters.limit).offset(filters.offset)
    ).all()
    collection = geojson.FeatureCollection(
        _features(rows, filters.simplify),
        datum=_layer_datum(),
        total=total,
        limit=filters.limit,
        offset=filters.offset,
    )
    return jsonify(collection)


@bp.get("/areas/<code>")
def get_area(code: str):
    """One area (retired ones too: old cases point at them) as a Feature, with its chain from the top."""
    row = db.session.execute(_area_select().where(Area.code == code)).first()
    if row is None:
        raise NotFound(f"no area has code {code!r}", {"code": "unknown"})
    (feature,) = _features([row])
    ancestor_ids = [int(part) for part in row.path.strip("/").split("/") if part]
    chain = db.session.execute(
        select(
            Area.id, Area.code, Area.name, Area.name_en,
            AreaLevel.key.label("level"), AreaLevel.name_zh.label("level_name"),
            AreaLevel.name_en.label("level_name_en"),
        )
        .join(AreaLevel, Area.level_rank == AreaLevel.rank)
        .where(Area.id.in_(ancestor_ids))
        .order_by(Area.level_rank)
    ).all()
    feature["properties"]["active"] = row.active
    feature["properties"]["chain"] = [item._asdict() for item in chain]
    feature["datum"] = _layer_datum()
    return jsonify(feature)


@bp.route("/locate", methods=["GET", "POST"])
def locate():
    """The unit grid (or gap area) and chain at a position: ?x=&y=&datum= or a JSON body."""
    if request.method == "POST":
        source = request.get_json(silent=True)
        if not isinstance(source, dict):
            raise ValidationFailed(
                'send a JSON object such as {"x": 112.55, "y": 33.0, "datum": "wgs84"}',
                {"body": "expected a JSON object with x, y and datum"},
            )
    else:
        source = request.args
    x = _number(source.get("x"), "x")
    y = _number(source.get("y"), "y")
    location = locator.locate(x, y, source.get("datum", "wgs84"))
    return jsonify(location.to_dict())
