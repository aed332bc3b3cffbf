"""API endpoint for the caller's own identity: lets a tablet check its token and scope."""

from __future__ import annotations

from flask import g, jsonify
from flask_login import current_user

from gridops.api import bp


@bp.get("/me")
def me():
    """Who the caller is, how they authenticated, and the area/department they are scoped to."""
    user = current_user
    return jsonify(
        {
            "id": user.id,
            "username": user.username,
            "full_name": user.full_name,
            "role": user.role,
            "area": user.area.code if user.area else None,
            "department": user.department.code if user.department else None,
            "locale": user.locale,
            "authenticated_by": "token" if g.get("authenticated_by_token") else "session",
        }
    )
