"""Shared fixtures: one migrated database per run, emptied after every test.

Set GRIDOPS_TEST_DATABASE_URL to run against PostgreSQL (CI does); the default is a
SQLite file in a temporary folder. Under pytest-xdist (``-n auto``) each worker process
gets a database of its own: a temporary SQLite file, or on PostgreSQL a fresh database
named after the given one with the worker's id appended, dropped at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, make_url, text

from gridops import create_app
from gridops.config import PROJECT_ROOT
from gridops.extensions import db
from gridops.catalogue.cache import reset_reference_data
from gridops.territory.locator import reset_locator
from tests.factories import PASSWORD

TEST_DATABASE_URL = os.environ.get("GRIDOPS_TEST_DATABASE_URL", "")
#: pytest-xdist's worker id ("gw0", "gw1", …), empty when the suite runs in one process.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
#: Set to check after every test that the tables were really emptied (see ``_assert_empty``).
CHECK_CLEANUP = bool(os.environ.get("GRIDOPS_TEST_CHECK_CLEANUP"))


@contextmanager
def _database_url(tmp_path_factory) -> Iterator[str]:
    """This process's test database: SQLite in a temporary folder, or the PostgreSQL one given."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        return
    if not XDIST_WORKER:
        yield TEST_DATABASE_URL
        return
    given = make_url(TEST_DATABASE_URL)
    name = f"{given.database}_{XDIST_WORKER}"[-63:]
    admin = create_engine(given, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield given.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _config(url: str, tmp_path_factory) -> dict:
    return {
        "GRIDOPS_MODE": "testing",
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": url,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        # One cheap round instead of scrypt: hundreds of test users are made per run.
        "GRIDOPS_PASSWORD_METHOD": "pbkdf2:sha256:1",
        "GRIDOPS_MEDIA_DIR": str(tmp_path_factory.mktemp("media")),
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
    }


@pytest.fixture(scope="session")
def _migrated_app(tmp_path_factory):
    """The app on a database upgraded once to the newest migration."""
    with _database_url(tmp_path_factory) as url:
        app = create_app(_config(url, tmp_path_factory))
        with app.app_context():
            upgrade(directory=str(PROJECT_ROOT / "migrations"))
        yield app
        with app.app_context():
            db.engine.dispose()


# Emptying the database after every test.
#
# What a test may leave behind: rows in any of the app's tables (committed by the test, by the
# live server's threads or by the extra connections of the concurrency tests), and advanced
# id sequences (PostgreSQL hands out ids outside transactions, so even a rolled-back INSERT
# moves a sequence on). Every test must start with all tables empty and every id sequence at
# its start, as it did when each test was followed by TRUNCATE ... RESTART IDENTITY, so that no
# test depends on what ran before it on the same worker (ids included).
#
# The blunt way, one ``TRUNCATE <all 44 tables> RESTART IDENTITY CASCADE`` per test, costs
# tens to hundreds of milliseconds on PostgreSQL even when (as after most tests) nearly every
# table is empty already: it gives every table and index new files, which the next checkpoint
# must sync, and DROP DATABASE's checkpoint then waits for. It made the PostgreSQL run about
# twice as long as the SQLite one. Instead, after each test:
#
# 1. one query counts each table's rows, up to BIG_TABLE (read from the tables themselves, so
#    it sees every committed row whoever wrote it; PostgreSQL's statistics views lag and are
#    not used);
# 2. on PostgreSQL, the few tables a test filled with BIG_TABLE rows or more (bulk exports,
#    demo data) are emptied with one ``TRUNCATE ... CASCADE``, cheaper than deleting that
#    many rows one by one with their foreign-key checks;
# 3. every other table holding rows is emptied with ``DELETE FROM``, children before parents
#    (the reverse of the metadata's dependency order), which on near-empty tables is much
#    cheaper than TRUNCATE;
# 4. on PostgreSQL, every id sequence owned by a column of these tables that has handed out a
#    value since it was last reset (``pg_sequence_last_value`` is NULL until then) is set back
#    to its start value, as RESTART IDENTITY did. SQLite needs nothing here: the tables have
#    no AUTOINCREMENT, so an empty table numbers its rows from 1 again.
#
# The end state is the same as after TRUNCATE ... RESTART IDENTITY: every table empty, every
# sequence at its start. ``_assert_empty`` below checks exactly that, and runs after every
# test when GRIDOPS_TEST_CHECK_CLEANUP is set. One difference remains: a table emptied with
# DELETE keeps its dead rows' space until (auto)vacuum, so new rows need not come back in the
# order they were inserted when read without ORDER BY. SQL never promised that order; a test
# that needs an order asks for it.

#: Tables with at least this many rows are truncated rather than deleted from (PostgreSQL).
BIG_TABLE = 1000


@dataclass(frozen=True)
class _Cleanup:
    #: The app's tables, children before parents.
    tables: tuple[str, ...]
    #: One query giving each table's row count, counting no further than BIG_TABLE.
    count_rows: str
    #: PostgreSQL: the ids (oids) of the id sequences owned by the tables' columns.
    sequences: tuple[int, ...] = ()


def _cleanup_plan() -> _Cleanup:
    tables = tuple(t.name for t in reversed(db.metadata.sorted_tables))
    count_rows = " UNION ALL ".join(
        f"SELECT '{name}', count(*) FROM (SELECT 1 FROM \"{name}\" LIMIT {BIG_TABLE}) AS r"
        for name in tables
    )
    sequences: tuple[int, ...] = ()
    if db.engine.dialect.name == "postgresql":
        # Sequences belonging to a serial ('a') or identity ('i') column of one of the tables:
        # the ones TRUNCATE ... RESTART IDENTITY restarts.
        sequences = tuple(
            db.session.scalars(
                text(
                    "SELECT seq.oid::int FROM pg_class seq"
                    " JOIN pg_depend dep ON dep.classid = 'pg_class'::regclass AND dep.objid = seq.oid"
                    " AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')"
                    " JOIN pg_class tab ON tab.oid = dep.refobjid"
                    " WHERE seq.relkind = 'S' AND tab.relnamespace = current_schema()::regnamespace"
                    " AND tab.relname = ANY(:tables)"
                ),
                {"tables": list(tables)},
            )
        )
        db.session.rollback()
    return _Cleanup(tables, count_rows, sequences)


def _empty_all_tables(plan: _Cleanup) -> None:
    """Empty every table and restart every used id sequence (see the comment above)."""
    db.session.rollback()
    rows = {name: count for name, count in db.session.execute(text(plan.count_rows)) if count}
    if db.engine.dialect.name == "postgresql":
        big = [name for name, count in rows.items() if count >= BIG_TABLE]
        if big:
            # CASCADE also empties the tables referring to these ones, as TRUNCATE requires.
            quoted = ", ".join(f'"{name}"' for name in big)
            db.session.execute(text(f"TRUNCATE {quoted} CASCADE"))
            rows = {name: count for name, count in rows.items() if name not in big}
    for name in plan.tables:
        if name in rows:
            db.session.execute(text(f'DELETE FROM "{name}"'))
    if plan.sequences:
        db.session.execute(
            text(
                "SELECT setval(seqrelid, seqstart, false) FROM pg_sequence"
                " WHERE seqrelid = ANY(:sequences) AND pg_sequence_last_value(seqrelid) IS NOT NULL"
            ),
            {"sequences": list(plan.sequences)},
        )
    db.session.commit()


def _assert_empty(plan: _Cleanup) -> None:
    """Fail unless every table is empty and every owned id sequence is at its start."""
    assert [(name, count) for name, count in db.session.execute(text(plan.count_rows)) if count] == []
    if plan.sequences:
        used = db.session.scalars(
            text(
                "SELECT seqrelid::regclass::text FROM pg_sequence"
                " WHERE seqrelid = ANY(:sequences) AND pg_sequence_last_value(seqrelid) IS NOT NULL"
            ),
            {"sequences": list(plan.sequences)},
        ).all()
        assert used == []
    db.session.rollback()


@pytest.fixture(scope="session")
def _cleanup(_migrated_app) -> _Cleanup:
    with _migrated_app.app_context():
        return _cleanup_plan()


@pytest.fixture
def app(_migrated_app, _cleanup):
    """The app, inside an app context, with empty tables (and no cached locator) afterwards."""
    _migrated_app.config.update(WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
    with _migrated_app.app_context():
        yield _migrated_app
        db.session.remove()
        _empty_all_tables(_cleanup)
        if CHECK_CLEANUP:
            _assert_empty(_cleanup)
        reset_locator()
        reset_reference_data()


@pytest.fixture
def client(app):
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A runner for the app's CLI commands."""
    return app.test_cli_runner()


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, username="worker", password=PASSWORD):
        return self._client.post("/login", data={"username": username, "password": password})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client):
    """Sign in and out through the real login form."""
    return AuthActions(client)
