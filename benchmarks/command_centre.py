"""Command centre benchmark: the first screen with 10,000 open cases in the demo city.

Run ``python -m benchmarks.command_centre`` (PostgreSQL at ``--server-url``; a scratch
database is created and dropped) or with ``--sqlite`` (a temporary file). It migrates, loads
the core demo city (real Nanyang districts, generated subdistricts, communities and unit
grids, demo units and staff) and bulk-inserts ``--open`` open cases spread over the stages
of the loop (reported, registered, dispatched, handling, handled, verifying; some with
pending requests, rework or supervision) and ``--closed`` closed ones, at unit-grid
centroids, reported over the last ten days, with their stage due times computed by the
city clock as the services would. Then, signed in as the demo dispatcher (city-wide), it
times what the browser needs for the first screen: ``GET /work/command`` (the queue counts
and the dispatch queue's first 50 cases, rendered) and the page's first data call
``GET /api/v1/work/map`` for the map's view; in-process through the WSGI app, so the
figures are the server's work without network or browser. The report gives the median
and p90 over ``--runs`` runs after one warm-up; the target is a median under 1 s.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone

from benchmarks.databases import DEFAULT_SERVER, scratch_database, scratch_sqlite
from benchmarks.machine import describe

TARGET_MS = 1000.0
STATE_SHARES = (
    ("reported", 0.15), ("registered", 0.15), ("dispatched", 0.12), ("handling", 0.40),
    ("handled", 0.10), ("verifying", 0.05), ("suspended", 0.03),
)


def echo(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def make_app(url: str):
    from gridops.app import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": secrets.token_hex(32),
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )


def populate(app, open_count: int, closed_count: int, seed: int) -> dict:
    """Migrate, load the demo city and bulk-insert the cases; return what was made."""
    import shapely
    from flask_migrate import upgrade
    from sqlalchemy import insert, select

    from gridops.auth.models import User
    from gridops.cases import clocks
    from gridops.cases.models import Case, CaseEvent, CasePause, CaseRequest
    from gridops.catalogue.models import FilingStandard, SmallClass
    from gridops.config import PROJECT_ROOT as GRIDOPS_ROOT
    from gridops.demo import load_demo
    from gridops.extensions import db
    from gridops.org.models import Department
    from gridops.territory.models import Area, AreaLevel

    rng = random.Random(seed)
    with app.app_context():
        upgrade(directory=str(GRIDOPS_ROOT / "migrations"))
        load_demo(full_grids=False, echo=echo)
        grids = db.session.execute(
            select(Area.id, Area.path, Area.geometry_wkb)
            .join(AreaLevel, Area.level_rank == AreaLevel.rank)
            .where(AreaLevel.is_unit, Area.active)
        ).all()
        classes = db.session.execute(
            select(SmallClass.id, SmallClass.case_type, FilingStandard.id, FilingStandard.limit_value,
                   FilingStandard.limit_clock)
            .join(FilingStandard, FilingStandard.small_class_id == SmallClass.id)
            .where(FilingStandard.active, SmallClass.active)
        ).all()
        units = list(db.session.scalars(select(Department.id).where(Department.active)))
        reporter = db.session.scalar(select(User.id).where(User.username == "worker"))
        city = clocks.city_clock()
        now = datetime.now(timezone.utc)
        echo(f"{len(grids):,} unit grids, {len(classes)} filing standards, {len(units)} units")

        points = [shapely.point_on_surface(shapely.from_wkb(wkb)) for _id, _path, wkb in grids]
        limits_cache: dict = {}

        def due(start, value, clock):
            return city.due_at(start, value, clock)

        states = [state for state, share in STATE_SHARES for _ in range(round(share * open_count))]
        states = (states + ["handling"] * open_count)[:open_count] + ["closed"] * closed_count
        cases, started = [], time.perf_counter()
        day = now.strftime("%Y%m%d")
        for index, state in enumerate(states):
            grid = rng.randrange(len(grids))
            grid_id, path, _wkb = grids[grid]
            point = points[grid]
            class_id, case_type, standard_id, limit_value, limit_clock = rng.choice(classes)
            back = timedelta(days=10) if state != "closed" else timedelta(days=60)
            reported = now - timedelta(seconds=rng.uniform(0, back.total_seconds()))
            if state in ("reported", "registered"):
                reported = now - timedelta(hours=rng.uniform(0, 30))
            row = dict(
                number=f"{day}B{index:07d}", source="patrol", case_type=case_type, small_class_id=class_id,
                standard_id=standard_id, description="基准测试案件", address="", urgency="normal",
                x=point.x, y=point.y, datum="gcj02", layer_x=point.x, layer_y=point.y, layer_version=1,
                unit_grid_id=grid_id, area_id=grid_id, area_path=path, located_in_gap=False, in_fringe=False,
                reporter_id=reporter, state="closed" if state == "closed" else state,
                suggested_department_id=rng.choice(units), supervised=rng.random() < 0.03,
                self_handled=False, reported_at=reported, dispatch_count=0, return_count=0,
                rework_count=0, extension_count=0, repeat_count=0, version=1,
            )
            if state == "verifying":
                row["source"] = "hotline"
            else:
                row["register_due_at"] = due(reported, 1, "working_hours")
            if state not in ("verifying", "reported"):
                registered = min(now, reported + timedelta(minutes=rng.uniform(5, 90)))
                row.update(registered_at=registered, dispatch_due_at=due(registered, 1, "working_hours"))
            if state in ("dispatched", "handling", "handled", "suspended", "closed"):
                dispatched = min(now, row["registered_at"] + timedelta(minutes=rng.uniform(5, 90)))
                key = (dispatched.replace(minute=0, second=0, microsecond=0), limit_value, limit_clock)
                if key not in limits_cache:
                    limits_cache[key] = due(key[0], limit_value, limit_clock) - key[0]
                row.update(
                    dispatched_at=dispatched, holder_department_id=row["suggested_department_id"],
                    dispatch_count=1, sign_due_at=due(dispatched, 1, "working_hours"),
                    handle_due_at=dispatched + limits_cache[key],
                )
                if state != "dispatched":
                    row["signed_at"] = dispatched + timedelta(minutes=20)
                if state == "handling" and rng.random() < 0.08:
                    row["rework_count"] = 1
            if state in ("handled", "closed"):
                handled = min(now, row["dispatched_at"] + timedelta(hours=rng.uniform(1, 30)))
                row.update(handled_at=handled, check_due_at=due(handled, 2, "working_hours"))
            if state == "closed":
                row.update(closed_at=row["handled_at"] + timedelta(hours=1),
                           closed_on_time=row["handled_at"] <= row["handle_due_at"])
            cases.append(row)
        echo(f"{len(cases):,} case rows computed in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        for chunk in range(0, len(cases), 5000):
            db.session.execute(insert(Case), cases[chunk:chunk + 5000])
        ids = dict(db.session.execute(select(Case.number, Case.id)).all())
        events, requests, pauses = [], [], []
        for row in cases:
            case_id = ids[row["number"]]
            events.append(dict(case_id=case_id, at=row["reported_at"], actor_id=reporter, actor_role="grid_worker",
                               action="file", from_state=None, to_state=row["state"], note="", payload=None))
            if row["state"] == "handling" and rng.random() < 0.05:
                requests.append(dict(case_id=case_id, kind=rng.choice(["return", "extension", "suspension"]),
                                     status="pending", reason="基准测试", requested_at=now,
                                     requested_due_at=row["handle_due_at"] + timedelta(days=3)))
            if row["state"] == "suspended":
                pauses.append(dict(case_id=case_id, started_at=now - timedelta(days=1), ended_at=None))
        for chunk in range(0, len(events), 5000):
            db.session.execute(insert(CaseEvent), events[chunk:chunk + 5000])
        if requests:
            db.session.execute(insert(CaseRequest), requests)
        if pauses:
            db.session.execute(insert(CasePause), pauses)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE")
                connection.commit()
        echo(f"inserted in {time.perf_counter() - started:.1f} s ({len(requests)} pending requests)")
        db.session.remove()
        return {"grids": len(grids), "open": open_count, "closed": closed_count}


def measure(app, runs: int) -> dict:
    """Median and p90 (ms) of the page, the map call and both, signed in as the demo dispatcher."""
    from sqlalchemy import select

    from gridops.demo.people import demo_password
    from gridops.extensions import db
    from gridops.territory.models import Area

    with app.app_context():
        city = db.session.scalar(select(Area).where(Area.parent_id.is_(None)))
        bbox = f"{city.min_x},{city.min_y},{city.max_x},{city.max_y}"
    client = app.test_client()
    response = client.post("/login", data={"username": "dispatcher", "password": demo_password("dispatcher")})
    assert response.status_code in (302, 303), response.status_code
    timings: dict[str, list[float]] = {"page": [], "map": [], "first screen": []}
    sizes = {}
    for run in range(runs + 1):
        started = time.perf_counter()
        page = client.get("/work/command")
        middle = time.perf_counter()
        data = client.get(f"/api/v1/work/map?queue=dispatch&bbox={bbox}")
        ended = time.perf_counter()
        assert page.status_code == 200 and data.status_code == 200, (page.status_code, data.status_code)
        if run == 0:
            sizes = {"page bytes": len(page.data), "map points": len(data.get_json()["features"])}
            continue  # warm-up: the city clock and the locator's caches are built once per process
        timings["page"].append((middle - started) * 1000)
        timings["map"].append((ended - middle) * 1000)
        timings["first screen"].append((ended - started) * 1000)
    result = {}
    for name, values in timings.items():
        ordered = sorted(values)
        result[name] = (statistics.median(ordered), ordered[max(0, int(round(0.9 * len(ordered))) - 1)])
    return {"timings": result, **sizes}


def counts(app) -> dict:
    from gridops.auth.models import User
    from gridops.db import utcnow
    from gridops.extensions import db
    from gridops.workspaces import queues

    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == "dispatcher"))
        found, _yellow = queues.queue_counts_for(queues.open_cases(user), queues.COMMAND_QUEUES, utcnow())
        db.session.remove()
        return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-url", default=DEFAULT_SERVER,
                        help="PostgreSQL server; a scratch database is created on it and dropped")
    parser.add_argument("--sqlite", action="store_true", help="use a temporary SQLite file instead")
    parser.add_argument("--open", type=int, default=10_000, help="open cases")
    parser.add_argument("--closed", type=int, default=20_000, help="closed cases of history")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=20261121)
    args = parser.parse_args(argv)

    import flask
    import sqlalchemy

    machine = describe(Flask=flask.__version__, SQLAlchemy=sqlalchemy.__version__)
    engine = "SQLite" if args.sqlite else "PostgreSQL"
    with scratch_sqlite() if args.sqlite else scratch_database(args.server_url, "command") as url:
        app = make_app(url)
        made = populate(app, args.open, args.closed, args.seed)
        queue_counts = counts(app)
        result = measure(app, args.runs)
        with app.app_context():
            from gridops.extensions import db

            db.engine.dispose()

    lines = [f"### Command centre first screen, {engine}", ""]
    lines += [f"- {key}: {value}" for key, value in machine.items()]
    lines += [
        f"- city: demo core, {made['grids']:,} unit grids; {made['open']:,} open + {made['closed']:,} closed cases",
        "- queue counts seen by the dispatcher: " + ", ".join(f"{k} {v:,}" for k, v in queue_counts.items()),
        f"- page {result['page bytes']:,} bytes; map call {result['map points']:,} points",
        "",
        f"| request ({args.runs} runs after a warm-up) | median ms | p90 ms |",
        "|---|---|---|",
    ]
    for name_, (median, p90) in result["timings"].items():
        lines.append(f"| {name_} | {median:.0f} | {p90:.0f} |")
    median = result["timings"]["first screen"][0]
    lines += ["", f"Target: first screen median < {TARGET_MS:.0f} ms — "
              + ("met" if median < TARGET_MS else "MISSED") + f" ({median:.0f} ms)."]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
