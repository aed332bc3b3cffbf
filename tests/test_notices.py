"""Notices: the content of each kind on a hand-built data set, exactly-once making, freezing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gridops.errors import InvalidTransition, NotAllowed, ValidationFailed
from gridops.evaluation import notices as notices_module
from gridops.evaluation.models import Notice
from gridops.evaluation.notices import (
    content_for,
    generate_due_notices,
    generate_notice,
    publish_notice,
    refresh_notice,
)
from gridops.evaluation.periods import Period
from gridops.extensions import db
from gridops.auth import permissions
from tests.case_factories import GRID4_XY, T0, act, make_case, make_world
from tests.factories import DX, DY, X0, Y0

#: Inside unit grid 2 (north-east cell), in the grid worker's responsibility grid.
GRID2_XY = (X0 + 1.5 * DX, Y0 + 1.5 * DY)

WEEK = Period.parse("2026-W23")  # Monday 1 June – Sunday 7 June 2026
AFTER_WEEK = WEEK.end_utc + timedelta(hours=9)  # Monday 8 June, 17:00 local


@pytest.fixture
def week_world(app):
    """Two overdue cases (one past level 3), one closed, one supervised: all in grid 1 or 4."""
    world = make_world()
    cases = {
        "old": make_case("handling", world=world, now=T0),
        "friday": make_case("handling", world=world, now=T0 + timedelta(days=4)),
        "closed": make_case("closed", world=world, now=T0),
        "watched": make_case(
            "dispatched", world=world, now=T0 + timedelta(days=6, hours=2), xy=GRID4_XY,
            case_type="component", small_class_code="0118",
        ),
    }
    act(world, cases["watched"], "supervise", "leader", instruction="今天处理", now=T0 + timedelta(days=6, hours=3))
    db.session.flush()
    return world, cases


def test_weekly_lists_overdue_and_supervised_cases_by_unit(week_world):
    world, cases = week_world
    notice = generate_notice("weekly", WEEK, now=AFTER_WEEK)
    content = notice.content
    assert notice.status == "draft" and notice.period_key == "2026-W23" and content["complete"] is True
    [unit] = content["units"]
    assert unit["unit_id"] == world.unit.id and unit["unit_name"] == "环卫处"
    assert [row["number"] for row in unit["overdue"]] == [cases["old"].number, cases["friday"].number]
    # Monday 16:00 due + 3 working days is Thursday: level 3 by Sunday; Friday's case is not.
    assert [row["level3"] for row in unit["overdue"]] == [True, False]
    # Measured by the handling due time: handling is the stage named on the list.
    assert [row["level3_stages"] for row in unit["overdue"]] == [["handling"], []]
    assert unit["overdue"][0]["small_class"] == "E0102 暴露垃圾"
    assert unit["overdue"][0]["overdue_hours"] == pytest.approx(6 * 24 + 8, abs=0.1)
    assert [row["number"] for row in unit["supervised"]] == [cases["watched"].number]
    assert content["totals"] == {"overdue": 2, "level3": 1, "supervised": 1}


def test_weekly_hot_spot_is_new_when_the_week_before_had_none(week_world):
    content = generate_notice("weekly", WEEK, now=AFTER_WEEK).content
    [spot] = content["hot_spots"]
    assert spot["grid_code"] == "411302001001001"
    assert spot["small_class"] == "E0102 暴露垃圾"
    assert spot["reports"] == 3 and spot["new"] is True
    following = generate_notice("weekly", WEEK.next(), now=AFTER_WEEK + timedelta(days=7)).content
    assert following["hot_spots"] == []


def test_nine_word_dimensions_count_reports_and_closures(week_world):
    words = {row["word"]: row for row in generate_notice("weekly", WEEK, now=AFTER_WEEK).content["nine_words"]}
    assert list(words) == ["净", "绿", "亮", "齐", "便", "美", "通", "平", "清"]
    assert (words["净"]["reports"], words["净"]["closed"]) == (3, 1)
    assert (words["亮"]["reports"], words["亮"]["closed"]) == (1, 0)
    assert words["绿"]["reports"] == 0


def test_quarterly_review_lists_recurring_problems_rework_and_extensions(app):
    world = make_world()
    for day in (0, 10, 20):
        make_case("handled", world=world, now=T0 + timedelta(days=day))
    reworked = make_case("handled", world=world, now=T0 + timedelta(days=1), xy=GRID2_XY)
    act(world, reworked, "check_fail", "grid_worker", photos=True, reason="未清理干净",
        now=T0 + timedelta(days=1, hours=2))
    act(world, reworked, "feedback", "unit_staff", photos=True, note="已返工",
        now=T0 + timedelta(days=1, hours=3))
    content = generate_notice("quarterly", Period.parse("2026-Q2"), now=T0 + timedelta(days=25)).content
    [problem] = content["recurring"]
    assert (problem["grid_code"], problem["small_class"], problem["reports"]) == (
        "411302001001001", "E0102 暴露垃圾", 3)
    assert content["rework"] == [
        {"unit_id": world.unit.id, "unit_code": "SAN01", "unit_name": "环卫处", "total": 1, "cases": 1}
    ]
    assert content["extensions"] == []
    assert [m["period"] for m in content["months"]] == ["2026-04", "2026-05", "2026-06"]
    assert content["complete"] is False


def test_a_notice_is_made_once_per_kind_period_and_scope(week_world):
    first = generate_notice("weekly", WEEK, now=AFTER_WEEK)
    again = generate_notice("weekly", WEEK, now=AFTER_WEEK + timedelta(days=1))
    assert again.id == first.id and again.generated_at == first.generated_at
    world, _cases = week_world
    district = generate_notice("weekly", WEEK, now=AFTER_WEEK, scope_area=world.areas["district"])
    assert district.id != first.id and district.scope_key == f"area:{world.areas['district'].id}"
    assert db.session.scalar(select(func.count()).select_from(Notice)) == 2


def test_a_maker_losing_the_race_gets_the_winners_notice(week_world, monkeypatch):
    winner = generate_notice("weekly", WEEK, now=AFTER_WEEK)
    real_find = notices_module.find_notice
    calls = []

    def blind_once(*args):
        calls.append(args)
        return None if len(calls) == 1 else real_find(*args)

    monkeypatch.setattr(notices_module, "find_notice", blind_once)
    assert generate_notice("weekly", WEEK, now=AFTER_WEEK).id == winner.id
    assert db.session.scalar(select(func.count()).select_from(Notice)) == 1


def test_due_notices_catch_up_and_never_repeat(app):
    make_world()
    # Monday 8 June 2026 07:59 local: week 23 is not due before 08:00; four closed periods are looked at.
    early = WEEK.end_utc + timedelta(hours=7, minutes=59)
    assert [(n.kind, n.period_key) for n in generate_due_notices(early)] == [
        ("weekly", "2026-W22"), ("weekly", "2026-W21"), ("weekly", "2026-W20"),
        ("monthly", "2026-05"), ("monthly", "2026-04"), ("monthly", "2026-03"), ("monthly", "2026-02"),
        ("quarterly", "2026-Q1"), ("quarterly", "2025-Q4"), ("quarterly", "2025-Q3"), ("quarterly", "2025-Q2"),
    ]
    made = generate_due_notices(early + timedelta(minutes=1))
    assert [(n.kind, n.period_key) for n in made] == [("weekly", "2026-W23")]
    assert generate_due_notices(early + timedelta(hours=1)) == []


def test_published_notice_is_frozen(week_world):
    world, _cases = week_world
    evaluator = world.user("evaluator")
    notice = generate_notice("weekly", WEEK, now=AFTER_WEEK, actor=evaluator)
    with pytest.raises(InvalidTransition):
        publish_notice(generate_notice("weekly", WEEK.next(), now=AFTER_WEEK, actor=evaluator), evaluator,
                       now=AFTER_WEEK)
    publish_notice(notice, evaluator, now=AFTER_WEEK)
    before = dict(notice.content)
    make_case("handling", world=world, now=T0 + timedelta(days=2))
    with pytest.raises(InvalidTransition):
        refresh_notice(notice, evaluator, now=AFTER_WEEK + timedelta(days=1))
    with pytest.raises(InvalidTransition):
        publish_notice(notice, evaluator, now=AFTER_WEEK)
    db.session.expire_all()
    assert generate_notice("weekly", WEEK, now=AFTER_WEEK + timedelta(days=2)).content == before
    assert before["totals"]["overdue"] == 2


def test_a_draft_refresh_takes_in_late_data(week_world):
    world, _cases = week_world
    evaluator = world.user("evaluator")
    notice = generate_notice("weekly", WEEK, now=AFTER_WEEK, actor=evaluator)
    make_case("handling", world=world, now=T0 + timedelta(days=2))
    refresh_notice(notice, evaluator, now=AFTER_WEEK + timedelta(hours=1))
    assert notice.content["totals"]["overdue"] == 3


def test_only_evaluators_and_admins_make_notices(week_world):
    world, _cases = week_world
    for role in ("leader", "area_lead", "unit_staff", "dispatcher"):
        with pytest.raises(NotAllowed):
            generate_notice("weekly", WEEK, now=AFTER_WEEK, actor=world.user(role))
    assert generate_notice("weekly", WEEK, now=AFTER_WEEK, actor=world.user("admin")).generated_by_id


def test_kind_must_match_the_period_and_the_period_must_have_started(app):
    with pytest.raises(ValidationFailed) as caught:
        generate_notice("monthly", WEEK, now=AFTER_WEEK)
    assert "period" in caught.value.fields
    with pytest.raises(ValidationFailed):
        generate_notice("weekly", WEEK.next().next(), now=AFTER_WEEK)
    with pytest.raises(ValidationFailed):
        generate_notice("yearly", Period.parse("2026"), now=AFTER_WEEK)


def test_readers_see_published_notices_of_their_scope_and_only_their_cases(week_world):
    world, cases = week_world
    evaluator = world.user("evaluator")
    notice = generate_notice("weekly", WEEK, now=AFTER_WEEK, actor=evaluator)
    lead, outsider, staff, stranger = (
        world.user("area_lead"), world.outsiders["area_lead"], world.user("unit_staff"),
        world.outsiders["unit_staff"],
    )
    assert permissions.can_view_notice(world.user("leader"), notice)
    assert not permissions.can_view_notice(lead, notice)  # a draft
    assert not permissions.can_view_notice(world.user("dispatcher"), notice)
    publish_notice(notice, evaluator, now=AFTER_WEEK)
    assert all(permissions.can_view_notice(u, notice) for u in (lead, outsider, staff, stranger))
    assert content_for(notice, lead)["totals"]["overdue"] == 2
    assert [len(u["overdue"]) for u in content_for(notice, lead)["units"]] == [2]
    assert content_for(notice, outsider)["units"] == []
    assert content_for(notice, outsider)["hot_spots"] == []
    assert [len(u["overdue"]) for u in content_for(notice, staff)["units"]] == [2]
    assert content_for(notice, stranger)["units"] == []
    district = generate_notice("weekly", WEEK, now=AFTER_WEEK, scope_area=world.areas["district"])
    publish_notice(district, evaluator, now=AFTER_WEEK)
    assert permissions.can_view_notice(lead, district)
    assert not permissions.can_view_notice(outsider, district)
    assert not permissions.can_view_notice(staff, district)


def test_command_line_makes_publishes_and_catches_up(runner, week_world):
    db.session.commit()
    result = runner.invoke(args=["notices", "generate", "--kind", "weekly", "--period", "2026-W23", "--publish"])
    assert result.exit_code == 0, result.output
    assert "weekly 2026-W23 city (published)" in result.output
    again = runner.invoke(args=["notices", "generate", "--kind", "weekly", "--period", "2026-W23"])
    assert again.output == result.output
    refused = runner.invoke(args=["notices", "generate", "--kind", "monthly", "--period", "2026-W23"])
    assert refused.exit_code != 0 and "period" in refused.output
    unknown = runner.invoke(args=["notices", "generate", "--kind", "weekly", "--period", "2026-W23",
                                  "--area", "999"])
    assert unknown.exit_code != 0 and "no area" in unknown.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Notice)) == 1


def test_the_scheduled_jobs_include_notices_and_early_warnings(app):
    from gridops.jobs.schedule import job_by_id

    make_world()
    made = job_by_id("weekly_supervision").run(AFTER_WEEK)["made"]
    assert "weekly:2026-W23" in made
    assert job_by_id("weekly_supervision").run(AFTER_WEEK) == {"made": []}
    assert job_by_id("early_warnings").run(AFTER_WEEK) == {"flagged": []}


def test_demo_loads_published_notices_of_the_last_week_and_month_once(week_world):
    from gridops.demo.notices import ensure_demo_notices

    first = ensure_demo_notices(AFTER_WEEK)
    assert first.made == ["weekly 2026-W23", "monthly 2026-05"] and first.kept == []
    notices = list(db.session.scalars(select(Notice).order_by(Notice.id)))
    assert [(n.kind, n.status) for n in notices] == [("weekly", "published"), ("monthly", "published")]
    assert notices[0].content["totals"]["overdue"] == 2
    again = ensure_demo_notices(AFTER_WEEK)
    assert again.made == [] and again.kept == ["weekly 2026-W23", "monthly 2026-05"]


def test_a_level_3_timeout_order_puts_a_case_on_the_level_3_list(week_world):
    from gridops.supervision.models import SupervisionOrder

    _world, cases = week_world
    friday = cases["friday"]
    db.session.add(SupervisionOrder(case_id=friday.id, stage="handling", kind="timeout", level=3, basis_at=friday.handle_due_at,
                                    created_at=T0 + timedelta(days=5)))
    db.session.flush()
    [unit] = generate_notice("weekly", WEEK, now=AFTER_WEEK).content["units"]
    assert [row["level3"] for row in unit["overdue"]] == [True, True]
    assert [row["level3_stages"] for row in unit["overdue"]] == [["handling"], ["handling"]]


def test_the_weekly_list_names_the_stages_at_level_3(app):
    """A dispatched case escalated to level 3 in signing and handling names both; a case waiting
    for dispatch three working days past its dispatch limit, not swept yet, names dispatch."""
    from flask_babel import force_locale

    from gridops.evaluation.exports import weekly_tables
    from gridops.supervision.services import sweep_escalations

    world = make_world()
    unsigned = make_case("dispatched", world=world, now=T0)
    sweep_escalations(T0 + timedelta(days=6))
    waiting = make_case("registered", world=world, now=T0)
    content = generate_notice("weekly", WEEK, now=AFTER_WEEK).content
    rows = {row["number"]: row for unit in content["units"] for row in unit["overdue"]}
    assert rows[unsigned.number]["level3_stages"] == ["signing", "handling"]
    assert rows[waiting.number]["level3_stages"] == ["dispatch"]
    assert content["totals"]["level3"] == 2
    with app.test_request_context(), force_locale("zh"):
        cells = {row[0]: row for table in weekly_tables(content) if table.key.startswith("overdue-")
                 for row in table.rows}
        header = next(t for t in weekly_tables(content) if t.key.startswith("overdue-")).columns
        assert header[7] == "三级督办环节"
        assert cells[unsigned.number][7] == "签收 / 单位处置"
        assert cells[waiting.number][7] == "派遣"


def test_a_weekly_notice_made_before_stages_were_named_still_renders(app):
    from flask_babel import force_locale

    from gridops.evaluation.exports import weekly_tables

    world = make_world()
    make_case("handling", world=world, now=T0)
    content = generate_notice("weekly", WEEK, now=AFTER_WEEK).content
    for unit in content["units"]:
        for row in unit["overdue"]:
            del row["level3_stages"]  # as stored by earlier versions
    with app.test_request_context(), force_locale("zh"):
        [table] = [t for t in weekly_tables(content) if t.key.startswith("overdue-")]
        assert [row[7] for row in table.rows] == ["是"]
