"""API bearer tokens: issue, authenticate, expire, revoke, last use, and the `gridops tokens` CLI."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from gridops.auth.models import ApiToken
from gridops.auth.services import deactivate_user
from gridops.auth.tokens import LAST_USED_RESOLUTION, issue_token, revoke_token, user_for_token
from gridops.db import utcnow
from gridops.errors import NotFound, ValidationFailed
from gridops.extensions import db
from tests.factories import make_user

pytestmark = pytest.mark.usefixtures("app")


def call_api(client, secret: str | None, path: str = "/api/v1/me"):
    """One API request in its own app context, as in production (nothing cached in ``g``)."""
    headers = {"Authorization": f"Bearer {secret}"} if secret is not None else {}
    with client.application.app_context():
        return client.get(path, headers=headers)


def _assert_401_envelope(response, message_part: str):
    assert response.status_code == 401
    body = response.get_json()
    assert body["error"] == "not_authenticated"
    assert message_part in body["message"]
    assert body["fields"] == {}


# --- the service ---------------------------------------------------------------------------


def test_token_is_stored_only_as_its_sha256_digest():
    user = make_user()
    token, secret = issue_token(user, "tablet 07")
    assert secret.startswith("gro_") and len(secret) > 40
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    stored = [getattr(token, column.key) for column in ApiToken.__table__.columns]
    assert secret not in stored
    assert token.prefix == secret[:12]


@pytest.mark.parametrize(
    "name, expires_in, field",
    [("", None, "name"), ("   ", None, "name"), ("x" * 129, None, "name"), ("tablet", timedelta(seconds=-1), "expires_at")],
)
def test_issue_refuses_bad_fields(name, expires_in, field):
    user = make_user()
    expires_at = utcnow() + expires_in if expires_in is not None else None
    with pytest.raises(ValidationFailed) as caught:
        issue_token(user, name, expires_at)
    assert field in caught.value.fields


def test_no_token_for_a_deactivated_user():
    user = make_user(active=False)
    with pytest.raises(ValidationFailed) as caught:
        issue_token(user, "tablet")
    assert "user" in caught.value.fields


def test_last_used_is_written_at_most_once_a_minute():
    user = make_user()
    token, secret = issue_token(user, "tablet")
    start = utcnow()
    assert user_for_token(secret, now=start) == (user, True)
    assert token.last_used_at == start
    later = start + LAST_USED_RESOLUTION - timedelta(seconds=1)
    assert user_for_token(secret, now=later) == (user, False)
    assert token.last_used_at == start
    much_later = start + LAST_USED_RESOLUTION
    assert user_for_token(secret, now=much_later) == (user, True)
    assert token.last_used_at == much_later


def test_revoke_is_idempotent_and_unknown_ids_are_not_found():
    token, _ = issue_token(make_user(), "tablet")
    first = revoke_token(token.id).revoked_at
    assert first is not None
    assert revoke_token(token.id).revoked_at == first
    with pytest.raises(NotFound):
        revoke_token(token.id + 1000)


# --- over HTTP -----------------------------------------------------------------------------


def test_valid_token_reaches_the_api_without_creating_a_session(client):
    user = make_user()
    _, secret = issue_token(user, "tablet 07")
    db.session.commit()
    response = call_api(client, secret)
    assert response.status_code == 200
    assert response.get_json()["username"] == "worker"
    assert response.get_json()["authenticated_by"] == "token"
    assert response.headers.getlist("Set-Cookie") == []
    assert client.get_cookie("session") is None


def test_first_use_records_last_used_and_the_next_call_does_not_write(client):
    _, secret = issue_token(make_user(), "tablet")
    db.session.commit()
    call_api(client, secret)
    db.session.expire_all()
    first = db.session.scalar(select(ApiToken.last_used_at))
    assert first is not None
    call_api(client, secret)
    db.session.expire_all()
    assert db.session.scalar(select(ApiToken.last_used_at)) == first


def test_revoked_token_is_refused(client):
    token, secret = issue_token(make_user(), "tablet")
    db.session.commit()
    assert call_api(client, secret).status_code == 200
    revoke_token(token.id)
    db.session.commit()
    _assert_401_envelope(call_api(client, secret), "unknown, expired or revoked")


def test_expired_token_is_refused(client):
    token, secret = issue_token(make_user(), "tablet", expires_at=utcnow() + timedelta(days=1))
    db.session.commit()
    assert call_api(client, secret).status_code == 200
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    _assert_401_envelope(call_api(client, secret), "unknown, expired or revoked")


def test_unknown_token_is_refused(client):
    make_user()
    db.session.commit()
    _assert_401_envelope(call_api(client, "gro_not-a-token-anyone-was-given"), "unknown, expired or revoked")


def test_token_of_a_deactivated_user_is_refused(client):
    user = make_user()
    _, secret = issue_token(user, "tablet")
    db.session.commit()
    deactivate_user(user)
    db.session.commit()
    _assert_401_envelope(call_api(client, secret), "unknown, expired or revoked")


def test_no_credentials_at_all_is_refused(client):
    _assert_401_envelope(call_api(client, None), "Bearer")


def test_tokens_do_not_open_pages(client):
    _, secret = issue_token(make_user(), "tablet")
    db.session.commit()
    response = client.get("/", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


# --- the CLI -------------------------------------------------------------------------------


def _secret_from(output: str) -> str:
    match = re.search(r"^(gro_\S+)$", output, re.MULTILINE)
    assert match, output
    return match.group(1)


def test_cli_create_prints_the_secret_once_and_it_works(runner, client):
    make_user()
    db.session.commit()
    result = runner.invoke(args=["tokens", "create", "worker", "--name", "tablet 07"])
    assert result.exit_code == 0, result.output
    secret = _secret_from(result.output)
    assert "not shown again" in result.output
    assert "expires -" in result.output
    assert call_api(client, secret).status_code == 200
    listing = runner.invoke(args=["tokens", "list"])
    assert listing.exit_code == 0
    assert "tablet 07" in listing.output and "active" in listing.output
    assert secret[:12] in listing.output
    assert secret not in listing.output


def test_cli_create_with_expiry(runner):
    make_user()
    db.session.commit()
    result = runner.invoke(args=["tokens", "create", "worker", "--name", "pilot", "--expires-in-days", "30"])
    assert result.exit_code == 0, result.output
    expires_at = db.session.scalar(select(ApiToken.expires_at))
    assert timedelta(days=29, hours=23) < expires_at - utcnow() <= timedelta(days=30)


@pytest.mark.parametrize(
    "args, message",
    [
        (["tokens", "create", "ghost", "--name", "tablet"], "no user named ghost"),
        (["tokens", "create", "worker", "--name", "  "], "--name"),
        (["tokens", "create", "worker", "--name", "t", "--expires-in-days", "0"], "--expires-in-days"),
        (["tokens", "create", "worker"], "--name"),
    ],
)
def test_cli_create_refuses_bad_input_and_writes_nothing(runner, args, message):
    make_user()
    db.session.commit()
    result = runner.invoke(args=args)
    assert result.exit_code != 0
    assert message in result.output
    assert db.session.scalar(select(ApiToken.id)) is None


def test_cli_revoke_stops_the_token(runner, client):
    make_user()
    db.session.commit()
    secret = _secret_from(runner.invoke(args=["tokens", "create", "worker", "--name", "tablet"]).output)
    token_id = db.session.scalar(select(ApiToken.id))
    result = runner.invoke(args=["tokens", "revoke", str(token_id)])
    assert result.exit_code == 0, result.output
    assert call_api(client, secret).status_code == 401
    assert "revoked" in runner.invoke(args=["tokens", "list"]).output


def test_cli_revoke_unknown_id_fails(runner):
    result = runner.invoke(args=["tokens", "revoke", "999"])
    assert result.exit_code != 0
    assert "no API token with id 999" in result.output


def test_cli_list_filters_by_user(runner):
    issue_token(make_user(), "worker tablet")
    issue_token(make_user("dispatcher", role="dispatcher"), "dispatch desk")
    db.session.commit()
    result = runner.invoke(args=["tokens", "list", "--user", "dispatcher"])
    assert result.exit_code == 0
    assert "dispatch desk" in result.output
    assert "worker tablet" not in result.output
