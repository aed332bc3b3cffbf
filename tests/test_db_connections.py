"""The database going away: a dropped pooled connection is replaced unnoticed; an unreachable
database gives 503 "try again" (JSON envelope or page), never a 500.

On PostgreSQL the connections are dropped for real (``pg_terminate_backend``), as a restart would.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from gridops.app import create_app
from gridops.auth.tokens import issue_token
from gridops.extensions import db
from tests.conftest import TEST_DATABASE_URL
from tests.factories import make_small_city, make_user

#: The connections under test carry this name, so that only they are dropped.
VICTIM = {"application_name": "gridops-test-victim"}
KEYS = ("GRIDOPS_MODE", "TESTING", "SECRET_KEY", "WTF_CSRF_ENABLED", "RATELIMIT_ENABLED", "GRIDOPS_MEDIA_DIR")


def _app_like(app, **config):
    return create_app({**{key: app.config[key] for key in KEYS}, **config})


def _drop_connections(url: str) -> int:
    """Terminate the sessions under test, as a server restart would."""
    killer = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with killer.connect() as connection:
            return len(connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"
            ), {"name": VICTIM["application_name"]}).all())
    finally:
        killer.dispose()


@pytest.mark.skipif(not TEST_DATABASE_URL.startswith("postgresql"), reason="needs PostgreSQL")
def test_a_pooled_connection_dropped_by_the_server_is_replaced_before_use(app):
    make_small_city()
    _, secret = issue_token(make_user("tablet_user", "grid_worker"), "tablet")
    db.session.commit()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    options = {**app.config["SQLALCHEMY_ENGINE_OPTIONS"], "connect_args": VICTIM}
    other = _app_like(app, SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS=options)
    client = other.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    try:
        assert client.get("/api/v1/cases", headers=headers).status_code == 200
        assert _drop_connections(url) == 1
        assert client.get("/api/v1/cases", headers=headers).status_code == 200
    finally:
        with other.app_context():
            db.engine.dispose()


@pytest.fixture
def unreachable(app):
    """The app on a PostgreSQL server that does not answer (nothing listens on the port)."""
    other = _app_like(
        app,
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://gridops@127.0.0.1:9/gridops",
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 1}},
    )
    yield other.test_client()
    with other.app_context():
        db.engine.dispose()


def test_an_api_call_while_the_database_is_away_gets_503(unreachable):
    response = unreachable.get("/api/v1/cases", headers={"Authorization": "Bearer gro_whatever"})
    assert response.status_code == 503
    assert response.get_json()["error"] == "database_unavailable"


def test_signing_in_while_the_database_is_away_says_try_again(unreachable):
    response = unreachable.post("/login", data={"username": "worker", "password": "secret-password"})
    assert response.status_code == 503
    assert "暂时无法连接数据库" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/api/v1/cases?q=%00", "/api/v1/hotline/places?q=a%00b", "/cases?q=%00"])
def test_a_nul_character_in_a_query_is_refused_before_any_database(client, auth, path):
    """PostgreSQL cannot store NUL in text: such a parameter is a clear 422, never a 500."""
    make_small_city()
    make_user("worker", "grid_worker")
    db.session.commit()
    auth.login()
    response = client.get(path, headers={"Accept": "application/json"})
    assert response.status_code == 422
    assert response.get_json()["fields"] == {"q": "不能包含 NUL 字符"}
