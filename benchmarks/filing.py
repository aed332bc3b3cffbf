"""Filing benchmark: ``POST /api/v1/cases`` under gunicorn against PostgreSQL, beside a minimal app.

Run ``python -m benchmarks.filing``. It creates a fresh PostgreSQL database (dropped at
the end), migrates it, loads the core demo city and the default catalogue, issues an API
token for the demo hotline operator, and picks filing positions at unit-grid centroids.
Then, in the same run and the same way, it serves each app with gunicorn on loopback —
gridops (``gridops.wsgi:app``) and ``benchmarks/minimal_app.py`` (Flask + SQLAlchemy,
one row inserted per request) — and drives it with 16 client threads on keep-alive
``http.client`` connections, bounded by a request count and a time limit. Every request
carries a unique idempotency key. The report (Markdown, for docs/benchmarks.md) gives
throughput, p50/p95/p99 latency and the real/minimal ratio.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.databases import DEFAULT_SERVER, scratch_database
from benchmarks.machine import describe

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CASES_PATH = "/api/v1/cases"
MINIMAL_PATH = "/rows"
TARGETS = {"throughput_ratio": 0.5, "p99_ms": 100.0}


@dataclass
class Side:
    """One app under test: how gunicorn serves it, where to post, and what to send."""

    name: str
    app_spec: str
    env: dict[str, str]
    path: str
    headers: dict[str, str]
    body: Callable[[int], bytes]  # the request body for request number ``index``


@dataclass
class Result:
    name: str
    wall_s: float
    latencies_ms: np.ndarray
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    sample_failure: str = ""
    #: CPU seconds used while measuring by the gunicorn workers, by PostgreSQL and by the load generator.
    cpu_s: dict[str, float] = field(default_factory=dict)

    def cpu_ms_per_request(self, who: str) -> float:
        return 1000 * self.cpu_s[who] / self.ok if self.ok and who in self.cpu_s else float("nan")

    @property
    def ok(self) -> int:
        return sum(count for status, count in self.statuses.items() if 200 <= status < 300)

    @property
    def throughput(self) -> float:
        return self.ok / self.wall_s if self.wall_s else 0.0

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms.size else float("nan")


def prepare_gridops(url: str, reporter: str) -> tuple[str, list[tuple[float, float]], str]:
    """Migrate, load the core demo city and catalogue; return ``reporter``'s token, positions, datum."""
    import shapely
    from flask_migrate import upgrade
    from sqlalchemy import select

    from gridops.app import create_app
    from gridops.auth.models import User
    from gridops.auth.tokens import issue_token
    from gridops.catalogue.services import seed_default_catalogue
    from gridops.config import PROJECT_ROOT as GRIDOPS_ROOT
    from gridops.demo import load_demo
    from gridops.extensions import db
    from gridops.territory.models import Area, AreaLevel, GridLayer

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secrets.token_hex(32)})
    with app.app_context():
        upgrade(directory=str(GRIDOPS_ROOT / "migrations"))
        load_demo(full_grids=False, echo=lambda line: print(line, file=sys.stderr, flush=True))
        seed_default_catalogue()
        user = db.session.scalar(select(User).where(User.username == reporter))
        _, secret = issue_token(user, "filing benchmark")
        datum = db.session.scalar(select(GridLayer.datum).order_by(GridLayer.id).limit(1))
        wkb = db.session.scalars(
            select(Area.geometry_wkb)
            .join(AreaLevel, Area.level_rank == AreaLevel.rank)
            .where(AreaLevel.is_unit, Area.active)
            .order_by(Area.code)
        ).all()
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    grids = shapely.from_wkb(np.asarray(wkb, dtype=object))
    centroids = shapely.centroid(grids)
    xs, ys = shapely.get_x(centroids), shapely.get_y(centroids)
    inside = shapely.contains_xy(grids, xs, ys)
    positions = list(zip(xs[inside].tolist(), ys[inside].tolist()))
    print(f"{len(positions):,} filing positions at unit-grid centroids", file=sys.stderr, flush=True)
    return secret, positions, datum


# ---- serving and loading ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (0 if it is gone), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def database_backends(url: str) -> list[int]:
    """Process ids of the PostgreSQL sessions connected to ``url``'s database (the workers' pools)."""
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as conn:
        return [pid for (pid,) in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )]


def cpu_snapshot(server: "Server", backends: list[int]) -> dict[str, float]:
    """CPU seconds so far of the server's workers, of their PostgreSQL sessions and of this process.

    Linux only (``/proc``); elsewhere the figures stay empty. Only the sessions on the
    benchmark's database count (not PostgreSQL's shared background writers), so other work
    on the server does not inflate the figure.
    """
    if not Path("/proc/self/stat").exists():
        return {}
    workers = [int(pid) for pid in Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()]
    own = os.times()
    return {
        "server": sum(map(_process_cpu_s, workers)),
        "postgres": sum(map(_process_cpu_s, backends)),
        "client": own.user + own.system,
    }


class Server:
    """A gunicorn process on loopback, started for one side and stopped after it."""

    def __init__(self, side: Side, workers: int, worker_class: str, log: Path):
        self.port = free_port()
        command = [
            sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", worker_class,
            "-b", f"127.0.0.1:{self.port}", "--log-level", "warning", side.app_spec,
        ]
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env={**os.environ, **side.env}, stdout=self.log, stderr=self.log
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log.name}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer /healthz within {timeout:.0f} s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def drive(side: Side, port: int, clients: int, count: int, seconds: float, first_index: int) -> Result:
    """``count`` requests (or as many as ``seconds`` allow) from ``clients`` threads; keep-alive."""
    indexes = itertools.count(first_index)
    last = first_index + count
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    failures: list[str] = []
    errors = [0]
    deadline = time.perf_counter() + seconds
    timer = time.perf_counter

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        seen: dict[int, int] = {}
        for index in indexes:
            if index >= last or timer() > deadline:
                break
            body = side.body(index)
            started = timer()
            try:
                conn.request("POST", side.path, body, side.headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as error:
                conn.close()
                with lock:
                    errors[0] += 1
                    failures.append(f"{type(error).__name__}: {error}")
                continue
            mine.append((timer() - started) * 1000)
            seen[response.status] = seen.get(response.status, 0) + 1
            if not 200 <= response.status < 300 and not failures:
                with lock:
                    failures.append(f"HTTP {response.status}: {payload[:300].decode(errors='replace')}")
        conn.close()
        with lock:
            latencies.extend(mine)
            for status, number in seen.items():
                statuses[status] = statuses.get(status, 0) + number

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = timer()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = timer() - started
    return Result(side.name, wall, np.asarray(latencies), statuses, errors[0], failures[0] if failures else "")


def measure(side: Side, args: argparse.Namespace, log: Path, first_index: int) -> Result:
    """Serve ``side`` with gunicorn, warm every worker up (not counted), then drive it."""
    server = Server(side, args.workers, args.worker_class, log)
    try:
        server.wait_ready()
        print(f"{side.name}: warming up …", file=sys.stderr, flush=True)
        warm = drive(side, server.port, args.clients, args.warmup, 120.0, first_index)
        if warm.ok == 0:
            raise RuntimeError(f"{side.name}: no request succeeded in warm-up ({warm.sample_failure})")
        print(f"{side.name}: measuring …", file=sys.stderr, flush=True)
        backends = database_backends(side.env["GRIDOPS_DATABASE_URL"])
        before = cpu_snapshot(server, backends)
        result = drive(side, server.port, args.clients, args.requests, args.seconds, first_index + args.warmup)
        after = cpu_snapshot(server, backends)
        result.cpu_s = {who: after[who] - before[who] for who in before}
        return result
    finally:
        server.stop()


def in_process_cost(
    app, db, side: Side, first_index: int, repeat: int = 30, show: bool = False
) -> tuple[int, float]:
    """SQL statements of one request of ``side``, and median ms of ``repeat`` one at a time, in-process.

    No server and no concurrency: the request's own cost, apart from queueing. One
    uncounted request first, so that caches and the locator are built. ``show`` prints the
    counted request's statements (their first 120 characters) to stderr.
    """
    from sqlalchemy import event

    client = app.test_client()
    count = [0]

    def counted(_conn, _cursor, statement, *_):
        count[0] += 1
        if show:
            print(f"  {side.name} [{count[0]}]: {' '.join(statement.split())[:120]}", file=sys.stderr)

    with app.app_context():
        engine = db.engine
    client.post(side.path, data=side.body(first_index), headers=side.headers)
    event.listen(engine, "before_cursor_execute", counted)
    try:
        response = client.post(side.path, data=side.body(first_index + 1), headers=side.headers)
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    if not 200 <= response.status_code < 300:
        raise RuntimeError(f"{side.name}: HTTP {response.status_code} in-process: {response.get_data(as_text=True)[:300]}")
    times = []
    for index in range(first_index + 2, first_index + 2 + repeat):
        started = time.perf_counter()
        client.post(side.path, data=side.body(index), headers=side.headers)
        times.append((time.perf_counter() - started) * 1000)
    return count[0], float(np.median(times))


def in_process_minimal(url: str):
    from benchmarks.minimal_app import create_app, db

    return create_app(url), db


def in_process_gridops(url: str):
    from gridops.app import create_app
    from gridops.extensions import db

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secrets.token_hex(32)}), db


def endpoint_exists(url: str) -> bool:
    """Whether this tree's gridops routes ``POST /api/v1/cases``."""
    app, _ = in_process_gridops(url)
    return any(rule.rule == CASES_PATH and "POST" in rule.methods for rule in app.url_map.iter_rules())


# ---- the run ---------------------------------------------------------------------------


def machine() -> dict[str, str]:
    import gunicorn
    import psycopg

    return describe(**{"gunicorn / psycopg": f"{gunicorn.__version__} / {psycopg.__version__}"})


def markdown(info: dict[str, str], results: list[Result], notes: list[str]) -> str:
    lines = ["| machine | |", "|---|---|"] + [f"| {key} | {value} |" for key, value in info.items()]
    lines += [
        "",
        "| side | requests ok | errors / non-2xx | req/s | p50 ms | p95 ms | p99 ms | max ms "
        "| CPU ms/request: workers / PostgreSQL / load generator |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        bad = result.errors + sum(n for status, n in result.statuses.items() if not 200 <= status < 300)
        lines.append(
            f"| {result.name} | {result.ok:,} | {bad:,} | {result.throughput:,.0f} | {result.percentile(50):.1f} "
            f"| {result.percentile(95):.1f} | {result.percentile(99):.1f} | "
            f"{result.latencies_ms.max() if result.latencies_ms.size else float('nan'):.1f} | "
            + " / ".join(f"{result.cpu_ms_per_request(who):.2f}" for who in ("server", "postgres", "client"))
            + " |"
        )
    lines += [""] + [f"- {note}" for note in notes]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> str:
    from benchmarks.minimal_app import create_table

    info = machine()
    info["gunicorn"] = f"{args.workers} workers, {args.worker_class}; {args.clients} client threads on loopback"
    notes: list[str] = []
    run_id = secrets.token_hex(4)
    log = Path(args.log)
    with scratch_database(args.server_url, "filing") as url:
        secret, positions, datum = prepare_gridops(url, args.reporter)
        create_table(url)
        env = {"GRIDOPS_DATABASE_URL": url, "SECRET_KEY": secrets.token_hex(32), "GRIDOPS_MODE": "production",
               "BENCH_DATABASE_URL": url}

        def minimal_body(index: int) -> bytes:
            x, y = positions[index % len(positions)]
            return json.dumps({"idempotency_key": f"min-{run_id}-{index}", "x": x, "y": y,
                               "description": "benchmark row"}).encode()

        def case_body(index: int) -> bytes:
            x, y = positions[index % len(positions)]
            return json.dumps({
                "source": args.source, "case_type": args.case_type, "small_class": args.small_class,
                "x": x, "y": y, "datum": datum, "description": "filing benchmark",
                "idempotency_key": f"case-{run_id}-{index}",
            }).encode()

        json_headers = {"Content-Type": "application/json"}
        apps = {"benchmarks.minimal_app:create_app()": lambda: in_process_minimal(url),
                "gridops.wsgi:app": lambda: in_process_gridops(url)}
        sides = [Side("minimal Flask + SQLAlchemy insert", "benchmarks.minimal_app:create_app()", env,
                      MINIMAL_PATH, json_headers, minimal_body)]
        if endpoint_exists(url):
            sides.append(Side(f"gridops POST {CASES_PATH}", "gridops.wsgi:app", env, CASES_PATH,
                              {**json_headers, "Authorization": f"Bearer {secret}"}, case_body))
        else:
            notes.append(f"gridops has no POST {CASES_PATH} in this tree yet: only the minimal side was measured.")
        costs = [in_process_cost(*apps[side.app_spec](), side, 10**9, show=args.show_statements) for side in sides]
        notes.append(
            "In-process, one request at a time (no server, no queueing): "
            + "; ".join(f"{side.name}: {count} SQL statements (BEGIN/COMMIT not counted), median {ms:.1f} ms"
                        for side, (count, ms) in zip(sides, costs)) + "."
        )
        results = []
        for round_ in range(args.rounds):
            for number, side in enumerate(sides):
                first = (round_ * len(sides) + number) * (args.requests + args.warmup)
                results.append(measure(side, args, log, first))
                print(f"  {results[-1].name}: {results[-1].throughput:,.0f} req/s, "
                      f"p99 {results[-1].percentile(99):.1f} ms", file=sys.stderr, flush=True)
        notes.append(
            f"Each side: {args.warmup} warm-up requests (not counted), then {args.requests:,} requests or "
            f"{args.seconds:.0f} s, whichever ends first; {len(positions):,} positions at unit-grid centroids "
            f"of the core demo city ({datum}); reporter '{args.reporter}' ({args.source}), case {args.case_type} "
            f"{args.small_class}."
        )
        for result in results:
            if result.sample_failure:
                notes.append(f"{result.name}: first failure: {result.sample_failure}")
        if len(sides) == 2:
            minimal = [r for r in results if r.name == sides[0].name]
            real = [r for r in results if r.name == sides[1].name]
            ratio = np.median([r.throughput for r in real]) / np.median([m.throughput for m in minimal])
            # Rounds run the two sides back to back: a round's own ratio pairs runs that saw the
            # same machine, which matters on a shared one.
            paired = [r.throughput / m.throughput for m, r in zip(minimal, real) if m.throughput]
            p99s = [r.percentile(99) for r in real]
            notes.append(
                f"Throughput real ÷ minimal: {ratio:.2f} (medians of the rounds; target ≥ "
                f"{TARGETS['throughput_ratio']}); per round {', '.join(f'{x:.2f}' for x in paired)}, median "
                f"{np.median(paired):.2f}. Real p99: median {np.median(p99s):.1f} ms, worst {max(p99s):.1f} ms "
                f"(target ≤ {TARGETS['p99_ms']:.0f} ms)."
            )
            cpu = {side: [sum(r.cpu_ms_per_request(who) for who in ("server", "postgres", "client")) for r in group]
                   for side, group in (("minimal", minimal), ("real", real)) if all(r.cpu_s for r in group)}
            if len(cpu) == 2:
                notes.append(
                    f"CPU per request, workers + PostgreSQL + load generator (medians): minimal "
                    f"{np.median(cpu['minimal']):.2f} ms, real {np.median(cpu['real']):.2f} ms — ratio "
                    f"{np.median(cpu['minimal']) / np.median(cpu['real']):.2f}, which bounds the throughput ratio "
                    f"when the cores are saturated."
                )
        return markdown(info, results, notes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-url", default=DEFAULT_SERVER,
                        help="PostgreSQL server where the scratch database is created and dropped")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=3000, help="requests per side and round")
    parser.add_argument("--seconds", type=float, default=30.0, help="time limit per side and round")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1, help="rounds, each measuring both sides in turn")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--reporter", default="hotline", help="demo user who files the cases")
    parser.add_argument("--source", default="hotline")
    parser.add_argument("--case-type", default="event")
    parser.add_argument("--small-class", default="0102")
    parser.add_argument("--log", default="/tmp/gridops-bench-filing.log", help="gunicorn output")
    parser.add_argument("--show-statements", action="store_true",
                        help="print the SQL statements of the in-process counted request of each side")
    print(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
