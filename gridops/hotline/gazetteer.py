"""The gazetteer of roads and landmarks (地名地址库), and place search for callers who give no position.

An import reads CSV (columns ``name, kind, x, y`` and optional ``datum, name_en, aliases``)
or GeoJSON (Point, LineString, MultiLineString or Polygon features with ``name``/``kind``
properties; the datum from the caller or the collection's ``"datum"`` member). Each place is
located at import through the territory's locator: a point where it is, a road at the middle
of its line, a polygon at a point inside it, so that a complaint about the place lands in a
unit grid. All or nothing: one bad row rejects the file with every problem listed. A place
of the same kind and name in the same area is updated, not duplicated (and brought back if it
was retired); each place an import changes is kept in the administration history.

Between imports, a place is edited one at a time (``update_place``: names, kind, position,
re-located like an import) and retired or brought back (``retire_place``, ``restore_place``);
a retired place is no longer found by ``search_places``. Every edit is kept in the history.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

import shapely
from flask_babel import gettext as _
from shapely.geometry import shape
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from gridops.auth.models import User
from gridops.auth.permissions import can_manage_gazetteer
from gridops.db import utcnow
from gridops.errors import NotAllowed, OutsideTerritory, ValidationFailed
from gridops.extensions import db
from gridops.hotline.models import PLACE_KINDS, GazetteerPlace
from gridops.territory.datum import INPUT_DATUMS, check_datum
from gridops.catalogue.models import CatalogueChange
from gridops.territory.locator import Location, locate
from gridops.territory.models import Area, GridLayer

MAX_ROWS = 50_000
MAX_NAME = 128
MAX_ALIASES = 255
SEARCH_LIMIT = 20
#: The name of a place's entries in the administration history.
HISTORY_ENTITY = "gazetteer_place"


@dataclass(frozen=True)
class GazetteerImport:
    """What an import did: places created, updated, and how many lie in a coverage gap."""

    created: int
    updated: int
    in_gap: int

    def to_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "in_gap": self.in_gap}


@dataclass(frozen=True)
class _Row:
    name: str
    name_en: str | None
    aliases: str
    kind: str
    x: float
    y: float
    datum: str
    geometry_wkb: bytes | None


def _text(value, limit: int) -> str | None:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value.strip()) > limit or any(ord(c) < 32 for c in value):
        return None
    return value.strip()


def _row(index: int, props: Mapping, geometry, datum: str | None, problems: dict[str, str]) -> _Row | None:
    label = f"row {index}"
    name = _text(props.get("name"), MAX_NAME)
    if not name:
        problems[f"{label}.name"] = _("a name of 1 to %(count)d characters is required", count=MAX_NAME)
        return None
    kind = props.get("kind") or "road"
    if kind not in PLACE_KINDS:
        problems[f"{label}.kind"] = _("must be one of %(values)s", values=", ".join(PLACE_KINDS))
        return None
    name_en = _text(props.get("name_en"), MAX_NAME)
    aliases = _text(props.get("aliases"), MAX_ALIASES)
    if name_en is None or aliases is None:
        problems[f"{label}.name_en"] = _("name_en and aliases must be one line of text")
        return None
    try:
        datum = check_datum(props.get("datum") or datum, INPUT_DATUMS, field=f"{label}.datum")
    except ValidationFailed as exc:
        problems.update(exc.fields)
        return None
    if geometry.is_empty or not geometry.is_valid:
        problems[f"{label}.geometry"] = _("must be a valid point, line or polygon")
        return None
    if geometry.geom_type == "Point":
        point, wkb = geometry, None
    elif geometry.geom_type in ("LineString", "MultiLineString"):
        merged = shapely.line_merge(geometry) if geometry.geom_type == "MultiLineString" else geometry
        point = merged.interpolate(0.5, normalized=True) if merged.geom_type == "LineString" else (
            geometry.geoms[0].interpolate(0.5, normalized=True)
        )
        wkb = shapely.to_wkb(geometry)
    elif geometry.geom_type in ("Polygon", "MultiPolygon"):
        point, wkb = geometry.representative_point(), shapely.to_wkb(geometry)
    else:
        problems[f"{label}.geometry"] = _("must be a valid point, line or polygon")
        return None
    return _Row(name, name_en or None, aliases, kind, float(point.x), float(point.y), datum, wkb)


def read_csv(data: bytes | str, datum: str | None) -> list[tuple[int, Mapping, object]]:
    """(row number, properties, point) for each CSV row; a header row names the columns."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    reader = csv.DictReader(io.StringIO(text))
    missing = {"name", "x", "y"} - set(reader.fieldnames or ())
    if missing:
        raise ValidationFailed.field("file", _("the CSV needs the columns name, x and y"))
    rows, problems = [], {}
    for index, record in enumerate(reader, start=2):
        try:
            x, y = float(record["x"]), float(record["y"])
            if not (math.isfinite(x) and math.isfinite(y)):
                raise ValueError
        except (TypeError, ValueError):
            problems[f"row {index}.x"] = _("x and y must be numbers")
            continue
        rows.append((index, record, shapely.Point(x, y)))
    if problems:
        raise ValidationFailed(_("The gazetteer file has errors: nothing was imported."), problems)
    return rows


def read_geojson(data: bytes | str, datum: str | None) -> tuple[list[tuple[int, Mapping, object]], str | None]:
    """(feature number, properties, geometry) for each feature, and the collection's datum."""
    try:
        collection = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed.field("file", _("is not valid JSON")) from None
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection" or not isinstance(
        collection.get("features"), list
    ):
        raise ValidationFailed.field("file", _("must be a GeoJSON FeatureCollection"))
    rows, problems = [], {}
    for index, feature in enumerate(collection["features"], start=1):
        props = feature.get("properties") if isinstance(feature, dict) else None
        try:
            geometry = shape(feature["geometry"])
        except Exception:  # shapely raises several types for malformed GeoJSON geometry
            problems[f"row {index}.geometry"] = _("must be a valid point, line or polygon")
            continue
        rows.append((index, props if isinstance(props, dict) else {}, geometry))
    if problems:
        raise ValidationFailed(_("The gazetteer file has errors: nothing was imported."), problems)
    return rows, datum or collection.get("datum")


def import_gazetteer(
    actor: User | None, data: bytes | str, *, file_format: str, datum: str | None = None, source_name: str = ""
) -> GazetteerImport:
    """Import places from CSV or GeoJSON ``data``: all or nothing (``actor`` None: the command line)."""
    if actor is not None and not can_manage_gazetteer(actor):
        raise NotAllowed(_("Only administrators may import the gazetteer."))
    if file_format == "csv":
        records = read_csv(data, datum)
    elif file_format == "geojson":
        records, datum = read_geojson(data, datum)
    else:
        raise ValidationFailed.field("format", _("must be csv or geojson"))
    if not records:
        raise ValidationFailed.field("file", _("holds no places"))
    if len(records) > MAX_ROWS:
        raise ValidationFailed.field("file", _("at most %(count)d places per file", count=MAX_ROWS))
    problems: dict[str, str] = {}
    rows = [(index, _row(index, props, geometry, datum, problems)) for index, props, geometry in records]
    located = []
    for index, row in rows:
        if row is None:
            continue
        try:
            location = locate_place(row.x, row.y, row.datum, field=f"row {index}.geometry")
        except ValidationFailed as exc:
            problems.update(exc.fields)
            continue
        located.append((row, location))
    if problems:
        raise ValidationFailed(_("The gazetteer file has errors: nothing was imported."), problems)
    existing = {
        (place.kind, place.name, place.area_id): place for place in db.session.scalars(select(GazetteerPlace))
    }
    changed: list[tuple[GazetteerPlace, dict]] = []
    created = updated = in_gap = 0
    now = utcnow()
    for row, location in located:
        key = (row.kind, row.name, location.area.id)
        place = existing.get(key)
        before = None
        if place is None:
            place = GazetteerPlace(kind=row.kind, name=row.name)
            db.session.add(place)
            existing[key] = place
            created += 1
        else:
            before = place_record(place)
            updated += 1
        place.name_en = row.name_en
        place.aliases = row.aliases
        place.x, place.y, place.datum = row.x, row.y, row.datum
        place.geometry_wkb = row.geometry_wkb
        _place_in(place, location)
        place.active = True
        place.source_name = source_name[:255]
        place.imported_at = now
        place.imported_by_id = actor.id if actor is not None else None
        in_gap += location.gap
        if before is not None and before != place_record(place):
            changed.append((place, before))
    db.session.flush()
    for place, before in changed:
        CatalogueChange.record(HISTORY_ENTITY, place.id, "import", actor, before, place_record(place))
    db.session.flush()
    return GazetteerImport(created, updated, in_gap)


def locate_place(x: float, y: float, datum: str, *, field: str) -> Location:
    """Where a place at (x, y) lies, as an import locates it; outside the territory is an error on ``field``."""
    try:
        return locate(x, y, datum)
    except OutsideTerritory:
        raise ValidationFailed.field(field, _("lies outside the territory")) from None
    except ValidationFailed as exc:
        raise ValidationFailed.field(field, next(iter(exc.fields.values()), exc.message)) from None


def _place_in(place: GazetteerPlace, location: Location) -> None:
    place.area_id = location.area.id
    place.unit_grid_id = location.unit_grid.id if location.unit_grid else None
    place.area = db.session.get(Area, location.area.id)
    place.unit_grid = db.session.get(Area, location.unit_grid.id) if location.unit_grid else None


def place_record(place: GazetteerPlace) -> dict:
    """A place as the history keeps it: what an editor sees and changes."""
    return {
        "name": place.name, "name_en": place.name_en, "aliases": place.aliases, "kind": place.kind,
        "x": place.x, "y": place.y, "datum": place.datum,
        "area": place.area.code if place.area is not None else None,
        "unit_grid": place.unit_grid.code if place.unit_grid is not None else None,
        "active": place.active,
    }


def _check_manager(actor: User | None) -> None:
    if actor is not None and not can_manage_gazetteer(actor):
        raise NotAllowed(_("Only administrators may change the gazetteer."))


def _finite(value, field: str) -> float:
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise ValidationFailed.field(field, _("must be a finite number"))
    return number


def _checked_place(data: Mapping, place_id: int | None) -> tuple[_Row, Location]:
    """A place's fields from a form (a point: no line or outline), every bad field named at once, and
    where it lies, located in its grid as an import would."""
    problems: dict[str, str] = {}
    name = _text(data.get("name"), MAX_NAME)
    if not name:
        problems["name"] = _("a name of 1 to %(count)d characters is required", count=MAX_NAME)
    name_en = _text(data.get("name_en"), MAX_NAME)
    if name_en is None:
        problems["name_en"] = _("at most %(count)d characters on one line", count=MAX_NAME)
    aliases = _text(data.get("aliases"), MAX_ALIASES)
    if aliases is None:
        problems["aliases"] = _("at most %(count)d characters on one line", count=MAX_ALIASES)
    kind = data.get("kind")
    if kind not in PLACE_KINDS:
        problems["kind"] = _("must be one of %(values)s", values=", ".join(PLACE_KINDS))
    position = {}
    for field in ("x", "y"):
        try:
            position[field] = _finite(data.get(field), field)
        except ValidationFailed as exc:
            problems.update(exc.fields)
    datum = data.get("datum") if data.get("datum") in INPUT_DATUMS else None
    if datum is None:
        problems["datum"] = _("must be one of %(values)s", values=", ".join(INPUT_DATUMS))
    location = None
    if len(position) == 2 and datum is not None:
        try:
            location = locate_place(position["x"], position["y"], datum, field="position")
        except ValidationFailed as exc:
            problems.update(exc.fields)
    if location is not None and name and kind in PLACE_KINDS:
        clash = db.session.scalar(select(GazetteerPlace.id).where(
            GazetteerPlace.kind == kind, GazetteerPlace.name == name, GazetteerPlace.area_id == location.area.id,
            GazetteerPlace.id != (place_id or 0),
        ))
        if clash is not None:
            problems["name"] = _("another place of this kind and name lies in the same area")
    if problems:
        raise ValidationFailed(_("The place was not saved: check the fields marked."), problems)
    return _Row(name, name_en or None, aliases, kind, position["x"], position["y"], datum, None), location


def add_place(actor: User | None, data: Mapping) -> GazetteerPlace:
    """Add one place by hand (a new road, say), located in its unit grid as an import would; recorded."""
    _check_manager(actor)
    checked, location = _checked_place(data, None)
    place = GazetteerPlace(
        name=checked.name, name_en=checked.name_en, aliases=checked.aliases, kind=checked.kind,
        x=checked.x, y=checked.y, datum=checked.datum, active=True, source_name="",
        imported_by_id=actor.id if actor is not None else None,
    )
    _place_in(place, location)
    db.session.add(place)
    db.session.flush()
    CatalogueChange.record(HISTORY_ENTITY, place.id, "create", actor, None, place_record(place))
    return place


def update_place(actor: User | None, place: GazetteerPlace, data: Mapping) -> GazetteerPlace:
    """Change a place's names, kind and position; it is re-located in its unit grid as an import would.

    Every bad field is named at once; the place is left as it was. A new position drops the
    imported line or polygon (the place becomes the point given).
    """
    _check_manager(actor)
    checked, location = _checked_place(data, place.id)
    before = place_record(place)
    if (checked.x, checked.y, checked.datum) != (place.x, place.y, place.datum):
        place.geometry_wkb = None
    place.name, place.name_en, place.aliases, place.kind = checked.name, checked.name_en, checked.aliases, checked.kind
    place.x, place.y, place.datum = checked.x, checked.y, checked.datum
    _place_in(place, location)
    after = place_record(place)
    if after != before:
        CatalogueChange.record(HISTORY_ENTITY, place.id, "update", actor, before, after)
    db.session.flush()
    return place


def _set_active(actor: User | None, place: GazetteerPlace, active: bool) -> GazetteerPlace:
    _check_manager(actor)
    if place.active != active:
        before = place_record(place)
        place.active = active
        CatalogueChange.record(HISTORY_ENTITY, place.id, "activate" if active else "deactivate", actor, before,
                               place_record(place))
        db.session.flush()
    return place


def retire_place(actor: User | None, place: GazetteerPlace) -> GazetteerPlace:
    """Retire a place: the desk no longer finds it, complaints can no longer be filed at it (history kept)."""
    return _set_active(actor, place, False)


def restore_place(actor: User | None, place: GazetteerPlace) -> GazetteerPlace:
    """Bring a retired place back into the desk's search."""
    return _set_active(actor, place, True)


@dataclass(frozen=True)
class PlacePage:
    """One page of the gazetteer's places, by name."""

    places: list[GazetteerPlace]
    total: int
    page: int
    pages: int


def list_places(text: str = "", *, page: int = 1, per_page: int = 50) -> PlacePage:
    """Places, retired ones too, matching ``text`` by name, English name or alias; a page past the end is the last."""
    stmt = select(GazetteerPlace)
    text = (text or "").strip()
    if text:
        pattern = _pattern(text)
        stmt = stmt.where(or_(
            GazetteerPlace.name.ilike(pattern, escape="\\"),
            GazetteerPlace.name_en.ilike(pattern, escape="\\"),
            GazetteerPlace.aliases.ilike(pattern, escape="\\"),
        ))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    places = db.session.scalars(
        stmt.options(joinedload(GazetteerPlace.area))
        .order_by(GazetteerPlace.name, GazetteerPlace.id)
        .offset((page - 1) * per_page).limit(per_page)
    ).all()
    return PlacePage(list(places), total, page, pages)


@dataclass(frozen=True)
class PlaceHit:
    """A search result: a gazetteer place or an area, with the point a complaint about it is filed at."""

    type: str  # "place" or "area"
    id: int
    name: str
    name_en: str | None
    kind: str  # the place kind, or the area's level key
    x: float
    y: float
    datum: str
    area_code: str
    area_name: str

    def to_dict(self) -> dict:
        return {
            "type": self.type, "id": self.id, "name": self.name, "name_en": self.name_en, "kind": self.kind,
            "x": self.x, "y": self.y, "datum": self.datum, "area_code": self.area_code, "area_name": self.area_name,
        }


def _pattern(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def area_point(area: Area) -> tuple[float, float, str] | None:
    """A point inside ``area`` in the layer's datum (None without geometry)."""
    wkb = db.session.scalar(select(Area.geometry_wkb).where(Area.id == area.id))
    if wkb is None:
        return None
    point = shapely.from_wkb(wkb).representative_point()
    datum = db.session.scalar(select(GridLayer.datum).order_by(GridLayer.id).limit(1)) or "wgs84"
    return float(point.x), float(point.y), datum


def search_places(text: str, *, limit: int = SEARCH_LIMIT) -> list[PlaceHit]:
    """Places and areas whose name, alias or code matches ``text``: gazetteer places first, then areas."""
    text = (text or "").strip()
    if not text or len(text) > MAX_NAME:
        return []
    pattern = _pattern(text)
    places = db.session.execute(
        select(GazetteerPlace, Area.code, Area.name)
        .join(Area, Area.id == GazetteerPlace.area_id)
        .where(
            GazetteerPlace.active.is_(True),
            or_(
                GazetteerPlace.name.ilike(pattern, escape="\\"),
                GazetteerPlace.name_en.ilike(pattern, escape="\\"),
                GazetteerPlace.aliases.ilike(pattern, escape="\\"),
            ),
        )
        .order_by(GazetteerPlace.name, GazetteerPlace.id)
        .limit(limit)
    ).all()
    hits = [
        PlaceHit("place", p.id, p.name, p.name_en, p.kind, p.x, p.y, p.datum, code, name)
        for p, code, name in places
    ]
    if len(hits) < limit:
        areas = db.session.scalars(
            select(Area)
            .where(
                Area.active.is_(True),
                Area.geometry_wkb.is_not(None),
                or_(
                    Area.name.ilike(pattern, escape="\\"),
                    Area.name_en.ilike(pattern, escape="\\"),
                    Area.code.startswith(text, autoescape=True),
                ),
            )
            .order_by(Area.level_rank, Area.code)
            .limit(limit - len(hits))
        ).all()
        for area in areas:
            point = area_point(area)
            if point is not None:
                hits.append(
                    PlaceHit("area", area.id, area.name, area.name_en, area.level.key, *point, area.code, area.name)
                )
    return hits
