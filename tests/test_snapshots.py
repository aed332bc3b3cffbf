"""Frozen snapshots: only for ended periods, once, read back unchanged whatever happens later."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gridops.cases.models import Case
from gridops.errors import ValidationFailed
from gridops.evaluation.indicators import compute_indicators
from gridops.evaluation.models import GROUP_BYS, IndicatorSnapshot
from gridops.evaluation.periods import Period
from gridops.evaluation.scores import JINHUA_PARAMETERS, default_scheme, save_score_scheme
from gridops.evaluation.snapshots import freeze_closed_periods, freeze_snapshot, indicator_table
from gridops.extensions import db
from tests.indicator_data import local, make_june

JUNE = Period.parse("2026-06")
AFTER_JUNE = local(7, 1, 0)


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(IndicatorSnapshot))


def test_an_open_period_cannot_be_frozen(app):
    with pytest.raises(ValidationFailed) as caught:
        freeze_snapshot(JUNE, "city", now=AFTER_JUNE - timedelta(seconds=1))
    assert "period" in caught.value.fields


def test_frozen_figures_never_change_and_refreezing_is_a_no_op(app):
    june = make_june()
    snapshot = freeze_snapshot(JUNE, "district", now=AFTER_JUNE)
    db.session.commit()
    frozen = {r["key"]: r for r in snapshot.rows}
    assert frozen["411302"]["closure_rate"] == 0.6 and frozen["411302"]["score"] is not None
    assert snapshot.scheme_parameters == JINHUA_PARAMETERS

    # Later, C (overdue in June) is closed and dated back into June: live figures move…
    case = june.cases["C"]
    case.state, case.closed_at, case.closed_on_time = "closed", local(6, 30, 9), False
    db.session.commit()
    (live,) = [r for r in compute_indicators(JUNE, "district") if r.key == "411302"]
    assert live.closure_rate == 0.8
    # …the frozen period does not, and freezing again changes nothing.
    table = indicator_table(JUNE, "district", with_changes=False)
    assert table.frozen and table.frozen_at == AFTER_JUNE
    assert {r.row.key: r.row.closure_rate for r in table.rows}["411302"] == 0.6
    again = freeze_snapshot(JUNE, "district", now=AFTER_JUNE + timedelta(days=3))
    assert again.id == snapshot.id and again.frozen_at == AFTER_JUNE and _count() == 1


def test_editing_the_scheme_keeps_the_rules_a_snapshot_used(app):
    make_june()
    scheme = default_scheme()
    snapshot = freeze_snapshot(JUNE, "unit", scheme, now=AFTER_JUNE)
    parameters = copy.deepcopy(JINHUA_PARAMETERS)
    parameters["items"][0]["points"] = 80
    save_score_scheme(None, {"parameters": parameters}, scheme)
    db.session.commit()
    db.session.expire_all()
    assert snapshot.scheme_parameters == JINHUA_PARAMETERS and snapshot.scheme_revision == 1
    assert indicator_table(JUNE, "unit").parameters == JINHUA_PARAMETERS


def test_a_scoped_read_of_a_frozen_period_keeps_to_the_scope(app):
    make_june()
    freeze_snapshot(JUNE, "district", now=AFTER_JUNE)
    other = next(r for r in compute_indicators(JUNE, "district") if r.key == "411303")
    table = indicator_table(JUNE, "district", scope_path=other.path)
    assert table.frozen and [r.row.key for r in table.rows] == ["411303"]


def test_the_closing_job_freezes_each_kind_and_grouping_once(app):
    make_june()
    now = local(7, 6, 1)  # Monday 6 July: last week, June, Q2 and 2025 have ended
    freeze_closed_periods(now)
    db.session.commit()
    keys = set(db.session.execute(select(IndicatorSnapshot.period_key, IndicatorSnapshot.group_by)))
    assert {k for k, _ in keys} == {"2026-W27", "2026-06", "2026-Q2", "2025"}
    assert len(keys) == 4 * len(GROUP_BYS) == _count()
    freeze_closed_periods(now + timedelta(hours=1))
    db.session.commit()
    assert _count() == 4 * len(GROUP_BYS)


def test_month_on_month_and_year_on_year_changes(app):
    make_june()
    table = indicator_table(JUNE, "unit")
    san = next(r for r in table.rows if r.row.key == "SAN01")
    # May: L closed on time, G due but open: on-time closure 1/2; June: 1/4 (D suspended).
    assert san.previous["on_time_closure_rate"] == round(0.25 - 0.5, 4)
    assert san.last_year["score"] is None and san.last_year["closure_rate"] is None


def test_the_scheduled_job_runs_the_freeze(app):
    from gridops.jobs.schedule import job_by_id

    make_june()
    result = job_by_id("freeze_indicators").run(local(7, 1, 0, 30))
    assert "2026-06:unit" in result["snapshots"] and "2026-W26:district" in result["snapshots"]


def test_reading_a_closed_period_freezes_it_once_and_an_open_one_never(app):
    make_june()
    table = indicator_table(JUNE, "unit", now=AFTER_JUNE + timedelta(hours=1))
    db.session.commit()
    assert table.frozen and table.frozen_at == AFTER_JUNE + timedelta(hours=1)
    # June, May (previous) and June 2025 (last year) were read, so all three are frozen now.
    keys = set(db.session.scalars(select(IndicatorSnapshot.period_key)))
    assert keys == {"2026-06", "2026-05", "2025-06"}
    july = Period.parse("2026-07")
    assert not indicator_table(july, "unit", now=AFTER_JUNE, with_changes=False).frozen
    assert _count() == 3
