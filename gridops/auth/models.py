"""Users and their API tokens."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Optional

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from gridops.auth.roles import ROLE_VALUES, Role
from gridops.db import utcnow
from gridops.extensions import db

_ROLE_CHECK = "role IN (" + ", ".join(f"'{r}'" for r in ROLE_VALUES) + ")"


def password_method() -> str:
    """Werkzeug's hashing method: scrypt, unless the app's config chooses another (tests do)."""
    return current_app.config.get("GRIDOPS_PASSWORD_METHOD", "scrypt") if has_app_context() else "scrypt"


class User(UserMixin, db.Model):
    """A person who signs in: one role, scoped to an area subtree and/or a department."""

    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint(_ROLE_CHECK, name="role"),
        CheckConstraint("locale IS NULL OR locale IN ('zh', 'en')", name="locale"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    #: Area scope: the user sees and acts within this area's subtree (None: whole city).
    area_id: Mapped[Optional[int]] = mapped_column(ForeignKey("area.id"), index=True)
    department_id: Mapped[Optional[int]] = mapped_column(ForeignKey("department.id"), index=True)
    phone: Mapped[Optional[str]] = mapped_column(String(32))
    locale: Mapped[Optional[str]] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[Optional[datetime]]

    area = relationship("Area", foreign_keys=[area_id])
    department = relationship("Department", foreign_keys=[department_id])

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def is_active(self) -> bool:  # Flask-Login reads this
        return self.active

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=password_method())

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def session_stamp(self) -> str:
        """Changes with the password, so that a new password ends every older session."""
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]

    def get_id(self) -> str:
        """What the session and remember cookies carry: ``"<id>:<session stamp>"``."""
        return f"{self.id}:{self.session_stamp}"

    def matches_session_id(self, session_id: str) -> bool:
        """Whether a cookie's user id is this user's current one (constant-time comparison)."""
        return hmac.compare_digest(self.get_id(), session_id)


class ApiToken(db.Model):
    """A bearer token for a tablet or an integration; only its SHA-256 digest is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: First characters of the token, to tell tokens apart in lists.
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[Optional[datetime]]
    expires_at: Mapped[Optional[datetime]]
    revoked_at: Mapped[Optional[datetime]]

    user: Mapped[User] = relationship()

    def state(self, now: datetime) -> str:
        """``revoked``, ``expired`` or ``active``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def is_valid(self, now: datetime) -> bool:
        return self.state(now) == "active"
