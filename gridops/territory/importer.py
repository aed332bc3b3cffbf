"""Import the territory layer from GeoJSON: validate every feature, then upsert all or nothing.

A file is the whole layer: areas are matched by code, updated or inserted, and areas the file
no longer contains are retired (cases point at them, so they are never deleted); stored
ancestors that the file's areas hang from are kept. ``Area.layer_version`` is the layer
version that last created, changed or retired the area. Validation reports every problem at
once; any error rejects the file before anything is written.
Geometry work is vectorised (Shapely 2 arrays, one STRtree) so that a district of 200,000
unit grids imports in well under a minute.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import geojson
import numpy as np
import shapely
from flask import current_app
from pyproj import CRS, Transformer
from sqlalchemy import Connection, func, select, text

from gridops.auth.models import User
from gridops.db import utcnow
from gridops.errors import ValidationFailed
from gridops.extensions import db
from gridops.territory.codes import code_shape_problem, extends_parent_code
from gridops.territory.levels import ensure_levels
from gridops.territory.models import DATUMS, Area, AreaLevel, GridLayer

ERROR = "error"
WARNING = "warning"

GEOMETRY_TYPES = ("Polygon", "MultiPolygon")
#: Edges longer than this (degrees, ~1 km) are split before projecting, so that an edge that
#: is straight in longitude/latitude stays within millimetres of its projected image.
DENSIFY_DEGREES = 0.01
#: No degree of latitude or longitude is longer than this many metres (a safe upper bound).
METRES_PER_DEGREE_MAX = 111_700
NAME_LENGTH = 128
CODE_LENGTH = 32

#: App config keys for the validation tolerances, with their defaults.
RULE_DEFAULTS: dict[str, float] = {
    "GRIDOPS_IMPORT_CONTAINMENT_TOLERANCE_M": 1.0,
    "GRIDOPS_IMPORT_OVERLAP_TOLERANCE_M2": 1.0,
    "GRIDOPS_GRID_AREA_MIN_RATIO": 0.25,
    "GRIDOPS_GRID_AREA_MAX_RATIO": 4.0,
}


@dataclass(frozen=True)
class Problem:
    """One finding about the file: which feature, its code, what is wrong, error or warning."""

    index: int | None
    code: str | None
    reason: str
    severity: str = ERROR

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "code": self.code, "reason": self.reason, "severity": self.severity}

    def __str__(self) -> str:
        where = "file" if self.index is None else f"feature {self.index}"
        code = f" [{self.code}]" if self.code else ""
        return f"{self.severity.upper():<7} {where}{code}: {self.reason}"


class ImportRejected(ValidationFailed):
    """The file has errors: nothing was imported; ``problems`` lists every finding."""

    code = "import_rejected"

    def __init__(self, problems: list[Problem]):
        errors = sum(problem.is_error for problem in problems)
        super().__init__(
            f"The territory file was rejected with {errors} error(s); nothing was imported.",
            problems=[problem.to_dict() for problem in problems],
        )
        self.problems = problems


@dataclass
class ImportResult:
    """What an import did, counted per level key, and the warnings that did not block it."""

    layer_version: int
    datum: str
    feature_count: int
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    retired: dict[str, int] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class ImportRules:
    """Tolerances and thresholds of validation, read from the app config."""

    containment_tolerance_m: float
    overlap_tolerance_m2: float
    grid_area_m2: float
    grid_area_min_ratio: float
    grid_area_max_ratio: float

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "ImportRules":
        def value(key: str) -> float:
            return float(config.get(key, RULE_DEFAULTS[key]))

        return cls(
            containment_tolerance_m=value("GRIDOPS_IMPORT_CONTAINMENT_TOLERANCE_M"),
            overlap_tolerance_m2=value("GRIDOPS_IMPORT_OVERLAP_TOLERANCE_M2"),
            grid_area_m2=float(config.get("GRIDOPS_GRID_AREA_M2", 10_000)),
            grid_area_min_ratio=value("GRIDOPS_GRID_AREA_MIN_RATIO"),
            grid_area_max_ratio=value("GRIDOPS_GRID_AREA_MAX_RATIO"),
        )


@dataclass
class _Existing:
    """The areas already stored, as parallel columns keyed by code."""

    by_code: dict[str, int]
    ids: list[int]
    level_ranks: list[int]
    parent_ids: list[int | None]
    paths: list[str]
    actives: list[bool]
    names: list[str]
    names_en: list[str | None]
    generated: list[bool]
    fringe: list[bool]
    wkbs: list[bytes | None]


@dataclass
class _Plan:
    """A validated file: per-feature columns, computed geometry facts and every problem."""

    datum: str
    levels: dict[int, AreaLevel]
    existing: _Existing
    codes: list[str | None]
    names: list[str | None]
    names_en: list[str | None]
    ranks: list[int | None]
    parent_codes: list[str | None]
    generated: list[bool]
    #: ``urban_rural_fringe`` as given; None when the feature leaves it out (keep the stored value).
    fringe: list[bool | None]
    geometries: np.ndarray
    areas_m2: np.ndarray
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [problem for problem in self.problems if not problem.is_error]


def read_collection(data: str | bytes) -> dict:
    """Parse the text of a GeoJSON file; text that is not JSON rejects the import."""
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportRejected([Problem(None, None, f"not JSON: {exc}")]) from exc


def validate_layer(collection: Any, *, datum: str | None = None) -> list[Problem]:
    """Every problem of a territory file (errors and warnings), without writing any area."""
    try:
        return _plan(collection, datum).problems
    except ImportRejected as exc:
        return exc.problems


def import_layer(
    collection: Any,
    *,
    datum: str | None = None,
    source_name: str | None = None,
    imported_by: User | int | None = None,
    layer_name: str | None = None,
) -> ImportResult:
    """Validate a GeoJSON FeatureCollection and make it the territory layer; flush, no commit.

    Raises ImportRejected, listing every problem, when the file has any error.
    """
    plan = _plan(collection, datum)
    if plan.errors:
        raise ImportRejected(plan.problems)
    return _write(plan, source_name, imported_by, layer_name)


# --- validation -------------------------------------------------------------------------


def _plan(collection: Any, datum: str | None) -> _Plan:
    """Check the file at every level and gather what the write needs."""
    features = _features_of(collection)
    problems: list[Problem] = []
    datum = _datum_of(collection, datum, problems)
    if not features:
        problems.append(Problem(None, None, "the collection has no features"))
    levels = {level.rank: level for level in ensure_levels()}
    plan = _Plan(
        datum=datum or "",
        levels=levels,
        existing=_load_existing(),
        codes=[],
        names=[],
        names_en=[],
        ranks=[],
        parent_codes=[],
        generated=[],
        fringe=[],
        geometries=np.empty(0, dtype=object),
        areas_m2=np.empty(0),
        problems=problems,
    )
    geometry_objects = _read_properties(features, plan)
    _check_duplicates(plan)
    _read_geometries(geometry_objects, plan)
    layer = db.session.scalar(select(GridLayer).order_by(GridLayer.id).limit(1))
    parents_usable = layer is None or datum is None or layer.datum == datum
    parents = _check_parents(plan, parents_usable, layer.datum if layer else None)
    _check_geometry(plan, parents, ImportRules.from_config(current_app.config))
    plan.problems.sort(key=lambda problem: -1 if problem.index is None else problem.index)
    return plan


def _features_of(collection: Any) -> list:
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise ImportRejected([Problem(None, None, "not a GeoJSON FeatureCollection")])
    features = collection.get("features")
    if not isinstance(features, list):
        raise ImportRejected([Problem(None, None, "the FeatureCollection has no 'features' list")])
    return features


def _datum_of(collection: dict, datum: str | None, problems: list[Problem]) -> str | None:
    declared = collection.get("datum")
    chosen = datum if datum is not None else declared
    if chosen is None:
        problems.append(Problem(None, None, "datum missing: give one of " + ", ".join(DATUMS)))
        return None
    if chosen not in DATUMS:
        problems.append(Problem(None, None, f"unknown datum {chosen!r}: use one of " + ", ".join(DATUMS)))
        return None
    if datum is not None and declared is not None and declared != datum:
        problems.append(Problem(None, None, f"datum {datum!r} given, but the file declares {declared!r}"))
        return None
    return chosen


def _load_existing() -> _Existing:
    rows = db.session.execute(
        select(
            Area.id, Area.code, Area.level_rank, Area.parent_id, Area.path, Area.active,
            Area.name, Area.name_en, Area.generated, Area.urban_rural_fringe, Area.geometry_wkb,
        )
    ).all()
    return _Existing(
        by_code={row.code: position for position, row in enumerate(rows)},
        ids=[row.id for row in rows],
        level_ranks=[row.level_rank for row in rows],
        parent_ids=[row.parent_id for row in rows],
        paths=[row.path for row in rows],
        actives=[row.active for row in rows],
        names=[row.name for row in rows],
        names_en=[row.name_en for row in rows],
        generated=[row.generated for row in rows],
        fringe=[row.urban_rural_fringe for row in rows],
        wkbs=[row.geometry_wkb for row in rows],
    )


def _text_property(
    props: dict, key: str, found: list[str], *, required: bool, limit: int, code: bool = False
) -> str | None:
    """The stripped string value of a property (codes may be JSON integers); note why not."""
    value = props.get(key)
    if value is None or value == "":
        if required:
            found.append(f"missing property {key!r}")
        return None
    if code and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        found.append(f"property {key!r} must be a non-empty string")
        return None
    value = value.strip()
    if len(value) > limit:
        found.append(f"property {key!r} is longer than {limit} characters")
        return None
    return value


def _read_properties(features: list, plan: _Plan) -> list[dict | None]:
    """Fill the plan's per-feature columns; return each feature's (multi)polygon or None."""
    level_by_key = {level.key: level for level in plan.levels.values()}
    known_levels = ", ".join(level_by_key)
    geometry_objects: list[dict | None] = []
    for index, feature in enumerate(features):
        is_feature = isinstance(feature, dict) and feature.get("type") == "Feature"
        if not is_feature:
            plan.problems.append(Problem(index, None, "not a GeoJSON Feature"))
            feature = {"properties": {}}
        props = feature.get("properties")
        found: list[str] = []
        if not isinstance(props, dict):
            found.append("the feature has no properties object")
            props = {}
        code = _text_property(props, "code", found, required=True, limit=CODE_LENGTH, code=True)
        name = _text_property(props, "name", found, required=True, limit=NAME_LENGTH)
        name_en = _text_property(props, "name_en", found, required=False, limit=NAME_LENGTH)
        parent_code = _text_property(
            props, "parent_code", found, required=False, limit=CODE_LENGTH, code=True
        )
        level_key = props.get("level")
        level = level_by_key.get(level_key) if isinstance(level_key, str) else None
        if level is None:
            found.append(
                f"missing property 'level' (one of {known_levels})" if level_key is None
                else f"unknown level {level_key!r} (known: {known_levels})"
            )
        elif code is not None:
            shape_problem = code_shape_problem(code, level.code_length)
            if shape_problem:
                found.append(shape_problem)
        generated = props.get("generated")
        if generated is not None and not isinstance(generated, bool):
            found.append("property 'generated' must be true or false")
        fringe = props.get("urban_rural_fringe")
        if fringe is not None and not isinstance(fringe, bool):
            found.append("property 'urban_rural_fringe' must be true or false")
        if props.get("active") is False:
            found.append("a retired area (exported with retired areas): remove it to import the file")
        if is_feature:
            plan.problems.extend(Problem(index, code, reason) for reason in found)
            geometry_objects.append(_geometry_of(index, code, feature.get("geometry"), plan.problems))
        else:
            geometry_objects.append(None)
        plan.codes.append(code)
        plan.names.append(name)
        plan.names_en.append(name_en)
        plan.ranks.append(level.rank if level is not None else None)
        plan.parent_codes.append(parent_code)
        plan.generated.append(generated is True)
        plan.fringe.append(fringe if isinstance(fringe, bool) else None)
    return geometry_objects


def _geometry_of(index: int, code: str | None, geometry: Any, problems: list[Problem]) -> dict | None:
    """The feature's geometry object when it claims to be a (multi)polygon."""
    if not isinstance(geometry, dict):
        problems.append(Problem(index, code, "missing geometry"))
        return None
    if geometry.get("type") not in GEOMETRY_TYPES:
        problems.append(
            Problem(index, code, f"geometry must be a Polygon or MultiPolygon, not {geometry.get('type')!r}")
        )
        return None
    return geometry


def _check_duplicates(plan: _Plan) -> None:
    counts = Counter(code for code in plan.codes if code is not None)
    first: dict[str, int] = {}
    for index, code in enumerate(plan.codes):
        if code is None or counts[code] == 1:
            continue
        if code in first:
            reason = f"duplicate code (first used by feature {first[code]})"
            plan.problems.append(Problem(index, code, reason))
        else:
            first[code] = index


def _read_geometries(objects: list[dict | None], plan: _Plan) -> None:
    """Build every geometry at once; only valid, non-empty lon/lat polygons are kept."""
    geometries = np.full(len(objects), None, dtype=object)
    present = np.array([geometry is not None for geometry in objects], dtype=bool)
    given = [geometry for geometry in objects if geometry is not None]
    try:
        geometries[present] = _from_coordinates(given)
    except (KeyError, TypeError, ValueError, shapely.errors.GEOSException):
        # Some geometry is malformed: read them one by one to name each bad one.
        geometries[present] = shapely.from_geojson(
            np.array([json.dumps(geometry) for geometry in given], dtype=object), on_invalid="ignore"
        )
        for index in np.flatnonzero(present & shapely.is_missing(geometries)):
            reason = _unreadable_reason(objects[index])
            plan.problems.append(Problem(int(index), plan.codes[index], f"geometry cannot be read: {reason}"))
    geometries = shapely.force_2d(geometries)
    empty = shapely.is_empty(geometries)
    for index in np.flatnonzero(empty):
        plan.problems.append(Problem(int(index), plan.codes[index], "geometry is empty"))
    geometries[empty] = None
    bounds = shapely.bounds(geometries)
    with np.errstate(invalid="ignore"):
        outside = (
            (bounds[:, 0] < -180) | (bounds[:, 2] > 180) | (bounds[:, 1] < -90) | (bounds[:, 3] > 90)
        )
    for index in np.flatnonzero(outside):
        plan.problems.append(
            Problem(int(index), plan.codes[index], "coordinates are not longitude/latitude degrees")
        )
    geometries[outside] = None
    valid = shapely.is_valid(geometries)
    invalid = np.flatnonzero(~valid & ~shapely.is_missing(geometries))
    for index, reason in zip(invalid, shapely.is_valid_reason(geometries[invalid])):
        plan.problems.append(Problem(int(index), plan.codes[index], f"invalid geometry: {reason}"))
    geometries[invalid] = None
    plan.geometries = geometries


def _from_coordinates(objects: list[dict]) -> np.ndarray:
    """Polygons and multipolygons from GeoJSON coordinates, in one vectorised call per type.

    Raises TypeError, ValueError or GEOSException if any geometry is malformed.
    """
    geometries = np.full(len(objects), None, dtype=object)
    for kind, type_name in (
        (shapely.GeometryType.POLYGON, "Polygon"),
        (shapely.GeometryType.MULTIPOLYGON, "MultiPolygon"),
    ):
        positions = [index for index, geometry in enumerate(objects) if geometry["type"] == type_name]
        if not positions:
            continue
        flat: list = []
        ring_ends, polygon_ends, part_ends = [0], [0], [0]
        for position in positions:
            coordinates = objects[position]["coordinates"]
            for polygon in coordinates if type_name == "MultiPolygon" else (coordinates,):
                for ring in polygon:
                    flat.extend(ring)
                    ring_ends.append(len(flat))
                polygon_ends.append(len(ring_ends) - 1)
            part_ends.append(len(polygon_ends) - 1)
        coordinates = np.asarray(flat, dtype=float)
        if coordinates.ndim != 2 or coordinates.shape[1] not in (2, 3):
            raise ValueError("positions must have two or three numbers")
        ends = np.asarray(ring_ends)
        if (np.diff(ends) < 4).any() or (coordinates[ends[:-1]] != coordinates[ends[1:] - 1]).any():
            raise ValueError("every linear ring needs four or more positions and must be closed")
        offsets = [ends, np.asarray(polygon_ends)]
        if type_name == "MultiPolygon":
            offsets.append(np.asarray(part_ends))
        geometries[positions] = shapely.from_ragged_array(kind, coordinates[:, :2], tuple(offsets))
    return geometries


def _unreadable_reason(geometry: dict) -> str:
    """Why a geometry cannot be read: the geojson package's account, else GEOS's."""
    try:
        errors = geojson.GeoJSON.to_instance(geometry, strict=True).errors()
    except (ValueError, TypeError, AttributeError) as exc:
        return str(exc)
    if errors:
        return str(errors)
    try:
        shapely.from_geojson(json.dumps(geometry))
    except shapely.errors.GEOSException as exc:
        return str(exc).split(": ", 1)[-1]
    return "malformed coordinates"


@dataclass
class _Parents:
    """Each feature's resolved parent: a feature index, or a stored area's position."""

    in_file: np.ndarray
    stored: np.ndarray


def _check_parents(plan: _Plan, parents_usable: bool, layer_datum: str | None) -> _Parents:
    """Check that each parent exists, is one level up, and that the code extends its code."""
    levels = plan.levels
    top_rank = min(levels)
    existing = plan.existing
    index_by_code: dict[str, int] = {}
    for index, code in enumerate(plan.codes):
        if code is not None:
            index_by_code.setdefault(code, index)
    count = len(plan.codes)
    in_file = np.full(count, -1)
    stored = np.full(count, -1)
    for index, (code, rank, parent_code) in enumerate(zip(plan.codes, plan.ranks, plan.parent_codes)):
        if code is None or rank is None:
            continue
        if rank == top_rank:
            if parent_code is not None:
                plan.problems.append(
                    Problem(index, code, f"a {levels[rank].key} is a top-level area and has no parent_code")
                )
            continue
        if parent_code is None:
            plan.problems.append(Problem(index, code, "missing property 'parent_code'"))
            continue
        parent_rank: int | None
        if parent_code in index_by_code:
            in_file[index] = index_by_code[parent_code]
            parent_rank = plan.ranks[in_file[index]]
        elif parent_code in existing.by_code and existing.actives[existing.by_code[parent_code]]:
            if not parents_usable:
                plan.problems.append(
                    Problem(
                        index, code,
                        f"parent {parent_code} is only in the stored {layer_datum} layer; "
                        f"a {plan.datum} file must contain it",
                    )
                )
                continue
            stored[index] = existing.by_code[parent_code]
            parent_rank = existing.level_ranks[stored[index]]
        else:
            plan.problems.append(
                Problem(index, code, f"unknown parent {parent_code}: not in the file and not an active area")
            )
            continue
        if parent_rank is not None and parent_rank != rank - 1:
            expected = levels[rank - 1].key if rank - 1 in levels else "nothing"
            plan.problems.append(
                Problem(
                    index, code,
                    f"parent {parent_code} is a {levels[parent_rank].key}; "
                    f"a {levels[rank].key}'s parent must be a {expected}",
                )
            )
        if not extends_parent_code(code, parent_code):
            reason = f"code does not extend its parent's code {parent_code}"
            plan.problems.append(Problem(index, code, reason))
    return _Parents(in_file=in_file, stored=stored)


def _equal_area_projection(geometries: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """A function projecting lon/lat geometries to Lambert azimuthal equal-area metres.

    Centred on the given geometries, so areas are exact on the ellipsoid and shapes nearly
    true over a city; long edges are densified first (see DENSIFY_DEGREES).
    """
    bounds = shapely.total_bounds(geometries)
    centre_lon, centre_lat = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    target = CRS.from_dict({"proj": "laea", "lat_0": centre_lat, "lon_0": centre_lon, "ellps": "WGS84"})
    transformer = Transformer.from_crs(CRS.from_epsg(4326), target, always_xy=True)

    def transform(coordinates: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coordinates[:, 0], coordinates[:, 1])
        return np.column_stack([x, y])

    def project(lonlat: np.ndarray) -> np.ndarray:
        bounds = shapely.bounds(lonlat)
        large = np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1]) > DENSIFY_DEGREES
        densified = lonlat.copy()
        densified[large] = shapely.segmentize(lonlat[large], DENSIFY_DEGREES)
        return shapely.transform(densified, transform)

    return project


def _check_geometry(plan: _Plan, parents: _Parents, rules: ImportRules) -> None:
    """Areas in m², children inside parents, no overlapping unit grids, unit grid sizes."""
    geometries = plan.geometries
    plan.areas_m2 = np.full(len(geometries), np.nan)
    has_geometry = ~shapely.is_missing(geometries)
    if not has_geometry.any():
        return
    stored_positions = np.unique(parents.stored[parents.stored >= 0])
    stored_geometries = shapely.from_wkb(
        np.array([plan.existing.wkbs[position] for position in stored_positions], dtype=object)
    )
    project = _equal_area_projection(np.concatenate([geometries[has_geometry], stored_geometries]))
    projected = np.full(len(geometries), None, dtype=object)
    projected[has_geometry] = project(geometries[has_geometry])
    plan.areas_m2[has_geometry] = shapely.area(projected[has_geometry])
    parent_geometries = projected[parents.in_file]
    parent_geometries[parents.in_file < 0] = None
    from_store = parents.stored >= 0
    if from_store.any():
        stored_projected = project(stored_geometries)
        parent_geometries[from_store] = stored_projected[
            np.searchsorted(stored_positions, parents.stored[from_store])
        ]
    # One key per distinct parent: a feature index, or -2 - the stored area's position.
    parent_keys = np.where(parents.in_file >= 0, parents.in_file, -2 - parents.stored)
    _check_containment(plan, projected, parent_geometries, parent_keys, rules)
    unit_ranks = [rank for rank, level in plan.levels.items() if level.is_unit]
    is_unit = np.isin(np.array([-1 if rank is None else rank for rank in plan.ranks]), unit_ranks)
    _check_overlaps(plan, projected, is_unit & has_geometry & (parent_keys != -1), parent_keys, rules)
    _check_unit_sizes(plan, is_unit & has_geometry, rules)


def _check_containment(
    plan: _Plan,
    projected: np.ndarray,
    parent_geometries: np.ndarray,
    parent_keys: np.ndarray,
    rules: ImportRules,
) -> None:
    """Each child must lie inside its parent grown by the tolerance (one prepared buffer per parent)."""
    children = np.flatnonzero(~shapely.is_missing(projected) & ~shapely.is_missing(parent_geometries))
    if not len(children):
        return
    _, first, inverse = np.unique(parent_keys[children], return_index=True, return_inverse=True)
    envelopes = shapely.buffer(parent_geometries[children[first]], rules.containment_tolerance_m)
    shapely.prepare(envelopes)
    inside = shapely.covers(envelopes[inverse], projected[children])
    outside = children[~inside]
    overhang = shapely.area(shapely.difference(projected[outside], parent_geometries[outside]))
    for index, area in zip(outside, overhang):
        plan.problems.append(
            Problem(
                int(index), plan.codes[index],
                f"lies outside its parent {plan.parent_codes[index]}: {area:,.1f} m² "
                f"({100 * area / plan.areas_m2[index]:.1f}% of its area) beyond the "
                f"{rules.containment_tolerance_m:g} m tolerance",
            )
        )


def _check_overlaps(
    plan: _Plan, projected: np.ndarray, candidates: np.ndarray, parent_keys: np.ndarray, rules: ImportRules
) -> None:
    """Unit grids of one parent whose overlap exceeds the tolerance (shared edges are fine)."""
    indices = np.flatnonzero(candidates)
    if len(indices) < 2:
        return
    lonlat = plan.geometries[indices]
    left, right = shapely.STRtree(lonlat).query(lonlat)
    keys = parent_keys[indices]
    same = (left < right) & (keys[left] == keys[right])
    left, right = left[same], right[same]
    # Boxes are compared in degrees: projected boxes of neighbours overlap (grids turn with
    # the meridians), lon/lat boxes of edge-sharing grids do not.
    bounds = shapely.bounds(lonlat)
    width = np.minimum(bounds[left, 2], bounds[right, 2]) - np.maximum(bounds[left, 0], bounds[right, 0])
    height = np.minimum(bounds[left, 3], bounds[right, 3]) - np.maximum(bounds[left, 1], bounds[right, 1])
    tolerance = rules.overlap_tolerance_m2
    possible = (width > 0) & (height > 0) & (width * height * METRES_PER_DEGREE_MAX**2 > tolerance)
    left, right = left[possible], right[possible]
    grids = projected[indices]
    # Interiors meeting is a cheap relate test; the costly intersection runs only for those.
    interiors_meet = shapely.relate_pattern(grids[left], grids[right], "T********")
    left, right = left[interiors_meet], right[interiors_meet]
    overlap = shapely.area(shapely.intersection(grids[left], grids[right]))
    found = overlap > tolerance
    for a, b, area in zip(indices[left[found]], indices[right[found]], overlap[found]):
        plan.problems.append(
            Problem(
                int(b), plan.codes[b],
                f"overlaps unit grid {plan.codes[a]} (feature {a}) by {area:,.1f} m² "
                f"(tolerance {tolerance:g} m²)",
            )
        )


def _check_unit_sizes(plan: _Plan, is_unit: np.ndarray, rules: ImportRules) -> None:
    low = rules.grid_area_m2 * rules.grid_area_min_ratio
    high = rules.grid_area_m2 * rules.grid_area_max_ratio
    areas = plan.areas_m2
    with np.errstate(invalid="ignore"):
        odd = np.flatnonzero(is_unit & ((areas < low) | (areas > high)))
    for index in odd:
        plan.problems.append(
            Problem(
                int(index), plan.codes[index],
                f"unit grid area {areas[index]:,.0f} m² is far from {rules.grid_area_m2:,.0f} m² "
                f"(expected {low:,.0f}–{high:,.0f} m²)",
                WARNING,
            )
        )


# --- writing ----------------------------------------------------------------------------


def _write(
    plan: _Plan, source_name: str | None, imported_by: User | int | None, layer_name: str | None
) -> ImportResult:
    """Insert new areas level by level, update changed ones, retire missing ones; flush."""
    layer = db.session.scalar(select(GridLayer).order_by(GridLayer.id).limit(1).with_for_update())
    if layer is None:
        layer = GridLayer(name=layer_name or source_name or "territory", datum=plan.datum, version=0)
        db.session.add(layer)
    version = layer.version + 1
    now = utcnow()
    existing = plan.existing
    result = ImportResult(layer_version=version, datum=plan.datum, feature_count=len(plan.codes))
    level_keys = {rank: level.key for rank, level in plan.levels.items()}
    wkbs = shapely.to_wkb(plan.geometries)
    bounds = shapely.bounds(plan.geometries)
    new_positions = [index for index, code in enumerate(plan.codes) if code not in existing.by_code]
    new_ids = dict(zip(new_positions, _allocate_ids(len(new_positions))))
    ids: dict[str, int] = {}
    paths: dict[str, str] = {}
    kept_ancestors: set[int] = set()
    inserts: dict[int, list[dict]] = {}
    updates: list[dict] = []
    for index in sorted(range(len(plan.codes)), key=plan.ranks.__getitem__):
        code, rank, parent_code = plan.codes[index], plan.ranks[index], plan.parent_codes[index]
        stored = existing.by_code.get(code)
        ids[code] = new_ids[index] if stored is None else existing.ids[stored]
        if parent_code is None:
            parent_id, parent_path = None, "/"
        elif parent_code in ids:
            parent_id, parent_path = ids[parent_code], paths[parent_code]
        else:
            position = existing.by_code[parent_code]
            parent_id, parent_path = existing.ids[position], existing.paths[position]
            kept_ancestors.update(int(part) for part in parent_path.strip("/").split("/"))
        paths[code] = f"{parent_path}{ids[code]}/"
        row = {
            "id": ids[code], "code": code, "name": plan.names[index], "name_en": plan.names_en[index],
            "level_rank": rank, "parent_id": parent_id, "path": paths[code],
            "geometry_wkb": wkbs[index], "min_x": float(bounds[index, 0]), "min_y": float(bounds[index, 1]),
            "max_x": float(bounds[index, 2]), "max_y": float(bounds[index, 3]),
            "area_m2": float(plan.areas_m2[index]), "generated": plan.generated[index],
            "urban_rural_fringe": _fringe_of(plan, index, stored), "active": True,
            "layer_version": version, "updated_at": now,
        }
        key = level_keys[rank]
        if stored is None:
            inserts.setdefault(rank, []).append(row)
            _count(result.created, key)
        elif _changed(existing, stored, row):
            updates.append(row)
            _count(result.updated, key)
        else:
            _count(result.unchanged, key)
    for rank in sorted(inserts):
        _insert_areas(inserts[rank])
    _update_areas(updates)
    retirements = []
    for code, position in existing.by_code.items():
        area_id = existing.ids[position]
        if existing.actives[position] and code not in ids and area_id not in kept_ancestors:
            retirements.append({"id": area_id, "active": False, "layer_version": version, "updated_at": now})
            _count(result.retired, level_keys[existing.level_ranks[position]])
    _update_areas(retirements)
    layer.version = version
    layer.datum = plan.datum
    layer.name = layer_name or layer.name
    layer.source_name = source_name
    layer.imported_at = now
    layer.imported_by_id = imported_by.id if isinstance(imported_by, User) else imported_by
    layer.feature_count = len(plan.codes)
    db.session.flush()
    db.session.expire_all()
    result.warnings = plan.warnings
    return result


def _fringe_of(plan: _Plan, index: int, stored: int | None) -> bool:
    """The fringe flag as given, else the stored one (a file without the property keeps it)."""
    given = plan.fringe[index]
    if given is not None:
        return given
    return stored is not None and plan.existing.fringe[stored]


def _count(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def _changed(existing: _Existing, position: int, row: dict) -> bool:
    """True when a stored area differs from its row in the file (or was retired)."""
    return (
        not existing.actives[position]
        or existing.names[position] != row["name"]
        or existing.names_en[position] != row["name_en"]
        or existing.level_ranks[position] != row["level_rank"]
        or existing.parent_ids[position] != row["parent_id"]
        or existing.paths[position] != row["path"]
        or existing.generated[position] != row["generated"]
        or existing.fringe[position] != row["urban_rural_fringe"]
        or existing.wkbs[position] != row["geometry_wkb"]
    )


def _allocate_ids(count: int) -> list[int]:
    """Reserve ids for new areas so that paths can be written with the rows, in one insert."""
    if not count:
        return []
    if db.session.get_bind().dialect.name == "postgresql":
        return list(
            db.session.scalars(
                text("SELECT nextval(pg_get_serial_sequence('area', 'id')) FROM generate_series(1, :n)"),
                {"n": count},
            )
        )
    start = (db.session.scalar(select(func.max(Area.id))) or 0) + 1
    return list(range(start, start + count))


def _insert_areas(rows: list[dict]) -> None:
    """Bulk insert new areas at driver speed (one level at a time, parents first)."""
    connection = db.session.connection()
    columns = list(rows[0])
    if connection.dialect.name == "postgresql":
        _copy_rows(connection, Area.__tablename__, columns, rows)
        return
    placeholders = ", ".join("?" * len(columns))
    connection.exec_driver_sql(
        f"INSERT INTO area ({', '.join(columns)}) VALUES ({placeholders})",
        _driver_values(connection, columns, rows),
    )


def _update_areas(rows: list[dict]) -> None:
    """Bulk update areas by id at driver speed (COPY into a scratch table on PostgreSQL)."""
    if not rows:
        return
    connection = db.session.connection()
    columns = [name for name in rows[0] if name != "id"]
    if connection.dialect.name == "postgresql":
        names = ", ".join(["id", *columns])
        connection.exec_driver_sql(
            f"CREATE TEMPORARY TABLE area_import ON COMMIT DROP AS SELECT {names} FROM area WITH NO DATA"
        )
        _copy_rows(connection, "area_import", ["id", *columns], rows)
        assignments = ", ".join(f"{name} = area_import.{name}" for name in columns)
        connection.exec_driver_sql(
            f"UPDATE area SET {assignments} FROM area_import WHERE area.id = area_import.id"
        )
        connection.exec_driver_sql("DROP TABLE area_import")
        return
    assignments = ", ".join(f"{name} = ?" for name in columns)
    connection.exec_driver_sql(
        f"UPDATE area SET {assignments} WHERE id = ?", _driver_values(connection, [*columns, "id"], rows)
    )


def _copy_rows(connection: Connection, table: str, columns: list[str], rows: list[dict]) -> None:
    """Stream rows into a PostgreSQL table with COPY, inside the session's transaction."""
    cursor = connection.connection.driver_connection.cursor()
    with cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[name] for name in columns])


def _driver_values(connection: Connection, columns: list[str], rows: list[dict]) -> list[tuple]:
    """Rows as driver parameters, converted by each column's type as SQLAlchemy would.

    At 200,000 unit grids the ORM's bulk paths spend most of the import building
    parameters; the driver's executemany with pre-converted values takes a fraction.
    """
    table = Area.__table__
    processors = [
        (position, processor)
        for position, name in enumerate(columns)
        if (processor := table.c[name].type.bind_processor(connection.dialect)) is not None
    ]
    values = []
    for row in rows:
        value = [row[name] for name in columns]
        for position, processor in processors:
            value[position] = processor(value[position])
        values.append(tuple(value))
    return values
