"""Declarative base with a constraint naming convention, UTC time and common mixins."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timezone

from sqlalchemy import DateTime, MetaData
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.base import Executable
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry
from sqlalchemy.types import TypeDecorator
from werkzeug.routing import IntegerConverter

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: Largest value of an integer primary key on every supported database.
MAX_ROW_ID = 2**31 - 1


class RowIdConverter(IntegerConverter):
    """``<id:name>`` in routes: a positive id the database can hold; anything else is a 404."""

    def __init__(self, map, **kwargs):
        super().__init__(map, min=1, max=MAX_ROW_ID)


#: The INSERT … ON CONFLICT construct of each supported database (SQLite from 3.35 on).
UPSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def dialect_name(bind: Connection | None = None) -> str:
    """The database dialect of ``bind`` (default: the session's), e.g. ``postgresql``."""
    if bind is None:
        from gridops.extensions import db

        bind = db.session.get_bind()
    return bind.dialect.name


def upsert(table, bind: Connection | None = None):
    """``INSERT … ON CONFLICT`` for ``table`` (a Table or a mapped class) in the dialect of ``bind`` (default: the session's)."""
    return UPSERTS[dialect_name(bind)](table)


def reused_statement(build: Callable[[str], Executable]) -> Callable[[], Executable]:
    """Decorate ``build(dialect)`` so that each dialect's statement is built once per process.

    For the statements every request runs (token lookup, version tokens, filing): a
    statement object is reused with ``bindparam`` values, so its construction and its SQL
    cache key (memoised on the object) are paid once instead of on every request.
    """
    built: dict[str, Executable] = {}

    @functools.wraps(build)
    def statement() -> Executable:
        name = dialect_name()
        found = built.get(name)
        if found is None:
            found = built[name] = build(name)
        return found

    return statement


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC and always returns them aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC datetime is required")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
