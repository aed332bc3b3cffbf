"""Sign in and sign out, with sign-in attempts throttled per client address and per username."""

from __future__ import annotations

import math

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_limiter import RateLimitExceeded
from flask_login import current_user, login_required, login_user, logout_user

from gridops.auth.forms import LoginForm
from gridops.auth.services import sign_in
from gridops.auth.sessions import safe_next_url
from gridops.errors import NotAllowed, NotAuthenticated
from gridops.extensions import db, limiter

bp = Blueprint("auth", __name__)


def _login_limit() -> str:
    return current_app.config["GRIDOPS_LOGIN_LIMIT"]


def _username_key() -> str:
    return "login-user:" + (request.form.get("username") or "").strip().lower()


def _limits_disabled() -> bool:
    # One Limiter object serves every app the factory builds; each app's own setting decides.
    return not current_app.config.get("RATELIMIT_ENABLED", True)


def _failed_attempt(response: Response) -> bool:
    # A successful sign-in redirects; only the rest count, so an office behind one
    # address is not locked out by its own morning sign-ins.
    return response.status_code != 302


def _throttle(key_func=None):
    """A limit on failed sign-ins counted per ``key_func`` (default: the client address)."""
    return limiter.limit(
        _login_limit,
        key_func=key_func,
        methods=["POST"],
        exempt_when=_limits_disabled,
        deduct_when=_failed_attempt,
    )


@bp.errorhandler(RateLimitExceeded)
def too_many_attempts(exc: RateLimitExceeded):
    """The sign-in page again, saying why and for how long, with 429 and Retry-After."""
    seconds = exc.limit.limit.get_expiry()
    if seconds <= 60:
        message = _("Too many sign-in attempts, try again in a minute.")
    else:
        message = _(
            "Too many sign-in attempts, try again in %(minutes)d minutes.", minutes=math.ceil(seconds / 60)
        )
    flash(message, "error")
    response = current_app.make_response((render_template("auth/login.html", form=LoginForm()), 429))
    response.headers["Retry-After"] = str(seconds)
    return response


@bp.route("/login", methods=["GET", "POST"])
@_throttle()
@_throttle(key_func=_username_key)
def login():
    """Show the sign-in form; on valid credentials start a session and go to ``next``."""
    if current_user.is_authenticated:
        return redirect(url_for("web.home"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400 if form.errors else 200
    try:
        user = sign_in(form.username.data, form.password.data)
    except NotAuthenticated:
        flash(_("Wrong username or password."), "error")
        return render_template("auth/login.html", form=form), 401
    except NotAllowed:
        flash(_("This account is deactivated. Ask an administrator to reactivate it."), "error")
        return render_template("auth/login.html", form=form), 403
    login_user(user, remember=form.remember.data)
    db.session.commit()
    return redirect(safe_next_url(request.args.get("next")) or url_for("web.home"))


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """End the session and forget the remember cookie."""
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))
