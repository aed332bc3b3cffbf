"""Sign-in and sign-out, safe redirects, cookies, session rules, CSRF and sign-in throttling."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest
from flask import Blueprint, jsonify
from sqlalchemy import select

from gridops import create_app
from gridops.api import authenticate as api_authenticate
from gridops.auth.models import User
from gridops.auth.services import deactivate_user, set_password
from gridops.auth.sessions import safe_next_url
from gridops.auth.tokens import issue_token
from gridops.extensions import csrf, db
from tests.factories import DX, DY, PASSWORD, X0, Y0, make_small_city, make_user

#: A write-only API route for the CSRF tests, mounted under /api/ like the real API.
probe = Blueprint("csrf_probe", __name__, url_prefix="/api/v1/probe")
csrf.exempt(probe)
probe.before_request(api_authenticate)


@probe.post("/")
def probe_write():
    return jsonify({"written": True})


@contextmanager
def sibling_app(app, testing=True, **overrides):
    """Another app on the session's database, by default with the test settings of conftest."""
    config = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "GRIDOPS_MEDIA_DIR")}
    if testing:
        config.update(
            GRIDOPS_MODE="testing",
            TESTING=True,
            SECRET_KEY=app.config["SECRET_KEY"],
            WTF_CSRF_ENABLED=False,
            RATELIMIT_ENABLED=False,
            SESSION_COOKIE_SECURE=False,
            REMEMBER_COOKIE_SECURE=False,
        )
    config.update(overrides)
    other = create_app(config)
    try:
        yield other
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(autouse=True)
def _english(client):
    """Pages in English so that assertions read the message ids (zh is checked where it matters)."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def english_client(app):
    browser = app.test_client()
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return browser


def csrf_token_from(response) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.get_data(as_text=True))
    assert match, "the page carries no csrf_token field"
    return match.group(1)


def set_cookie_headers(response, name: str) -> list[str]:
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith(name + "=")]


def who_am_i(client, **kwargs):
    """GET /api/v1/me in a fresh app context, as a real request (nothing cached in ``g``)."""
    with client.application.app_context():
        return client.get("/api/v1/me", **kwargs)


# --- signing in and out -------------------------------------------------------------


def test_login_page_shows_the_form(client):
    response = client.get("/login")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for field in ("username", "password", "remember"):
        assert f'name="{field}"' in page


def test_login_starts_a_session_and_records_the_time(client, auth):
    user = make_user()
    db.session.commit()
    assert user.last_login_at is None
    response = auth.login()
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    me = who_am_i(client)
    assert me.status_code == 200
    assert me.get_json()["username"] == "worker"
    assert me.get_json()["authenticated_by"] == "session"
    db.session.expire_all()
    assert db.session.get(User, user.id).last_login_at is not None


@pytest.mark.parametrize("username, password", [("worker", "wrong-password"), ("nobody", PASSWORD)])
def test_wrong_credentials_are_refused_alike(client, auth, username, password):
    make_user()
    db.session.commit()
    response = auth.login(username, password)
    assert response.status_code == 401
    assert "Wrong username or password." in response.get_data(as_text=True)
    assert who_am_i(client).status_code == 401


def test_inactive_user_is_refused_even_with_the_right_password(client, auth):
    make_user(active=False)
    db.session.commit()
    response = auth.login()
    assert response.status_code == 403
    assert "deactivated" in response.get_data(as_text=True)
    assert who_am_i(client).status_code == 401
    assert db.session.scalar(select(User.last_login_at)) is None


def test_empty_form_is_a_bad_request(client):
    response = client.post("/login", data={"username": "", "password": ""})
    assert response.status_code == 400


def test_signed_in_user_visiting_login_goes_home(client, auth):
    make_user()
    db.session.commit()
    auth.login()
    response = client.get("/login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_pages_send_anonymous_users_to_login_with_next(client, auth):
    make_user()
    db.session.commit()
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2F"
    response = client.post("/login?next=%2F", data={"username": "worker", "password": PASSWORD})
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/map", "/map"),
        ("/map?layer=1#grid", "/map?layer=1#grid"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("map", "/"),
        ("/%0d%0aSet-Cookie:x=1", "/%0d%0aSet-Cookie:x=1"),
    ],
)
def test_next_redirects_only_to_paths_on_this_site(client, target, expected):
    make_user()
    db.session.commit()
    response = client.post(
        "/login", query_string={"next": target}, data={"username": "worker", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == expected


@pytest.mark.parametrize(
    "target", ["/a\r\nLocation: https://evil.example", "/\tevil", "", None, "https:/evil.example"]
)
def test_safe_next_url_refuses_control_characters_and_schemes(target):
    assert safe_next_url(target) is None


def test_language_switch_uses_the_same_redirect_rule(client):
    response = client.post("/language", data={"locale": "en", "next": "//evil.example/"})
    assert response.headers["Location"] == "/"
    response = client.post("/language", data={"locale": "en", "next": "/login"})
    assert response.headers["Location"] == "/login"


def test_logout_is_a_post_that_ends_the_session(client, auth):
    make_user()
    db.session.commit()
    auth.login()
    assert client.get("/logout").status_code == 405
    assert who_am_i(client).status_code == 200
    response = auth.logout()
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert who_am_i(client).status_code == 401


def test_deactivating_a_user_ends_their_session(client, auth):
    user = make_user()
    db.session.commit()
    auth.login()
    deactivate_user(user)
    db.session.commit()
    assert who_am_i(client).status_code == 401


def test_new_password_ends_open_sessions_and_remember_cookies(app, auth):
    user = make_user()
    db.session.commit()
    browser = english_client(app)
    browser.post("/login", data={"username": "worker", "password": PASSWORD, "remember": "y"})
    assert who_am_i(browser).status_code == 200
    set_password(user, "a-brand-new-password")
    db.session.commit()
    assert who_am_i(browser).status_code == 401
    browser.delete_cookie("session")
    assert who_am_i(browser).status_code == 401
    response = browser.post(
        "/login", data={"username": "worker", "password": "a-brand-new-password"}
    )
    assert response.status_code == 302


def test_remember_cookie_alone_signs_the_user_back_in(app):
    make_user()
    db.session.commit()
    browser = english_client(app)
    browser.post("/login", data={"username": "worker", "password": PASSWORD, "remember": "y"})
    browser.delete_cookie("session")
    assert who_am_i(browser).status_code == 200


# --- cookies and session rules ----------------------------------------------------------


def test_cookies_are_httponly_and_samesite_lax_with_a_bounded_lifetime(client):
    make_user()
    db.session.commit()
    response = client.post("/login", data={"username": "worker", "password": PASSWORD, "remember": "y"})
    (session_cookie,) = set_cookie_headers(response, "session")
    (remember_cookie,) = set_cookie_headers(response, "remember_token")
    for header in (session_cookie, remember_cookie):
        assert "HttpOnly" in header
        assert "SameSite=Lax" in header
    assert "Expires=" not in session_cookie  # ends with the browser, and after 12 h server-side
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", remember_cookie).group(1))
    assert timedelta(days=13, hours=23) < expires - datetime.now(timezone.utc) <= timedelta(days=14)


def test_cookies_are_secure_outside_demo_and_tests(app, monkeypatch):
    for name in ("GRIDOPS_MODE", "GRIDOPS_SECURE_COOKIES"):
        monkeypatch.delenv(name, raising=False)
    make_user()
    db.session.commit()
    with sibling_app(
        app, testing=False, GRIDOPS_MODE="production", SECRET_KEY="a-production-secret-of-enough-length"
    ) as production:
        browser = english_client(production)
        https = {"base_url": "https://gridops.example", "headers": {"Referer": "https://gridops.example/login"}}
        token = csrf_token_from(browser.get("/login", **https))
        response = browser.post(
            "/login",
            data={"username": "worker", "password": PASSWORD, "remember": "y", "csrf_token": token},
            **https,
        )
        assert response.status_code == 302
        for name in ("session", "remember_token"):
            (header,) = set_cookie_headers(response, name)
            assert "Secure" in header and "HttpOnly" in header and "SameSite=Lax" in header


def test_basic_session_protection_keeps_a_roaming_tablet_signed_in(client, auth):
    make_user()
    db.session.commit()
    auth.login()
    response = who_am_i(client, environ_base={"REMOTE_ADDR": "10.9.8.7"}, headers={"User-Agent": "Tablet/2"})
    assert response.status_code == 200


def test_strong_session_protection_ends_a_session_seen_elsewhere(app, client, auth, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_PROTECTION", "strong")
    make_user()
    db.session.commit()
    auth.login()
    assert who_am_i(client).status_code == 200
    response = who_am_i(client, environ_base={"REMOTE_ADDR": "10.9.8.7"}, headers={"User-Agent": "Elsewhere/1"})
    assert response.status_code == 401


# --- CSRF --------------------------------------------------------------------------------


def test_form_post_without_csrf_token_is_refused_with_a_message(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    make_user()
    db.session.commit()
    response = client.post("/login", data={"username": "worker", "password": PASSWORD})
    assert response.status_code == 400
    assert "Reload the page and try again." in response.get_data(as_text=True)
    assert who_am_i(client).status_code == 401


def test_form_post_without_csrf_token_gets_the_json_envelope_when_asked(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post(
        "/language", data={"locale": "en"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "csrf_failed"
    assert body["message"]
    assert body["fields"] == {}


def test_login_and_logout_with_csrf_tokens(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    make_user()
    db.session.commit()
    token = csrf_token_from(client.get("/login"))
    response = client.post(
        "/login", data={"username": "worker", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    assert client.post("/logout").status_code == 400
    assert who_am_i(client).status_code == 200
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert who_am_i(client).status_code == 401


@pytest.fixture
def csrf_probe_app(app):
    """An app with CSRF on and a write-only route under /api/ guarded like the real API."""
    make_user()
    db.session.commit()
    with sibling_app(app, WTF_CSRF_ENABLED=True) as probe_app:
        probe_app.register_blueprint(probe)
        yield probe_app


def _signed_in_browser(probe_app):
    browser = english_client(probe_app)
    token = csrf_token_from(browser.get("/login"))
    response = browser.post("/login", data={"username": "worker", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return browser, token


def test_api_write_with_session_cookie_needs_a_csrf_token(csrf_probe_app):
    browser, token = _signed_in_browser(csrf_probe_app)
    refused = browser.post("/api/v1/probe/", json={})
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "csrf_failed"
    accepted = browser.post("/api/v1/probe/", json={}, headers={"X-CSRFToken": token})
    assert accepted.status_code == 200
    assert accepted.get_json() == {"written": True}


def test_locate_by_post_with_session_cookie_needs_a_csrf_token(csrf_probe_app):
    make_small_city()
    db.session.commit()
    browser, token = _signed_in_browser(csrf_probe_app)
    position = {"x": X0 + DX / 2, "y": Y0 + DY / 2, "datum": "gcj02"}
    refused = browser.post("/api/v1/locate", json=position)
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "csrf_failed"
    accepted = browser.post("/api/v1/locate", json=position, headers={"X-CSRFToken": token})
    assert accepted.status_code == 200


def test_api_write_with_bearer_token_needs_no_csrf_token(csrf_probe_app):
    with csrf_probe_app.app_context():
        user = db.session.scalar(select(User).where(User.username == "worker"))
        _, secret = issue_token(user, "tablet 07")
        db.session.commit()
    response = csrf_probe_app.test_client().post(
        "/api/v1/probe/", json={}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 200


def test_api_write_without_any_credentials_is_401(csrf_probe_app):
    response = csrf_probe_app.test_client().post("/api/v1/probe/", json={})
    assert response.status_code == 401
    assert response.get_json()["error"] == "not_authenticated"


def test_api_write_with_session_when_csrf_is_switched_off(app):
    make_user()
    db.session.commit()
    with sibling_app(app, WTF_CSRF_ENABLED=False) as probe_app:
        probe_app.register_blueprint(probe)
        browser = english_client(probe_app)
        browser.post("/login", data={"username": "worker", "password": PASSWORD})
        assert browser.post("/api/v1/probe/", json={}).status_code == 200


# --- throttling --------------------------------------------------------------------------


@pytest.fixture
def throttled_app(app):
    """An app on the same database with sign-in throttling on: 3 failed attempts a minute."""
    make_user()
    make_user("dispatcher", role="dispatcher")
    db.session.commit()
    with sibling_app(app, RATELIMIT_ENABLED=True, GRIDOPS_LOGIN_LIMIT="3 per minute") as throttled:
        yield throttled


def _attempt(app, username="worker", password="wrong-password", address="10.0.0.1"):
    return english_client(app).post(
        "/login",
        data={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address, "HTTP_ACCEPT_LANGUAGE": "en"},
    )


def test_attempt_after_the_limit_from_one_address_is_refused(throttled_app):
    for username in ("worker", "dispatcher", "nobody"):
        assert _attempt(throttled_app, username).status_code == 401
    refused = _attempt(throttled_app, "someone-else")
    assert refused.status_code == 429
    assert "Too many sign-in attempts, try again in a minute." in refused.get_data(as_text=True)
    assert 'name="username"' in refused.get_data(as_text=True)
    assert refused.headers["Retry-After"] == "60"
    assert _attempt(throttled_app, "worker", PASSWORD, address="10.0.0.2").status_code == 302


def test_throttled_message_is_translated(throttled_app):
    for username in ("worker", "dispatcher", "nobody"):
        _attempt(throttled_app, username, address="10.0.3.1")
    refused = throttled_app.test_client().post(
        "/login",
        data={"username": "worker", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.0.3.1"},
        headers={"Accept-Language": "zh-CN"},
    )
    assert refused.status_code == 429
    assert "登录尝试次数过多" in refused.get_data(as_text=True)


def test_limit_holds_per_username_across_addresses(throttled_app):
    for n in range(3):
        assert _attempt(throttled_app, address=f"10.0.1.{n}").status_code == 401
    assert _attempt(throttled_app, address="10.0.1.99").status_code == 429
    assert _attempt(throttled_app, " WORKER ", address="10.0.1.98").status_code == 429
    assert _attempt(throttled_app, "dispatcher", PASSWORD, address="10.0.1.97").status_code == 302


def test_right_password_is_refused_while_throttled(throttled_app):
    for n in range(3):
        _attempt(throttled_app, address=f"10.0.2.{n}")
    assert _attempt(throttled_app, password=PASSWORD, address="10.0.2.50").status_code == 429


def test_successful_sign_ins_do_not_use_up_the_limit(throttled_app):
    for _ in range(5):
        assert _attempt(throttled_app, password=PASSWORD).status_code == 302
    assert _attempt(throttled_app).status_code == 401


def test_hourly_limit_says_how_long_to_wait(app):
    make_user()
    db.session.commit()
    with sibling_app(app, RATELIMIT_ENABLED=True, GRIDOPS_LOGIN_LIMIT="2 per hour") as throttled:
        for _ in range(2):
            _attempt(throttled)
        refused = _attempt(throttled)
        assert refused.status_code == 429
        assert "try again in 60 minutes" in refused.get_data(as_text=True)
        assert refused.headers["Retry-After"] == "3600"


def test_throttling_off_in_the_shared_test_app(client):
    make_user()
    db.session.commit()
    for _ in range(12):
        assert client.post("/login", data={"username": "worker", "password": "nope-nope"}).status_code == 401
