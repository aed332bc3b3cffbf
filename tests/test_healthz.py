"""/healthz: 200 when the database answers, 503 with JSON when it does not."""

from __future__ import annotations

import pytest

from gridops import create_app
from gridops.extensions import db


def test_healthy_with_the_database_reachable(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize(
    "database_url",
    [
        pytest.param("sqlite:////nonexistent-gridops-dir/cannot/open.sqlite3", id="unopenable-sqlite"),
        pytest.param("postgresql+psycopg://postgres@127.0.0.1:1/gridops", id="unreachable-postgresql"),
    ],
)
def test_unavailable_when_the_database_is_not(app, database_url, caplog):
    broken = create_app(
        {
            "GRIDOPS_MODE": "testing",
            "TESTING": True,
            "SECRET_KEY": app.config["SECRET_KEY"],
            "SQLALCHEMY_DATABASE_URI": database_url,
            "GRIDOPS_MEDIA_DIR": app.config["GRIDOPS_MEDIA_DIR"],
        }
    )
    try:
        response = broken.test_client().get("/healthz")
    finally:
        with broken.app_context():
            db.engine.dispose()
    assert response.status_code == 503
    assert response.is_json
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}
    assert "health check failed" in caplog.text

