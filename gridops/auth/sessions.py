"""Flask-Login wiring: session users, and bearer-token users for the API."""

from __future__ import annotations

from flask import Flask, g, request
from flask_babel import lazy_gettext as _l

from gridops.auth.models import User
from gridops.auth.tokens import user_for_token
from gridops.extensions import db, login_manager


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        if not user_id.isdigit():
            return None
        user = db.session.get(User, int(user_id))
        return user if user is not None and user.active else None

    @login_manager.request_loader
    def load_user_from_token(req) -> User | None:
        secret = bearer_token()
        if secret is None:
            return None
        user = user_for_token(secret)
        if user is not None:
            g.authenticated_by_token = True
            db.session.commit()
        return user
