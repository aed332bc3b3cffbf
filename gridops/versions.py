"""Version tokens of the data that processes cache, read once per app context in one query.

Each web or job process keeps the grid layer's locator, the city clock, the catalogue and
the routing table in memory. Before using them it must know whether another process has
changed the data since: ``current_versions()`` reads every token at once — the grid layer's
(id, version, datum), the working-time settings' token and the reference data's token — and
keeps the answer for the rest of the app context (one request, one job run).

The reference token (catalogue classes and standards, routing rules, departments) is
rewritten in the same transaction as any change to those rows, by a flush listener, so no
code path can forget it. Any flush that touches the cached data also forgets this context's
answer, so a change made earlier in the same request is seen at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import g, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from gridops.catalogue.models import BigClass, FilingStandard, RoutingRule, SmallClass
from gridops.db import reused_statement, upsert, utcnow
from gridops.extensions import db
from gridops.org.models import Department
from gridops.territory.models import GridLayer
from gridops.worktime.models import CitySetting

REFERENCE_KEY = "reference.version"
CLOCK_KEY = "worktime.version"
#: Rows whose change gives the reference data a new token.
REFERENCE_CLASSES = (BigClass, SmallClass, FilingStandard, RoutingRule, Department)
#: Rows whose change only makes this context read the tokens again (they carry their own).
FORGETTING_CLASSES = REFERENCE_CLASSES + (GridLayer, CitySetting)
_G_KEY = "_gridops_versions"


@dataclass(frozen=True)
class Versions:
    #: (id, version, datum) of the grid layer, or None before any import.
    layer: tuple[int, int, str] | None
    clock: str | None
    reference: str | None


def _setting(key: str):
    return select(CitySetting.value).where(CitySetting.key == key).scalar_subquery()


def _layer(column):
    return select(column).order_by(GridLayer.id).limit(1).scalar_subquery()


def version_columns() -> tuple:
    """Every token as a column expression, in the order ``remember_versions`` takes them.

    A query the request makes anyway (the API token lookup) selects them too, so that reading
    the tokens costs no statement of its own.
    """
    return (
        _layer(GridLayer.id), _layer(GridLayer.version), _layer(GridLayer.datum),
        _setting(CLOCK_KEY), _setting(REFERENCE_KEY),
    )


@reused_statement
def _versions_query(_dialect: str):
    return select(*version_columns())


def _versions(values) -> Versions:
    layer_id, layer_version, datum, clock, reference = values
    return Versions(None if layer_id is None else (layer_id, layer_version, datum), clock, reference)


def read_versions() -> Versions:
    """Every token, from the database, in one query."""
    return _versions(db.session.execute(_versions_query()).one())


def remember_versions(values) -> None:
    """Keep tokens read with ``version_columns()`` by another query as this app context's answer."""
    if g.get(_G_KEY) is None:
        setattr(g, _G_KEY, _versions(values))


def current_versions() -> Versions:
    """The tokens as this app context first read them (or as its own changes left them)."""
    versions = g.get(_G_KEY)
    if versions is None:
        versions = read_versions()
        setattr(g, _G_KEY, versions)
    return versions


def forget_versions() -> None:
    """Read the tokens again at the next ``current_versions()`` of this app context."""
    if has_app_context():
        g.pop(_G_KEY, None)


def _touches(session: Session, classes: tuple) -> bool:
    return any(
        isinstance(instance, classes) for rows in (session.new, session.dirty, session.deleted) for instance in rows
    )


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context) -> None:
    if not _touches(session, FORGETTING_CLASSES):
        return
    if _touches(session, REFERENCE_CLASSES):
        table = CitySetting.__table__
        connection = session.connection()
        statement = upsert(table, connection).values(key=REFERENCE_KEY, value=secrets.token_hex(8), changed_at=utcnow())
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=[table.c.key],
                set_={"value": statement.excluded.value, "changed_at": statement.excluded.changed_at},
            )
        )
    forget_versions()
