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


def _empty_all_tables() -> None:
    db.session.rollback()
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        quoted = ", ".join(f'"{name}"' for name in tables)
        db.session.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            db.session.execute(text(f'DELETE FROM "{name}"'))
    db.session.commit()


@pytest.fixture
def app(_migrated_app):
    """The app, inside an app context, with empty tables (and no cached locator) afterwards."""
    _migrated_app.config.update(WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
    with _migrated_app.app_context():
        yield _migrated_app
        db.session.remove()
        _empty_all_tables()
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
