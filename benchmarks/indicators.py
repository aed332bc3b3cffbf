"""Indicator benchmark: a period's figures, scores and snapshot over a large generated city.

Run ``python -m benchmarks.indicators --database-url URL [--cases 1000000]`` against an
EMPTY database (PostgreSQL or SQLite file); it is migrated, filled and left filled. The
city has 10 districts × 10 subdistricts × 10 communities × 20 unit grids (20,000 grids),
60 units, 1,000 grid workers with 20 grids each; cases are spread evenly over the twelve
months July 2025 – June 2026 (about 1/12 in June), written by ``INSERT … SELECT`` over a
counter, with a dispatch and a check event each (a failed check for one in twenty). It
then times ``compute_indicators`` for June 2026 in every grouping, the scored table with
month-on-month and year-on-year changes (``indicator_table``), freezing the month, and
reading it back frozen. The report is Markdown.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone

from flask_migrate import upgrade
from sqlalchemy import func, insert, select, text

from benchmarks.machine import describe
from gridops import create_app
from gridops.auth.models import User
from gridops.cases.models import Case, CaseEvent
from gridops.catalogue.models import SmallClass
from gridops.catalogue.services import seed_default_catalogue
from gridops.config import PROJECT_ROOT
from gridops.evaluation.models import GROUP_BYS
from gridops.evaluation.periods import Period
from gridops.extensions import db
from gridops.org.models import Department
from gridops.territory.levels import ensure_levels
from gridops.territory.models import Area, GridLayer, ResponsibilityGrid, responsibility_grid_area

ORIGIN = datetime(2025, 7, 1, tzinfo=timezone.utc)
SPAN_SECONDS = 365 * 86400
DISTRICTS, SUBS, COMMUNITIES, GRIDS = 10, 10, 10, 20
UNITS = 60
JUNE = Period.parse("2026-06")


def _at(seconds_sql: str) -> str:
    """SQL for ORIGIN + ``seconds_sql`` seconds, in the form the dialect stores."""
    if db.engine.dialect.name == "postgresql":
        return f"(TIMESTAMPTZ '2025-07-01 00:00:00+00' + make_interval(secs => ({seconds_sql})))"
    return f"(strftime('%Y-%m-%d %H:%M:%S', '2025-07-01 00:00:00', '+' || ({seconds_sql}) || ' seconds') || '.000000')"


def build_city() -> tuple[list[int], list[int]]:
    """Areas, units, grid workers and their responsibility grids; returns (unit grid ids, unit ids)."""
    ensure_levels()
    seed_default_catalogue()
    db.session.add(GridLayer(name="benchmark", datum="gcj02", version=1))
    rows, grids = [], []
    next_id = 1

    def area(code, name, rank, parent_path):
        nonlocal next_id
        area_id, next_id = next_id, next_id + 1
        path = f"{parent_path}{area_id}/"
        rows.append({"id": area_id, "code": code, "name": name, "level_rank": rank, "path": path,
                     "parent_id": int(parent_path.strip("/").split("/")[-1]) if parent_path != "/" else None,
                     "generated": True, "active": True, "urban_rural_fringe": False, "layer_version": 1,
                     "updated_at": ORIGIN})
        return area_id, path

    _, city_path = area("419900", "基准市", 0, "/")
    communities = []
    for d in range(DISTRICTS):
        d_code = f"4199{d + 1:02d}"
        _, d_path = area(d_code, f"区{d + 1}", 1, city_path)
        for s in range(SUBS):
            s_code = f"{d_code}{s + 1:03d}"
            _, s_path = area(s_code, f"街道{d + 1}-{s + 1}", 2, d_path)
            for c in range(COMMUNITIES):
                c_code = f"{s_code}{c + 1:03d}"
                c_id, c_path = area(c_code, f"社区{c_code}", 3, s_path)
                members = []
                for g in range(GRIDS):
                    g_id, _ = area(f"{c_code}{g + 1:03d}", f"网格{c_code}{g + 1:03d}", 4, c_path)
                    grids.append(g_id)
                    members.append(g_id)
                communities.append((c_id, c_code, members))
    db.session.execute(insert(Area), rows)
    districts = [r["id"] for r in rows if r["level_rank"] == 1]
    # Ten city departments, the rest district counterparts.
    units = [{"id": n + 1, "code": f"U{n + 1:03d}", "name": f"单位{n + 1}", "kind": "sanitation", "active": True,
              "area_id": districts[n % DISTRICTS] if n >= 10 else None}
             for n in range(UNITS)]
    db.session.execute(insert(Department), units)
    users = [{"id": n + 1, "username": f"worker{n + 1}", "full_name": f"网格员{n + 1}", "password_hash": "x",
              "role": "grid_worker", "active": True, "created_at": ORIGIN} for n in range(len(communities))]
    users.append({"id": len(communities) + 1, "username": "hotline", "full_name": "话务员", "password_hash": "x",
                  "role": "hotline_operator", "active": True, "created_at": ORIGIN})
    db.session.execute(insert(User), users)
    db.session.execute(insert(ResponsibilityGrid), [
        {"id": n + 1, "code": f"RG{c_code}", "name": f"责任网格{c_code}", "community_id": c_id, "worker_id": n + 1}
        for n, (c_id, c_code, _) in enumerate(communities)
    ])
    db.session.execute(insert(responsibility_grid_area), [
        {"responsibility_grid_id": n + 1, "area_id": g} for n, (_, _, members) in enumerate(communities)
        for g in members
    ])
    db.session.commit()
    return grids, [u["id"] for u in units]


def build_cases(count: int, grids: list[int], workers: int) -> None:
    """``count`` cases and their events, by INSERT … SELECT over a counter (no Python loop)."""
    small_class_id = db.session.scalar(select(SmallClass.id).where(SmallClass.code == "0102"))
    step = SPAN_SECONDS / count
    grid_count = len(grids)
    db.session.execute(text("CREATE TEMPORARY TABLE bench_grid (k INTEGER PRIMARY KEY, area_id INTEGER, path TEXT)"))
    db.session.execute(text(
        "INSERT INTO bench_grid (k, area_id, path) "
        "SELECT ROW_NUMBER() OVER (ORDER BY id) - 1, id, path FROM area WHERE level_rank = 4"
    ))
    reported = _at(f"n * {step}")
    sql = f"""
    INSERT INTO case_file (number, source, case_type, small_class_id, description, address, urgency, datum,
        area_path, located_in_gap, in_fringe, state, supervised, self_handled, dispatch_count, return_count,
        rework_count, extension_count, repeat_count, version, area_id, unit_grid_id, reporter_id,
        holder_department_id, reported_at, registered_at, register_due_at, dispatched_at, handle_due_at,
        handled_at, closed_at, closed_on_time)
    SELECT 'B' || n, CASE WHEN n % 10 = 0 THEN 'hotline' WHEN n % 50 = 1 THEN 'leader' ELSE 'patrol' END,
        'event', {small_class_id}, '', '', 'normal', 'gcj02', g.path, false, false,
        CASE WHEN n % 97 = 0 THEN 'cancelled' WHEN n % 20 = 0 THEN 'handling' ELSE 'closed' END,
        false, false, 1, 0, CASE WHEN n % 20 = 7 THEN 1 ELSE 0 END, 0, 0, 1, g.area_id, g.area_id,
        (n % {workers}) + 1,
        CASE WHEN n % 97 = 0 THEN NULL ELSE (n % {UNITS}) + 1 END,
        {reported},
        CASE WHEN n % 97 = 0 THEN NULL ELSE {_at(f"n * {step} + 1800")} END,
        {_at(f"n * {step} + 3600")},
        CASE WHEN n % 97 = 0 THEN NULL ELSE {_at(f"n * {step} + 3600")} END,
        CASE WHEN n % 97 = 0 THEN NULL ELSE {_at(f"n * {step} + 172800")} END,
        CASE WHEN n % 97 = 0 OR n % 20 = 0 THEN NULL ELSE {_at(f"n * {step} + (n % 3) * 86400 + 7200")} END,
        CASE WHEN n % 97 = 0 OR n % 20 = 0 THEN NULL ELSE {_at(f"n * {step} + (n % 3) * 86400 + 14400")} END,
        CASE WHEN n % 97 = 0 OR n % 20 = 0 THEN NULL ELSE (n % 3) < 2 END
    FROM counter JOIN bench_grid g ON g.k = ((n % {grid_count}) * 7919) % {grid_count}
    """
    counter = f"WITH RECURSIVE counter(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM counter WHERE n < {count}) "
    if db.engine.dialect.name == "postgresql":
        counter = f"WITH counter(n) AS (SELECT generate_series(1, {count})) "
    db.session.execute(text(sql.replace("SELECT 'B' || n", counter + "SELECT 'B' || n", 1)))
    db.session.execute(text(
        "INSERT INTO case_event (case_id, at, action, note, payload) "
        "SELECT id, dispatched_at, 'dispatch', '', NULL FROM case_file WHERE dispatched_at IS NOT NULL"
    ))
    db.session.execute(text(
        "INSERT INTO case_event (case_id, at, action, note, payload) "
        "SELECT id, handled_at, 'check_fail', '', NULL FROM case_file WHERE rework_count = 1 AND handled_at IS NOT NULL"
    ))
    db.session.execute(text(
        "INSERT INTO case_event (case_id, at, action, note, payload) "
        "SELECT id, closed_at, 'check_pass', '', NULL FROM case_file WHERE closed_at IS NOT NULL"
    ))
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def timed(label: str, function, results: list) -> object:
    started = time.perf_counter()
    value = function()
    results.append((label, time.perf_counter() - started))
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="an empty database (it is migrated and filled)")
    parser.add_argument("--cases", type=int, default=1_000_000)
    args = parser.parse_args()
    app = create_app({
        "GRIDOPS_MODE": "testing", "TESTING": True, "SECRET_KEY": "benchmark-secret-key",
        "SQLALCHEMY_DATABASE_URI": args.database_url,
    })
    from gridops.evaluation.snapshots import freeze_snapshot, indicator_table

    with app.app_context():
        upgrade(directory=str(PROJECT_ROOT / "migrations"))
        build = []
        if not db.session.scalar(select(func.count()).select_from(Case)):
            grids, _ = timed("build city", build_city, build)
            timed(f"insert {args.cases:,} cases and their events",
                  lambda: build_cases(args.cases, grids, COMMUNITIES * SUBS * DISTRICTS), build)
        cases = db.session.scalar(select(func.count()).select_from(Case))
        events = db.session.scalar(select(func.count()).select_from(CaseEvent))
        results: list[tuple[str, float]] = []
        from gridops.evaluation.indicators import compute_indicators

        rows = {}
        for group_by in GROUP_BYS:
            rows[group_by] = timed(f"compute_indicators(2026-06, {group_by})",
                                   lambda g=group_by: compute_indicators(JUNE, g), results)
        timed("indicator_table(2026-06, unit) with month-on-month and year-on-year",
              lambda: indicator_table(JUNE, "unit"), results)
        timed("freeze_snapshot(2026-06, district)",
              lambda: freeze_snapshot(JUNE, "district", now=datetime(2026, 7, 1, tzinfo=timezone.utc)), results)
        db.session.commit()
        timed("indicator_table(2026-06, district), frozen, without changes",
              lambda: indicator_table(JUNE, "district", with_changes=False), results)
        (city,) = rows["city"]
        print(f"# Indicator benchmark ({db.engine.dialect.name})\n")
        for key, value in describe().items():
            print(f"- {key}: {value}")
        print(f"\n{cases:,} cases, {events:,} events; June 2026: {city.reports:,} reports, {city.due:,} due, "
              f"closure rate {city.closure_rate}, on-time closure rate {city.on_time_closure_rate}\n")
        for label, seconds in build:
            print(f"- build: {label}: {seconds:.1f} s")
        print("\n| step | seconds |\n|---|---|")
        for label, seconds in results:
            print(f"| {label} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
