"""Scores, grades and rankings (考核评分): configurable schemes applied to indicator rows.

A scheme's ``parameters`` (stored JSON, checked by ``check_parameters``):

``items``
    Rate items, each ``{"indicator": <rate field>, "points": P, "threshold": T, "per_point": D}``:
    a rate of at least T % earns P points, each percentage point below it costs D (never
    below 0). A rate with nothing to measure (None) earns the full P.
``deductions``
    ``{"indicator": <count field>, "points": D}``: D points off per counted case.
``priority_weight``
    How many times a leader-assigned or media case counts (2: "deducted double") in the
    closure rates and in the deductions that have a priority count beside them.
``grades``
    Bands ``{"grade": "excellent" | "good" | "pass", "min": S}``; below the lowest band: fail.

The default is the published Jinhua scheme (domain.md §7): on-time closure rate ≥ 70 %
earns 50 points, −1 per point below; closure rate ≥ 90 % earns 20, −1 per point below;
−0.2 per rework case, −0.5 per case failing the check three times; leader/media cases double.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from gridops.auth.models import User
from gridops.auth.permissions import can_manage_score_schemes
from gridops.db import utcnow
from gridops.errors import NotAllowed, ValidationFailed
from gridops.evaluation.indicators import RATE_FIELDS, IndicatorRow, ratio
from gridops.evaluation.models import ScoreScheme
from gridops.extensions import db

GRADES = ("excellent", "good", "pass", "fail")
GRADE_LABELS = {"excellent": _l("Excellent"), "good": _l("Good"), "pass": _l("Pass"), "fail": _l("Fail")}
#: Count figures a deduction may name, with the priority count that doubles it (if any).
DEDUCTIBLE = {
    "rework_cases": "priority_rework_cases",
    "triple_rework_cases": "priority_triple_rework_cases",
    "overdue_closed": "priority_overdue_closed",
    "overdue_open": None,
    "rework_count": None,
}
#: Rates whose cases are weighted by the priority weight: (numerator, priority numerator).
WEIGHTED_RATES = {
    "closure_rate": ("closed_due", "priority_closed_due"),
    "on_time_closure_rate": ("on_time_closed", "priority_on_time_closed"),
}
#: Rates compared month on month and year on year beside the score.
COMPARED = ("on_time_closure_rate", "closure_rate", "on_time_handling_rate", "hotline_satisfaction_rate")
JINHUA_CODE = "jinhua"
JINHUA_PARAMETERS = {
    "items": [
        {"indicator": "on_time_closure_rate", "points": 50, "threshold": 70, "per_point": 1},
        {"indicator": "closure_rate", "points": 20, "threshold": 90, "per_point": 1},
    ],
    "deductions": [
        {"indicator": "rework_cases", "points": 0.2},
        {"indicator": "triple_rework_cases", "points": 0.5},
    ],
    "priority_weight": 2,
    "grades": [
        {"grade": "excellent", "min": 63},
        {"grade": "good", "min": 56},
        {"grade": "pass", "min": 42},
    ],
}
MAX_ITEMS = 20


@dataclass
class ScoredRow:
    """An indicator row with its score, grade and rank among its peers, and how it changed."""

    row: IndicatorRow
    score: float | None
    grade: str | None
    rank: int | None = None
    rank_of: int | None = None
    #: Points earned per rate item, and points lost per deduction.
    items: dict = field(default_factory=dict)
    deductions: dict = field(default_factory=dict)
    #: Month on month (previous period) and year on year: {"score": Δ, "<rate>": Δ, ...}.
    previous: dict | None = None
    last_year: dict | None = None

    @property
    def grade_label(self) -> str:
        return str(GRADE_LABELS[self.grade]) if self.grade else ""

    def to_dict(self) -> dict:
        return {
            **self.row.to_dict(),
            "score": self.score,
            "grade": self.grade,
            "rank": self.rank,
            "rank_of": self.rank_of,
            "items": self.items,
            "deductions": self.deductions,
            "previous": self.previous,
            "last_year": self.last_year,
        }

    @classmethod
    def from_dict(cls, data: dict) -> ScoredRow:
        return cls(
            row=IndicatorRow.from_dict(data),
            score=data.get("score"),
            grade=data.get("grade"),
            rank=data.get("rank"),
            rank_of=data.get("rank_of"),
            items=data.get("items") or {},
            deductions=data.get("deductions") or {},
        )


# ---------------------------------------------------------------------------------------------
# Scoring


def score_rows(rows: list[IndicatorRow], scheme: ScoreScheme | dict) -> list[ScoredRow]:
    """Score every row with ``scheme`` (a ScoreScheme or its parameters), grade and rank it.

    Rows are ranked within their peer group (districts; subdistricts; the city's departments,
    each district's departments; …), highest score first; equal scores share a rank.
    """
    parameters = scheme.parameters if isinstance(scheme, ScoreScheme) else scheme
    scored = [_score(row, parameters) for row in rows]
    peers: dict[str, list[ScoredRow]] = {}
    for item in scored:
        if item.score is not None:
            peers.setdefault(item.row.peer_group, []).append(item)
    for group in peers.values():
        group.sort(key=lambda s: -s.score)
        for position, item in enumerate(group, start=1):
            same = position > 1 and math.isclose(item.score, group[position - 2].score)
            item.rank = group[position - 2].rank if same else position
            item.rank_of = len(group)
    return scored


def weighted_rate(row: IndicatorRow, name: str, weight: float) -> float | None:
    """The rate ``name`` of ``row``, with priority cases counted ``weight`` times where it applies."""
    if name not in WEIGHTED_RATES:
        return getattr(row, name)
    numerator, priority_numerator = WEIGHTED_RATES[name]
    extra = weight - 1
    counted = row.due - row.suspended + extra * row.priority_due
    return ratio(getattr(row, numerator) + extra * getattr(row, priority_numerator), counted)


def _score(row: IndicatorRow, parameters: dict) -> ScoredRow:
    weight = parameters.get("priority_weight", 1)
    items: dict[str, float] = {}
    measured = False
    for item in parameters.get("items", []):
        rate = weighted_rate(row, item["indicator"], weight)
        if rate is None:
            earned = float(item["points"])
        else:
            measured = True
            shortfall = max(0.0, item["threshold"] - rate * 100)
            earned = max(0.0, item["points"] - item["per_point"] * shortfall)
        items[item["indicator"]] = round(earned, 2)
    deductions: dict[str, float] = {}
    for deduction in parameters.get("deductions", []):
        name = deduction["indicator"]
        count = getattr(row, name)
        priority = DEDUCTIBLE.get(name)
        if priority:
            count += (weight - 1) * getattr(row, priority)
        if count:
            measured = True
        deductions[name] = round(deduction["points"] * count, 2)
    if not measured:
        return ScoredRow(row, None, None, items=items, deductions=deductions)
    score = round(max(0.0, sum(items.values()) - sum(deductions.values())), 2)
    return ScoredRow(row, score, grade_for(score, parameters), items=items, deductions=deductions)


def grade_for(score: float, parameters: dict) -> str:
    """The grade of the highest band whose minimum ``score`` reaches; "fail" below them all."""
    for band in sorted(parameters.get("grades", []), key=lambda b: -b["min"]):
        if score >= band["min"]:
            return band["grade"]
    return "fail"


def compare(current: list[ScoredRow], previous: list[ScoredRow] | None, last_year: list[ScoredRow] | None) -> None:
    """Fill each row's month-on-month and year-on-year changes (score and main rates) by group key."""
    for attribute, older in (("previous", previous), ("last_year", last_year)):
        if older is None:
            continue
        by_key = {item.row.key: item for item in older}
        for item in current:
            before = by_key.get(item.row.key)
            if before is None:
                continue
            changes = {"score": _delta(item.score, before.score), "rank": before.rank}
            for name in COMPARED:
                changes[name] = _delta(getattr(item.row, name), getattr(before.row, name))
            setattr(item, attribute, changes)


def _delta(now: float | None, before: float | None) -> float | None:
    return None if now is None or before is None else round(now - before, 4)


# ---------------------------------------------------------------------------------------------
# Schemes


def check_parameters(parameters) -> dict:
    """A scheme's parameters, checked and normalised; ValidationFailed names what is wrong."""
    problems: dict[str, str] = {}
    if not isinstance(parameters, dict):
        raise ValidationFailed.field("parameters", _("must be an object"))
    unknown = set(parameters) - {"items", "deductions", "priority_weight", "grades"}
    if unknown:
        problems["parameters"] = _("unknown keys: %(keys)s", keys=", ".join(sorted(map(str, unknown))))
    items = parameters.get("items", [])
    deductions = parameters.get("deductions", [])
    grades = parameters.get("grades", [])
    weight = parameters.get("priority_weight", 1)
    clean: dict = {"items": [], "deductions": [], "priority_weight": 1, "grades": []}
    if not isinstance(items, list) or not items or len(items) > MAX_ITEMS:
        problems["items"] = _("must be a list of 1 to %(count)d items", count=MAX_ITEMS)
    else:
        for n, item in enumerate(items):
            entry = _check_entry(item, {"indicator": RATE_FIELDS, "points": (0, 1000), "threshold": (0, 100),
                                        "per_point": (0, 1000)})
            if entry is None:
                problems[f"items.{n}"] = _(
                    "needs indicator (one of %(values)s), points, threshold (0-100) and per_point, each a number 0 or more",
                    values=", ".join(RATE_FIELDS),
                )
            else:
                clean["items"].append(entry)
    if not isinstance(deductions, list) or len(deductions) > MAX_ITEMS:
        problems["deductions"] = _("must be a list of at most %(count)d items", count=MAX_ITEMS)
    else:
        for n, item in enumerate(deductions):
            entry = _check_entry(item, {"indicator": tuple(DEDUCTIBLE), "points": (0, 1000)})
            if entry is None:
                problems[f"deductions.{n}"] = _(
                    "needs indicator (one of %(values)s) and points, a number 0 or more",
                    values=", ".join(DEDUCTIBLE),
                )
            else:
                clean["deductions"].append(entry)
    if not _number(weight, 1, 10):
        problems["priority_weight"] = _("must be a number from 1 to 10")
    else:
        clean["priority_weight"] = weight
    if not isinstance(grades, list) or len(grades) > 3:
        problems["grades"] = _("must be a list of at most 3 bands")
    else:
        seen = set()
        for n, band in enumerate(grades):
            entry = _check_entry(band, {"grade": GRADES[:3], "min": (0, 10000)})
            if entry is None or entry["grade"] in seen:
                problems[f"grades.{n}"] = _("needs grade (excellent, good or pass, once each) and min, a number")
            else:
                seen.add(entry["grade"])
                clean["grades"].append(entry)
        order = [GRADES.index(b["grade"]) for b in sorted(clean["grades"], key=lambda b: -b["min"])]
        if order != sorted(order):
            problems["grades"] = _("better grades need higher minimum scores")
    if problems:
        raise ValidationFailed(_("The score scheme is not valid: check the marked fields."), problems)
    return clean


def _number(value, low: float, high: float) -> bool:
    return (
        not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
        and low <= value <= high
    )


def _check_entry(entry, spec: dict) -> dict | None:
    if not isinstance(entry, dict) or set(entry) != set(spec):
        return None
    for key, rule in spec.items():
        value = entry[key]
        if isinstance(rule, tuple) and rule and isinstance(rule[0], str):
            if value not in rule:
                return None
        elif not _number(value, *rule):
            return None
    return dict(entry)


def default_scheme() -> ScoreScheme:
    """The scheme marked default; the Jinhua scheme is added (flushed) when there is none."""
    scheme = db.session.scalar(select(ScoreScheme).where(ScoreScheme.is_default.is_(True)).limit(1))
    if scheme is not None:
        return scheme
    scheme = db.session.scalar(select(ScoreScheme).where(ScoreScheme.code == JINHUA_CODE))
    if scheme is None:
        scheme = ScoreScheme(
            code=JINHUA_CODE,
            name="金华考核办法",
            name_en="Jinhua scheme",
            description="按期结案率≥70%得50分，每低1个百分点扣1分；结案率≥90%得20分，每低1个百分点扣1分；"
            "返工每件扣0.2分，核查三次不通过每件扣0.5分；领导交办、媒体曝光案件加倍计算。",
            parameters=copy.deepcopy(JINHUA_PARAMETERS),
        )
        db.session.add(scheme)
    scheme.is_default = True
    db.session.flush()
    return scheme


def scheme_by_id(scheme_id: int | None) -> ScoreScheme:
    """The scheme with ``scheme_id``, or the default one when None; ValidationFailed if unknown."""
    if scheme_id is None:
        return default_scheme()
    scheme = db.session.get(ScoreScheme, scheme_id)
    if scheme is None:
        raise ValidationFailed.field("scheme", _("no such score scheme"))
    return scheme


def save_score_scheme(
    actor: User | None,
    data: dict,
    scheme: ScoreScheme | None = None,
    *,
    now: datetime | None = None,
) -> ScoreScheme:
    """Create a scheme (``scheme`` None) or change one: name, description, parameters, default, active.

    ``actor`` None is the command line. The parameters are checked whole; making a scheme
    the default takes the mark from any other. Past snapshots keep the rules they used.
    """
    if actor is not None and not can_manage_score_schemes(actor):
        raise NotAllowed(_("Only evaluators and administrators may change score schemes."))
    if not isinstance(data, dict):
        raise ValidationFailed.field("body", _("must be an object"))
    problems: dict[str, str] = {}
    allowed = {"code", "name", "name_en", "description", "parameters", "is_default", "active"}
    unknown = set(data) - allowed
    if unknown:
        problems["body"] = _("unknown keys: %(keys)s", keys=", ".join(sorted(map(str, unknown))))
    creating = scheme is None
    values: dict = {}
    for key, limit in (("code", 32), ("name", 128), ("name_en", 128), ("description", 1000)):
        if key not in data:
            if creating and key in ("code", "name"):
                problems[key] = _("is required")
            continue
        value = data[key]
        if key == "name_en" and value is None:
            values[key] = None
        elif not isinstance(value, str) or (key in ("code", "name") and not value.strip()) or len(value) > limit:
            problems[key] = _("must be text of 1 to %(count)d characters", count=limit)
        else:
            values[key] = value.strip()
    for key in ("is_default", "active"):
        if key in data:
            if not isinstance(data[key], bool):
                problems[key] = _("must be true or false")
            else:
                values[key] = data[key]
    if "parameters" in data:
        try:
            values["parameters"] = check_parameters(data["parameters"])
        except ValidationFailed as exc:
            problems.update({f"parameters.{k}" if k != "parameters" else k: v for k, v in exc.fields.items()})
    elif creating:
        problems["parameters"] = _("is required")
    if "code" in values:
        clash = db.session.scalar(select(ScoreScheme.id).where(ScoreScheme.code == values["code"]))
        if clash is not None and (creating or clash != scheme.id):
            problems["code"] = _("is already used by another scheme")
    if values.get("is_default") is True and values.get("active", True) is False:
        problems["active"] = _("the default scheme must be active")
    if not creating and scheme.is_default and (values.get("is_default") is False or values.get("active") is False):
        problems["is_default"] = _("make another scheme the default first")
    if problems:
        raise ValidationFailed(_("The score scheme is not valid: check the marked fields."), problems)
    now = now or utcnow()
    if creating:
        scheme = ScoreScheme(created_at=now, revision=0, is_default=False, active=True, description="")
        db.session.add(scheme)
    for key, value in values.items():
        setattr(scheme, key, value)
    scheme.revision = (scheme.revision or 0) + 1
    scheme.updated_at = now
    scheme.updated_by_id = actor.id if actor is not None else None
    db.session.flush()
    if values.get("is_default"):
        db.session.execute(
            update(ScoreScheme).where(ScoreScheme.id != scheme.id).values(is_default=False)
        )
    return scheme


def scheme_to_dict(scheme: ScoreScheme) -> dict:
    return {
        "id": scheme.id,
        "code": scheme.code,
        "name": scheme.name,
        "name_en": scheme.name_en,
        "description": scheme.description,
        "parameters": scheme.parameters,
        "is_default": scheme.is_default,
        "active": scheme.active,
        "revision": scheme.revision,
        "updated_at": scheme.updated_at.isoformat(),
    }
