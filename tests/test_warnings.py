"""Early warnings, interviews and assistance plans on hand-built months."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from gridops.errors import NotAllowed, ValidationFailed
from gridops.evaluation.models import EarlyWarning
from gridops.evaluation.warnings import (
    DEFAULT_SETTINGS,
    create_assistance_plan,
    evaluate_early_warnings,
    is_bad,
    plan_progress,
    record_interview,
)
from gridops.extensions import db
from gridops.evaluation.periods import Period
from tests.case_factories import T0, act, make_case, make_world

#: Monday 1 June 2026 + the days to the morning after June (a Wednesday: 1 July 10:00 local).
AFTER_JUNE = Period.parse("2026-06").end_utc + timedelta(hours=10)


def close_late(world, when):
    """A case dispatched at ``when``, handled two days late and closed."""
    case = make_case("handling", world=world, now=when)
    act(world, case, "feedback", "unit_staff", photos=True, note="已清理", now=when + timedelta(days=2))
    act(world, case, "check_pass", "grid_worker", photos=True, now=when + timedelta(days=2, hours=1))
    return case


@pytest.fixture
def bad_world(app):
    """The sanitation unit closes late in May and in June (scores 20 and 20: under 60 twice)."""
    world = make_world()
    close_late(world, T0 - timedelta(days=7))
    close_late(world, T0)
    close_late(world, T0 + timedelta(days=1))
    db.session.flush()
    return world


def test_two_bad_months_in_a_row_flag_the_unit_and_its_subdistrict_once(bad_world):
    made = evaluate_early_warnings(AFTER_JUNE)
    assert sorted((w.group_by, w.subject_key, w.period_key) for w in made) == [
        ("subdistrict", "411302001", "2026-06"), ("unit", "SAN01", "2026-06"),
    ]
    unit = next(w for w in made if w.group_by == "unit")
    assert unit.department_id == bad_world.unit.id and unit.subject_label == "环卫处"
    assert [(e["period"], e["reason"], e["score"]) for e in unit.evidence] == [
        ("2026-06", "below_threshold", 20.0), ("2026-05", "below_threshold", 20.0),
    ]
    assert evaluate_early_warnings(AFTER_JUNE + timedelta(hours=1)) == []
    assert db.session.scalar(select(func.count()).select_from(EarlyWarning)) == 2


def test_one_bad_month_is_not_enough(app):
    world = make_world()
    make_case("closed", world=world, now=T0 - timedelta(days=7))  # May: on time, score 70
    close_late(world, T0)
    assert evaluate_early_warnings(AFTER_JUNE) == []


def test_bottom_of_a_large_enough_group_is_bad():
    settings = dict(DEFAULT_SETTINGS)
    row = lambda score, rank, of: SimpleNamespace(score=score, rank=rank, rank_of=of)  # noqa: E731
    assert is_bad(row(80, 3, 3), settings) == "bottom"
    assert is_bad(row(80, 2, 3), settings) is None
    assert is_bad(row(80, 2, 2), settings) is None  # too small a group to have a bottom
    assert is_bad(row(59.9, 1, 1), settings) == "below_threshold"
    assert is_bad(row(None, None, None), settings) is None


def test_interview_is_recorded_with_its_facts(bad_world):
    warning = next(w for w in evaluate_early_warnings(AFTER_JUNE) if w.group_by == "unit")
    evaluator = bad_world.user("evaluator")
    with pytest.raises(ValidationFailed) as caught:
        record_interview(warning, evaluator, held_on=None, attendees=" ", findings="x", measures="y")
    assert set(caught.value.fields) == {"held_on", "attendees"}
    with pytest.raises(NotAllowed):
        record_interview(warning, bad_world.user("leader"), held_on=date(2026, 7, 3), attendees="a",
                         findings="b", measures="c")
    interview = record_interview(warning, evaluator, held_on=date(2026, 7, 3), attendees="环卫处处长、考核科",
                                 findings="处置超时集中在暴露垃圾", measures="增加午间清运班次")
    db.session.refresh(warning)
    assert [i.id for i in warning.interviews] == [interview.id]


def test_assistance_plan_targets_the_top_problems_and_is_tracked(bad_world):
    warning = next(w for w in evaluate_early_warnings(AFTER_JUNE) if w.group_by == "unit")
    evaluator = bad_world.user("evaluator")
    with pytest.raises(ValidationFailed) as caught:
        create_assistance_plan(warning, evaluator, target_on_time_rate=120, tracked_periods=0)
    assert set(caught.value.fields) == {"target_on_time_rate", "tracked_periods"}
    plan = create_assistance_plan(warning, evaluator, target_on_time_rate=70, tracked_periods=2,
                                  measures="每周通报进度")
    assert plan.top_classes == [{"small_class": "E0102 暴露垃圾", "cases": 3, "late": 3}]
    assert plan.top_grids == [{"grid_code": "411302001001001", "grid_name": "网格001", "cases": 3, "late": 3}]
    with pytest.raises(ValidationFailed):
        db.session.refresh(warning)
        create_assistance_plan(warning, evaluator, target_on_time_rate=70, tracked_periods=2)
    # July: one case closed on time; August has begun but not ended.
    make_case("closed", world=bad_world, now=T0 + timedelta(days=35))
    checks = plan_progress(plan, now=Period.parse("2026-08").start_utc + timedelta(days=3))
    assert [(c.period, c.on_time_closure_rate, c.met, c.closed) for c in checks] == [
        ("2026-07", 1.0, True, True), ("2026-08", None, None, False),
    ]


def test_warning_pages_for_the_evaluator_and_the_area_lead(client, auth, bad_world):
    db.session.commit()
    auth.login("evaluator")
    # The evaluation runs on the real clock here: judge the months before today, not June.
    assert client.post("/evaluation/warnings/evaluate").status_code == 303
    evaluate_early_warnings(AFTER_JUNE)
    db.session.commit()
    unit = db.session.scalar(select(EarlyWarning).where(EarlyWarning.group_by == "unit"))
    sub = db.session.scalar(select(EarlyWarning).where(EarlyWarning.group_by == "subdistrict"))
    listing = client.get("/evaluation/warnings").text
    assert "环卫处" in listing and "测试街道" in listing
    page = client.get(f"/evaluation/warnings/{unit.id}")
    assert page.status_code == 200 and "2026-05" in page.text and 'name="iv-attendees"' in page.text
    bad = client.post(f"/evaluation/warnings/{unit.id}/interviews", data={"iv-held_on": "2026-07-03"})
    assert bad.status_code == 422 and "flash-error" in bad.text
    saved = client.post(f"/evaluation/warnings/{unit.id}/interviews", data={
        "iv-held_on": "2026-07-03", "iv-attendees": "环卫处处长", "iv-findings": "午间无人清运",
        "iv-measures": "增加午间班次",
    })
    assert saved.status_code == 303
    planned = client.post(f"/evaluation/warnings/{unit.id}/plan", data={
        "plan-target_on_time_rate": "75", "plan-tracked_periods": "3", "plan-measures": "",
    })
    assert planned.status_code == 303
    page = client.get(f"/evaluation/warnings/{unit.id}").text
    assert "午间无人清运" in page and "E0102 暴露垃圾" in page and 'name="plan-target_on_time_rate"' not in page
    auth.logout()

    auth.login("area_lead")  # lead of the test subdistrict
    assert client.get(f"/evaluation/warnings/{sub.id}").status_code == 200
    assert client.get(f"/evaluation/warnings/{unit.id}").status_code == 403
    assert "测试街道" in client.get("/evaluation/warnings").text
    assert client.post(f"/evaluation/warnings/{sub.id}/interviews", data={}).status_code == 403
    auth.logout()
    auth.login("outside_area_lead")
    assert client.get(f"/evaluation/warnings/{sub.id}").status_code == 403
    auth.logout()
    auth.login("unit_staff")
    assert client.get("/evaluation/warnings").status_code == 403
