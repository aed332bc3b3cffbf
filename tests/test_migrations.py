"""Migrations: one head, dated file names, upgrade from empty, downgrade and back, no drift.

Runs on the suite's backend: a fresh SQLite file by default, a fresh PostgreSQL database
(created next to GRIDOPS_TEST_DATABASE_URL's, dropped afterwards) when that is set.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import Column, create_engine, inspect, make_url
from sqlalchemy.types import TypeDecorator

from gridops import create_app
from gridops.config import PROJECT_ROOT
from gridops.extensions import db

MIGRATIONS = PROJECT_ROOT / "migrations"
FILE_TEMPLATE = "%(year)d_%(month).2d_%(day).2d_%(rev)s_%(slug)s"
VERSION_TABLE = "alembic_version"
TEST_DATABASE_URL = os.environ.get("GRIDOPS_TEST_DATABASE_URL", "")


def _script_directory() -> ScriptDirectory:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


@pytest.fixture
def empty_database_url(tmp_path):
    """The URL of a new, empty database on the suite's backend, removed afterwards."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    server_url = make_url(TEST_DATABASE_URL)
    if server_url.get_backend_name() != "postgresql":
        pytest.fail(f"no fresh-database recipe for {server_url.get_backend_name()}")
    name = f"{server_url.database}_migrations_{secrets.token_hex(4)}"[-63:]
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def fresh_app(empty_database_url, tmp_path):
    """An app bound to the empty database, inside its app context."""
    app = create_app(
        {
            "GRIDOPS_MODE": "testing",
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "SQLALCHEMY_DATABASE_URI": empty_database_url,
            "GRIDOPS_MEDIA_DIR": str(tmp_path / "media"),
        }
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _tables() -> set[str]:
    return set(inspect(db.engine).get_table_names())


def _compare_impl_types(context, inspected_column, metadata_column, inspected_type, metadata_type):
    """Compare a custom TypeDecorator (UTCDateTime) by the database type it stands on."""
    if not isinstance(metadata_type, TypeDecorator):
        return None
    stand_in = Column(metadata_column.name, metadata_type.impl)
    return context.impl.compare_type(inspected_column, stand_in)


def _drift() -> list:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": _compare_impl_types, "version_table": VERSION_TABLE}
        )
        return compare_metadata(context, db.metadata)


def test_exactly_one_head_and_one_base():
    script = _script_directory()
    assert len(script.get_heads()) == 1, f"several heads, merge them: {script.get_heads()}"
    assert len(script.get_bases()) == 1, f"several bases: {script.get_bases()}"


def test_new_migration_files_get_dated_names_with_a_slug():
    config = Config(str(MIGRATIONS / "alembic.ini"))
    assert config.get_main_option("file_template") == FILE_TEMPLATE


def test_migration_files_have_dated_names_with_a_slug():
    scripts = list(_script_directory().walk_revisions())
    assert scripts
    for script in scripts:
        name = Path(script.path).name
        pattern = rf"\d{{4}}_\d{{2}}_\d{{2}}_{re.escape(script.revision)}_\w+\.py"
        assert re.fullmatch(pattern, name), f"{name}: expected YYYY_MM_DD_<rev>_<slug>.py"


def test_upgrade_from_empty_database_leaves_no_drift(fresh_app):
    assert _tables() == set()
    upgrade(directory=str(MIGRATIONS))
    assert _tables() == {table.name for table in db.metadata.sorted_tables} | {VERSION_TABLE}
    assert _drift() == []


def test_downgrade_to_base_and_upgrade_again(fresh_app):
    upgrade(directory=str(MIGRATIONS))
    downgrade(directory=str(MIGRATIONS), revision="base")
    assert _tables() <= {VERSION_TABLE}
    upgrade(directory=str(MIGRATIONS))
    assert _drift() == []
