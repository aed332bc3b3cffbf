"""Template globals: locale, roles, permission predicates, time in the city's zone, error texts."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_babel import gettext as _
from werkzeug.exceptions import default_exceptions

from gridops.auth import permissions
from gridops.auth.roles import Role
from gridops.i18n import current_locale, html_lang
from gridops.web.nav import nav_items


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Format an aware UTC datetime in the city's time zone."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(current_app.config["GRIDOPS_TIMEZONE"])).strftime(fmt)


def error_title(status: int) -> str:
    """A short headline for the error page, in the reader's language."""
    titles = {
        400: _("The request could not be processed"),
        401: _("Please sign in"),
        403: _("Not allowed"),
        404: _("Page not found"),
        405: _("Not possible here"),
        409: _("Someone changed this first"),
        413: _("Too large"),
        422: _("Please check what you entered"),
        429: _("Too many attempts"),
        500: _("Something went wrong"),
        503: _("Temporarily unavailable"),
    }
    return titles.get(status, _("Error"))


def error_text(status: int, message: str | None) -> str:
    """The explanation for the error page: the app's own message, or a translated one
    instead of the web server's stock English sentence for the status."""
    stock = default_exceptions.get(status)
    if message and (stock is None or message != stock.description):
        return message
    texts = {
        400: _("The request could not be understood. Go back and try again."),
        401: _("Sign in to continue."),
        403: _("Your role does not allow this."),
        404: _("There is no page at this address. Check the link, or go back to the start page."),
        405: _("This address does not accept that kind of request."),
        413: _("What you sent is too large."),
        429: _("Too many attempts in a short time. Wait a minute, then try again."),
        500: _("The server ran into a problem. Try again in a moment; if it keeps happening, "
               "tell the system administrator."),
        503: _("The service cannot answer right now. Try again in a moment."),
    }
    return texts.get(status, message or "")


def init_templating(app: Flask) -> None:
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.globals.update(error_title=error_title, error_text=error_text)

    @app.context_processor
    def inject_globals() -> dict:
        locale = current_locale()
        return {
            "locale": locale,
            "html_lang": html_lang(locale),
            "Role": Role,
            "perm": permissions,
            "nav_items": nav_items,
        }
