"""Which unit grid a position falls in: an in-memory Shapely index over the active territory.

The index is built once per process from the ``area`` table and rebuilt when
``GridLayer.version`` changes; ``get_locator()`` checks the version once per app context
(``gridops.versions``).
Edge rules (domain.md §2): a point on a shared border goes to the covering grid with the
lowest code; a point in no unit grid goes to the smallest enclosing area with ``gap=True``;
a point outside every area is refused with ``OutsideTerritory``.
"""

from __future__ import annotations

import array
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import shapely
from flask import current_app
from sqlalchemy import select

from gridops.errors import OutsideTerritory, ValidationFailed
from gridops.extensions import db
from gridops.territory.datum import DATUMS, INPUT_DATUMS, check_datum, convert_many, converter
from gridops.territory.models import Area, AreaLevel
from gridops.versions import current_versions, forget_versions

_EXTENSION_KEY = "gridops.locator"
#: Raster cells per unit grid at most, which bounds the lookup raster's memory (8 bytes a cell).
MAX_CELLS_PER_GRID = 16


class AreaRef(NamedTuple):
    """An area as a located position reports it: identity, names and level."""

    id: int
    code: str
    name: str
    name_en: str | None
    level: str
    level_name: str
    level_name_en: str

    def to_dict(self) -> dict:
        return self._asdict()


class Location(NamedTuple):
    """Where a position lies: its unit grid (None in a gap), the area it falls to, and the chain above.

    ``x``/``y`` are the position in the layer's ``datum``; ``chain`` runs from the top
    level down to ``area``. A tuple, because a lookup builds one per call.
    """

    x: float
    y: float
    datum: str
    layer_version: int
    unit_grid: AreaRef | None
    area: AreaRef
    chain: tuple[AreaRef, ...]
    gap: bool

    def to_dict(self) -> dict:
        return {
            "x": self.x,
            "y": self.y,
            "datum": self.datum,
            "layer_version": self.layer_version,
            "unit_grid": self.unit_grid.to_dict() if self.unit_grid else None,
            "area": self.area.to_dict(),
            "chain": [ref.to_dict() for ref in self.chain],
            "gap": self.gap,
        }


@dataclass(frozen=True, slots=True)
class LevelInfo:
    """The parts of an ``AreaLevel`` the locator needs, detached from the session."""

    rank: int
    key: str
    name_zh: str
    name_en: str
    is_unit: bool


@dataclass(slots=True)
class AreaColumns:
    """Active areas as parallel columns, the shape in which they come out of the database."""

    ids: Sequence[int]
    codes: Sequence[str]
    names: Sequence[str]
    names_en: Sequence[str | None]
    level_ranks: Sequence[int]
    parent_ids: Sequence[int | None]
    paths: Sequence[str]
    geometries: np.ndarray


def _check_position(x: float, y: float) -> None:
    if not (math.isfinite(x) and -180.0 <= x <= 180.0):
        raise ValidationFailed.field("x", "longitude must be a number between -180 and 180")
    if not (math.isfinite(y) and -90.0 <= y <= 90.0):
        raise ValidationFailed.field("y", "latitude must be a number between -90 and 90")


class Locator:
    """Point-in-grid lookups against one version of the territory layer.

    Unit grids are stored in code order, so among several grids covering a point the
    lowest index is the lowest code; areas above the unit level are stored deepest level
    first, then by code, so the lowest index is the smallest enclosing area.
    """

    def __init__(self, areas: AreaColumns, levels: Sequence[LevelInfo], datum: str, version: int):
        self.datum = check_datum(datum, DATUMS)
        self.version = version
        self._converters = {src: converter(src, self.datum) for src in INPUT_DATUMS}
        by_rank = {level.rank: level for level in levels}
        refs = [
            AreaRef(id_, code, name, name_en, by_rank[rank].key, by_rank[rank].name_zh, by_rank[rank].name_en)
            for id_, code, name, name_en, rank in zip(
                areas.ids, areas.codes, areas.names, areas.names_en, areas.level_ranks
            )
        ]
        codes = np.asarray(areas.codes, dtype=str)
        ranks = np.asarray(areas.level_ranks, dtype=np.int64)
        is_unit = np.isin(ranks, [level.rank for level in levels if level.is_unit])
        has_geometry = ~shapely.is_missing(areas.geometries)

        unit_rows = np.flatnonzero(is_unit & has_geometry)
        unit_rows = unit_rows[np.argsort(codes[unit_rows], kind="stable")]
        self._buckets = _Buckets(self._prepared(areas.geometries[unit_rows]))
        self._unit_ids = np.asarray(areas.ids, dtype=np.int64)[unit_rows]
        self._unit_refs = [refs[i] for i in unit_rows.tolist()]
        self._unit_parents = [areas.parent_ids[i] for i in unit_rows.tolist()]

        upper = {refs[i].id: i for i in np.flatnonzero(~is_unit).tolist()}
        #: Each area above the unit level with its active ancestors, top level first.
        self._chains = {
            id_: tuple(refs[upper[a]] for a in map(int, areas.paths[i].strip("/").split("/")) if a in upper)
            for id_, i in upper.items()
        }
        upper_rows = np.flatnonzero(~is_unit & has_geometry)
        upper_rows = upper_rows[np.lexsort((codes[upper_rows], -ranks[upper_rows]))]
        self._upper_tree = shapely.STRtree(self._prepared(areas.geometries[upper_rows]))
        self._upper_ids = [refs[i].id for i in upper_rows.tolist()]

    @staticmethod
    def _prepared(geometries: np.ndarray) -> np.ndarray:
        """Prepare for fast point tests, and use each once: GEOS builds a prepared polygon's
        point index lazily, and that first use must not race between request threads."""
        shapely.prepare(geometries)
        corners = shapely.bounds(geometries)
        shapely.intersects_xy(geometries, corners[:, 0], corners[:, 1])
        return geometries

    @property
    def unit_count(self) -> int:
        return len(self._unit_refs)

    def locate(self, x: float, y: float, datum: str = "wgs84") -> Location:
        """The unit grid (or, in a gap, the smallest enclosing area) at (x, y) given in ``datum``."""
        x, y = float(x), float(y)
        _check_position(x, y)
        convert = self._converters.get(datum) or converter(datum, self.datum)
        lx, ly = convert(x, y)
        index = self._buckets.first(lx, ly)
        if index >= 0:
            unit = self._unit_refs[index]
            chain = (*self._chains.get(self._unit_parents[index], ()), unit)
            return Location(lx, ly, self.datum, self.version, unit, unit, chain, False)
        hits = self._upper_tree.query(shapely.points(((lx, ly),)), predicate="intersects")[1].tolist()
        if not hits:
            raise OutsideTerritory(
                f"position ({x}, {y}) in {datum} lies outside the territory",
                {"x": "outside the territory", "y": "outside the territory"},
            )
        chain = self._chains[self._upper_ids[min(hits)]]
        return Location(lx, ly, self.datum, self.version, None, chain[-1], chain, True)

    def locate_many(self, xs, ys, datum: str = "wgs84") -> np.ndarray:
        """Unit-grid area ids for arrays of positions in ``datum``; -1 where no unit grid covers one.

        Positions that are not numbers, outside the territory or in a gap all give -1;
        the border rule is the same as for ``locate``.
        """
        lx, ly = convert_many(xs, ys, datum, self.datum)
        best = self._buckets.first_many(lx.ravel(), ly.ravel())
        found = best >= 0
        ids = np.full(best.size, -1, dtype=np.int64)
        ids[found] = self._unit_ids[best[found]]
        return ids


class _Buckets:
    """Unit grids filed under the cells of a uniform raster over their extent, for point lookups.

    Each cell lists, in code order, every grid whose bounding box touches it, so the grids
    covering a point are among the few listed under its cell and the first of them that
    intersects the point (closure included) is the one with the lowest code. A point and
    a bounding box edge at the same coordinate fall in the same cell, because both go
    through the same floating-point arithmetic.
    """

    def __init__(self, geometries: np.ndarray):
        bounds = shapely.bounds(geometries).reshape(-1, 4)
        if len(bounds):
            self.x0, self.y0 = float(bounds[:, 0].min()), float(bounds[:, 1].min())
            # Cells about the median grid's size keep a cell's list short (about four grids)
            # and the offsets small (a few bytes per grid-sized cell of the extent).
            width = float(np.median(bounds[:, 2] - bounds[:, 0])) or 1.0
            height = float(np.median(bounds[:, 3] - bounds[:, 1])) or 1.0
            # A sparse layer (grids far apart) gets coarser cells: at most MAX_CELLS_PER_GRID each.
            extent = (bounds[:, 2].max() - self.x0 + width) * (bounds[:, 3].max() - self.y0 + height)
            grow = math.sqrt(max(1.0, extent / (width * height) / (MAX_CELLS_PER_GRID * len(bounds))))
            self.x_scale, self.y_scale = 1.0 / (width * grow), 1.0 / (height * grow)
            self.nx = int(self._cell(bounds[:, 2].max(), self.x0, self.x_scale)) + 1
            self.ny = int(self._cell(bounds[:, 3].max(), self.y0, self.y_scale)) + 1
            x_first, x_last = (self._cell(bounds[:, i], self.x0, self.x_scale).astype(np.int64) for i in (0, 2))
            y_first, y_last = (self._cell(bounds[:, i], self.y0, self.y_scale).astype(np.int64) for i in (1, 3))
        else:
            self.x0 = self.y0 = 0.0
            self.x_scale = self.y_scale = 1.0
            self.nx = self.ny = 0
            x_first = x_last = y_first = y_last = np.zeros(0, dtype=np.int64)
        # Expand each grid into the (cell, grid) pairs of its bounding box's cell range.
        spans_x, spans_y = x_last - x_first + 1, y_last - y_first + 1
        counts = spans_x * spans_y
        grid = np.repeat(np.arange(len(counts)), counts)
        rank = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        cells = (y_first[grid] + rank // spans_x[grid]) * self.nx + x_first[grid] + rank % spans_x[grid]
        order = np.lexsort((grid, cells))
        self.units = grid[order].astype(np.intp)
        self.geometries = geometries[self.units]
        starts = np.searchsorted(cells[order], np.arange(self.nx * self.ny + 1))
        #: Plain arrays, so that a single lookup reads Python ints without numpy scalars.
        self._starts = array.array("q", starts.astype(np.int64).tobytes())
        self._units = array.array("q", self.units.astype(np.int64).tobytes())

    @staticmethod
    def _cell(value, origin: float, scale: float):
        return np.floor((value - origin) * scale)

    def first(self, x: float, y: float) -> int:
        """Index (in code order) of the lowest-code grid whose closure contains (x, y), or -1."""
        ix = math.floor((x - self.x0) * self.x_scale)
        iy = math.floor((y - self.y0) * self.y_scale)
        if not (0 <= ix < self.nx and 0 <= iy < self.ny):
            return -1
        cell = iy * self.nx + ix
        start, end = self._starts[cell], self._starts[cell + 1]
        if start == end:
            return -1
        hit = shapely.intersects_xy(self.geometries[start:end], x, y).tobytes().find(1)
        return self._units[start + hit] if hit >= 0 else -1

    def first_many(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """``first`` for arrays of positions: one vectorised test of every (point, listed grid) pair."""
        best = np.full(xs.size, -1, dtype=np.intp)
        with np.errstate(invalid="ignore"):
            ix = self._cell(xs, self.x0, self.x_scale)
            iy = self._cell(ys, self.y0, self.y_scale)
            inside = (ix >= 0) & (ix < self.nx) & (iy >= 0) & (iy < self.ny)
        points = np.flatnonzero(inside)
        cells = iy[points].astype(np.int64) * self.nx + ix[points].astype(np.int64)
        # Testing in cell order keeps each cell's prepared grids in cache.
        by_cell = np.argsort(cells, kind="stable")
        points, cells = points[by_cell], cells[by_cell]
        starts = np.frombuffer(self._starts, dtype=np.int64)
        first, counts = starts[cells], starts[cells + 1] - starts[cells]
        owner = np.repeat(np.arange(points.size), counts)
        slot = np.repeat(first - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))
        hits = shapely.intersects_xy(self.geometries[slot], xs[points[owner]], ys[points[owner]])
        # Pairs run point by point, each point's grids in code order: its first hit is the lowest code.
        hit_owner, first_hit = np.unique(owner[hits], return_index=True)
        best[points[hit_owner]] = self.units[slot[hits][first_hit]]
        return best


def load_locator(layer_datum: str, layer_version: int) -> Locator:
    """Build a locator from the active areas and levels in the database."""
    levels = [
        LevelInfo(level.rank, level.key, level.name_zh, level.name_en, level.is_unit)
        for level in db.session.scalars(select(AreaLevel))
    ]
    rows = db.session.execute(
        select(
            Area.id, Area.code, Area.name, Area.name_en, Area.level_rank, Area.parent_id, Area.path,
            Area.geometry_wkb,
        ).where(Area.active, Area.geometry_wkb.is_not(None))
    ).all()
    columns = list(zip(*rows)) if rows else [()] * 8
    areas = AreaColumns(
        *columns[:7], geometries=shapely.from_wkb(np.asarray(columns[7], dtype=object))
    )
    return Locator(areas, levels, layer_datum, layer_version)


class _LocatorSlot:
    """The app's current (layer key, locator) pair, and the lock that lets one thread rebuild it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.current: tuple[tuple, Locator] | None = None


def _slot() -> _LocatorSlot:
    return current_app.extensions.setdefault(_EXTENSION_KEY, _LocatorSlot())


def get_locator() -> Locator:
    """The locator for the current grid layer, rebuilt if the layer's version has moved on."""
    key = current_versions().layer
    if key is None:
        raise OutsideTerritory("no territory grid layer has been imported yet", {})
    _, version, datum = key
    slot = _slot()
    current = slot.current
    if current is None or current[0] != key:
        with slot.lock:
            current = slot.current
            if current is None or current[0] != key:
                current = (key, load_locator(datum, version))
                slot.current = current
    return current[1]


def reset_locator() -> None:
    """Forget the current app's locator, so the next lookup rebuilds it (tests reuse versions)."""
    forget_versions()
    slot = _slot()
    with slot.lock:
        slot.current = None


def locate(x: float, y: float, datum: str = "wgs84") -> Location:
    """Locate (x, y) given in ``datum`` against the current grid layer."""
    return get_locator().locate(x, y, datum)
