"""The stored working calendar: day overrides, entered years, office hours, thresholds, the cached clock."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import select

from gridops.catalogue.models import CatalogueChange
from gridops.catalogue.services import get_city_clock
from gridops.errors import NotAllowed, ValidationFailed
from gridops.extensions import db
from gridops.worktime import ClockType, Colour
from gridops.worktime.models import CalendarDay, CitySetting
from gridops.versions import CLOCK_KEY
from gridops.worktime.store import (
    clear_calendar_day,
    enter_calendar_year,
    entered_years,
    set_calendar_day,
    set_warning_thresholds,
    set_work_schedule,
    work_schedule,
)
from tests.factories import make_user

UTC = timezone.utc


def at(year, month, day, hour=0) -> datetime:
    """A Shanghai wall-clock time as aware UTC."""
    return datetime(year, month, day, hour, tzinfo=UTC) - timedelta(hours=8)


@pytest.fixture
def admin(app):
    """A system administrator."""
    return make_user("admin", role="admin")


def _changes(entity: str) -> list[CatalogueChange]:
    return list(
        db.session.scalars(
            select(CatalogueChange).where(CatalogueChange.entity == entity).order_by(CatalogueChange.id)
        )
    )


def test_default_clock_without_settings(app):
    clock = get_city_clock()
    assert clock.schedule.hours_on(date(2026, 11, 23)) == ((time(8), time(12)), (time(14), time(18)))
    assert clock.calendar.overrides == {}
    assert get_city_clock() is clock


def test_a_day_override_rebuilds_the_clock_and_is_kept_in_history(admin):
    before = get_city_clock()
    assert before.calendar.is_working_day(date(2026, 11, 23))
    set_calendar_day(admin, "2026-11-23", False, " 城市纪念日 ")
    db.session.commit()
    clock = get_city_clock()
    assert clock is not before
    assert clock.calendar.day_info(date(2026, 11, 23)).note == "城市纪念日"
    assert clock.due_at(at(2026, 11, 20, 17), 2, ClockType.WORKING_HOURS) == at(2026, 11, 24, 9)
    assert get_city_clock() is clock
    set_calendar_day(admin, date(2026, 11, 23), True)
    clear_calendar_day(admin, date(2026, 11, 23))
    assert db.session.get(CalendarDay, date(2026, 11, 23)) is None
    create, update, delete = _changes("calendar_day")
    assert (create.entity_id, create.action, create.after["working"]) == (20261123, "create", False)
    assert (update.before["working"], update.after["working"]) == (False, True)
    assert (delete.action, delete.after) == ("delete", None)
    assert create.changed_by_id == admin.id


def test_day_validation_names_fields(admin):
    with pytest.raises(ValidationFailed) as caught:
        set_calendar_day(admin, "2027-13-01", False)
    assert "day" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        set_calendar_day(admin, "2027-01-01", "no", "x" * 200)
    assert set(caught.value.fields) == {"working", "note"}
    with pytest.raises(ValidationFailed) as caught:
        set_calendar_day(admin, datetime(2027, 1, 1, 8), False)
    assert "day" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        clear_calendar_day(admin, "2027-01-01")
    assert "day" in caught.value.fields


def test_a_provisional_year_runs_monday_to_friday_until_entered(admin):
    clock = get_city_clock()
    assert clock.provisional_years(date(2026, 11, 21)) == (2027,)
    # 20 working days from mid-December run into 2027 without blocking.
    assert clock.due_at(at(2026, 12, 15, 10), 20, ClockType.WORKING_DAYS) > at(2027, 1, 1)
    assert clock.calendar.day_info(date(2027, 1, 1)).source == "provisional"
    set_calendar_day(admin, date(2027, 1, 1), False, "元旦")
    clock = get_city_clock()
    assert clock.calendar.day_info(date(2027, 1, 1)).source == "override"
    assert clock.provisional_years(date(2026, 11, 21)) == (2027,)
    assert enter_calendar_year(admin, 2027) == [2027]
    clock = get_city_clock()
    assert clock.provisional_years(date(2026, 11, 21)) == ()
    assert clock.calendar.day_info(date(2027, 1, 4)).source == "entered"
    assert entered_years() == [2027]
    (change,) = _changes("calendar_year")
    assert (change.entity_id, change.before, change.after) == (2027, {"entered_years": []}, {"entered_years": [2027]})


@pytest.mark.parametrize("year", [2026, True, "2027", 1800])
def test_entering_a_year_is_checked(admin, year):
    with pytest.raises(ValidationFailed) as caught:
        enter_calendar_year(admin, year)
    assert "year" in caught.value.fields


def test_a_year_is_entered_once(admin):
    enter_calendar_year(admin, 2028)
    with pytest.raises(ValidationFailed):
        enter_calendar_year(admin, 2028)


def test_schedule_and_thresholds_are_stored_and_used(admin):
    summer = {
        "hours": [["08:30", "12:00"], ["14:30", "18:00"]],
        "seasons": [
            {"name": "summer", "from": "05-01", "to": "09-30", "hours": [["08:00", "12:00"], ["15:00", "19:00"]]}
        ],
    }
    set_work_schedule(admin, summer)
    set_warning_thresholds(admin, {"working_hours": {"yellow": 0.5, "red": 1.0}})
    db.session.commit()
    assert work_schedule().to_dict() == summer
    clock = get_city_clock()
    assert clock.schedule.hours_on(date(2026, 7, 1))[1] == (time(15), time(19))
    assert clock.thresholds[ClockType.WORKING_HOURS].yellow == 0.5
    assert clock.thresholds[ClockType.WORKING_DAYS].yellow == 0.8
    start = at(2026, 11, 23, 9)
    assert clock.status_colour(start, 4, "working_hours", at(2026, 11, 23, 11)) is Colour.YELLOW
    (schedule_change,) = _changes("schedule")
    assert schedule_change.before["hours"] == [["08:00", "12:00"], ["14:00", "18:00"]]
    assert schedule_change.after == summer
    (threshold_change,) = _changes("thresholds")
    assert (threshold_change.before, threshold_change.after) == ({}, {"working_hours": {"yellow": 0.5, "red": 1.0}})


def test_schedule_and_threshold_validation(admin):
    with pytest.raises(ValidationFailed):
        set_work_schedule(admin, {"hours": [["12:00", "08:00"]]})
    with pytest.raises(ValidationFailed) as caught:
        set_work_schedule(admin, ["08:00"])
    assert "schedule" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        set_warning_thresholds(admin, {"weeks": {}, "working_days": {"yellow": 1.2, "red": 1.0}, "urgent_hours": 3})
    assert set(caught.value.fields) == {"thresholds.weeks", "thresholds.working_days", "thresholds.urgent_hours"}
    assert db.session.get(CitySetting, CLOCK_KEY) is None


def test_only_administrators_change_the_calendar(app):
    dispatcher = make_user("dispatcher", role="dispatcher")
    for call in (
        lambda: set_calendar_day(dispatcher, "2027-01-01", False),
        lambda: enter_calendar_year(dispatcher, 2027),
        lambda: set_work_schedule(dispatcher, {"hours": [["08:00", "12:00"]]}),
        lambda: set_warning_thresholds(dispatcher, {}),
    ):
        with pytest.raises(NotAllowed):
            call()


def test_calendar_commands(runner):
    result = runner.invoke(args=["calendar", "set-day", "2027-01-01", "--day-off", "--note", "元旦"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["calendar", "set-day", "2027-02-20", "--working", "--note", "春节调休"])
    assert result.exit_code == 0, result.output
    shown = runner.invoke(args=["calendar", "show", "2027"]).output
    assert "PROVISIONAL" in shown and "2027-01-01 Fri day off  元旦" in shown and "2027-02-20 Sat working" in shown
    assert "official" in runner.invoke(args=["calendar", "show", "2026"]).output
    assert runner.invoke(args=["calendar", "enter-year", "2027"]).output.strip() == "entered years: 2027"
    assert "entered by an administrator" in runner.invoke(args=["calendar", "show", "2027"]).output
    assert runner.invoke(args=["calendar", "clear-day", "2027-02-20"]).exit_code == 0
    failed = runner.invoke(args=["calendar", "clear-day", "2027-02-20"])
    assert (failed.exit_code, failed.output) == (1, "Error: day: 2027-02-20 没有调整记录\n")
    failed = runner.invoke(args=["calendar", "enter-year", "2025"])
    assert (failed.exit_code, failed.output) == (1, "Error: year: 2025 年已在官方日历中\n")


def test_calendar_check_warns_until_the_years_are_entered(runner):
    years = get_city_clock().provisional_years()
    result = runner.invoke(args=["calendar", "check"])
    assert result.exit_code == (1 if years else 0)
    assert [line.split()[1] for line in result.output.splitlines() if line.startswith("warning:")] == [
        str(year) for year in years
    ]
    for year in years:
        assert runner.invoke(args=["calendar", "enter-year", str(year)]).exit_code == 0
    result = runner.invoke(args=["calendar", "check"])
    assert (result.exit_code, result.output.strip()) == (0, "the working calendar covers this year and next")


def test_each_app_context_reads_the_version_once_and_sees_other_processes_changes(app):
    clock = get_city_clock()
    with app.app_context():
        set_calendar_day(None, "2026-11-23", False, "elsewhere")
        db.session.commit()
    assert get_city_clock() is clock
    with app.app_context():
        fresh = get_city_clock()
        assert fresh is not clock and not fresh.calendar.is_working_day(date(2026, 11, 23))
