"""Flask-Login wiring: session users, bearer-token users for the API, safe redirects."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Request, g
from flask_babel import lazy_gettext as _l
from flask_login import AnonymousUserMixin, current_user

from gridops.auth.models import User
from gridops.auth.tokens import user_for_token
from gridops.extensions import db, login_manager

#: Bearer tokens authenticate only here; pages use the session cookie.
API_PATH_PREFIX = "/api/"


def bearer_token(req: Request) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, if any."""
    scheme, _, value = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def caller() -> User | AnonymousUserMixin:
    """The request's user itself, not Flask-Login's ``current_user`` proxy.

    A service consults its actor dozens of times per request; each read through the proxy
    looks the user up again in the request context. Resolve it once and pass this on.
    """
    return current_user._get_current_object()


def safe_next_url(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (no open redirects).

    Browsers read a backslash as a slash, so ``/\\evil.example`` means ``//evil.example``.
    """
    if not target or "\\" in target or any(ord(char) < 32 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _load_session_user(session_id: str) -> User | None:
    user_id, _, _stamp = session_id.partition(":")
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or not user.matches_session_id(session_id):
        return None
    return user


def _load_token_user(req: Request) -> User | None:
    if not req.path.startswith(API_PATH_PREFIX):
        return None
    secret = bearer_token(req)
    if secret is None:
        return None
    user, touched = user_for_token(secret)
    if user is None:
        return None
    if touched:
        db.session.commit()
    g.authenticated_by_token = True
    return user


def init_login(app: Flask) -> None:
    """Bind Flask-Login: cookie sessions for pages, bearer tokens under /api/."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.user_loader(_load_session_user)
    login_manager.request_loader(_load_token_user)
