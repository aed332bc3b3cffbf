"""User management: create users with validated role, scope and password."""

from __future__ import annotations

import re

from sqlalchemy import select

from gridops.auth.models import User
from gridops.auth.roles import ROLE_VALUES
from gridops.errors import ValidationFailed
from gridops.extensions import db
from gridops.org.models import Department
from gridops.territory.models import Area

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
MIN_PASSWORD_LENGTH = 8


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
    if not USERNAME_RE.match(username):
        problems["username"] = "3–64 letters, digits, '.', '_' or '-'"
    elif db.session.scalar(select(User.id).where(User.username == username)) is not None:
        problems["username"] = "already taken"
    if len(password or "") < MIN_PASSWORD_LENGTH:
        problems["password"] = f"at least {MIN_PASSWORD_LENGTH} characters"
    if role not in ROLE_VALUES:
        problems["role"] = "one of " + ", ".join(ROLE_VALUES)
    if not (full_name or "").strip():
        problems["full_name"] = "required"
    if locale not in (None, "zh", "en"):
        problems["locale"] = "zh or en"
    area = None
    if area_code:
        area = db.session.scalar(select(Area).where(Area.code == area_code))
        if area is None:
            problems["area"] = f"no area with code {area_code}"
    department = None
    if department_code:
        department = db.session.scalar(select(Department).where(Department.code == department_code))
        if department is None:
            problems["department"] = f"no department with code {department_code}"
    if role == "unit_staff" and not department_code:
        problems.setdefault("department", "handling unit staff need a department")
    if problems:
        raise ValidationFailed("the user cannot be created", problems)
    user = User(
        username=username,
        full_name=full_name.strip(),
        role=role,
        area=area,
        department=department,
        locale=locale,
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user
