"""Laws every clock must obey, checked with Hypothesis over the 2025–2026 calendars."""

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridops.worktime import CityClock, ClockType, Colour, Season, WorkSchedule

CLOCKS = [
    CityClock(),
    CityClock(
        schedule=WorkSchedule(
            seasons=(Season("summer", (5, 1), (9, 30), ((time(8), time(12)), (time(15), time(19)))),)
        )
    ),
]
HOUR_CLOCKS = [ClockType.URGENT_HOURS, ClockType.WORKING_HOURS]
DAY_CLOCKS = [ClockType.WORKING_DAYS, ClockType.NATURAL_DAYS]

LAWS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

city_clocks = st.sampled_from(CLOCKS)
clock_types = st.sampled_from(list(ClockType))
zones = st.sampled_from([timezone.utc, ZoneInfo("Asia/Shanghai"), ZoneInfo("Europe/Berlin")])
# Starts end in October 2026 so that the largest limits below stay inside the known calendar.
instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2026, 10, 31), timezones=zones, allow_imaginary=False
)
hour_limits = st.one_of(st.integers(1, 160), st.sampled_from([0.5, 1.25, 2.75]))
day_limits = st.integers(1, 20)


def _wall(a: datetime, b: datetime) -> timedelta:
    """Real elapsed time (subtracting two datetimes of one zone would give wall-clock time)."""
    return b.astimezone(timezone.utc) - a.astimezone(timezone.utc)


@st.composite
def clock_and_limit(draw, clocks=tuple(ClockType)):
    """A clock type with a limit in its unit."""
    clock = draw(st.sampled_from(clocks))
    return clock, draw(day_limits if clock.counts_days else hour_limits)


@st.composite
def pauses_near(draw, start: datetime):
    """Up to three suspensions of up to three days, possibly overlapping, around ``start``."""
    result = []
    for _ in range(draw(st.integers(0, 3))):
        begin = start.astimezone(timezone.utc) + draw(st.timedeltas(timedelta(days=-2), timedelta(days=15)))
        result.append((begin, begin + draw(st.timedeltas(timedelta(0), timedelta(days=3)))))
    return result


@LAWS
@given(city_clocks, clock_and_limit(), instants, instants)
def test_due_at_is_monotonic_in_start(city, clock_limit, a, b):
    clock, limit = clock_limit
    a, b = sorted((a, b))
    assert city.due_at(a, limit, clock) <= city.due_at(b, limit, clock)


@LAWS
@given(city_clocks, clock_and_limit(HOUR_CLOCKS), instants, instants, st.data())
def test_hour_clock_due_at_is_monotonic_in_start_with_pauses(city, clock_limit, a, b, data):
    clock, limit = clock_limit
    a, b = sorted((a, b))
    paused = data.draw(pauses_near(a))
    assert city.due_at(a, limit, clock, paused=paused) <= city.due_at(b, limit, clock, paused=paused)


@LAWS
@given(city_clocks, clock_types, instants, day_limits, day_limits, st.data())
def test_due_at_is_monotonic_in_limit(city, clock, start, x, y, data):
    paused = data.draw(pauses_near(start))
    small, large = sorted((x, y))
    small_due = city.due_at(start, small, clock, paused=paused)
    assert start <= small_due <= city.due_at(start, large, clock, paused=paused)


@LAWS
@given(city_clocks, clock_and_limit(HOUR_CLOCKS), instants, st.data())
def test_elapsed_to_due_equals_the_hour_limit(city, clock_limit, start, data):
    clock, limit = clock_limit
    paused = data.draw(pauses_near(start))
    due = city.due_at(start, limit, clock, paused=paused)
    assert city.elapsed(start, due, clock, paused=paused) == timedelta(hours=limit)


@LAWS
@given(city_clocks, clock_and_limit(DAY_CLOCKS), instants, st.data())
def test_day_limits_are_used_up_exactly_at_due(city, clock_limit, start, data):
    clock, limit = clock_limit
    paused = data.draw(pauses_near(start))
    due = city.due_at(start, limit, clock, paused=paused)
    assert city.fraction_used(start, limit, clock, due, paused=paused) == 1.0
    assert city.fraction_used(start, limit, clock, due - timedelta(seconds=1), paused=paused) < 1.0


@LAWS
@given(city_clocks, clock_and_limit(), instants)
def test_due_time_is_the_earliest_instant(city, clock_limit, start):
    clock, limit = clock_limit
    due = city.due_at(start, limit, clock)
    assert city.status_colour(start, limit, clock, due) is Colour.YELLOW
    assert city.status_colour(start, limit, clock, due + timedelta(microseconds=1)) is Colour.RED
    assert city.fraction_used(start, limit, clock, due - timedelta(seconds=1)) < 1.0


@LAWS
@given(city_clocks, clock_types, instants, instants, instants, st.data())
def test_elapsed_is_additive(city, clock, x, y, z, data):
    a, b, c = sorted((x, y, z))
    paused = data.draw(pauses_near(a))
    whole = city.elapsed(a, c, clock, paused=paused)
    assert whole == city.elapsed(a, b, clock, paused=paused) + city.elapsed(b, c, clock, paused=paused)


@LAWS
@given(city_clocks, clock_types, instants, instants, st.data())
def test_elapsed_is_non_negative_and_zero_when_empty(city, clock, x, y, data):
    a, b = sorted((x, y))
    paused = data.draw(pauses_near(a))
    assert city.elapsed(a, b, clock, paused=paused) >= timedelta(0)
    assert city.elapsed(a, a, clock, paused=paused) == timedelta(0)


@LAWS
@given(city_clocks, clock_types, instants, instants, st.data())
def test_pauses_never_add_time(city, clock, x, y, data):
    a, b = sorted((x, y))
    paused = data.draw(pauses_near(a))
    assert city.elapsed(a, b, clock, paused=paused) <= city.elapsed(a, b, clock)


@LAWS
@given(city_clocks, instants, instants)
def test_working_time_never_exceeds_wall_time(city, x, y):
    a, b = sorted((x, y))
    assert city.elapsed(a, b, ClockType.WORKING_HOURS) <= _wall(a, b)


@LAWS
@given(city_clocks, instants, instants, hour_limits)
def test_urgent_hours_are_wall_time(city, x, y, limit):
    a, b = sorted((x, y))
    assert city.elapsed(a, b, ClockType.URGENT_HOURS) == _wall(a, b)
    due = city.due_at(a, limit, ClockType.URGENT_HOURS)
    assert due == a.astimezone(timezone.utc) + timedelta(hours=limit)


@LAWS
@given(city_clocks, hour_limits, instants)
def test_working_hours_end_inside_office_hours(city, limit, start):
    due = city.due_at(start, limit, ClockType.WORKING_HOURS)
    local_day = due.astimezone(city.zone).date()
    assert any(begin < due <= end for begin, end in city.working_intervals(local_day))


@LAWS
@given(city_clocks, clock_and_limit(), instants, instants, st.data())
def test_repeating_a_pause_changes_nothing(city, clock_limit, x, y, data):
    clock, limit = clock_limit
    a, b = sorted((x, y))
    paused = data.draw(pauses_near(a))
    assert city.elapsed(a, b, clock, paused=paused * 2) == city.elapsed(a, b, clock, paused=paused)
    assert city.due_at(a, limit, clock, paused=paused * 2) == city.due_at(a, limit, clock, paused=paused)


@LAWS
@given(city_clocks, clock_types, instants, instants, st.timedeltas(timedelta(0), timedelta(days=2)))
def test_a_pause_over_the_whole_span_leaves_nothing(city, clock, x, y, margin):
    a, b = sorted((x, y))
    # Aware arithmetic is wall-clock arithmetic in the value's zone: widen the span in UTC.
    start, end = a.astimezone(timezone.utc) - margin, b.astimezone(timezone.utc) + margin
    assert city.elapsed(a, b, clock, paused=[(start, end)]) == timedelta(0)
