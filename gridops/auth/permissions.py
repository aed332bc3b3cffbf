"""Permission predicates and area scoping, used alike by services, views and templates."""

from __future__ import annotations

from sqlalchemy import ColumnElement, true

from gridops.auth.models import User
from gridops.auth.roles import Role
from gridops.territory.models import Area

#: Roles that see the whole city whatever their area setting.
CITY_WIDE_ROLES = {Role.ADMIN, Role.LEADER, Role.EVALUATOR}


def is_admin(user: User | None) -> bool:
    return bool(user and user.is_authenticated and user.role == Role.ADMIN.value)


def can_manage_territory(user: User | None) -> bool:
    return is_admin(user)


def can_manage_users(user: User | None) -> bool:
    return is_admin(user)


def can_view_map(user: User | None) -> bool:
    return bool(user and user.is_authenticated)


def scope_path(user: User) -> str | None:
    """The materialised path prefix the user is limited to, or None for the whole city."""
    if user.role_enum in CITY_WIDE_ROLES or user.area is None:
        return None
    return user.area.path


def can_view_area(user: User, area: Area) -> bool:
    """An area is visible if it lies in the user's subtree or is one of its ancestors."""
    prefix = scope_path(user)
    return prefix is None or area.path.startswith(prefix) or prefix.startswith(area.path)


def area_scope_clause(user: User, path_column) -> ColumnElement[bool]:
    """A WHERE clause limiting rows whose area path is ``path_column`` to the user's scope."""
    prefix = scope_path(user)
    if prefix is None:
        return true()
    return path_column.startswith(prefix, autoescape=True)
