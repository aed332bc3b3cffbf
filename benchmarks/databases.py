"""Where a benchmark runs: a scratch PostgreSQL database or a temporary SQLite file, removed afterwards.

``scratch_database(server, label)`` creates ``gridops_bench_<label>_<random>`` on the server and
drops it at the end, also on failure; ``scratch_sqlite()`` is a file in a temporary folder.
Benchmarks that measure both engines take ``add_engine_arguments(parser)`` (``--postgres URL``,
``--no-postgres``, ``--no-sqlite``) and loop over ``engines(args, label)``; those that measure
one take ``--server-url`` and ``--sqlite``.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: The PostgreSQL server of this machine (trust auth); a scratch database is made on it.
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def admin_connection(server_url: str):
    """An autocommit connection to the server's ``postgres`` database (to create and drop databases)."""
    import psycopg

    parts = urllib.parse.urlsplit(server_url.replace("postgresql+psycopg://", "postgresql://"))
    return psycopg.connect(
        host=parts.hostname or "127.0.0.1", port=parts.port or 5432,
        user=parts.username or "postgres", password=parts.password, dbname="postgres", autocommit=True,
    )


def database_url(server_url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(server_url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def scratch_database(server_url: str, label: str) -> Iterator[str]:
    """A fresh PostgreSQL database on ``server_url`` for one benchmark; its URL, dropped afterwards (also on failure)."""
    name = f"gridops_bench_{label}_{secrets.token_hex(4)}"
    with admin_connection(server_url) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(server_url, name)
    finally:
        with admin_connection(server_url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch_sqlite() -> Iterator[str]:
    """The URL of a new SQLite file in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'bench.sqlite3'}"


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """``--postgres URL``, ``--no-postgres``, ``--no-sqlite``: which engines a two-engine benchmark measures."""
    parser.add_argument("--postgres", default=DEFAULT_SERVER,
                        help="server URL; a scratch database is created on it and dropped")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")


def engines(args: argparse.Namespace, label: str) -> Iterator[tuple[str, str]]:
    """(engine name, database URL) for each engine ``args`` asks for: PostgreSQL first, then SQLite.

    Each database exists while its turn of the loop runs and is removed before the next.
    """
    if not args.no_postgres:
        with scratch_database(args.postgres, label) as url:
            yield "PostgreSQL", url
    if not args.no_sqlite:
        with scratch_sqlite() as url:
            yield "SQLite", url
