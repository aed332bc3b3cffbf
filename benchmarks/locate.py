"""Locate benchmark: the bucket-grid locator against a naive scan, on the full ~200,000-grid layer.

Run ``python -m benchmarks.locate`` (or ``python benchmarks/locate.py``). By default it
generates the full demo territory, imports it into a scratch SQLite database (or
``--database-url``), builds the locator from the database and measures, side by side
with a naive scan over the same prepared geometries:

- single-point locate: median and p95 µs per call (layer datum, and WGS-84 input);
- bulk ``locate_many``: points per second on one core;
- whole-layer import time (generation timed apart), index build time and memory
  (RSS delta after returning freed memory to the OS, plus the Python heap by tracemalloc).

``--source synthetic`` skips generation and import and indexes a 200,000-cell square
grid over the same extent. The report is Markdown, for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely

from benchmarks.machine import describe
from gridops.territory.datum import convert_many
from gridops.territory.locator import AreaColumns, LevelInfo, Locator

#: Extent of the demo city (GCJ-02), used by the synthetic grid.
SYNTHETIC_ORIGIN = (112.30, 32.80)
SYNTHETIC_CELL = (0.001073, 0.000899)
SYNTHETIC_SHAPE = (500, 400)

TARGETS = {
    "single_us": 10.0,
    "bulk_per_s": 300_000,
    "import_s": 60.0,
    "index_mb": 400.0,
}


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def release_free_memory() -> None:
    """Collect garbage and hand freed heap back to the OS, so RSS deltas measure what is kept."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def machine() -> dict[str, str]:
    return describe(
        **{"Shapely / GEOS": f"{shapely.__version__} / {shapely.geos_version_string}", "NumPy": np.__version__}
    )


@dataclass
class Report:
    info: dict[str, str] = field(default_factory=dict)
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, what: str, locator: str, naive: str = "—", ratio: str = "—") -> None:
        self.rows.append((what, locator, naive, ratio))
        print(f"  {what}: locator {locator}; naive {naive}; ratio {ratio}", file=sys.stderr, flush=True)

    def markdown(self) -> str:
        lines = ["| machine | |", "|---|---|"]
        lines += [f"| {key} | {value} |" for key, value in self.info.items()]
        lines += ["", "| measure | locator (bucket grid) | naive scan | naive ÷ locator |", "|---|---|---|---|"]
        lines += [f"| {what} | {loc} | {naive} | {ratio} |" for what, loc, naive, ratio in self.rows]
        lines += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines)


# ---- building the layer ----------------------------------------------------------------


@dataclass
class Layer:
    """How to build both structures for one layer, and the codes of its unit grids in code order."""

    build_locator: Callable[[], Locator]
    build_naive: Callable[[], np.ndarray]
    unit_codes: list[str]
    datum: str
    app: object = None


def synthetic_layer() -> Layer:
    """A 200,000-cell square grid under one city box, kept as WKB like the database keeps it."""
    (x0, y0), (dx, dy), (nx, ny) = SYNTHETIC_ORIGIN, SYNTHETIC_CELL, SYNTHETIC_SHAPE
    ix, iy = (a.ravel() for a in np.meshgrid(np.arange(nx), np.arange(ny)))
    cells = shapely.box(x0 + ix * dx, y0 + iy * dy, x0 + (ix + 1) * dx, y0 + (iy + 1) * dy)
    city = shapely.box(x0, y0, x0 + nx * dx, y0 + ny * dy)
    count = len(cells)
    ids = list(range(1, count + 2))
    codes = ["411300"] + [f"411302001{i // 999 + 1:03d}{i % 999 + 1:03d}" for i in range(count)]
    wkb = shapely.to_wkb(np.concatenate([[city], cells]))
    levels = [LevelInfo(0, "city", "市", "City", False), LevelInfo(4, "unit_grid", "单元网格", "Unit grid", True)]
    def build_locator() -> Locator:
        columns = AreaColumns(
            ids, codes, ["city"] + ["grid"] * count, [None] * (count + 1), [0] + [4] * count,
            [None] + [1] * count, ["/1/"] + [f"/1/{i}/" for i in ids[1:]], shapely.from_wkb(wkb),
        )
        return Locator(columns, levels, "gcj02", 1)

    def build_naive() -> np.ndarray:
        geometries = shapely.from_wkb(wkb[1:])
        shapely.prepare(geometries)
        return geometries

    return Layer(build_locator, build_naive, codes[1:], "gcj02")


def scratch_app(database_url: str):
    from gridops import create_app

    return create_app(
        {"GRIDOPS_MODE": "testing", "SECRET_KEY": "benchmark-only-secret-key", "SQLALCHEMY_DATABASE_URI": database_url}
    )


def import_demo(report: Report, database_url: str) -> None:
    """Generate the full demo territory and import it into a freshly migrated database, timed apart."""
    from flask_migrate import upgrade

    from gridops.config import PROJECT_ROOT
    from gridops.demo.generator import generate_city
    from gridops.extensions import db
    from gridops.territory.importer import import_layer

    app = scratch_app(database_url)
    with app.app_context():
        upgrade(directory=str(PROJECT_ROOT / "migrations"))
    print("generating the full demo territory …", file=sys.stderr, flush=True)
    generated, collection = timed(lambda: generate_city(full=True))
    units = sum(1 for feature in collection["features"] if feature["properties"]["level"] == "unit_grid")
    report.notes.append(
        f"Layer: demo territory, {len(collection['features']):,} areas of which {units:,} unit grids; "
        f"generating it took {generated:.1f} s (not part of the import)."
    )
    print("importing …", file=sys.stderr, flush=True)
    with app.app_context():
        started = time.perf_counter()
        import_layer(collection, source_name="benchmark")
        db.session.commit()
        imported = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    report.add(f"whole-layer import, {units:,} grids (target ≤ {TARGETS['import_s']:.0f} s)", f"{imported:.1f} s")


def database_layer(database_url: str) -> Layer:
    """Both structures as built from the imported layer in the database."""
    from sqlalchemy import select

    from gridops.extensions import db
    from gridops.territory.locator import load_locator
    from gridops.territory.models import Area, AreaLevel, GridLayer

    app = scratch_app(database_url)
    unit_query = (
        select(Area.code)
        .join(AreaLevel, Area.level_rank == AreaLevel.rank)
        .where(AreaLevel.is_unit, Area.active)
        .order_by(Area.code)
    )
    with app.app_context():
        datum, version = db.session.execute(select(GridLayer.datum, GridLayer.version)).one()
        unit_codes = list(db.session.scalars(unit_query))

    def build_locator() -> Locator:
        with app.app_context():
            return load_locator(datum, version)

    def build_naive() -> np.ndarray:
        with app.app_context():
            wkb = db.session.scalars(unit_query.with_only_columns(Area.geometry_wkb)).all()
        geometries = shapely.from_wkb(np.asarray(wkb, dtype=object))
        shapely.prepare(geometries)
        return geometries

    return Layer(build_locator, build_naive, unit_codes, datum, app)


def open_layer(database_url: str | None) -> Layer:
    return database_layer(database_url) if database_url else synthetic_layer()


# ---- measuring -------------------------------------------------------------------------


def measure_build(database_url: str | None, structure: str) -> tuple[float, int, int]:
    """Build one structure in this (fresh) process: seconds, RSS kept, Python heap by tracemalloc.

    The RSS delta is taken first, after handing freed memory back to the OS; the
    tracemalloc figure comes from a second build, since tracing slows the build down.
    """
    layer = open_layer(database_url)
    build = layer.build_locator if structure == "locator" else layer.build_naive
    release_free_memory()
    before = rss_bytes()
    seconds, built = timed(build)
    release_free_memory()
    kept = rss_bytes() - before
    tracemalloc.start()
    again = build()
    python_heap = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del built, again
    return seconds, kept, python_heap


def measure_build_apart(database_url: str | None, structure: str) -> tuple[float, int, int]:
    """``measure_build`` in a freshly spawned process, so earlier work leaves no heap behind."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(measure_build, (database_url, structure))


def per_call_us(func, xs: np.ndarray, ys: np.ndarray, rounds: int = 3) -> list[float]:
    """Microseconds of each call of ``func(x, y)``, over every point, ``rounds`` times."""
    timer = time.perf_counter_ns
    pairs = list(zip(xs.tolist(), ys.tolist()))
    samples = []
    for _ in range(rounds):
        for x, y in pairs:
            started = timer()
            func(x, y)
            samples.append((timer() - started) / 1000)
    return samples


def sample_points(geometries: np.ndarray, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points inside ``count`` random unit grids (one per grid)."""
    chosen = geometries[rng.choice(len(geometries), size=count, replace=False)]
    points = shapely.point_on_surface(chosen)
    return shapely.get_x(points), shapely.get_y(points)


def naive_scan(geometries: list, x: float, y: float) -> int:
    """Index of the lowest-code grid covering (x, y), by testing every prepared grid in code order."""
    point = shapely.Point(x, y)
    for index, geometry in enumerate(geometries):
        if geometry.intersects(point):
            return index
    return -1


def run(args: argparse.Namespace) -> Report:
    report = Report(info=machine())
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory(prefix="gridops-bench-") as scratch:
        database_url = None
        if args.source == "demo":
            database_url = args.database_url or f"sqlite:///{Path(scratch) / 'bench.sqlite3'}"
            report.info["database"] = database_url.split("://", 1)[0]
            import_demo(report, database_url)
        else:
            report.notes.append("Layer: synthetic square grid of 200,000 cells (no import measured).")
        print("building both structures in fresh processes for time and memory …", file=sys.stderr, flush=True)
        locator_build = measure_build_apart(database_url, "locator")
        naive_build = measure_build_apart(database_url, "naive")
        layer = open_layer(database_url)
        measure(layer, locator_build, naive_build, args, report, rng)
    return report


def measure(
    layer: Layer,
    locator_build: tuple[float, int, int],
    naive_build: tuple[float, int, int],
    args: argparse.Namespace,
    report: Report,
    rng: np.random.Generator,
) -> None:
    """Time lookups by both methods on the same layer and add every figure to ``report``."""
    datum = layer.datum
    build_s, locator_rss, locator_heap = locator_build
    naive_build_s, naive_rss, naive_heap = naive_build
    locator, naive = layer.build_locator(), layer.build_naive()
    source = "from the database" if layer.app is not None else "from WKB"
    report.add("unit grids indexed", f"{locator.unit_count:,}", f"{len(naive):,}")
    report.add(f"index build {source} (s)", f"{build_s:.2f}", f"{naive_build_s:.2f} (grids only, no index)")
    report.add(
        f"memory kept, RSS delta (target ≤ {TARGETS['index_mb']:.0f} MB)",
        f"{locator_rss / 2**20:.0f} MB", f"{naive_rss / 2**20:.0f} MB",
    )
    report.add("of which Python heap (tracemalloc)", f"{locator_heap / 2**20:.0f} MB", f"{naive_heap / 2**20:.0f} MB")

    gx, gy = sample_points(naive, args.points, rng)
    wx, wy = convert_many(gx, gy, datum, "wgs84")
    same = per_call_us(lambda x, y: locator.locate(x, y, datum), gx, gy)
    converted = per_call_us(lambda x, y: locator.locate(x, y, "wgs84"), wx, wy)
    naive_list = list(naive)
    count = args.naive_points
    loop = per_call_us(lambda x, y: naive_scan(naive_list, x, y), gx[:count], gy[:count], rounds=1)
    vector = per_call_us(
        lambda x, y: np.flatnonzero(shapely.intersects_xy(naive, x, y))[:1], gx[:count], gy[:count], rounds=1
    )
    for x, y in zip(gx[:count].tolist(), gy[:count].tolist()):
        expected = layer.unit_codes[naive_scan(naive_list, x, y)]
        if locator.locate(x, y, datum).unit_grid.code != expected:
            raise AssertionError(f"locator and naive scan disagree at ({x}, {y})")

    single, loop_us, vector_us = statistics.median(same), statistics.median(loop), statistics.median(vector)
    report.add(
        f"single locate, {datum} input, median µs (target ≤ {TARGETS['single_us']:.0f})",
        f"{single:.1f} (p95 {np.percentile(same, 95):.1f})",
        f"{loop_us:,.0f} (loop) / {vector_us:,.0f} (vectorised)",
        f"{loop_us / single:,.0f}× / {vector_us / single:,.0f}×",
    )
    report.add(
        "single locate, wgs84 input (converted), median µs",
        f"{statistics.median(converted):.1f} (p95 {np.percentile(converted, 95):.1f})",
    )

    bx = rng.uniform(gx.min(), gx.max(), args.bulk)
    by = rng.uniform(gy.min(), gy.max(), args.bulk)
    bulk_s, ids = timed(lambda: locator.locate_many(bx, by, datum))
    wbx, wby = convert_many(bx, by, datum, "wgs84")
    bulk_wgs_s, _ = timed(lambda: locator.locate_many(wbx, wby, "wgs84"))
    convert_s, _ = timed(lambda: convert_many(wbx, wby, "wgs84", datum))
    rate = args.bulk / bulk_s
    report.add(
        f"bulk locate_many, {datum} input, points/s (target ≥ {TARGETS['bulk_per_s']:,})",
        f"{rate:,.0f}",
        f"{1e6 / loop_us:,.0f} (loop) / {1e6 / vector_us:,.0f} (vectorised)",
        f"{rate * loop_us / 1e6:,.0f}× / {rate * vector_us / 1e6:,.0f}×",
    )
    report.add("bulk locate_many, wgs84 input (converted), points/s", f"{args.bulk / bulk_wgs_s:,.0f}")
    report.add("of which datum conversion alone (prcoords), points/s", f"{args.bulk / convert_s:,.0f}")
    if layer.app is not None:
        report.add(
            "module-level locate() incl. the layer-version query, median µs",
            f"{module_locate_us(layer.app, gx[:2000], gy[:2000], datum):.1f}",
        )
    report.notes.append(
        f"Single locate: {args.points:,} points inside random unit grids, 3 rounds; the naive scan is timed "
        f"on the first {count} of them and checked to agree with the locator. Bulk: {args.bulk:,} uniform "
        f"points over the grids' extent ({(ids >= 0).mean():.0%} inside a grid), one call."
    )


def timed(func) -> tuple[float, object]:
    started = time.perf_counter()
    result = func()
    return time.perf_counter() - started, result


def module_locate_us(app, xs: np.ndarray, ys: np.ndarray, datum: str) -> float:
    """Median µs of ``gridops.territory.locator.locate``, which checks the layer version each call."""
    from gridops.territory.locator import locate

    with app.app_context():
        locate(float(xs[0]), float(ys[0]), datum)
        return statistics.median(per_call_us(lambda x, y: locate(x, y, datum), xs, ys, rounds=1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=("demo", "synthetic"), default="demo")
    parser.add_argument("--database-url", help="scratch database for the import (default: a temporary SQLite file)")
    parser.add_argument("--points", type=int, default=20_000, help="points for single-locate timing")
    parser.add_argument("--naive-points", type=int, default=20, help="points for the naive scan")
    parser.add_argument("--bulk", type=int, default=1_000_000, help="points for bulk timing")
    parser.add_argument("--seed", type=int, default=7)
    print(run(parser.parse_args(argv)).markdown())


if __name__ == "__main__":
    main()
