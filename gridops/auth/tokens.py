"""API bearer tokens: issue, look up (by digest), revoke."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from gridops.auth.models import ApiToken, User
from gridops.db import reused_statement, utcnow
from gridops.errors import NotFound, ValidationFailed
from gridops.extensions import db
from gridops.versions import remember_versions, version_columns

TOKEN_PREFIX = "gro_"
MAX_NAME_LENGTH = 128

#: ``last_used_at`` is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def digest(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored and looked up."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    user: User, name: str, expires_at: datetime | None = None, now: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the record and the secret, shown only once."""
    now = now or utcnow()
    name = (name or "").strip()
    problems: dict[str, str] = {}
    if not name:
        problems["name"] = "a token needs a name (e.g. the tablet's label)"
    elif len(name) > MAX_NAME_LENGTH:
        problems["name"] = f"at most {MAX_NAME_LENGTH} characters"
    if expires_at is not None and expires_at <= now:
        problems["expires_at"] = "must lie in the future"
    if not user.active:
        problems["user"] = f"{user.username} is deactivated"
    if problems:
        raise ValidationFailed("the token cannot be issued", problems)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=name,
        token_hash=digest(secret),
        prefix=secret[:12],
        created_at=now,
        expires_at=expires_at,
    )
    db.session.add(token)
    db.session.flush()
    return token, secret


@reused_statement
def _token_query(_dialect: str):
    # The user and their area (scope checks) come in the same query, and the cache tokens
    # every request needs: an API call pays one statement for all three.
    return (
        select(ApiToken, *version_columns())
        .where(ApiToken.token_hash == bindparam("token_hash"))
        .options(joinedload(ApiToken.user).joinedload(User.area))
    )


def user_for_token(secret: str, now: datetime | None = None) -> tuple[User | None, bool]:
    """The active user behind a valid token (or None), and whether ``last_used_at`` was updated."""
    now = now or utcnow()
    row = db.session.execute(_token_query(), {"token_hash": digest(secret)}).first()
    if row is None:
        return None, False
    token = row[0]
    if not token.is_valid(now) or not token.user.active:
        return None, False
    remember_versions(row[1:])
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return token.user, False
    token.last_used_at = now
    db.session.flush()
    return token.user, True


def revoke_token(token_id: int, now: datetime | None = None) -> ApiToken:
    """Revoke a token at once; revoking it again changes nothing."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no API token with id {token_id}")
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
        db.session.flush()
    return token


def list_tokens(user: User | None = None) -> list[ApiToken]:
    """Tokens, oldest first, optionally only those of ``user``."""
    query = select(ApiToken).order_by(ApiToken.id)
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return list(db.session.scalars(query))
