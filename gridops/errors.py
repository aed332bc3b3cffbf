"""The domain error family and its one translation to HTTP: JSON envelope or flashed message.

API responses (paths under /api/) use the envelope
``{"error": code, "message": text, "fields": {field: reason}}``; pages flash the message
and go back to where the user came from.
"""

from __future__ import annotations

from flask import Flask, flash, jsonify, redirect, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException


class ConfigurationError(RuntimeError):
    """The app cannot start with this configuration."""


class DomainError(Exception):
    """Base of every error a user can cause; carries an HTTP status and a stable code."""

    status = 400
    code = "domain_error"

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}

    def to_dict(self) -> dict:
        return {"error": self.code, "message": self.message, "fields": self.fields}


class ValidationFailed(DomainError):
    """Input that does not meet the rules; ``fields`` names each offending field."""

    status = 422
    code = "validation_failed"

    def __init__(self, message: str, fields: dict[str, str] | None = None, **extra):
        super().__init__(message, fields)
        self.extra = extra

    @classmethod
    def field(cls, field: str, reason: str) -> "ValidationFailed":
        return cls(f"{field}: {reason}", {field: reason})

    def to_dict(self) -> dict:
        data = super().to_dict()
        data.update(self.extra)
        return data


class NotFound(DomainError):
    status = 404
    code = "not_found"


class NotAllowed(DomainError):
    status = 403
    code = "not_allowed"


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"


class InvalidTransition(DomainError):
    status = 409
    code = "invalid_transition"


class StaleCase(DomainError):
    status = 409
    code = "stale"


class OutsideTerritory(ValidationFailed):
    """A position that lies outside every area of the territory."""

    code = "outside_territory"


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/healthz")) or (
        request.accept_mimetypes.best == "application/json"
    )


def register_error_handlers(app: Flask) -> None:
    """Map domain errors and HTTP errors to the JSON envelope or a page."""

    @app.before_request
    def refuse_nul_characters():
        """No database stores a NUL character in text: refuse it in a query or form field up front.

        (Open311 refuses it itself, in that API's own error format.)
        """
        if request.blueprint == "open311":
            return
        fields = {
            name: gettext("must not contain NUL characters")
            for source in ((request.args, request.form) if request.method != "GET" else (request.args,))
            for name, value in source.items(multi=True)
            if any(isinstance(text, str) and "\x00" in text for text in (name, value))
        }
        if fields:
            raise ValidationFailed(gettext("The request contains a NUL character."), fields)

    @app.errorhandler(DomainError)
    def handle_domain_error(exc: DomainError):
        if _wants_json():
            return jsonify(exc.to_dict()), exc.status
        flash(exc.message, "error")
        if request.method == "GET":
            return render_template("error.html", status=exc.status, message=exc.message), exc.status
        return redirect(request.referrer or request.path)

    @app.errorhandler(CSRFError)
    def handle_csrf_error(exc: CSRFError):
        """A write without a valid CSRF token (stale page, lost session): say what to do."""
        message = gettext(
            "This form has expired or did not come from this site. Reload the page and try again."
        )
        if _wants_json():
            return jsonify({"error": "csrf_failed", "message": message, "fields": {}}), 400
        return render_template("error.html", status=400, message=message), 400

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):
        if _wants_json():
            code = (exc.name or "error").lower().replace(" ", "_")
            return jsonify({"error": code, "message": exc.description, "fields": {}}), exc.code
        return render_template("error.html", status=exc.code, message=exc.description), exc.code

    @app.errorhandler(OperationalError)
    def handle_database_unavailable(exc: OperationalError):
        """The database went away (restart, network): 503, try again; the pool reconnects."""
        from gridops.extensions import db, login_manager

        db.session.rollback()
        # Whoever was signed in could not be read: answer as to a visitor (the locale
        # selector and the page would otherwise try the database again).
        login_manager._update_request_context_with_user()
        app.logger.warning("database unavailable: %s", exc.orig)
        message = gettext("The database cannot be reached right now. Try again in a moment.")
        if _wants_json():
            return jsonify({"error": "database_unavailable", "message": message, "fields": {}}), 503
        return render_template("error.html", status=503, message=message), 503
