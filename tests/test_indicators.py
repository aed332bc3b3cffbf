"""Indicator formulas on the hand-built month of tests/indicator_data.py (expected figures by hand)."""

from __future__ import annotations

import pytest

from gridops.errors import ValidationFailed
from gridops.evaluation.indicators import compute_indicators
from gridops.evaluation.periods import Period
from tests.case_factories import T0, make_case, make_world
from tests.indicator_data import make_june

JUNE = Period.parse("2026-06")


def _rows(group_by, **scope):
    return {row.key: row for row in compute_indicators(JUNE, group_by, **scope)}


def _figures(row, names):
    return {name: getattr(row, name) for name in names}


def test_city_row_every_formula(app):
    make_june()
    (city,) = compute_indicators(JUNE, "city")
    assert city.key == "city" and city.label == "南阳市"
    assert city.to_dict() | {} == city.to_dict()  # serialisable as plain data
    assert _figures(city, [
        "reports", "registered_reports", "registration_rate", "registrations", "on_time_registrations",
        "on_time_registration_rate",
    ]) == {
        # A B C D E F I J K M (G, L reported in May; H merged); registered: A B C D E K M.
        "reports": 10, "registered_reports": 7, "registration_rate": 0.7,
        # Registered in June: A B C D E K M; B was registered after its due time.
        "registrations": 7, "on_time_registrations": 6, "on_time_registration_rate": 0.8571,
    }
    # Dispatch events A, B×2, C, D, E×2, K; inaccurate: B's approved return, E's re-dispatch.
    assert _figures(city, ["dispatches", "inaccurate_dispatches", "accurate_dispatch_rate"]) == {
        "dispatches": 8, "inaccurate_dispatches": 2, "accurate_dispatch_rate": 0.75,
    }
    assert _figures(city, [
        "closures", "self_handled", "due", "suspended", "closed_due", "closure_rate", "on_time_closed",
        "on_time_closure_rate", "on_time_handled", "on_time_handling_rate",
    ]) == {
        # Closed in June: A B E M (M self-handled).
        "closures": 4, "self_handled": 1,
        # Due: A B C D K (due time in June) and E (closed in June ahead of its July due time);
        # D is suspended at the month's end, so 5 count: closed A B E, on time A E.
        "due": 6, "suspended": 1, "closed_due": 3, "closure_rate": 0.6,
        "on_time_closed": 2, "on_time_closure_rate": 0.4,
        # Reported back by the due time: A, E and K (K's check passed only in July).
        "on_time_handled": 3, "on_time_handling_rate": 0.6,
    }
    # Checks in June: A pass, B fail, B pass, C fail, G fail (its third), E pass.
    assert _figures(city, ["checks", "rework_count", "rework_rate", "rework_cases", "triple_rework_cases"]) == {
        "checks": 6, "rework_count": 3, "rework_rate": 0.5, "rework_cases": 3, "triple_rework_cases": 1,
    }
    # Overdue closed: B. Overdue open at the end: C and G (K was handled in time, D is suspended).
    # Handling time of A, B, E: 27 h, 46 h, 120 h from their last dispatch.
    assert _figures(city, ["overdue_closed", "overdue_open", "avg_handling_hours"]) == {
        "overdue_closed": 1, "overdue_open": 2, "avg_handling_hours": 64.33,
    }
    # Replies in June: E in time, L late. Follow-ups in June: E late and satisfied, L in time and
    # dissatisfied. Contacts in June: E's two, one repeated.
    assert _figures(city, [
        "replies", "on_time_replies", "on_time_reply_rate", "followups", "on_time_followups",
        "on_time_followup_rate", "satisfied_followups", "hotline_satisfaction_rate", "hotline_contacts",
        "repeat_contacts", "repeat_complaint_rate",
    ]) == {
        "replies": 2, "on_time_replies": 1, "on_time_reply_rate": 0.5, "followups": 2, "on_time_followups": 1,
        "on_time_followup_rate": 0.5, "satisfied_followups": 1, "hotline_satisfaction_rate": 0.5,
        "hotline_contacts": 2, "repeat_contacts": 1, "repeat_complaint_rate": 0.5,
    }
    # Patrol reports A B D F J K M: valid A B D K M, cancelled F; grids 1, 2, 4 of 4 patrolled.
    assert _figures(city, [
        "patrol_reports", "valid_reports", "invalid_reports", "valid_report_rate", "patrol_grids",
        "covered_grids", "patrol_coverage",
    ]) == {
        "patrol_reports": 7, "valid_reports": 5, "invalid_reports": 1, "valid_report_rate": 0.8333,
        "patrol_grids": 4, "covered_grids": 3, "patrol_coverage": 0.75,
    }
    # C is a leader's case: due, not closed, reworked once.
    assert _figures(city, [
        "priority_due", "priority_closed_due", "priority_on_time_closed", "priority_overdue_closed",
        "priority_rework_cases", "priority_triple_rework_cases",
    ]) == {
        "priority_due": 1, "priority_closed_due": 0, "priority_on_time_closed": 0, "priority_overdue_closed": 0,
        "priority_rework_cases": 1, "priority_triple_rework_cases": 0,
    }


def test_area_levels_count_each_case_in_its_own_area(app):
    make_june()
    districts = _rows("district")
    assert list(districts) == ["411302", "411303"]
    # I (the public report in the other district) counts there only.
    assert districts["411303"].reports == 1 and districts["411303"].registration_rate == 0.0
    assert districts["411303"].closure_rate is None and districts["411303"].patrol_coverage is None
    assert districts["411302"].reports == 9 and districts["411302"].registration_rate == 0.7778
    assert districts["411302"].closure_rate == 0.6
    grids = _rows("grid")
    assert [grids[k].reports for k in sorted(grids)] == [6, 2, 0, 1]
    assert [grids[k].patrol_coverage for k in sorted(grids)] == [1.0, 1.0, 0.0, 1.0]
    assert grids["411302001001002"].self_handled == 1 and grids["411302001001002"].closure_rate is None


def test_units_count_their_cases_and_the_dispatches_they_received_or_returned(app):
    make_june()
    units = _rows("unit")
    san, law = units["SAN01"], units["LAW01"]
    assert (san.peer_group, law.peer_group) == ("411302", "city")
    # Dispatched to SAN01: A, B (second), C, D, E (first), K; it gave E up by re-dispatch.
    assert (san.dispatches, san.inaccurate_dispatches, san.accurate_dispatch_rate) == (6, 1, 0.8333)
    # LAW01 received B (then returned it) and E.
    assert (law.dispatches, law.inaccurate_dispatches, law.accurate_dispatch_rate) == (2, 1, 0.5)
    # SAN01 holds A B C D K due in June (D suspended): closed A B, on time A.
    assert (san.due, san.suspended, san.closure_rate, san.on_time_closure_rate) == (5, 1, 0.5, 0.25)
    assert (san.overdue_open, san.overdue_closed, san.avg_handling_hours) == (2, 1, 36.5)
    assert (san.followups, san.hotline_satisfaction_rate) == (1, 0.0)
    assert (law.due, law.closure_rate, law.on_time_closure_rate, law.hotline_satisfaction_rate) == (1, 1.0, 1.0, 1.0)


def test_grid_workers_own_patrol_and_their_grids_cases(app):
    make_june()
    workers = _rows("worker")
    mine = workers["grid_worker"]
    # Cases in grids 1 and 2 (all but F and I); the worker's own reports A B D F J K M.
    assert mine.reports == 8 and mine.closure_rate == 0.6
    assert (mine.patrol_reports, mine.valid_report_rate) == (7, 0.8333)
    assert (mine.patrol_grids, mine.covered_grids, mine.patrol_coverage) == (2, 2, 1.0)
    outsider = workers["outside_grid_worker"]
    assert outsider.reports == 0 and outsider.patrol_coverage is None


def test_posts_follow_the_role_that_filed_the_case(app):
    make_june()
    posts = _rows("post")
    assert list(posts) == ["grid_worker", "hotline_operator", "leader"]
    assert (posts["grid_worker"].reports, posts["hotline_operator"].reports, posts["leader"].reports) == (7, 2, 1)
    assert posts["leader"].priority_due == 1 and posts["leader"].overdue_open == 1


def test_scope_keeps_one_subtree_or_one_unit(app):
    june = make_june()
    other_district = _rows("district")["411303"]
    (scoped,) = compute_indicators(JUNE, "city", scope_path=other_district.path)
    assert scoped.reports == 1 and scoped.due == 0
    assert list(_rows("district", scope_path=other_district.path)) == ["411303"]
    (law,) = compute_indicators(JUNE, "unit", department_id=june.world.other_unit.id)
    assert law.key == "LAW01" and law.due == 1
    (city,) = compute_indicators(JUNE, "city", department_id=june.world.other_unit.id)
    assert (city.reports, city.closures) == (1, 1)


def test_a_case_through_the_real_workflow_is_counted(app):
    world = make_world()
    make_case("closed", world=world)
    (city,) = compute_indicators(Period.containing("month", T0), "city")
    assert (city.reports, city.registrations, city.dispatches, city.closures, city.checks) == (1, 1, 1, 1, 1)
    assert (city.due, city.closed_due, city.on_time_closure_rate, city.overdue_open) == (1, 1, 1.0, 0)


def test_an_unknown_grouping_is_refused(app):
    with pytest.raises(ValidationFailed) as caught:
        compute_indicators(JUNE, "planet")
    assert "group_by" in caught.value.fields


@pytest.mark.parametrize("scope", [{}, {"scope_path": "district"}, {"department_id": "unit"}])
def test_groupings_counted_together_equal_one_at_a_time(app, scope):
    """compute_indicator_sets shares one pass between the city, area and unit groupings: the
    figures are those of each grouping counted on its own, for every scope."""
    from gridops.evaluation.indicators import compute_indicator_sets
    from gridops.evaluation.models import GROUP_BYS

    make_june()
    if "scope_path" in scope:
        district = max(compute_indicators(JUNE, "district"), key=lambda r: r.reports)
        scope = {"scope_path": district.path}
    elif "department_id" in scope:
        unit = max(compute_indicators(JUNE, "unit"), key=lambda r: r.reports)
        scope = {"department_id": unit.ref_id}
    together = compute_indicator_sets(JUNE, GROUP_BYS, **scope)
    assert list(together) == list(GROUP_BYS)
    for group_by in GROUP_BYS:
        alone = [row.to_dict() for row in compute_indicators(JUNE, group_by, **scope)]
        assert [row.to_dict() for row in together[group_by]] == alone, group_by
    assert any(row.covered_grids for row in together["district"])
    assert any(row.rework_cases for row in together["unit"])
