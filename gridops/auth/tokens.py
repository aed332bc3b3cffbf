"""API bearer tokens: issue, look up (by digest), revoke."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select

from gridops.auth.models import ApiToken, User
from gridops.db import utcnow
from gridops.errors import NotFound, ValidationFailed
from gridops.extensions import db

TOKEN_PREFIX = "gro_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, name: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the record and the secret, shown only once."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed.field("name", "a token needs a name (e.g. the tablet's label)")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user, name=name[:128], token_hash=digest(secret), prefix=secret[:12], expires_at=expires_at
    )
    db.session.add(token)
    db.session.flush()
    return token, secret


def user_for_token(secret: str, now: datetime | None = None) -> User | None:
    """The active user behind a valid token, or None; records the token's last use."""
    now = now or utcnow()
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(secret)))
    if token is None or not token.is_valid(now) or not token.user.active:
        return None
    token.last_used_at = now
    return token.user


def revoke_token(token_id: int, now: datetime | None = None) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no API token with id {token_id}")
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
    return token
