"""Configuration: environment parsing with clear errors, and refusing to start without a real SECRET_KEY."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from flask import request

from gridops import create_app
from gridops.config import check_config, load_config
from gridops.errors import ConfigurationError
from gridops.extensions import db
from tests.factories import make_user

STRONG_KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No gridops variables from the surrounding shell; the instance folder in a temporary place."""
    for name in list(os.environ):
        if name.startswith("GRIDOPS_") or name == "SECRET_KEY":
            monkeypatch.delenv(name)
    monkeypatch.setenv("GRIDOPS_INSTANCE_PATH", str(tmp_path / "instance"))
    return monkeypatch


def _app_config(tmp_path, **overrides) -> dict:
    return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'config.sqlite3'}", **overrides}


def test_production_refuses_to_start_without_secret_key(clean_env, tmp_path):
    with pytest.raises(ConfigurationError, match="SECRET_KEY must be set to a long random value"):
        create_app(_app_config(tmp_path))


def test_production_refuses_a_short_secret_key(clean_env, tmp_path):
    clean_env.setenv("SECRET_KEY", "dev")
    with pytest.raises(ConfigurationError, match="16\\+ characters"):
        create_app(_app_config(tmp_path))


def test_production_starts_with_a_real_secret_key(clean_env, tmp_path):
    clean_env.setenv("SECRET_KEY", STRONG_KEY)
    app = create_app(_app_config(tmp_path))
    try:
        assert app.config["GRIDOPS_MODE"] == "production"
        assert app.secret_key == STRONG_KEY
        assert app.config["SESSION_COOKIE_SECURE"] is True
        assert app.config["REMEMBER_COOKIE_SECURE"] is True
        assert not app.testing
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("mode", ["demo", "testing", "development"])
def test_demo_tests_and_development_start_without_secret_key(clean_env, tmp_path, mode):
    clean_env.setenv("GRIDOPS_MODE", mode)
    app = create_app(_app_config(tmp_path))
    with app.app_context():
        db.engine.dispose()
    assert app.config["GRIDOPS_MODE"] == mode


def test_gridops_secret_key_is_accepted_too(clean_env):
    clean_env.setenv("GRIDOPS_SECRET_KEY", STRONG_KEY)
    check_config(load_config())


def test_defaults():
    cfg = load_config({})
    assert cfg["GRIDOPS_MODE"] == "production"
    assert cfg["SESSION_COOKIE_HTTPONLY"] and cfg["REMEMBER_COOKIE_HTTPONLY"]
    assert cfg["SESSION_COOKIE_SAMESITE"] == cfg["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    assert cfg["SESSION_COOKIE_SECURE"] and cfg["REMEMBER_COOKIE_SECURE"]
    assert cfg["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=12)
    assert cfg["REMEMBER_COOKIE_DURATION"] == timedelta(days=14)
    assert cfg["SESSION_PROTECTION"] == "basic"
    assert cfg["GRIDOPS_LOGIN_LIMIT"] == "10 per minute; 50 per hour"
    assert cfg["RATELIMIT_STORAGE_URI"] == "memory://"
    assert cfg["RATELIMIT_ENABLED"] is True
    assert cfg["GRIDOPS_PROXY_HOPS"] == 0
    assert cfg["GRIDOPS_OPEN311_JURISDICTION"] == ""  # the request's host name stands in
    assert "TESTING" not in cfg


@pytest.mark.parametrize(
    "mode, secure", [("production", True), ("development", True), ("demo", False), ("testing", False)]
)
def test_cookies_are_secure_outside_demo_and_tests(mode, secure):
    cfg = load_config({"GRIDOPS_MODE": mode})
    assert cfg["SESSION_COOKIE_SECURE"] is secure
    assert cfg["REMEMBER_COOKIE_SECURE"] is secure


def test_values_from_the_environment():
    cfg = load_config(
        {
            "GRIDOPS_MODE": " Demo ",
            "GRIDOPS_SECURE_COOKIES": "yes",
            "GRIDOPS_SESSION_HOURS": "8",
            "GRIDOPS_REMEMBER_DAYS": "30",
            "GRIDOPS_SESSION_PROTECTION": "strong",
            "GRIDOPS_LOGIN_LIMIT": "5 per minute",
            "GRIDOPS_RATELIMIT_STORAGE_URL": "redis://cache.internal:6379/2",
            "GRIDOPS_RATELIMIT_ENABLED": "off",
            "GRIDOPS_PROXY_HOPS": "1",
            "GRIDOPS_DATABASE_URL": "postgresql+psycopg://gridops@db/gridops",
            "GRIDOPS_DB_CONNECT_TIMEOUT": "3",
            "GRIDOPS_OPEN311_JURISDICTION": " LuoYang.gov.cn ",
        }
    )
    assert cfg["GRIDOPS_MODE"] == "demo"
    assert cfg["SESSION_COOKIE_SECURE"] is True
    assert cfg["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=8)
    assert cfg["REMEMBER_COOKIE_DURATION"] == timedelta(days=30)
    assert cfg["SESSION_PROTECTION"] == "strong"
    assert cfg["GRIDOPS_LOGIN_LIMIT"] == "5 per minute"
    assert cfg["RATELIMIT_STORAGE_URI"] == "redis://cache.internal:6379/2"
    assert cfg["RATELIMIT_ENABLED"] is False
    assert cfg["GRIDOPS_PROXY_HOPS"] == 1
    assert cfg["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"] == {"connect_timeout": 3}
    assert cfg["GRIDOPS_OPEN311_JURISDICTION"] == "luoyang.gov.cn"


def test_sqlite_gets_no_postgresql_connect_options(tmp_path):
    cfg = load_config({"GRIDOPS_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"})
    assert cfg["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": True}


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("GRIDOPS_MODE", "prod", "GRIDOPS_MODE must be one of production, development, demo, testing, not 'prod'"),
        ("GRIDOPS_SECURE_COOKIES", "maybe", "GRIDOPS_SECURE_COOKIES must be one of 1/0"),
        ("GRIDOPS_RATELIMIT_ENABLED", "2", "GRIDOPS_RATELIMIT_ENABLED must be one of 1/0"),
        ("GRIDOPS_SESSION_HOURS", "twelve", "GRIDOPS_SESSION_HOURS must be a whole number, not 'twelve'"),
        ("GRIDOPS_SESSION_HOURS", "0", "GRIDOPS_SESSION_HOURS must be at least 1, not 0"),
        ("GRIDOPS_REMEMBER_DAYS", "-3", "GRIDOPS_REMEMBER_DAYS must be at least 1"),
        ("GRIDOPS_PROXY_HOPS", "1.5", "GRIDOPS_PROXY_HOPS must be a whole number"),
        ("GRIDOPS_GRID_AREA_M2", "0", "GRIDOPS_GRID_AREA_M2 must be at least 1"),
        ("GRIDOPS_DB_CONNECT_TIMEOUT", "0", "GRIDOPS_DB_CONNECT_TIMEOUT must be at least 1"),
        ("GRIDOPS_SESSION_PROTECTION", "paranoid", "GRIDOPS_SESSION_PROTECTION must be one of basic, strong"),
        ("GRIDOPS_DEFAULT_LOCALE", "fr", "GRIDOPS_DEFAULT_LOCALE must be one of zh, en"),
        ("GRIDOPS_LOGIN_LIMIT", "lots", "GRIDOPS_LOGIN_LIMIT must be a rate such as"),
        ("GRIDOPS_RATELIMIT_STORAGE_URL", "localhost:6379", "GRIDOPS_RATELIMIT_STORAGE_URL must be a storage URL"),
    ],
)
def test_bad_values_are_named_clearly(name, value, message):
    with pytest.raises(ConfigurationError) as caught:
        load_config({name: value})
    assert message in str(caught.value)


def test_bad_environment_stops_the_app_factory(clean_env, tmp_path):
    clean_env.setenv("GRIDOPS_MODE", "testing")
    clean_env.setenv("GRIDOPS_SESSION_HOURS", "a day")
    with pytest.raises(ConfigurationError, match="GRIDOPS_SESSION_HOURS"):
        create_app(_app_config(tmp_path))


def test_unknown_mode_given_directly_is_refused(clean_env, tmp_path):
    with pytest.raises(ConfigurationError, match="GRIDOPS_MODE must be one of"):
        create_app(_app_config(tmp_path, GRIDOPS_MODE="staging", SECRET_KEY=STRONG_KEY))


def test_proxy_hops_take_the_client_address_from_the_proxy(clean_env, tmp_path):
    clean_env.setenv("GRIDOPS_MODE", "testing")
    app = create_app(_app_config(tmp_path, GRIDOPS_PROXY_HOPS=1))
    seen = {}

    @app.get("/_address")
    def address():
        seen["addr"], seen["scheme"] = request.remote_addr, request.scheme
        return ""

    app.test_client().get(
        "/_address", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    )
    with app.app_context():
        db.engine.dispose()
    assert seen == {"addr": "203.0.113.9", "scheme": "https"}


def test_an_oversized_request_gets_a_413_envelope(app, client):
    make_user()
    db.session.commit()
    client.post("/login", data={"username": "worker", "password": "correct-horse-battery"})
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        response = client.post("/api/v1/locate", data=b"x" * 4096, content_type="application/json")
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 100 * 1024 * 1024
    assert response.status_code == 413
    assert response.get_json()["error"] == "request_entity_too_large"


def test_request_size_limit_comes_from_the_environment():
    assert load_config({"GRIDOPS_MAX_REQUEST_MB": "5"})["MAX_CONTENT_LENGTH"] == 5 * 1024 * 1024
    with pytest.raises(ConfigurationError, match="GRIDOPS_MAX_REQUEST_MB"):
        load_config({"GRIDOPS_MAX_REQUEST_MB": "lots"})
