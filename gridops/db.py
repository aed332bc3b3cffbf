"""Declarative base with a constraint naming convention, UTC time and common mixins."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timezone

from sqlalchemy import DateTime, MetaData, and_, bindparam, insert, text, update
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


def _quote():
    return postgresql.dialect().identifier_preparer.quote


def _unnest(table, names: list[str], rows: list[dict]) -> tuple[str, list]:
    """PostgreSQL: ``unnest(:c0, :c1, …) WITH ORDINALITY AS rows(name…, position)``, one array per column."""
    quote = _quote()
    params = [
        bindparam(f"c{n}", [row[name] for row in rows], type_=postgresql.ARRAY(table.c[name].type))
        for n, name in enumerate(names)
    ]
    source = (
        f"unnest({', '.join(f':c{n}' for n in range(len(names)))}) WITH ORDINALITY "
        f"AS rows({', '.join(quote(name) for name in names)}, position)"
    )
    return source, params


def bulk_insert(table, rows: list[dict], *, returning=None) -> list:
    """Insert ``rows`` (dicts with the same keys) into ``table``; with ``returning`` (a column), its
    values in the order of ``rows``.

    On PostgreSQL the rows travel as one array per column (``INSERT … SELECT … FROM unnest``):
    a handful of parameters instead of one per value, which the driver would otherwise parse
    and send one by one (10,000 supervision orders: ~1.3 s of client time). SQLite, in
    process, takes the usual executemany.
    """
    if not rows:
        return []
    from gridops.extensions import db

    if dialect_name() != "postgresql":
        if returning is None:
            db.session.execute(insert(table), rows)
            return []
        return list(db.session.execute(insert(table).returning(returning, sort_by_parameter_order=True), rows).scalars())
    names = list(rows[0])
    source, params = _unnest(table, names, rows)
    quote = _quote()
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name in names)}) "
        f"SELECT {', '.join(f'rows.{quote(name)}' for name in names)} FROM {source} ORDER BY position"
        + (f" RETURNING {quote(returning.name)}" if returning is not None else "")
    )
    result = db.session.execute(text(sql).bindparams(*params))
    # Serial keys are drawn in the ORDER BY's order: sorted, they line up with ``rows`` (the
    # same sentinel SQLAlchemy's own bulk RETURNING relies on).
    return sorted(result.scalars()) if returning is not None else []


def bulk_update(table, rows: list[dict], *, keys: list[str]) -> None:
    """Set the other columns of each of ``rows`` on the row of ``table`` its ``keys`` name: one
    statement (PostgreSQL: ``UPDATE … FROM unnest``) or an executemany (SQLite)."""
    if not rows:
        return
    from gridops.extensions import db

    names = list(rows[0])
    changed = [name for name in names if name not in keys]
    if dialect_name() != "postgresql":
        db.session.execute(
            update(table)
            .where(and_(*(table.c[key] == bindparam(f"k_{key}") for key in keys)))
            .values({name: bindparam(f"v_{name}") for name in changed}),
            [{**{f"k_{key}": row[key] for key in keys}, **{f"v_{name}": row[name] for name in changed}} for row in rows],
            execution_options={"synchronize_session": False},
        )
        return
    source, params = _unnest(table, names, rows)
    quote = _quote()
    target = quote(table.name)
    sql = (
        f"UPDATE {target} SET {', '.join(f'{quote(name)} = rows.{quote(name)}' for name in changed)} FROM {source} "
        f"WHERE {' AND '.join(f'{target}.{quote(key)} = rows.{quote(key)}' for key in keys)}"
    )
    db.session.execute(text(sql).bindparams(*params), execution_options={"synchronize_session": False})


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
