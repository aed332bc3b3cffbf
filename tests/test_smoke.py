from tests.factories import make_user


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_login_then_home(client, auth, app):
    make_user()
    from gridops.extensions import db

    db.session.commit()
    response = auth.login()
    assert response.status_code == 302
    assert client.get("/map").status_code == 200
