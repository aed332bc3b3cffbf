"""Template globals: locale, roles, permission predicates, time in the city's zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app

from gridops.auth import permissions
from gridops.auth.roles import Role
from gridops.i18n import current_locale


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Format an aware UTC datetime in the city's time zone."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(current_app.config["GRIDOPS_TIMEZONE"])).strftime(fmt)


def init_templating(app: Flask) -> None:
    app.jinja_env.filters["local_time"] = local_time

    @app.context_processor
    def inject_globals() -> dict:
        return {
            "locale": current_locale(),
            "Role": Role,
            "perm": permissions,
        }
