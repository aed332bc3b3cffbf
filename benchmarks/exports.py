"""Exports benchmark: 100,000 cases as CSV, GeoJSON and XLSX, time and memory.

Run ``python -m benchmarks.exports [--cases N] [--no-postgres] [--no-sqlite]``. For each
database it creates a scratch database (PostgreSQL: on the server, dropped at the end; SQLite:
a file in a temporary folder), migrates it, loads the core demo city and the default catalogue,
bulk-generates the cases in the database (``benchmarks.supervision.generate_cases``), then
writes each export of the whole list the way the API does (``gridops.cases.exports``: rows
read in batches, CSV and GeoJSON generated chunk by chunk, XLSX through openpyxl's write-only
workbook into a temporary file) and reports wall time, rows per second, size, and how much this
process's resident memory grew at its peak during the export (sampled every 20 ms) — flat memory is the requirement
("100,000 rows must not exhaust memory"), speed the user's wait.
"""

from __future__ import annotations

import argparse
import resource
import secrets
import sys
import threading
import time
from zoneinfo import ZoneInfo

from benchmarks.databases import add_engine_arguments, engines
from benchmarks.machine import describe


class RssWatch:
    """This process's resident memory sampled every 20 ms from /proc while a block runs (Linux)."""

    def __enter__(self) -> "RssWatch":
        self.start = self.peak = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss_mb())

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())

    @property
    def growth_mb(self) -> float:
        return self.peak - self.start


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def run(url: str, cases: int) -> dict:
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from benchmarks.supervision import generate_cases
    from gridops.app import create_app
    from gridops.cases.exports import csv_chunks, export_rows, geojson_chunks, write_xlsx
    from gridops.cases.models import Case
    from gridops.catalogue.services import seed_default_catalogue
    from gridops.config import PROJECT_ROOT as GRIDOPS_ROOT
    from gridops.db import utcnow
    from gridops.demo import load_demo
    from gridops.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secrets.token_hex(32), "GRIDOPS_MODE": "testing"})
    out: dict = {}
    with app.app_context():
        dialect = db.engine.dialect.name
        upgrade(directory=str(GRIDOPS_ROOT / "migrations"))
        load_demo(full_grids=False, echo=lambda line: None)
        seed_default_catalogue()
        db.session.commit()
        with db.engine.begin() as conn:
            generate_cases(conn, dialect, cases)
        out["cases"] = db.session.scalar(select(func.count()).select_from(Case))
        print(f"{dialect}: {out['cases']:,} cases generated", file=sys.stderr, flush=True)
        zone = ZoneInfo("Asia/Shanghai")
        exports = {
            "CSV": lambda rows: sum(len(chunk.encode()) for chunk in csv_chunks(rows, zone)),
            "GeoJSON": lambda rows: sum(len(chunk.encode()) for chunk in geojson_chunks(rows, zone, "gcj02")),
            "XLSX": lambda rows: _size(write_xlsx(rows, zone)),
        }
        for name, write in exports.items():
            with RssWatch() as memory:
                started = time.perf_counter()
                size = write(export_rows(select(Case), utcnow()))
                seconds = time.perf_counter() - started
            out[name] = {"s": seconds, "mb": size / 1e6, "rss_growth_mb": memory.growth_mb}
            db.session.rollback()
            print(f"  {name}: {out[name]['s']:.1f} s", file=sys.stderr, flush=True)
        db.engine.dispose()
    return out


def _size(file) -> int:
    try:
        return file.seek(0, 2)
    finally:
        file.close()


def report(results: dict[str, dict], cases: int) -> str:
    import openpyxl

    lines = [f"### Exports of {cases:,} cases", ""]
    lines += [f"- {key}: {value}" for key, value in describe(openpyxl=f"{openpyxl.__version__} (lxml: {openpyxl.LXML})").items()]
    lines += ["", "| database | export | time | rows/s | size | resident memory growth at peak |", "|---|---|---:|---:|---:|---:|"]
    for database, result in results.items():
        for name in ("CSV", "GeoJSON", "XLSX"):
            r = result[name]
            lines.append(f"| {database} | {name} | {r['s']:.1f} s | {result['cases'] / r['s']:,.0f} | {r['mb']:.1f} MB "
                         f"| {r['rss_growth_mb']:.0f} MB |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    add_engine_arguments(parser)
    args = parser.parse_args()
    results = {engine: run(url, args.cases) for engine, url in engines(args, "exports")}
    print(report(results, args.cases))


if __name__ == "__main__":
    main()
