"""Frozen figures of closed periods (考核快照), and the one way to read a period's scored table.

Once a period has ended, ``freeze_snapshot`` stores its city-wide rows — figures, scores,
grades, ranks — with a copy of the scheme's parameters. The unique key (period, grouping,
scheme) makes freezing happen once however often or concurrently it is asked for.
``indicator_table`` reads a frozen period from its snapshot, so a published notice never
changes afterwards; an open (or not yet frozen) period is computed live.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gridops.db import utcnow
from gridops.errors import ValidationFailed
from gridops.evaluation.indicators import AREA_GROUPS, compute_indicator_sets, department_subtree
from gridops.evaluation.models import GROUP_BYS, IndicatorSnapshot, ScoreScheme
from gridops.evaluation.periods import Period
from gridops.evaluation.scores import ScoredRow, compare, default_scheme, score_rows
from gridops.extensions import db

#: Period kinds frozen by the scheduled job, and the groupings frozen for each.
FROZEN_KINDS = ("week", "month", "quarter", "year")


@dataclass
class IndicatorTable:
    """A period's scored rows for one grouping and scheme, and where they came from."""

    period: Period
    group_by: str
    scheme: ScoreScheme
    rows: list[ScoredRow]
    #: When the figures were frozen; None: computed live.
    frozen_at: datetime | None = None
    #: The scheme's parameters the scores were computed with.
    parameters: dict | None = None

    @property
    def frozen(self) -> bool:
        return self.frozen_at is not None


def find_snapshot(period: Period, group_by: str, scheme: ScoreScheme) -> IndicatorSnapshot | None:
    return db.session.scalar(
        select(IndicatorSnapshot).where(
            IndicatorSnapshot.period_key == period.key,
            IndicatorSnapshot.group_by == group_by,
            IndicatorSnapshot.scheme_id == scheme.id,
        )
    )


def freeze_snapshot(
    period: Period, group_by: str, scheme: ScoreScheme | None = None, *, now: datetime | None = None
) -> IndicatorSnapshot:
    """Freeze ``period``'s city-wide figures and scores for ``group_by`` (default scheme if None).

    Only a period that has ended can be frozen. Freezing again returns the snapshot already
    stored, unchanged — also when another process froze it a moment earlier (the unique key
    decides). Flushes; the caller commits.
    """
    return freeze_snapshots(period, [group_by], scheme, now=now)[0]


def freeze_snapshots(
    period: Period, group_bys, scheme: ScoreScheme | None = None, *, now: datetime | None = None
) -> list[IndicatorSnapshot]:
    """``freeze_snapshot`` for several groupings of one period, in ``group_bys``' order; the
    missing ones are computed together (``compute_indicator_sets``: one pass over the period)."""
    now = now or utcnow()
    for group_by in group_bys:
        if group_by not in GROUP_BYS:
            raise ValidationFailed.field("group_by", _("must be one of %(values)s", values=", ".join(GROUP_BYS)))
    if not period.is_closed(now):
        raise ValidationFailed.field("period", _("the period has not ended yet"))
    scheme = scheme or default_scheme()
    snapshots = {group_by: find_snapshot(period, group_by, scheme) for group_by in group_bys}
    missing = [group_by for group_by, snapshot in snapshots.items() if snapshot is None]
    if missing:
        computed = compute_indicator_sets(period, missing)
        for group_by in missing:
            snapshots[group_by] = _store(period, group_by, scheme, score_rows(computed[group_by], scheme), now)
    return [snapshots[group_by] for group_by in group_bys]


def _store(period: Period, group_by: str, scheme: ScoreScheme, rows: list[ScoredRow], now: datetime) -> IndicatorSnapshot:
    snapshot = IndicatorSnapshot(
        period_key=period.key,
        period_kind=period.kind,
        group_by=group_by,
        scheme_id=scheme.id,
        scheme_revision=scheme.revision,
        scheme_parameters=scheme.parameters,
        rows=[_frozen(row) for row in rows],
        frozen_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(snapshot)
    except IntegrityError:
        existing = find_snapshot(period, group_by, scheme)
        if existing is None:
            raise
        return existing
    return snapshot


def _frozen(row: ScoredRow) -> dict:
    data = row.to_dict()
    data.pop("previous", None)
    data.pop("last_year", None)
    return data


def freeze_closed_periods(now: datetime, *, kinds=FROZEN_KINDS, group_bys=GROUP_BYS) -> list[IndicatorSnapshot]:
    """Freeze the last ended period of each kind, for every grouping, with the default scheme.

    The scheduled job calls this; it is idempotent, so a late or repeated run only fills
    what is missing.
    """
    scheme = default_scheme()
    frozen = []
    for kind in kinds:
        frozen.extend(freeze_snapshots(Period.last_closed(kind, now), list(group_bys), scheme, now=now))
    return frozen


def indicator_table(
    period: Period,
    group_by: str,
    scheme: ScoreScheme | None = None,
    *,
    scope_path: str | None = None,
    department_id: int | None = None,
    with_changes: bool = True,
    now: datetime | None = None,
) -> IndicatorTable:
    """The scored rows of ``period`` for ``group_by``, within a scope, with month-on-month and
    year-on-year changes (against the previous period and the same period last year).

    A closed week, month, quarter or year is read from its snapshot (area and unit rows
    narrowed to the scope, ranks as published), frozen first if the job has not done it yet
    (flushed: the caller commits); open and custom periods, and scopes a city-wide snapshot
    cannot serve, are computed.
    """
    return indicator_tables(
        period, [group_by], scheme, scope_path=scope_path, department_id=department_id,
        with_changes=with_changes, now=now,
    )[group_by]


def indicator_tables(
    period: Period,
    group_bys,
    scheme: ScoreScheme | None = None,
    *,
    scope_path: str | None = None,
    department_id: int | None = None,
    with_changes: bool = True,
    now: datetime | None = None,
) -> dict[str, IndicatorTable]:
    """``indicator_table`` for several groupings, by grouping: each of the three periods
    (this one, the previous one, last year's) is frozen or computed once for all of them."""
    scheme = scheme or default_scheme()
    now = now or utcnow()
    group_bys = list(dict.fromkeys(group_bys))
    tables = _tables(period, group_bys, scheme, scope_path, department_id, now)
    if with_changes:
        previous = _tables(period.previous(), group_bys, scheme, scope_path, department_id, now)
        last_year = _tables(period.same_period_last_year(), group_bys, scheme, scope_path, department_id, now)
        for group_by, table in tables.items():
            compare(table.rows, previous[group_by].rows, last_year[group_by].rows)
    return tables


def _tables(period, group_bys, scheme, scope_path, department_id, now) -> dict[str, IndicatorTable]:
    snapshots = {group_by: find_snapshot(period, group_by, scheme) for group_by in group_bys}
    to_freeze = [
        group_by for group_by, snapshot in snapshots.items()
        if snapshot is None
        and period.kind in FROZEN_KINDS
        and period.is_closed(now)
        and _served_by_snapshot(group_by, scope_path, department_id)
    ]
    if to_freeze:
        snapshots.update(zip(to_freeze, freeze_snapshots(period, to_freeze, scheme, now=now)))
    tables: dict[str, IndicatorTable] = {}
    for group_by, snapshot in snapshots.items():
        rows = _narrowed(snapshot.rows, group_by, scope_path, department_id) if snapshot is not None else None
        if rows is not None:
            tables[group_by] = IndicatorTable(period, group_by, scheme, [ScoredRow.from_dict(r) for r in rows],
                                              frozen_at=snapshot.frozen_at, parameters=snapshot.scheme_parameters)
    live = [group_by for group_by in group_bys if group_by not in tables]
    if live:
        computed = compute_indicator_sets(period, live, scope_path=scope_path, department_id=department_id)
        for group_by in live:
            tables[group_by] = IndicatorTable(period, group_by, scheme, score_rows(computed[group_by], scheme),
                                              parameters=scheme.parameters)
    return {group_by: tables[group_by] for group_by in group_bys}


def _served_by_snapshot(group_by: str, scope_path: str | None, department_id: int | None) -> bool:
    """Whether a city-wide snapshot can answer this scope (see _narrowed)."""
    if department_id is None:
        return scope_path is None or group_by in AREA_GROUPS
    return scope_path is None and group_by == "unit"


def _narrowed(rows: list[dict], group_by: str, scope_path: str | None, department_id: int | None):
    """The frozen rows a scope may read; None when the scope needs figures the snapshot lacks."""
    if scope_path is None and department_id is None:
        return rows
    if department_id is None and group_by in AREA_GROUPS:
        inside = [r for r in rows if r["path"].startswith(scope_path)]
        return inside or None
    if scope_path is None and group_by == "unit":
        ids = department_subtree(department_id)
        return [r for r in rows if r["ref_id"] in ids]
    return None
