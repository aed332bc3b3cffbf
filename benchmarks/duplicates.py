"""Likely-duplicate search with a million cases: how long ``likely_duplicates`` takes.

Run ``python -m benchmarks.duplicates`` (PostgreSQL at ``--server-url``; a scratch database
is created and dropped) or with ``--sqlite`` (a temporary file). It migrates, makes the
small test city and the default catalogue, then bulk-inserts ``--cases`` cases of the
catalogue's event classes (exposed garbage gets a third of them) spread uniformly over a
50 km square around the city and over the past year, a tenth of them open (the rest closed,
cancelled or merged). Then it times ``likely_duplicates`` for random reports of exposed
garbage inside the square, now, as a city-wide user — the database's bounding-box search
over the partial index of open cases and the geodesic check of what it returns — and
prints the median and p90 over ``--runs`` runs after one warm-up, with the plan of the
query on PostgreSQL.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import time
from datetime import timedelta

from benchmarks.databases import DEFAULT_SERVER, scratch_database, scratch_sqlite
from benchmarks.machine import describe

SIDE_DEG = 0.5  # about 50 km north–south, 47 km east–west at 33° N
OPEN_SHARE = 0.1


def _insert_cases(connection, count: int, class_ids: list[int], garbage_id: int, area, now, dialect: str) -> None:
    """``count`` cases straight into case_file (the services would take hours for a million)."""
    x0, y0 = 112.55 - SIDE_DEG / 2, 33.0 - SIDE_DEG / 2
    columns = (
        "number, source, case_type, small_class_id, description, address, urgency, datum, area_path, "
        "located_in_gap, state, supervised, self_handled, reported_at, dispatch_count, return_count, "
        "rework_count, extension_count, repeat_count, version, x, y, layer_x, layer_y, area_id"
    )
    if dialect == "postgresql":
        classes = "ARRAY[" + ",".join(map(str, class_ids)) + "]"
        connection.exec_driver_sql(
            f"""
            INSERT INTO case_file ({columns}, in_fringe)
            SELECT 'B' || lpad(n::text, 12, '0'), 'patrol', 'event',
                   CASE WHEN n %% 3 = 0 THEN {garbage_id} ELSE ({classes})[1 + n %% {len(class_ids)}] END,
                   '', '', 'normal', 'gcj02', '{area.path}', false,
                   CASE WHEN random() < {OPEN_SHARE} THEN 'handling'
                        ELSE (ARRAY['closed','closed','closed','cancelled','merged'])[1 + n %% 5] END,
                   false, false, %(now)s - random() * interval '365 days', 0, 0, 0, 0, 0, 1,
                   x, y, x, y, {area.id}, false
            FROM (SELECT n, {x0} + random() * {SIDE_DEG} AS x, {y0} + random() * {SIDE_DEG} AS y
                  FROM generate_series(1, {count}) AS n) AS points
            """,
            {"now": now},
        )
        connection.exec_driver_sql("ANALYZE case_file")
        return
    rng = random.Random(7)
    batch = []
    placeholders = ", ".join(["?"] * 26)
    for n in range(1, count + 1):
        x, y = x0 + rng.random() * SIDE_DEG, y0 + rng.random() * SIDE_DEG
        state = "handling" if rng.random() < OPEN_SHARE else ("closed", "closed", "closed", "cancelled", "merged")[n % 5]
        small_class = garbage_id if n % 3 == 0 else class_ids[n % len(class_ids)]
        reported = (now - timedelta(days=365 * rng.random())).strftime("%Y-%m-%d %H:%M:%S.%f")
        batch.append((f"B{n:012d}", "patrol", "event", small_class, "", "", "normal", "gcj02", area.path, 0,
                      state, 0, 0, reported, 0, 0, 0, 0, 0, 1, x, y, x, y, area.id, 0))
        if len(batch) == 50_000:
            connection.exec_driver_sql(f"INSERT INTO case_file ({columns}, in_fringe) VALUES ({placeholders})", batch)
            batch = []
    if batch:
        connection.exec_driver_sql(f"INSERT INTO case_file ({columns}, in_fringe) VALUES ({placeholders})", batch)
    connection.exec_driver_sql("ANALYZE")


def run(url: str, count: int, runs: int) -> dict:
    from flask_migrate import upgrade
    from sqlalchemy import select

    from gridops.app import create_app
    from gridops.cases.duplicates import likely_duplicates
    from gridops.catalogue.models import SmallClass
    from gridops.catalogue.services import seed_default_catalogue, small_class_by_full_code
    from gridops.config import PROJECT_ROOT
    from gridops.db import utcnow
    from gridops.extensions import db
    from tests.factories import make_small_city, make_user

    app = create_app({"GRIDOPS_MODE": "testing", "SECRET_KEY": secrets.token_hex(16),
                      "SQLALCHEMY_DATABASE_URI": url, "GRIDOPS_PASSWORD_METHOD": "pbkdf2:sha256:1"})
    with app.app_context():
        upgrade(directory=str(PROJECT_ROOT / "migrations"))
        areas = make_small_city()
        seed_default_catalogue()
        user = make_user("bench", "leader")
        db.session.commit()
        garbage = small_class_by_full_code("E0102")
        class_ids = list(db.session.scalars(select(SmallClass.id).where(SmallClass.case_type == "event")))
        now = utcnow()
        started = time.perf_counter()
        with db.engine.begin() as connection:
            _insert_cases(connection, count, class_ids, garbage.id, areas["community"], now, db.engine.dialect.name)
        load_s = time.perf_counter() - started
        rng = random.Random(11)
        timings, found = [], []
        for index in range(runs + 1):
            x = 112.55 - SIDE_DEG / 2 + rng.random() * SIDE_DEG
            y = 33.0 - SIDE_DEG / 2 + rng.random() * SIDE_DEG
            started = time.perf_counter()
            result = likely_duplicates(small_class_id=garbage.id, x=x, y=y, datum="gcj02", at=now, user=user,
                                       limit=10)
            elapsed = (time.perf_counter() - started) * 1000
            db.session.rollback()
            if index:
                timings.append(elapsed)
                found.append(len(result))
        plan = ""
        if db.engine.dialect.name == "postgresql":
            plan = "\n".join(
                row[0] for row in db.session.execute(db.text(
                    "EXPLAIN ANALYZE SELECT id FROM case_file WHERE small_class_id = :c "
                    "AND case_file.state NOT IN ('closed', 'cancelled', 'merged') "
                    "AND layer_y BETWEEN 33.0 AND 33.00054 AND layer_x BETWEEN 112.55 AND 112.55065 "
                    "AND reported_at BETWEEN :a AND :b"), {"c": garbage.id, "a": now - timedelta(days=1), "b": now})
            )
    timings.sort()
    return {
        "cases": count,
        "load_s": round(load_s, 1),
        "median_ms": round(statistics.median(timings), 2),
        "p90_ms": round(timings[int(0.9 * (len(timings) - 1))], 2),
        "mean_found": round(statistics.mean(found), 2),
        "plan": plan,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-url", default=DEFAULT_SERVER)
    parser.add_argument("--sqlite", action="store_true", help="use a temporary SQLite file instead")
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args(argv)
    print(describe())
    with scratch_sqlite() if args.sqlite else scratch_database(args.server_url, "dup") as url:
        result = run(url, args.cases, args.runs)
    plan = result.pop("plan")
    print(result)
    if plan:
        print(plan)
    return 0


if __name__ == "__main__":
    sys.exit(main())
