"""Supervision benchmark: the escalation sweep and the monthly notice over 1,000,000 cases.

Run ``python -m benchmarks.supervision [--sqlite] [--postgres URL] [--cases N]``. For each
database it creates a scratch database (PostgreSQL: a fresh database on the server, dropped at
the end; SQLite: a file in a temporary folder), migrates it, loads the core demo city (areas,
units, users) and the default catalogue, then bulk-generates the cases in the database with
one ``INSERT … SELECT`` over a generated series (never the ORM row by row): 40 % of them open,
each with the escalation watches of its running stages — of the open ones 70 % in handling, 10 %
dispatched (signing and handling), 10 % handled (the on-site check), 5 % waiting for
registration, 5 % for dispatch — the rest closed, reported over the half year before "now"
(Tuesday 30 June 2026, 10:00 in the city).

Measured, each as the median of several runs inside a transaction that is rolled back:

- **sweep, none due**: every watch's next instant lies ahead; the sweep must cost the same
  whatever the number of open cases (target ≤ 50 ms).
- **sweep, 10,000 newly overdue**: 10,000 watches, of every stage in the proportions above,
  whose due time has just passed; the sweep writes their 10,000 level-1 timeout orders with
  recipients (target ≤ 2 s).
- **monthly notice** for June 2026 (``gridops.evaluation.notices.generate_notice``; target
  ≤ 5 s on PostgreSQL).

The report is Markdown for docs/benchmarks.md, with the machine description.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from datetime import datetime, timezone

from benchmarks.databases import add_engine_arguments, engines
from benchmarks.machine import describe

EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)
#: Tuesday 30 June 2026, 10:00 in the city (a working day, inside office hours).
NOW = datetime(2026, 6, 30, 2, 0, tzinfo=timezone.utc)
NOW_MIN = int((NOW - EPOCH).total_seconds() // 60)
#: The monthly notice for June is made on 1 July at 08:00 in the city.
NOTICE_AT = datetime(2026, 7, 1, 0, 0, tzinfo=timezone.utc)
DUE_CASES = 10_000
#: The state of an open case (SQL over the series' ``b.i``): 70 % handling, 10 % each dispatched and
#: handled, 5 % each reported and registered.
OPEN_STATE = ("CASE (b.i / 10) % 20 WHEN 0 THEN 'reported' WHEN 1 THEN 'registered' WHEN 2 THEN 'dispatched' "
              "WHEN 3 THEN 'dispatched' WHEN 4 THEN 'handled' WHEN 5 THEN 'handled' ELSE 'handling' END")
#: The watch of each stage: (stage, start, due, the states in which it runs), as SQL over case_file.
WATCHED = (
    ("registration", "reported_at", "register_due_at", "'reported'"),
    ("dispatch", "registered_at", "dispatch_due_at", "'registered'"),
    ("signing", "dispatched_at", "sign_due_at", "'dispatched'"),
    ("handling", "dispatched_at", "handle_due_at", "'dispatched', 'handling'"),
    ("check", "handled_at", "check_due_at", "'handled'"),
)
TARGETS = {"none_ms": 50.0, "due_s": 2.0, "notice_s": 5.0}


def _ts(dialect: str, minutes: str) -> str:
    """SQL for the instant ``minutes`` (an integer SQL expression, ≥ 0) after EPOCH, as each database stores it."""
    if dialect == "postgresql":
        return f"(TIMESTAMPTZ '2026-01-01 00:00:00+00' + ({minutes}) * INTERVAL '1 minute')"
    return f"(strftime('%Y-%m-%d %H:%M:%S', '2026-01-01 00:00:00', '+' || ({minutes}) || ' minutes') || '.000000')"


def _series(dialect: str, count: int) -> str:
    if dialect == "postgresql":
        return f"SELECT g AS i FROM generate_series(1, {count}) AS g"
    return f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {count}) SELECT i FROM s"


def generate_cases(conn, dialect: str, count: int) -> None:
    """Bulk-insert ``count`` cases and the watches of the open ones, in the database."""
    from sqlalchemy import text

    true, false = ("true", "false") if dialect == "postgresql" else ("1", "0")
    for statement in (
        "DROP TABLE IF EXISTS bench_grid", "DROP TABLE IF EXISTS bench_unit", "DROP TABLE IF EXISTS bench_class",
        "CREATE TABLE bench_grid (n INTEGER PRIMARY KEY, area_id INTEGER, path VARCHAR(255))",
        "CREATE TABLE bench_unit (n INTEGER PRIMARY KEY, department_id INTEGER)",
        "CREATE TABLE bench_class (n INTEGER PRIMARY KEY, small_class_id INTEGER, case_type VARCHAR(16))",
    ):
        conn.execute(text(statement))
    grids = conn.execute(text("SELECT id, path FROM area WHERE level_rank = 4 ORDER BY id")).all()
    units = conn.execute(text("SELECT id FROM department WHERE active ORDER BY id")).scalars().all()
    classes = conn.execute(text(
        "SELECT s.id, s.case_type FROM small_class s JOIN filing_standard f ON f.small_class_id = s.id "
        "WHERE f.limit_clock = 'working_hours' ORDER BY s.id")).all()
    classes = list(dict.fromkeys(classes))
    conn.execute(text("INSERT INTO bench_grid VALUES (:n, :a, :p)"), [dict(n=n, a=a, p=p) for n, (a, p) in enumerate(grids)])
    conn.execute(text("INSERT INTO bench_unit VALUES (:n, :d)"), [dict(n=n, d=d) for n, d in enumerate(units)])
    conn.execute(text("INSERT INTO bench_class VALUES (:n, :s, :t)"),
                 [dict(n=n, s=s, t=t) for n, (s, t) in enumerate(classes)])
    grid_count, unit_count, class_count = len(grids), len(units), len(classes)
    # Minutes after EPOCH: open cases were reported in the last ten days, closed ones over the half year.
    base = f"""
        SELECT i,
               (i % 10 < 4) AS open,
               CASE WHEN i % 10 < 4 THEN {NOW_MIN} - 60 - (i % 14400) ELSE (CAST(i AS BIGINT) * 7919) % {NOW_MIN - 1440} END AS rep
        FROM ({_series(dialect, count)}) AS series
    """
    columns = {
        "number": "'B' || CAST(b.i AS VARCHAR(12))",
        "source": "'patrol'",
        "case_type": "c.case_type",
        "small_class_id": "c.small_class_id",
        "description": "''",
        "address": "''",
        "urgency": "'normal'",
        "datum": "'wgs84'",
        "unit_grid_id": "g.area_id",
        "area_id": "g.area_id",
        "area_path": "g.path",
        "located_in_gap": false,
        "in_fringe": false,
        "state": f"CASE WHEN NOT b.open THEN 'closed' ELSE {OPEN_STATE} END",
        "holder_department_id": "u.department_id",
        "supervised": false,
        "self_handled": false,
        "reported_at": _ts(dialect, "b.rep"),
        "registered_at": f"CASE WHEN b.open AND {OPEN_STATE} = 'reported' THEN NULL ELSE {_ts(dialect, 'b.rep + 10')} END",
        "dispatched_at": f"CASE WHEN b.open AND {OPEN_STATE} IN ('reported', 'registered') THEN NULL "
                         f"ELSE {_ts(dialect, 'b.rep + 30')} END",
        "signed_at": f"CASE WHEN b.open AND {OPEN_STATE} IN ('reported', 'registered', 'dispatched') THEN NULL "
                     f"ELSE {_ts(dialect, 'b.rep + 40')} END",
        "register_due_at": _ts(dialect, "b.rep + 4320"),
        "dispatch_due_at": _ts(dialect, "b.rep + 10 + 4320"),
        "sign_due_at": _ts(dialect, "b.rep + 30 + 4320"),
        "handle_due_at": _ts(dialect, "b.rep + 30 + 4320"),
        "check_due_at": _ts(dialect, "b.rep + 60 + 4320"),
        "handled_at": f"CASE WHEN b.open AND {OPEN_STATE} <> 'handled' THEN NULL "
                      f"ELSE {_ts(dialect, 'b.rep + 60 + (b.i % 6000)')} END",
        "closed_at": f"CASE WHEN b.open THEN NULL ELSE {_ts(dialect, 'b.rep + 120 + (b.i % 6000)')} END",
        "closed_on_time": "CASE WHEN b.open THEN NULL ELSE (b.i % 6000 < 4290) END",
        "dispatch_count": "1",
        "return_count": "0",
        "rework_count": "(b.i % 50 = 0)" if dialect == "sqlite" else "CAST(b.i % 50 = 0 AS INTEGER)",
        "extension_count": "0",
        "repeat_count": "0",
        "version": "1",
    }
    conn.execute(text(
        f"INSERT INTO case_file ({', '.join(columns)}) "
        f"SELECT {', '.join(columns.values())} FROM ({base}) AS b "
        f"JOIN bench_grid g ON g.n = b.i % {grid_count} "
        f"JOIN bench_unit u ON u.n = b.i % {unit_count} "
        f"JOIN bench_class c ON c.n = b.i % {class_count}"
    ))
    # Every open case's running stages are watched; each next step lies ahead of "now" (the sweeps
    # before it took the rest).
    for stage, started, due, states in WATCHED:
        conn.execute(text(
            "INSERT INTO escalation_watch (case_id, stage, started_at, due_at, clock, next_step, next_at) "
            f"SELECT id, '{stage}', {started}, {due}, 'working_hours', 1, {_ts(dialect, f'{NOW_MIN} + 60 + id % 20000')} "
            f"FROM case_file WHERE state IN ({states})"
        ))
    for name in ("bench_grid", "bench_unit", "bench_class"):
        conn.execute(text(f"DROP TABLE {name}"))


def make_due(conn, dialect: str, count: int) -> None:
    """Make ``count`` watches newly overdue: due minutes ago, their level-1 order next; the cases'
    stage times follow (a dispatched case's signing and handling share the instant)."""
    from sqlalchemy import text

    chosen = f"SELECT case_id FROM escalation_watch ORDER BY case_id, stage LIMIT {count}"
    conn.execute(text("DROP TABLE IF EXISTS bench_due"))
    conn.execute(text("CREATE TABLE bench_due (case_id INTEGER, stage VARCHAR(16), PRIMARY KEY (case_id, stage))"))
    conn.execute(text(f"INSERT INTO bench_due {chosen.replace('SELECT case_id', 'SELECT case_id, stage')}"))
    due = f"{NOW_MIN} - 1 - (case_id % 120)"
    conn.execute(text(
        f"UPDATE escalation_watch SET started_at = {_ts(dialect, f'{due} - 4320')}, due_at = {_ts(dialect, due)}, "
        f"next_step = 1, next_at = {_ts(dialect, due)} "
        "WHERE EXISTS (SELECT 1 FROM bench_due d WHERE d.case_id = escalation_watch.case_id AND d.stage = escalation_watch.stage)"
    ))
    due, start = _ts(dialect, f"{NOW_MIN} - 1 - (id % 120)"), _ts(dialect, f"{NOW_MIN} - 1 - (id % 120) - 4320")
    moved = ", ".join(f"{column} = {due}" for column in
                      ("register_due_at", "dispatch_due_at", "sign_due_at", "handle_due_at", "check_due_at"))
    conn.execute(text(
        f"UPDATE case_file SET dispatched_at = {start}, handled_at = CASE WHEN state = 'handled' THEN {start} END, "
        f"{moved} WHERE id IN (SELECT case_id FROM bench_due)"
    ))
    conn.execute(text("DROP TABLE bench_due"))


def run(url: str, cases: int, repeats: int) -> dict:
    from flask_migrate import upgrade
    from sqlalchemy import func, select, text

    from gridops.app import create_app
    from gridops.catalogue.services import seed_default_catalogue
    from gridops.config import PROJECT_ROOT as GRIDOPS_ROOT
    from gridops.demo import load_demo
    from gridops.extensions import db
    from gridops.supervision.models import EscalationWatch
    from gridops.supervision.services import sweep_escalations

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secrets.token_hex(32), "GRIDOPS_MODE": "testing"})
    out: dict = {}
    with app.app_context():
        dialect = db.engine.dialect.name
        upgrade(directory=str(GRIDOPS_ROOT / "migrations"))
        load_demo(full_grids=False, echo=lambda line: print(line, file=sys.stderr, flush=True))
        seed_default_catalogue()
        db.session.commit()
        started = time.perf_counter()
        with db.engine.begin() as conn:
            generate_cases(conn, dialect, cases)
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        out["generate_s"] = time.perf_counter() - started
        out["cases"] = db.session.scalar(select(func.count()).select_from(text("case_file")))
        out["watched"] = db.session.scalar(select(func.count()).select_from(EscalationWatch))
        print(f"{dialect}: {out['cases']:,} cases, {out['watched']:,} watched, generated in {out['generate_s']:.0f} s",
              file=sys.stderr, flush=True)
        db.session.commit()

        sweep_escalations(NOW)  # warm the city clock and the statement caches
        db.session.rollback()
        none = []
        for _ in range(max(repeats, 5)):
            t0 = time.perf_counter()
            result = sweep_escalations(NOW)
            none.append((time.perf_counter() - t0) * 1000)
            assert result.created == 0, result
            db.session.rollback()
        out["none_ms"] = statistics.median(none)
        out["none_all_ms"] = none

        due = []
        for _ in range(repeats):
            make_due(db.session.connection(), dialect, DUE_CASES)
            t0, c0 = time.perf_counter(), time.process_time()
            result = sweep_escalations(NOW)
            due.append((time.perf_counter() - t0, time.process_time() - c0))
            out["due_created"] = result.created
            db.session.rollback()
        out["due_s"] = statistics.median(wall for wall, _cpu in due)
        out["due_cpu_s"] = statistics.median(cpu for _wall, cpu in due)
        out["due_all_s"] = due

        try:
            from gridops.evaluation.notices import generate_notice
            from gridops.evaluation.periods import Period
        except ImportError:
            out["notice_s"] = None
        else:
            notice = []
            marks = {table: db.session.scalar(text(f"SELECT coalesce(max(id), 0) FROM {table}"))
                     for table in ("notice", "indicator_snapshot")}
            for _ in range(repeats):
                t0 = time.perf_counter()
                generate_notice("monthly", Period.month(2026, 6), now=NOTICE_AT)
                notice.append(time.perf_counter() - t0)
                db.session.rollback()
                # pysqlite commits a savepoint opened outside a transaction (the notice's and each
                # snapshot's) at its release: clear what a run kept, so every run starts from scratch.
                for table, mark in marks.items():
                    db.session.execute(text(f"DELETE FROM {table} WHERE id > :mark"), {"mark": mark})
                db.session.commit()
            out["notice_s"] = statistics.median(notice)
            out["notice_all_s"] = notice
    with app.app_context():
        db.engine.dispose()
    return out


def report(results: dict[str, dict], cases: int, repeats: int) -> str:
    import sqlalchemy

    machine = describe(SQLAlchemy=sqlalchemy.__version__)
    lines = [f"### Supervision: escalation sweep and monthly notice over {cases:,} cases", ""]
    lines += [f"- {key}: {value}" for key, value in machine.items()]
    lines += ["", f"Medians of {repeats} runs (none due: at least 5), each rolled back; wall-clock time, and for "
              "the 10,000-order sweep also this process's CPU time (on SQLite that includes the database's work; "
              "on PostgreSQL the server's is not counted).", "",
              "| database | cases | watched (open) | sweep, none due | sweep, 10,000 newly overdue (CPU) | monthly notice |",
              "|---|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        notice = "n/a" if r.get("notice_s") is None else f"{r['notice_s']:.2f} s"
        lines.append(
            f"| {name} | {r['cases']:,} | {r['watched']:,} | {r['none_ms']:.1f} ms "
            f"| {r['due_s']:.2f} s ({r['due_cpu_s']:.2f} s CPU; {r['due_created']:,} orders) | {notice} |"
        )
    lines += ["", "All runs: " + "; ".join(
        f"{name}: none {[round(v, 1) for v in r['none_all_ms']]} ms, due {[(round(w, 2), round(c, 2)) for w, c in r['due_all_s']]} s"
        + ("" if r.get("notice_s") is None else f", notice {[round(v, 2) for v in r['notice_all_s']]} s")
        for name, r in results.items())]
    lines += ["", f"Load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}.",
              "", f"Targets: none due ≤ {TARGETS['none_ms']:.0f} ms, 10,000 due ≤ {TARGETS['due_s']:.0f} s, "
              f"monthly notice ≤ {TARGETS['notice_s']:.0f} s (PostgreSQL)."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    add_engine_arguments(parser)
    args = parser.parse_args()
    results = {engine: run(url, args.cases, args.repeats) for engine, url in engines(args, "supervision")}
    print(report(results, args.cases, args.repeats))


if __name__ == "__main__":
    main()
