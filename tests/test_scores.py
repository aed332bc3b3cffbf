"""Scores, grades and ranks of the Jinhua scheme on hand-made rows; scheme checks and edits."""

from __future__ import annotations

import copy

import pytest

from gridops.errors import NotAllowed, ValidationFailed
from gridops.evaluation.indicators import IndicatorRow
from gridops.evaluation.models import ScoreScheme
from gridops.evaluation.scores import (
    JINHUA_PARAMETERS,
    check_parameters,
    compare,
    default_scheme,
    save_score_scheme,
    score_rows,
)
from gridops.extensions import db
from tests.case_factories import make_staff


def _row(key, peer="district", **figures) -> IndicatorRow:
    return IndicatorRow(key=key, label=key, peer_group=peer, **figures)


ROWS = [
    # On time 80 % (≥ 70: 50 points), closed 90 % (≥ 90: 20), 2 rework cases (−0.4): 69.6, excellent.
    _row("A", due=10, closed_due=9, on_time_closed=8, rework_cases=2),
    # On time 60 % (50 − 10 = 40), closed 80 % (20 − 10 = 10), one case failed thrice (−0.5): 49.5, pass.
    _row("B", due=10, closed_due=8, on_time_closed=6, triple_rework_cases=1),
    # Two leader/media cases count double: due 10 + 2 = 12; closed (9 + 1) / 12 = 83.33 %
    # (20 − 6.67 = 13.33); on time (7 + 1) / 12 = 66.67 % (50 − 3.33 = 46.67); its one rework
    # case is a priority case: (1 + 1) × 0.2 = 0.4. 59.6, good.
    _row("C", due=10, closed_due=9, on_time_closed=7, priority_due=2, priority_closed_due=1,
         priority_on_time_closed=1, rework_cases=1, priority_rework_cases=1),
    # Nothing due, nothing reworked: not scored, not ranked.
    _row("D"),
    # Alone in its peer group; suspended cases leave the denominator: 4 / (6 − 2) = 100 %.
    _row("E", peer="city", due=6, suspended=2, closed_due=4, on_time_closed=4),
]


def test_jinhua_scores_grades_and_ranks():
    scored = {s.row.key: s for s in score_rows(ROWS, JINHUA_PARAMETERS)}
    assert [(k, scored[k].score, scored[k].grade, scored[k].rank, scored[k].rank_of) for k in "ABCDE"] == [
        ("A", 69.6, "excellent", 1, 3),
        ("B", 49.5, "pass", 3, 3),
        ("C", 59.6, "good", 2, 3),
        ("D", None, None, None, None),
        ("E", 70.0, "excellent", 1, 1),
    ]
    assert scored["C"].items == {"on_time_closure_rate": 46.67, "closure_rate": 13.33}
    assert scored["C"].deductions == {"rework_cases": 0.4, "triple_rework_cases": 0.0}
    assert scored["A"].grade_label == "Excellent"


def test_items_never_go_below_zero_and_equal_scores_share_a_rank():
    rows = [_row("X", due=10), _row("Y", due=10), _row("Z", due=10, closed_due=10, on_time_closed=10)]
    scored = {s.row.key: s for s in score_rows(rows, JINHUA_PARAMETERS)}
    assert (scored["X"].score, scored["X"].grade) == (0.0, "fail")
    assert [scored[k].rank for k in "ZXY"] == [1, 2, 2]


def test_changes_against_previous_and_last_year():
    now = score_rows([_row("A", due=10, closed_due=9, on_time_closed=8, rework_cases=2, on_time_closure_rate=0.8)],
                     JINHUA_PARAMETERS)
    before = score_rows([_row("A", due=10, closed_due=8, on_time_closed=6, on_time_closure_rate=0.6)],
                        JINHUA_PARAMETERS)
    compare(now, before, None)
    assert now[0].previous["score"] == round(69.6 - 50.0, 4)
    assert now[0].previous["on_time_closure_rate"] == 0.2
    assert now[0].previous["rank"] == 1
    assert now[0].last_year is None


@pytest.mark.parametrize(
    "change, field",
    [
        ({"items": []}, "items"),
        ({"items": [{"indicator": "reports", "points": 5, "threshold": 50, "per_point": 1}]}, "items.0"),
        ({"items": [{"indicator": "closure_rate", "points": 5, "threshold": 150, "per_point": 1}]}, "items.0"),
        ({"deductions": [{"indicator": "closures", "points": 1}]}, "deductions.0"),
        ({"priority_weight": 0}, "priority_weight"),
        ({"priority_weight": True}, "priority_weight"),
        ({"grades": [{"grade": "excellent", "min": 40}, {"grade": "pass", "min": 60}]}, "grades"),
        ({"grades": [{"grade": "best", "min": 40}]}, "grades.0"),
        ({"extra": 1}, "parameters"),
    ],
)
def test_bad_parameters_name_the_field(change, field):
    parameters = copy.deepcopy(JINHUA_PARAMETERS) | change
    with pytest.raises(ValidationFailed) as caught:
        check_parameters(parameters)
    assert field in caught.value.fields


def test_default_is_the_jinhua_scheme_seeded_once(app):
    first = default_scheme()
    assert (first.code, first.parameters, first.is_default) == ("jinhua", JINHUA_PARAMETERS, True)
    assert default_scheme().id == first.id
    assert db.session.query(ScoreScheme).count() == 1


def test_evaluators_create_edit_and_move_the_default(app):
    jinhua = default_scheme()
    evaluator = make_staff("eva", "evaluator")
    parameters = copy.deepcopy(JINHUA_PARAMETERS)
    parameters["priority_weight"] = 3
    strict = save_score_scheme(evaluator, {"code": "strict", "name": "从严", "parameters": parameters})
    assert (strict.revision, strict.is_default, strict.updated_by_id) == (1, False, evaluator.id)
    save_score_scheme(evaluator, {"is_default": True}, strict)
    db.session.refresh(jinhua)
    assert strict.is_default and not jinhua.is_default and strict.revision == 2
    assert default_scheme().id == strict.id
    with pytest.raises(ValidationFailed) as caught:
        save_score_scheme(evaluator, {"active": False}, strict)
    assert "is_default" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        save_score_scheme(evaluator, {"code": "strict", "name": "again", "parameters": parameters})
    assert "code" in caught.value.fields


def test_only_evaluators_and_admins_change_schemes(app):
    staff = make_staff("unit", "unit_staff")
    with pytest.raises(NotAllowed):
        save_score_scheme(staff, {"code": "x", "name": "x", "parameters": JINHUA_PARAMETERS})
