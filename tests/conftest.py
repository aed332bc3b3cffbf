"""Shared fixtures: one migrated database per run, emptied after every test.

Set GRIDOPS_TEST_DATABASE_URL to run against PostgreSQL (CI does); the default is a
SQLite file in a temporary folder.
"""

from __future__ import annotations

import os

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from gridops import create_app
from gridops.config import PROJECT_ROOT
from gridops.extensions import db
from gridops.catalogue.cache import reset_reference_data
from gridops.territory.locator import reset_locator
from tests.factories import PASSWORD

TEST_DATABASE_URL = os.environ.get("GRIDOPS_TEST_DATABASE_URL", "")


def _config(tmp_path_factory) -> dict:
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
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
    app = create_app(_config(tmp_path_factory))
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
