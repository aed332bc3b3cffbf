"""User management and sign-in: validated users, passwords, activation."""

from __future__ import annotations

import re
from functools import cache

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from gridops.auth.models import User, password_method
from gridops.auth.roles import ROLE_VALUES, Role
from gridops.db import utcnow
from gridops.errors import NotAllowed, NotAuthenticated, NotFound, ValidationFailed
from gridops.extensions import db
from gridops.org.models import Department
from gridops.territory.models import Area

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
MAX_FULL_NAME_LENGTH = 128
LOCALES = ("zh", "en")

#: Roles whose work is tied to a piece of territory: they must be given an area.
AREA_BOUND_ROLES = {Role.GRID_WORKER.value, Role.AREA_LEAD.value}


def _password_problem(password: str | None) -> str | None:
    length = len(password or "")
    if length < MIN_PASSWORD_LENGTH:
        return f"at least {MIN_PASSWORD_LENGTH} characters"
    if length > MAX_PASSWORD_LENGTH:
        return f"at most {MAX_PASSWORD_LENGTH} characters"
    return None


def find_user(username: str) -> User:
    """The user with this username, or NotFound."""
    user = db.session.scalar(select(User).where(User.username == (username or "").strip()))
    if user is None:
        raise NotFound(f"no user named {username}")
    return user


def create_user(
    username: str,
    password: str,
    role: str,
    full_name: str,
    area_code: str | None = None,
    department_code: str | None = None,
    locale: str | None = None,
) -> User:
    """Validate and add a user; raises ValidationFailed naming every bad field."""
    problems: dict[str, str] = {}
    username = (username or "").strip()
    full_name = (full_name or "").strip()
    if not USERNAME_RE.match(username):
        problems["username"] = "3–64 letters, digits, '.', '_' or '-'"
    elif db.session.scalar(
        select(User.id).where(func.lower(User.username) == username.lower())
    ) is not None:
        problems["username"] = f"{username} is already taken"
    password_problem = _password_problem(password)
    if password_problem:
        problems["password"] = password_problem
    if role not in ROLE_VALUES:
        problems["role"] = "one of " + ", ".join(ROLE_VALUES)
    if not full_name:
        problems["full_name"] = "required"
    elif len(full_name) > MAX_FULL_NAME_LENGTH:
        problems["full_name"] = f"at most {MAX_FULL_NAME_LENGTH} characters"
    if locale not in (None, *LOCALES):
        problems["locale"] = " or ".join(LOCALES)
    area = None
    if area_code:
        area = db.session.scalar(select(Area).where(Area.code == area_code.strip()))
        if area is None:
            problems["area"] = f"no area with code {area_code}"
        elif not area.active:
            problems["area"] = f"area {area_code} is retired"
    elif role in AREA_BOUND_ROLES:
        problems["area"] = f"a {role} needs the area they work in"
    department = None
    if department_code:
        department = db.session.scalar(
            select(Department).where(Department.code == department_code.strip())
        )
        if department is None:
            problems["department"] = f"no department with code {department_code}"
        elif not department.active:
            problems["department"] = f"department {department_code} is inactive"
    elif role == Role.UNIT_STAFF.value:
        problems["department"] = "handling unit staff need a department"
    if problems:
        raise ValidationFailed("the user cannot be created", problems)
    user = User(
        username=username,
        full_name=full_name,
        role=role,
        area=area,
        department=department,
        locale=locale,
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def set_password(user: User, password: str) -> None:
    """Give ``user`` a new password; their existing sessions end with it."""
    problem = _password_problem(password)
    if problem:
        raise ValidationFailed.field("password", problem)
    user.set_password(password)
    db.session.flush()


def set_locale(user: User, locale: str) -> None:
    """Remember the user's interface language across devices."""
    if locale not in LOCALES:
        raise ValidationFailed.field("locale", " or ".join(LOCALES))
    user.locale = locale
    db.session.flush()


def deactivate_user(user: User) -> None:
    """Stop ``user`` from signing in; their sessions and API tokens stop working at once."""
    user.active = False
    db.session.flush()


def activate_user(user: User) -> None:
    """Let a deactivated user sign in again."""
    user.active = True
    db.session.flush()


@cache
def _decoy_hash(method: str) -> str:
    return generate_password_hash("gridops decoy password", method=method)


def authenticate(username: str, password: str) -> User:
    """The user these credentials belong to; NotAuthenticated, or NotAllowed when deactivated."""
    user = db.session.scalar(select(User).where(User.username == (username or "").strip()))
    if user is None:
        # Costs as much as a wrong password, so timing does not reveal which usernames exist.
        check_password_hash(_decoy_hash(password_method()), password or "")
        raise NotAuthenticated("wrong username or password")
    if not user.check_password(password or ""):
        raise NotAuthenticated("wrong username or password")
    if not user.active:
        raise NotAllowed("this account is deactivated")
    return user


def sign_in(username: str, password: str) -> User:
    """Authenticate and note the time of this sign-in on the user."""
    user = authenticate(username, password)
    user.last_login_at = utcnow()
    db.session.flush()
    return user
