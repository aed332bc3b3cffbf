"""Home, language choice and the health check."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, request, session, url_for
from flask_login import current_user, login_required
from sqlalchemy import text

from gridops.errors import ValidationFailed
from gridops.extensions import csrf, db, limiter

bp = Blueprint("web", __name__)


@bp.route("/")
@login_required
def home():
    return redirect(url_for("territory.map_page"))


@bp.route("/language", methods=["POST"])
def set_language():
    """Switch the interface language; stored on the user when signed in."""
    locale = request.form.get("locale", "")
    if locale not in current_app.config["GRIDOPS_LANGUAGES"]:
        raise ValidationFailed.field("locale", "choose zh or en")
    session["locale"] = locale
    if current_user.is_authenticated:
        current_user.locale = locale
        db.session.commit()
    target = request.form.get("next") or ""
    return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("web.home"))


@bp.route("/healthz")
@csrf.exempt
@limiter.exempt
def healthz():
    """200 when the database answers, 503 otherwise (for load balancers and monitors)."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not healthy"
        db.session.rollback()
        current_app.logger.warning("health check failed: %s", exc)
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503
    return jsonify({"status": "ok", "database": "ok"})
