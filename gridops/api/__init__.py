"""The JSON API under /api/v1: bearer-token or session auth, one error envelope."""

from __future__ import annotations

from flask import Blueprint, current_app, g, request
from flask_login import current_user

from gridops.auth.sessions import bearer_token
from gridops.errors import NotAuthenticated
from gridops.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@bp.before_request
def authenticate():
    """Every API call needs a user; cookie sessions must also pass CSRF on writes."""
    if not current_user.is_authenticated:
        if bearer_token(request):
            raise NotAuthenticated("the API token is unknown, expired or revoked")
        raise NotAuthenticated("sign in or send 'Authorization: Bearer <token>'")
    if (
        request.method in UNSAFE_METHODS
        and not g.get("authenticated_by_token")
        and current_app.config["WTF_CSRF_ENABLED"]
    ):
        csrf.protect()


from gridops.api import territory  # noqa: E402,F401  (routes register on bp)
from gridops.auth import api as auth_api  # noqa: E402,F401  (routes register on bp)
from gridops.api import catalogue  # noqa: E402,F401  (routes register on bp)
from gridops.api import photos  # noqa: E402,F401  (routes register on bp)
from gridops.api import cases  # noqa: E402,F401  (routes register on bp)
from gridops.api import workspaces  # noqa: E402,F401  (routes register on bp)
from gridops.api import hotline  # noqa: E402,F401  (routes register on bp)
from gridops.api import indicators  # noqa: E402,F401  (routes register on bp)
from gridops.api import openapi  # noqa: E402,F401  (routes register on bp)
from gridops.api import duplicates  # noqa: E402,F401  (routes register on bp)
from gridops.api import supervision  # noqa: E402,F401  (routes register on bp)
from gridops.api import notices  # noqa: E402,F401  (routes register on bp)
