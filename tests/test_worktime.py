"""Worked examples for the calendars and clocks across the 2025 and 2026 official calendars."""

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from chinese_calendar import Holiday

from gridops.errors import ValidationFailed
from gridops.worktime import (
    OFFICIAL_YEARS,
    CityClock,
    ClockType,
    Colour,
    DayOverride,
    Season,
    Thresholds,
    WorkCalendar,
    WorkSchedule,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
WH, WD, UH, ND = "working_hours", "working_days", "urgent_hours", "natural_days"

SUMMER = Season("summer", (5, 1), (9, 30), ((time(8), time(12)), (time(15), time(19))))


def at(year, month, day, hour=0, minute=0) -> datetime:
    """A Shanghai wall-clock instant."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def clock():
    """The default city clock: official calendar, 08–12 and 14–18, Asia/Shanghai."""
    return CityClock()


@pytest.fixture
def summer_clock():
    """A city that works 15–19 in the afternoons from 1 May to 30 September."""
    return CityClock(schedule=WorkSchedule(seasons=(SUMMER,)))


# --- calendar -----------------------------------------------------------------------------


def test_official_years_cover_2025_and_2026():
    assert OFFICIAL_YEARS.start == 2004
    assert 2025 in OFFICIAL_YEARS and 2026 in OFFICIAL_YEARS
    assert WorkCalendar().known_years == frozenset(OFFICIAL_YEARS)


@pytest.mark.parametrize("year", [2025, 2026])
def test_calendar_agrees_with_the_library_on_every_day(year):
    calendar = WorkCalendar()
    day = date(year, 1, 1)
    while day.year == year:
        assert calendar.is_working_day(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_national_day_2025_with_its_adjusted_working_weekend_days():
    calendar = WorkCalendar()
    assert all(not calendar.is_working_day(date(2025, 10, d)) for d in range(1, 9))
    assert calendar.is_working_day(date(2025, 9, 28))  # Sunday
    assert calendar.is_working_day(date(2025, 10, 11))  # Saturday
    assert not calendar.is_working_day(date(2025, 10, 12))  # ordinary Sunday
    assert calendar.is_working_day(date(2025, 10, 9))


def test_spring_festival_2026():
    calendar = WorkCalendar()
    assert all(not calendar.is_working_day(date(2026, 2, d)) for d in range(15, 24))
    assert calendar.is_working_day(date(2026, 2, 14))  # Saturday before
    assert calendar.is_working_day(date(2026, 2, 28))  # Saturday after
    assert calendar.is_working_day(date(2026, 2, 24))


def test_day_info_names_the_festival_and_the_source():
    info = WorkCalendar().day_info(date(2025, 10, 11))
    assert (info.working, info.source, info.holiday) == (True, "official", Holiday.national_day)
    assert WorkCalendar().day_info(date(2025, 10, 6)).holiday.chinese == "中秋"
    assert WorkCalendar().day_info(date(2025, 11, 12)).holiday is None


def test_override_wins_over_the_official_calendar():
    calendar = WorkCalendar([DayOverride(date(2025, 11, 12), False, "city founding day")])
    assert not calendar.is_working_day(date(2025, 11, 12))
    info = calendar.day_info(date(2025, 11, 12))
    assert (info.source, info.note) == ("override", "city founding day")


def test_a_year_nobody_knows_runs_monday_to_friday_provisionally():
    calendar = WorkCalendar()
    assert calendar.is_provisional(2027) and not calendar.is_provisional(2026)
    assert calendar.is_working_day(date(2027, 3, 1))  # Monday
    assert not calendar.is_working_day(date(2027, 3, 6))  # Saturday
    info = calendar.day_info(date(2027, 3, 1))
    assert (info.working, info.source, info.holiday) == (True, "provisional", None)


def test_an_entered_year_uses_overrides_and_monday_to_friday():
    calendar = WorkCalendar(
        [
            DayOverride(date(2027, 1, 1), False, "元旦"),
            DayOverride(date(2027, 1, 9), True, "调休"),
        ],
        extra_years=[2027],
    )
    assert not calendar.is_working_day(date(2027, 1, 1))  # Friday, holiday
    assert calendar.is_working_day(date(2027, 1, 9))  # Saturday, made a working day
    assert calendar.is_working_day(date(2027, 1, 4))  # Monday
    assert not calendar.is_working_day(date(2027, 1, 10))  # Sunday
    assert calendar.day_info(date(2027, 1, 4)).source == "entered"
    assert calendar.day_info(date(2027, 1, 9)).note == "调休"
    assert 2027 in calendar.known_years and not calendar.is_provisional(2027)


def test_overrides_in_a_provisional_year_win_and_other_days_stay_provisional():
    calendar = WorkCalendar([DayOverride(date(2027, 1, 1), False, "元旦")])
    assert calendar.day_info(date(2027, 1, 1)).source == "override"
    assert not calendar.is_working_day(date(2027, 1, 1))
    assert calendar.day_info(date(2027, 1, 4)).source == "provisional"
    assert calendar.is_provisional(2027)


def test_overrides_are_refused_twice_or_when_not_a_date():
    with pytest.raises(ValidationFailed) as caught:
        WorkCalendar([DayOverride(date(2025, 1, 2), False), DayOverride(date(2025, 1, 2), True)])
    assert "overrides" in caught.value.fields
    with pytest.raises(ValidationFailed):
        WorkCalendar([DayOverride(datetime(2025, 1, 2, 9), False)])


# --- schedule -----------------------------------------------------------------------------


def test_default_schedule_is_eight_to_twelve_and_two_to_six():
    assert WorkSchedule().hours_on(date(2025, 7, 1)) == ((time(8), time(12)), (time(14), time(18)))


@pytest.mark.parametrize(
    "hours",
    [
        (),
        ((time(12), time(8)),),
        ((time(8), time(8)),),
        ((time(14), time(18)), (time(8), time(12))),
        ((time(8), time(13)), (time(12), time(18))),
        ((time(8), time(12, tzinfo=timezone.utc)),),
    ],
)
def test_bad_hours_are_refused(hours):
    with pytest.raises(ValidationFailed) as caught:
        WorkSchedule(hours=hours)
    assert any(name.startswith("hours") for name in caught.value.fields)


def test_touching_intervals_are_allowed():
    assert len(WorkSchedule(hours=((time(8), time(12)), (time(12), time(16)))).hours) == 2


def test_overlapping_seasons_are_refused():
    autumn = Season("autumn", (9, 1), (11, 30), WorkSchedule().hours)
    with pytest.raises(ValidationFailed) as caught:
        WorkSchedule(seasons=(SUMMER, autumn))
    assert "09-01" in caught.value.fields["seasons"]


def test_season_with_a_bad_date_is_refused():
    with pytest.raises(ValidationFailed):
        Season("summer", (2, 30), (9, 30), WorkSchedule().hours)


def test_season_across_new_year():
    winter = Season("winter", (10, 1), (4, 30), ((time(9), time(12)), (time(13), time(17))))
    schedule = WorkSchedule(seasons=(winter,))
    assert schedule.hours_on(date(2025, 12, 31))[0] == (time(9), time(12))
    assert schedule.hours_on(date(2026, 1, 15))[0] == (time(9), time(12))
    assert schedule.hours_on(date(2026, 7, 1))[0] == (time(8), time(12))


def test_schedule_round_trips_through_its_stored_form():
    schedule = WorkSchedule(seasons=(SUMMER,))
    stored = schedule.to_dict()
    assert stored["seasons"][0] == {
        "name": "summer",
        "from": "05-01",
        "to": "09-30",
        "hours": [["08:00", "12:00"], ["15:00", "19:00"]],
    }
    assert WorkSchedule.from_dict(stored) == schedule


@pytest.mark.parametrize(
    "data, field",
    [
        ({"hours": [["8am", "12:00"]]}, "hours[0]"),
        ({"hours": [["08:00"]]}, "hours[0]"),
        ({"seasons": [{"name": "s", "from": "May 1", "to": "09-30", "hours": [["08:00", "12:00"]]}]},
         "seasons[0].from"),
        ({"seasons": [{"name": "s", "from": "05-01", "to": "13-01", "hours": [["08:00", "12:00"]]}]},
         "seasons[0].to"),
        ({"hours": 5}, "hours"),
        ({"hours": "08:00-12:00"}, "hours"),
        ({"seasons": {"name": "s"}}, "seasons"),
        ({"seasons": [5]}, "seasons[0]"),
        ({"seasons": [{"name": "s", "from": "05-01", "to": "09-30", "hours": 8}]}, "seasons[0].hours"),
        ({"hours": [["08:00", "12:00"]], "lunch": "12:00"}, "lunch"),
    ],
)
def test_stored_form_errors_name_the_field(data, field):
    with pytest.raises(ValidationFailed) as caught:
        WorkSchedule.from_dict(data)
    assert field in caught.value.fields


# --- working hours ------------------------------------------------------------------------


def test_four_working_hours_from_friday_afternoon_end_on_monday_morning(clock):
    start = at(2025, 11, 14, 16)  # Friday
    assert clock.due_at(start, 4, WH) == at(2025, 11, 17, 10)
    assert clock.elapsed(start, at(2025, 11, 17, 10), WH) == timedelta(hours=4)


def test_lunch_break_is_skipped(clock):
    assert clock.due_at(at(2025, 11, 12, 11), 2, WH) == at(2025, 11, 12, 15)
    assert clock.elapsed(at(2025, 11, 12, 11), at(2025, 11, 12, 15), WH) == timedelta(hours=2)


def test_start_inside_the_lunch_break(clock):
    assert clock.due_at(at(2025, 11, 12, 12, 30), 1, WH) == at(2025, 11, 12, 15)
    assert clock.elapsed(at(2025, 11, 12, 12, 10), at(2025, 11, 12, 13, 50), WH) == timedelta(0)


def test_start_at_night_runs_from_next_morning(clock):
    assert clock.due_at(at(2025, 11, 12, 22), 1, WH) == at(2025, 11, 13, 9)
    assert clock.due_at(at(2025, 11, 13, 6), 1, WH) == at(2025, 11, 13, 9)


def test_limit_ending_at_noon_is_due_at_noon_not_after_lunch(clock):
    assert clock.due_at(at(2025, 11, 12, 8), 4, WH) == at(2025, 11, 12, 12)


def test_start_on_a_holiday_waits_for_the_first_working_day(clock):
    assert clock.due_at(at(2025, 10, 3, 10), 4, WH) == at(2025, 10, 9, 12)


def test_adjusted_working_saturday_and_sunday_count(clock):
    assert clock.due_at(at(2025, 10, 10, 17), 2, WH) == at(2025, 10, 11, 9)  # Fri → Sat
    assert clock.due_at(at(2025, 9, 27, 10), 1, WH) == at(2025, 9, 28, 9)  # Sat → Sun
    assert clock.elapsed(at(2025, 10, 10, 17), at(2025, 10, 13, 10), WH) == timedelta(hours=11)


def test_spring_festival_2026_stops_the_working_clock(clock):
    assert clock.due_at(at(2026, 2, 13, 16), 4, WH) == at(2026, 2, 14, 10)  # working Saturday
    assert clock.due_at(at(2026, 2, 14, 17), 4, WH) == at(2026, 2, 24, 11)
    assert clock.elapsed(at(2026, 2, 15), at(2026, 2, 24), WH) == timedelta(0)


def test_fractional_hours(clock):
    assert clock.due_at(at(2025, 11, 12, 11), 1.5, WH) == at(2025, 11, 12, 14, 30)


def test_seasonal_schedule_switches_on_its_dates(summer_clock):
    assert summer_clock.due_at(at(2025, 6, 10, 12, 30), 2, WH) == at(2025, 6, 10, 17)
    # 30 September is summer (15–19); after the National Day holiday 9 October is not.
    assert summer_clock.due_at(at(2025, 9, 30, 16), 4, WH) == at(2025, 10, 9, 9)
    assert summer_clock.due_at(at(2025, 6, 9, 10), 1, WD) == at(2025, 6, 10, 19)


def test_working_intervals_of_a_day(clock):
    assert clock.working_intervals(date(2025, 10, 11)) == (
        (at(2025, 10, 11, 8), at(2025, 10, 11, 12)),
        (at(2025, 10, 11, 14), at(2025, 10, 11, 18)),
    )
    assert clock.working_intervals(date(2025, 10, 12)) == ()


# --- working days, natural days, urgent hours ---------------------------------------------


@pytest.mark.parametrize(
    "start, due",
    [
        (at(2025, 11, 10, 10), at(2025, 11, 11, 18)),  # Monday during work → end of Tuesday
        (at(2025, 11, 10, 7), at(2025, 11, 11, 18)),  # before office hours: the start day never counts
        (at(2025, 11, 10, 20), at(2025, 11, 11, 18)),  # Monday evening
        (at(2025, 11, 14, 20), at(2025, 11, 17, 18)),  # Friday evening → Monday
        (at(2025, 11, 15, 10), at(2025, 11, 17, 18)),  # Saturday → Monday
        (at(2025, 9, 30, 10), at(2025, 10, 9, 18)),  # over National Day
        (at(2025, 9, 27, 10), at(2025, 9, 28, 18)),  # Saturday → working Sunday
    ],
)
def test_one_working_day_ends_with_the_next_working_day(clock, start, due):
    assert clock.due_at(start, 1, WD) == due


def test_twenty_working_days_across_national_day(clock):
    # Working days after Fri 26 Sep: 28 Sep (Sun), 29, 30 Sep, 9, 10, 11 (Sat) Oct, then 14 weekdays.
    assert clock.due_at(at(2025, 9, 26, 10), 20, WD) == at(2025, 10, 30, 18)


def test_working_day_elapsed_is_working_time_and_reaches_the_whole_limit_at_due(clock):
    start = at(2025, 11, 10, 10)
    assert clock.elapsed(start, at(2025, 11, 11, 18), WD) == timedelta(hours=14)
    assert clock.fraction_used(start, 1, WD, at(2025, 11, 11, 18)) == 1.0
    assert clock.fraction_used(start, 1, WD, at(2025, 11, 11, 10)) == pytest.approx(8 / 14)


def test_natural_days_end_at_midnight_and_ignore_holidays(clock):
    assert clock.due_at(at(2025, 11, 10, 10), 1, ND) == at(2025, 11, 12)
    assert clock.due_at(at(2025, 9, 30, 10), 7, ND) == at(2025, 10, 8)
    assert clock.elapsed(at(2025, 10, 1), at(2025, 10, 3), ND) == timedelta(days=2)


def test_urgent_hours_run_through_nights_and_holidays(clock):
    assert clock.due_at(at(2025, 10, 1, 23), 2, UH) == at(2025, 10, 2, 1)
    assert clock.elapsed(at(2025, 10, 1, 23), at(2025, 10, 2, 1), UH) == timedelta(hours=2)


def test_clock_type_members_are_accepted(clock):
    assert clock.due_at(at(2025, 11, 12, 8), 1, ClockType.WORKING_HOURS) == at(2025, 11, 12, 9)


# --- pauses -------------------------------------------------------------------------------


def test_pause_pushes_due_time_and_is_left_out_of_elapsed(clock):
    start, pause = at(2025, 11, 10, 9), (at(2025, 11, 10, 10), at(2025, 11, 10, 14, 30))
    assert clock.due_at(start, 4, WH, paused=[pause]) == at(2025, 11, 10, 17, 30)
    assert clock.elapsed(start, at(2025, 11, 10, 17, 30), WH, paused=[pause]) == timedelta(hours=4)


def test_overlapping_pauses_and_pauses_outside_the_span(clock):
    start = at(2025, 11, 10, 9)
    paused = [
        (at(2025, 11, 7, 9), at(2025, 11, 10, 10)),  # began before the start
        (at(2025, 11, 10, 14), at(2025, 11, 10, 16)),
        (at(2025, 11, 10, 15), at(2025, 11, 10, 17)),
    ]
    assert clock.elapsed(start, at(2025, 11, 10, 18), WH, paused=paused) == timedelta(hours=3)
    assert clock.due_at(start, 4, WH, paused=paused) == at(2025, 11, 11, 9)


def test_suspension_moves_a_working_day_limit(clock):
    start = at(2025, 11, 10, 10)  # 1 working day: due Tuesday 18:00 (14 working hours)
    paused = [(at(2025, 11, 11, 8), at(2025, 11, 12, 8))]  # Tuesday suspended
    assert clock.due_at(start, 1, WD, paused=paused) == at(2025, 11, 12, 18)
    assert clock.fraction_used(start, 1, WD, at(2025, 11, 11, 18), paused=paused) == pytest.approx(6 / 14)


def test_pause_during_urgent_hours(clock):
    start = at(2025, 10, 1, 20)
    paused = [(at(2025, 10, 1, 21), at(2025, 10, 1, 23))]
    assert clock.due_at(start, 2, UH, paused=paused) == at(2025, 10, 2, 0)


# --- warnings -----------------------------------------------------------------------------


def test_status_colour_green_yellow_red(clock):
    start = at(2025, 11, 12, 8)  # 10 working hours: due Thursday 10:00
    assert clock.status_colour(start, 10, WH, at(2025, 11, 12, 17)) is Colour.GREEN
    assert clock.status_colour(start, 10, WH, at(2025, 11, 12, 17, 59)) is Colour.GREEN
    assert clock.status_colour(start, 10, WH, at(2025, 11, 12, 18)) is Colour.YELLOW  # 80 % reached
    assert clock.status_colour(start, 10, WH, at(2025, 11, 13, 10)) is Colour.YELLOW  # exactly due
    assert clock.status_colour(start, 10, WH, at(2025, 11, 13, 10, 1)) is Colour.RED


def test_red_after_a_friday_deadline_although_no_working_time_passed(clock):
    start = at(2025, 11, 14, 14)
    assert clock.due_at(start, 4, WH) == at(2025, 11, 14, 18)
    assert clock.fraction_used(start, 4, WH, at(2025, 11, 15, 10)) == 1.0
    assert clock.status_colour(start, 4, WH, at(2025, 11, 15, 10)) is Colour.RED


def test_thresholds_per_call_and_per_clock_type():
    start, now = at(2025, 11, 12, 8), at(2025, 11, 12, 15)  # 6 of 10 working hours
    assert CityClock().status_colour(start, 10, WH, now) is Colour.GREEN
    assert CityClock().status_colour(start, 10, WH, now, thresholds=Thresholds(0.5, 1.0)) is Colour.YELLOW
    strict = CityClock(thresholds={WH: Thresholds(yellow=0.5)})
    assert strict.status_colour(start, 10, WH, now) is Colour.YELLOW
    assert strict.status_colour(start, 10, UH, now) is Colour.GREEN


def test_threshold_at_gives_reminder_and_escalation_instants(clock):
    start = at(2025, 11, 12, 8)
    assert clock.threshold_at(start, 10, WH, 0.8) == at(2025, 11, 12, 18)  # earliest instant of 8 h
    assert clock.threshold_at(start, 10, WH, 1.5) == at(2025, 11, 13, 17)
    assert clock.threshold_at(start, 10, WH, 0) == start


def test_fraction_is_zero_before_the_start(clock):
    assert clock.fraction_used(at(2025, 11, 12, 8), 4, WH, at(2025, 11, 11, 8)) == 0.0


# --- time zones and refusals --------------------------------------------------------------


def test_inputs_in_any_zone_and_outputs_in_utc(clock):
    due = clock.due_at(datetime(2025, 11, 14, 8, tzinfo=timezone.utc), 4, WH)  # Friday 16:00 in Shanghai
    assert due.tzinfo is timezone.utc
    assert due == datetime(2025, 11, 17, 2, tzinfo=timezone.utc)


def test_time_zone_is_configurable():
    tokyo = CityClock(timezone="Asia/Tokyo")
    due = tokyo.due_at(datetime(2025, 11, 12, 17, tzinfo=ZoneInfo("Asia/Tokyo")), 2, WH)
    assert due == datetime(2025, 11, 13, 9, tzinfo=ZoneInfo("Asia/Tokyo"))


def test_a_daylight_saving_gap_keeps_intervals_ordered():
    berlin = ZoneInfo("Europe/Berlin")
    calendar = WorkCalendar([DayOverride(date(2025, 3, 30), True, "test: Sunday of the spring jump")])
    schedule = WorkSchedule(hours=((time(1), time(2, 30)), (time(2, 45), time(3, 30))))
    clock = CityClock(calendar, schedule, timezone="Europe/Berlin")
    intervals = clock.working_intervals(date(2025, 3, 30))
    # 02:30 lies in the gap and maps to 01:30 UTC; 03:30 CEST is 01:30 UTC, so the second interval is empty.
    utc = timezone.utc
    assert intervals == ((datetime(2025, 3, 30, 0, tzinfo=utc), datetime(2025, 3, 30, 1, 30, tzinfo=utc)),)
    start = datetime(2025, 3, 30, 0, 30, tzinfo=berlin)
    assert clock.elapsed(start, clock.due_at(start, 3, WH), WH) == timedelta(hours=3)


def test_clocks_run_into_a_provisional_year_and_say_so(clock):
    # Sunday 2026-12-20 10:00 + 20 working days: Dec 21–31 give 9, then Mon–Fri of 2027.
    assert clock.due_at(at(2026, 12, 20, 10), 20, WD) == at(2027, 1, 15, 18)
    assert clock.elapsed(at(2026, 12, 30), at(2027, 1, 5), WH) == timedelta(hours=8 * 4)
    assert clock.due_at(at(2026, 12, 31, 10), 1, ND) == at(2027, 1, 2)
    assert clock.provisional_years(date(2026, 11, 21)) == (2027,)
    assert clock.provisional_years(date(2026, 11, 21), years_ahead=0) == ()


def test_an_entered_year_lets_clocks_run_into_it():
    calendar = WorkCalendar([DayOverride(date(2027, 1, 1), False, "元旦")], extra_years=[2027])
    clock = CityClock(calendar)
    assert clock.due_at(at(2026, 12, 31, 17), 2, WH) == at(2027, 1, 4, 9)
    assert clock.provisional_years(date(2026, 11, 21), years_ahead=2) == (2028,)


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda c: c.due_at(datetime(2025, 11, 12, 8), 4, WH), "start"),
        (lambda c: c.due_at(date(2025, 11, 12), 4, WH), "start"),
        (lambda c: c.elapsed(at(2025, 11, 12, 8), datetime(2025, 11, 12, 9), WH), "end"),
        (lambda c: c.elapsed(at(2025, 11, 12, 9), at(2025, 11, 12, 8), WH), "end"),
        (lambda c: c.due_at(at(2025, 11, 12, 8), 4, "weeks"), "clock"),
        (lambda c: c.due_at(at(2025, 11, 12, 8), 0, WH), "limit"),
        (lambda c: c.due_at(at(2025, 11, 12, 8), -1, WH), "limit"),
        (lambda c: c.due_at(at(2025, 11, 12, 8), True, WH), "limit"),
        (lambda c: c.due_at(at(2025, 11, 12, 8), "4", WH), "limit"),
        (lambda c: c.due_at(at(2025, 11, 12, 8), float("nan"), WH), "limit"),
        (lambda c: c.due_at(at(2025, 11, 12, 8), 1.5, WD), "limit"),
        (lambda c: c.due_at(at(2025, 11, 12, 8), 10**12, UH), "limit"),
        (lambda c: c.due_at(at(2025, 11, 12, 8), 10**7, ND), "limit"),
        (lambda c: c.threshold_at(at(2025, 11, 12, 8), 4, WH, -0.5), "fraction"),
        (lambda c: c.threshold_at(at(2025, 11, 12, 8), 4, WH, float("nan")), "fraction"),
        (lambda c: c.threshold_at(at(2025, 11, 12, 8), 4, WH, float("inf")), "fraction"),
        (lambda c: c.due_at(at(2025, 11, 12, 8), 4, WH, paused=[(at(2025, 11, 12, 9),)]), "paused[0]"),
        (lambda c: c.due_at(at(2025, 11, 12, 8), 4, WH, paused=[(datetime(2025, 11, 12), at(2025, 11, 12))]),
         "paused[0]"),
        (lambda c: c.due_at(at(2025, 11, 12, 8), 4, WH, paused=[(at(2025, 11, 12, 10), at(2025, 11, 12, 9))]),
         "paused[0]"),
    ],
)
def test_refusals_name_the_field(clock, call, field):
    with pytest.raises(ValidationFailed) as caught:
        call(clock)
    assert field in caught.value.fields


def test_bad_configuration_is_refused():
    with pytest.raises(ValidationFailed) as caught:
        CityClock(timezone="Mars/Olympus")
    assert "timezone" in caught.value.fields
    with pytest.raises(ValidationFailed):
        Thresholds(yellow=1.2, red=1.0)
    with pytest.raises(ValidationFailed):
        CityClock(thresholds={"fortnights": Thresholds()})
