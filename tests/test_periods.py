"""Evaluation periods: keys, local-day bounds, previous and same period last year."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from gridops.errors import ValidationFailed
from gridops.evaluation.periods import Period


@pytest.mark.parametrize(
    "key, kind, first, last",
    [
        ("2026-W47", "week", date(2026, 11, 16), date(2026, 11, 22)),
        ("2026-W01", "week", date(2025, 12, 29), date(2026, 1, 4)),
        ("2026-W53", "week", date(2026, 12, 28), date(2027, 1, 3)),
        ("2026-11", "month", date(2026, 11, 1), date(2026, 11, 30)),
        ("2024-02", "month", date(2024, 2, 1), date(2024, 2, 29)),
        ("2026-Q4", "quarter", date(2026, 10, 1), date(2026, 12, 31)),
        ("2026", "year", date(2026, 1, 1), date(2026, 12, 31)),
        ("2026-11-03..2026-11-20", "custom", date(2026, 11, 3), date(2026, 11, 20)),
    ],
)
def test_parse_gives_kind_days_and_the_same_key_back(key, kind, first, last):
    period = Period.parse(key)
    assert (period.kind, period.first_day, period.last_day) == (kind, first, last)
    assert period.key == key
    assert Period.parse(period.key) == period


def test_bounds_are_local_midnights_in_the_city_zone():
    period = Period.parse("2026-11")
    assert period.start_utc == datetime(2026, 10, 31, 16, 0, tzinfo=timezone.utc)
    assert period.end_utc == datetime(2026, 11, 30, 16, 0, tzinfo=timezone.utc)
    # 23:59 local on 30 November is still November; 00:00 local on 1 December is not.
    assert period.contains(datetime(2026, 11, 30, 15, 59, tzinfo=timezone.utc))
    assert not period.contains(datetime(2026, 11, 30, 16, 0, tzinfo=timezone.utc))
    assert Period.containing("month", datetime(2026, 11, 30, 16, 0, tzinfo=timezone.utc)).key == "2026-12"


@pytest.mark.parametrize(
    "key, previous, last_year",
    [
        ("2026-W01", "2025-W52", "2025-W01"),
        ("2026-W53", "2026-W52", "2025-W52"),
        ("2026-01", "2025-12", "2025-01"),
        ("2026-Q1", "2025-Q4", "2025-Q1"),
        ("2026", "2025", "2025"),
        ("2026-11-11..2026-11-20", "2026-11-01..2026-11-10", "2025-11-11..2025-11-20"),
        ("2024-02-29..2024-02-29", "2024-02-28..2024-02-28", "2023-02-28..2023-02-28"),
    ],
)
def test_previous_and_same_period_last_year(key, previous, last_year):
    period = Period.parse(key)
    assert period.previous().key == previous
    assert period.same_period_last_year().key == last_year
    assert period.previous().next() == period


def test_closed_once_its_last_local_day_is_over():
    period = Period.parse("2026-W47")
    assert not period.is_closed(datetime(2026, 11, 22, 15, 59, tzinfo=timezone.utc))
    assert period.is_closed(datetime(2026, 11, 22, 16, 0, tzinfo=timezone.utc))
    assert Period.last_closed("week", datetime(2026, 11, 22, 16, 0, tzinfo=timezone.utc)).key == "2026-W47"


@pytest.mark.parametrize(
    "key", ["", "2026-13", "2026-Q5", "2026-W54", "2025-W53", "26-11", "2026-11-20..2026-11-03",
            "2026-02-30..2026-03-01", "0000", "x2026", "1970-12", "2015-01-01..2026-01-01"]
)
def test_bad_keys_are_refused_with_a_field_reason(key):
    with pytest.raises(ValidationFailed) as caught:
        Period.parse(key)
    assert "period" in caught.value.fields
