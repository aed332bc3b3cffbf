"""Home, language choice and the health check."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, request, session, url_for
from flask_login import current_user, login_required
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from gridops.auth import permissions
from gridops.auth.services import set_locale
from gridops.auth.sessions import safe_next_url
from gridops.cases.views import CASE_ROLES
from gridops.errors import ValidationFailed
from gridops.extensions import db, limiter

bp = Blueprint("web", __name__)


#: Where each user starts: the first workspace of this list they may open.
HOME_WORKSPACES = (
    (permissions.can_use_tablet, "tablet.home"),
    (permissions.can_take_hotline_calls, "hotline.desk"),
    (permissions.can_use_command_centre, "workspaces.command"),
    (permissions.can_use_unit_inbox, "workspaces.inbox"),
    (permissions.can_use_leader_view, "workspaces.leader"),
    (permissions.is_admin, "admin.index"),
    (permissions.can_manage_notices, "evaluation.notice_list"),
)


@bp.route("/")
@login_required
def home():
    """Everyone starts in the workspace of their role; anyone else on the case list or the map."""
    for may_open, endpoint in HOME_WORKSPACES:
        if may_open(current_user):
            return redirect(url_for(endpoint))
    if current_user.role_enum in CASE_ROLES:
        return redirect(url_for("cases.case_list"))
    return redirect(url_for("territory.map_page"))


@bp.route("/language", methods=["POST"])
def set_language():
    """Switch the interface language; stored on the user when signed in."""
    locale = request.form.get("locale", "")
    if locale not in current_app.config["GRIDOPS_LANGUAGES"]:
        raise ValidationFailed.field("locale", "choose zh or en")
    session["locale"] = locale
    if current_user.is_authenticated:
        set_locale(current_user, locale)
        db.session.commit()
    return redirect(safe_next_url(request.form.get("next")) or url_for("web.home"))


@bp.route("/healthz")
@limiter.exempt
def healthz():
    """200 when the database answers, 503 otherwise (for load balancers and monitors)."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        current_app.logger.warning("health check failed: %s", exc)
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503
    return jsonify({"status": "ok", "database": "ok"})
