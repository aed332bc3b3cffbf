"""Administrators' work on user accounts: create, edit role and scope, deactivate, reset password.

Each service checks the actor (``can_manage_users``; ``None`` is the command line), validates
every field at once with reasons in the reader's language, mutates, records a ``CatalogueChange``
(entity ``user``: who changed what, before and after; never a password), flushes and never
commits. An administrator cannot lock themselves out (deactivate or demote their own account).
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import gettext as _
from sqlalchemy import func, select

from gridops.auth.models import User
from gridops.auth.permissions import can_manage_users
from gridops.auth.roles import ROLE_VALUES, Role
from gridops.auth.services import (
    AREA_BOUND_ROLES,
    LOCALES,
    MAX_FULL_NAME_LENGTH,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    USERNAME_RE,
    create_user,
)
from gridops.catalogue.models import CatalogueChange
from gridops.errors import NotAllowed, ValidationFailed
from gridops.extensions import db
from gridops.org.models import Department
from gridops.territory.models import Area

#: Fields an administrator may change on an existing account.
EDITABLE = ("full_name", "role", "area", "department", "locale")


def _check_actor(actor: User | None) -> None:
    if actor is not None and not can_manage_users(actor):
        raise NotAllowed(_("Only administrators may manage users."))


def user_dict(user: User) -> dict:
    """What the history keeps of an account (never its password)."""
    return {
        "username": user.username,
        "full_name": user.full_name,
        "role": user.role,
        "area": user.area.code if user.area is not None else None,
        "department": user.department.code if user.department is not None else None,
        "locale": user.locale,
        "active": user.active,
    }


def _clean(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _password_problem(password) -> str | None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        return _("at least %(count)d characters", count=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        return _("at most %(count)d characters", count=MAX_PASSWORD_LENGTH)
    return None


def _scope(values: dict, problems: dict) -> tuple[Area | None, Department | None]:
    """The area and department named by code in ``values``, checked against the role."""
    role = values.get("role")
    area = department = None
    area_code = _clean(values.get("area"))
    if area_code:
        area = db.session.scalar(select(Area).where(Area.code == area_code))
        if area is None:
            problems["area"] = _("no area has the code %(code)s", code=area_code)
        elif not area.active:
            problems["area"] = _("area %(code)s is retired", code=area_code)
    elif role in AREA_BOUND_ROLES:
        problems["area"] = _("this role needs the area the person works in")
    department_code = _clean(values.get("department"))
    if department_code:
        department = db.session.scalar(select(Department).where(Department.code == department_code))
        if department is None or not department.active:
            problems["department"] = _("no active department has the code %(code)s", code=department_code)
    elif role == Role.UNIT_STAFF.value:
        problems["department"] = _("handling unit staff need their unit")
    return area, department


def _check_common(values: dict, problems: dict) -> None:
    full_name = _clean(values.get("full_name"))
    if not full_name:
        problems["full_name"] = _("required")
    elif len(full_name) > MAX_FULL_NAME_LENGTH:
        problems["full_name"] = _("at most %(count)d characters", count=MAX_FULL_NAME_LENGTH)
    if values.get("role") not in ROLE_VALUES:
        problems["role"] = _("must be one of %(values)s", values=", ".join(ROLE_VALUES))
    if values.get("locale") not in (None, "", *LOCALES):
        problems["locale"] = _("must be one of %(values)s", values=", ".join(LOCALES))


def create_staff(actor: User | None, data: Mapping) -> User:
    """Add an account with its role and scope (area and/or unit) and a first password."""
    _check_actor(actor)
    values = dict(data)
    problems: dict[str, str] = {}
    username = _clean(values.get("username"))
    if not USERNAME_RE.match(username):
        problems["username"] = _("3 to 64 letters, digits, '.', '_' or '-'")
    elif db.session.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None:
        problems["username"] = _("%(name)s is already taken", name=username)
    if problem := _password_problem(values.get("password")):
        problems["password"] = problem
    _check_common(values, problems)
    _scope(values, problems)
    if problems:
        raise ValidationFailed(_("Check the marked fields."), problems)
    user = create_user(
        username, values["password"], values["role"], _clean(values["full_name"]),
        area_code=_clean(values.get("area")) or None,
        department_code=_clean(values.get("department")) or None,
        locale=values.get("locale") or None,
    )
    CatalogueChange.record("user", user.id, "create", actor, None, user_dict(user))
    db.session.flush()
    return user


def update_staff(actor: User | None, user: User, data: Mapping) -> User:
    """Change an account's name, role, area, unit or language (the username stays)."""
    _check_actor(actor)
    unknown = sorted(set(data) - set(EDITABLE))
    if unknown:
        raise ValidationFailed(_("Check the marked fields."), {name: _("unknown field") for name in unknown})
    before = user_dict(user)
    values = {**before, **data}
    problems: dict[str, str] = {}
    _check_common(values, problems)
    area, department = _scope(values, problems)
    if actor is not None and user.id == actor.id and values.get("role") != Role.ADMIN.value:
        problems["role"] = _("you cannot take the administrator role from yourself")
    if problems:
        raise ValidationFailed(_("Check the marked fields."), problems)
    user.full_name = _clean(values["full_name"])
    user.role = values["role"]
    user.area = area
    user.department = department
    user.locale = values.get("locale") or None
    after = user_dict(user)
    if after != before:
        CatalogueChange.record("user", user.id, "update", actor, before, after)
    db.session.flush()
    return user


def deactivate_staff(actor: User | None, user: User) -> User:
    """Stop the account signing in; its sessions and API tokens stop working at once."""
    _check_actor(actor)
    if actor is not None and user.id == actor.id:
        raise ValidationFailed.field("active", _("you cannot deactivate your own account"))
    if user.active:
        before = user_dict(user)
        user.active = False
        CatalogueChange.record("user", user.id, "deactivate", actor, before, user_dict(user))
        db.session.flush()
    return user


def activate_staff(actor: User | None, user: User) -> User:
    """Let a deactivated account sign in again."""
    _check_actor(actor)
    if not user.active:
        before = user_dict(user)
        user.active = True
        CatalogueChange.record("user", user.id, "activate", actor, before, user_dict(user))
        db.session.flush()
    return user


def reset_staff_password(actor: User | None, user: User, password) -> User:
    """Give the account a new password (its sessions end); the history notes that it happened."""
    _check_actor(actor)
    if problem := _password_problem(password):
        raise ValidationFailed(_("Check the marked fields."), {"password": problem})
    user.set_password(password)
    CatalogueChange.record("user", user.id, "reset_password", actor, None, None)
    db.session.flush()
    return user


def find_staff(*, text: str = "", role: str | None = None, active: bool | None = None):
    """A select of accounts matching a text (username or name), a role and the active flag."""
    stmt = select(User)
    text = (text or "").strip()
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            User.username.ilike(pattern, escape="\\") | User.full_name.ilike(pattern, escape="\\")
        )
    if role:
        stmt = stmt.where(User.role == role)
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    return stmt.order_by(User.username)
