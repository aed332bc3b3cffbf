"""The monthly notice on a hand-built month: figures, scores, grades, ranks, best/worst, MoM, trend, freezing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gridops.evaluation.models import IndicatorSnapshot
from gridops.evaluation.notices import generate_notice
from gridops.evaluation.periods import Period
from gridops.extensions import db
from tests.case_factories import T0, act, make_case, make_world

JUNE = Period.parse("2026-06")
AFTER_JUNE = JUNE.end_utc + timedelta(hours=9)


@pytest.fixture
def month_world(app):
    """May: one case closed on time. June: one on time, one late, one still open (all due in June)."""
    world = make_world()
    make_case("closed", world=world, now=T0 - timedelta(days=7))
    make_case("closed", world=world, now=T0)
    late = make_case("handling", world=world, now=T0)
    act(world, late, "feedback", "unit_staff", photos=True, note="已清理", now=T0 + timedelta(days=2))
    act(world, late, "check_pass", "grid_worker", photos=True, now=T0 + timedelta(days=2, hours=1))
    make_case("handling", world=world, now=T0 + timedelta(days=3))
    db.session.flush()
    return world


def test_city_figures_score_and_grade(month_world):
    city = generate_notice("monthly", JUNE, now=AFTER_JUNE).content["city"]
    assert (city["due"], city["closures"], city["overdue_open"]) == (3, 2, 1)
    assert city["closure_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert city["on_time_closure_rate"] == pytest.approx(1 / 3, abs=1e-4)
    # Jinhua: 50 − (70 − 33.33) = 13.33 for on-time closure; 20 − (90 − 66.67) < 0 → 0 for closure.
    assert city["score"] == pytest.approx(13.33, abs=0.01)
    assert city["grade"] == "fail"
    # May scored 70 (everything closed on time): month on month the score fell by 56.67.
    assert city["previous"]["score"] == pytest.approx(-56.67, abs=0.01)
    assert city["last_year"] is None or city["last_year"]["score"] is None


def test_rankings_and_best_worst_lists(month_world):
    groups = {g["group_by"]: g for g in generate_notice("monthly", JUNE, now=AFTER_JUNE).content["groups"]}
    assert list(groups) == ["district", "subdistrict", "unit"]
    districts = {r["label"]: r for r in groups["district"]["rows"]}
    assert districts["宛城区"]["score"] == pytest.approx(13.33, abs=0.01)
    assert (districts["宛城区"]["rank"], districts["宛城区"]["rank_of"]) == (1, 1)
    assert districts["卧龙区"]["score"] is None  # nothing to measure: not ranked
    units = groups["unit"]
    assert [r["key"] for r in units["best"]] == ["SAN01"]
    assert units["worst"] == []
    assert all(g["frozen"] for g in groups.values())


def test_trend_runs_six_months_to_the_notice_month(month_world):
    trend = generate_notice("monthly", JUNE, now=AFTER_JUNE).content["trend"]
    assert [t["period"] for t in trend] == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
    assert [t["closures"] for t in trend][-2:] == [1, 2]
    assert trend[-2]["on_time_closure_rate"] == 1.0 and trend[-2]["score"] == 70


def test_a_closed_month_is_frozen_before_it_is_read(month_world):
    generate_notice("monthly", JUNE, now=AFTER_JUNE)
    frozen = db.session.scalars(select(IndicatorSnapshot.group_by).where(IndicatorSnapshot.period_key == "2026-06"))
    assert sorted(frozen) == ["city", "district", "subdistrict", "unit"]
    # A month still running is computed live and frozen by nobody.
    generate_notice("monthly", Period.parse("2026-07"), now=AFTER_JUNE)
    assert db.session.scalar(
        select(func.count()).select_from(IndicatorSnapshot).where(IndicatorSnapshot.period_key == "2026-07")
    ) == 0


def test_figures_equal_each_grouping_computed_from_scratch(month_world):
    """The notice counts each month once for all its groupings and reads the months it froze
    back from their snapshots: its rows, changes and trend are those of every grouping and
    month computed on its own."""
    from gridops.evaluation.indicators import compute_indicators
    from gridops.evaluation.notices import _scored
    from gridops.evaluation.scores import compare, default_scheme, score_rows

    content = generate_notice("monthly", JUNE, now=AFTER_JUNE).content
    scheme = default_scheme()

    def scratch(period, group_by):
        return score_rows(compute_indicators(period, group_by), scheme)

    shown = {g["group_by"]: {r["key"]: r for r in g["rows"]} for g in content["groups"]}
    shown["city"] = {content["city"]["key"]: content["city"]}
    for group_by, rows in shown.items():
        expected = scratch(JUNE, group_by)
        compare(expected, scratch(JUNE.previous(), group_by), scratch(JUNE.same_period_last_year(), group_by))
        assert rows == {item.row.key: _scored(item) for item in expected}, group_by
    months = {t["period"]: t for t in content["trend"]}
    for key, point in months.items():
        (city,) = scratch(Period.parse(key), "city")
        assert (point["reports"], point["closures"], point["closure_rate"], point["on_time_closure_rate"],
                point["score"]) == (city.row.reports, city.row.closures, city.row.closure_rate,
                                    city.row.on_time_closure_rate, city.score)
    assert shown["unit"] and shown["district"] and months["2026-05"]["closures"] == 1
