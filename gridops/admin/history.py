"""The change history shown beside each administration page: who changed what, and when."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from gridops.auth.models import User
from gridops.catalogue.models import CatalogueChange
from gridops.extensions import db

HISTORY_LIMIT = 50


@dataclass(frozen=True)
class HistoryEntry:
    """One recorded change, with the fields whose values differ before and after."""

    at: datetime
    actor: User | None
    entity: str
    entity_id: int
    action: str
    before: dict
    after: dict

    @property
    def changes(self) -> list[tuple[str, object, object]]:
        """(field, before, after) for every field whose value differs."""
        names = list(self.after) + [name for name in self.before if name not in self.after]
        return [
            (name, self.before.get(name), self.after.get(name))
            for name in names
            if self.before.get(name) != self.after.get(name)
        ]


def history(entities: Sequence[str], entity_id: int | None = None, *, limit: int = HISTORY_LIMIT) -> list[HistoryEntry]:
    """The latest changes to these kinds of entity (or to one of them), newest first."""
    stmt = (
        select(CatalogueChange, User)
        .outerjoin(User, User.id == CatalogueChange.changed_by_id)
        .where(CatalogueChange.entity.in_(list(entities)))
        .order_by(CatalogueChange.id.desc())
        .limit(limit)
    )
    if entity_id is not None:
        stmt = stmt.where(CatalogueChange.entity_id == entity_id)
    return [
        HistoryEntry(
            at=change.changed_at, actor=actor, entity=change.entity, entity_id=change.entity_id,
            action=change.action, before=change.before or {}, after=change.after or {},
        )
        for change, actor in db.session.execute(stmt)
    ]
