"""Early warnings (预警约谈) and targeted assistance (精准帮扶).

``evaluate_early_warnings(now)`` looks at the last closed periods: a unit or area that was
at the bottom of its peer group, or scored under the threshold, in each of the last N
periods is flagged — once per subject and period (unique key). The evaluator records the
interview (date, attendees, findings, agreed measures) and may set up an assistance plan: the
subject's top problem classes and unit grids, computed from its cases, and an on-time
closure target checked against the following periods' figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from gridops.auth import permissions
from gridops.auth.models import User
from gridops.cases.models import Case
from gridops.cases.states import State
from gridops.catalogue.models import SmallClass
from gridops.errors import NotAllowed, ValidationFailed
from gridops.evaluation.indicators import department_subtree
from gridops.evaluation.models import AssistancePlan, EarlyWarning, WarningInterview
from gridops.evaluation.periods import Period
from gridops.evaluation.snapshots import freeze_snapshot, indicator_table
from gridops.extensions import db
from gridops.territory.models import Area

SETTINGS_KEY = "evaluation.warnings"
#: Defaults of the configurable rule (city setting ``evaluation.warnings`` overrides them).
DEFAULT_SETTINGS: dict[str, Any] = {
    # The periods judged, and how many of them in a row must be bad.
    "period_kind": "month",
    "consecutive_periods": 2,
    # The groupings whose members can be flagged, each ranked within its peer group.
    "groups": ["unit", "subdistrict"],
    # Bad: among the last ``bottom_count`` of a peer group of at least ``min_group_size``…
    "bottom_count": 1,
    "min_group_size": 3,
    # …or a score under this threshold (the Jinhua "pass" line).
    "score_threshold": 60,
    # Rows in an assistance plan's top lists.
    "top_length": 5,
}
MAX_TEXT = 4000


def warning_settings() -> dict[str, Any]:
    """The defaults, overridden key by key by the city setting ``evaluation.warnings``."""
    from gridops.worktime.models import CitySetting

    settings = dict(DEFAULT_SETTINGS)
    stored = db.session.get(CitySetting, SETTINGS_KEY)
    if stored is not None and isinstance(stored.value, dict):
        settings.update({k: v for k, v in stored.value.items() if k in DEFAULT_SETTINGS})
    return settings


def is_bad(item, settings: dict) -> str | None:
    """Why a scored row is bad ("bottom" or "below_threshold"), or None."""
    if item.score is None:
        return None
    if item.score < float(settings["score_threshold"]):
        return "below_threshold"
    if (
        item.rank_of is not None
        and item.rank_of >= int(settings["min_group_size"])
        and item.rank > item.rank_of - int(settings["bottom_count"])
    ):
        return "bottom"
    return None


def _evidence(period: Period, item, reason: str) -> dict:
    return {
        "period": period.key, "reason": reason, "score": item.score, "grade": item.grade,
        "rank": item.rank, "rank_of": item.rank_of,
        "on_time_closure_rate": item.row.on_time_closure_rate, "closure_rate": item.row.closure_rate,
    }


def find_warning(group_by: str, subject_key: str, period_key: str) -> EarlyWarning | None:
    return db.session.scalar(
        select(EarlyWarning).where(
            EarlyWarning.group_by == group_by,
            EarlyWarning.subject_key == subject_key,
            EarlyWarning.period_key == period_key,
        )
    )


def evaluate_early_warnings(now: datetime) -> list[EarlyWarning]:
    """Flag every subject bad in each of the last N closed periods (the scheduled job's service).

    Exactly once per (grouping, subject, last period): a re-run, or a second scheduler, adds
    nothing. Returns the warnings made by this call.
    """
    settings = warning_settings()
    runs = max(1, int(settings["consecutive_periods"]))
    last = Period.last_closed(settings["period_kind"], now)
    periods = [last]
    while len(periods) < runs:
        periods.append(periods[-1].previous())
    made = []
    for group_by in settings["groups"]:
        tables = []
        for period in periods:
            freeze_snapshot(period, group_by, now=now)
            tables.append({item.row.key: item for item in indicator_table(period, group_by, with_changes=False, now=now).rows})
        for key, item in tables[0].items():
            reasons = [is_bad(table.get(key), settings) if key in table else None for table in tables]
            if not all(reasons) or find_warning(group_by, key, last.key) is not None:
                continue
            warning = EarlyWarning(
                group_by=group_by,
                subject_key=key,
                subject_label=item.row.label,
                department_id=item.row.ref_id if group_by == "unit" else None,
                area_id=item.row.ref_id if group_by != "unit" else None,
                period_key=last.key,
                period_kind=last.kind,
                evidence=[_evidence(p, t[key], r) for p, t, r in zip(periods, tables, reasons)],
                flagged_at=now,
            )
            try:
                with db.session.begin_nested():
                    db.session.add(warning)
                    db.session.flush()
            except IntegrityError:
                continue
            made.append(warning)
    return made


def _text(value: str | None, field: str, problems: dict, *, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        problems[field] = _("required")
    elif len(value) > MAX_TEXT:
        problems[field] = _("at most %(n)d characters", n=MAX_TEXT)
    return value


def record_interview(
    warning: EarlyWarning, actor: User, *, held_on: date | None, attendees: str, findings: str, measures: str
) -> WarningInterview:
    """Record the early-warning interview held with the flagged subject."""
    if not permissions.can_manage_notices(actor):
        raise NotAllowed(_("Only evaluators and administrators record interviews."))
    problems: dict[str, str] = {}
    if held_on is None:
        problems["held_on"] = _("required")
    interview = WarningInterview(
        warning_id=warning.id,
        held_on=held_on,
        attendees=_text(attendees, "attendees", problems),
        findings=_text(findings, "findings", problems),
        measures=_text(measures, "measures", problems),
        recorded_by_id=actor.id,
    )
    if problems:
        raise ValidationFailed(_("The interview cannot be saved."), problems)
    db.session.add(interview)
    db.session.flush()
    return interview


def _subject_clause(warning: EarlyWarning):
    clauses = [Case.state != State.MERGED.value]
    if warning.group_by == "unit":
        clauses.append(Case.holder_department_id.in_(department_subtree(warning.department_id)))
    else:
        clauses.append(Case.area_path.startswith(warning.area.path, autoescape=True))
    return and_(*clauses)


def _flagged_span(warning: EarlyWarning) -> tuple[datetime, datetime]:
    periods = [Period.parse(entry["period"]) for entry in warning.evidence]
    return min(p.start_utc for p in periods), max(p.end_utc for p in periods)


def top_problems(warning: EarlyWarning, length: int) -> tuple[list[dict], list[dict]]:
    """The subject's most frequent small classes and unit grids over the flagged periods,
    with how many of those cases closed late or are still overdue."""
    start, end = _flagged_span(warning)
    late = func.count().filter(Case.closed_on_time.is_(False))
    base = and_(_subject_clause(warning), Case.reported_at >= start, Case.reported_at < end)
    classes = db.session.execute(
        select(SmallClass.case_type, SmallClass.code, SmallClass.name, func.count(), late)
        .join(SmallClass, Case.small_class_id == SmallClass.id)
        .where(base)
        .group_by(SmallClass.case_type, SmallClass.code, SmallClass.name)
        .order_by(func.count().desc(), SmallClass.code)
        .limit(length)
    )
    grid = aliased(Area)
    grids = db.session.execute(
        select(grid.code, grid.name, func.count(), late)
        .join(grid, Case.unit_grid_id == grid.id)
        .where(base)
        .group_by(grid.code, grid.name)
        .order_by(func.count().desc(), grid.code)
        .limit(length)
    )
    return (
        [{"small_class": f"{t[0].upper()}{code} {name}", "cases": n, "late": n_late}
         for t, code, name, n, n_late in classes],
        [{"grid_code": code, "grid_name": name, "cases": n, "late": n_late} for code, name, n, n_late in grids],
    )


def create_assistance_plan(
    warning: EarlyWarning, actor: User, *, target_on_time_rate, tracked_periods, measures: str = ""
) -> AssistancePlan:
    """Set up targeted assistance for a flagged subject: its top problems (computed now) and targets."""
    if not permissions.can_manage_notices(actor):
        raise NotAllowed(_("Only evaluators and administrators set up assistance plans."))
    problems: dict[str, str] = {}
    if warning.plan is not None:
        problems["warning"] = _("already has an assistance plan")
    try:
        target = float(target_on_time_rate)
    except (TypeError, ValueError):
        target = -1.0
    if not 0 <= target <= 100:
        problems["target_on_time_rate"] = _("a percentage from 0 to 100")
    try:
        tracked = int(tracked_periods)
    except (TypeError, ValueError):
        tracked = 0
    if not 1 <= tracked <= 12:
        problems["tracked_periods"] = _("from 1 to 12")
    measures = _text(measures, "measures", problems, required=False)
    if problems:
        raise ValidationFailed(_("The assistance plan cannot be saved."), problems)
    top_classes, top_grids = top_problems(warning, int(warning_settings()["top_length"]))
    plan = AssistancePlan(
        warning_id=warning.id, top_classes=top_classes, top_grids=top_grids, target_on_time_rate=target,
        tracked_periods=tracked, measures=measures, created_by_id=actor.id,
    )
    db.session.add(plan)
    db.session.flush()
    return plan


@dataclass(frozen=True)
class PlanCheck:
    """One tracked period of an assistance plan: the figure reached and whether the target was met."""

    period: str
    on_time_closure_rate: float | None
    score: float | None
    #: True met, False missed, None: the period has not ended (figure provisional) or had no cases.
    met: bool | None
    closed: bool


def plan_progress(plan: AssistancePlan, *, now: datetime) -> list[PlanCheck]:
    """The plan's tracked periods after the warning's, as far as they have begun."""
    warning = plan.warning
    period = Period.parse(warning.period_key)
    checks = []
    for _step in range(plan.tracked_periods):
        period = period.next()
        if period.start > now:
            break
        rows = {item.row.key: item for item in indicator_table(period, warning.group_by, with_changes=False, now=now).rows}
        item = rows.get(warning.subject_key)
        rate = item.row.on_time_closure_rate if item else None
        closed = period.is_closed(now)
        met = None if rate is None or not closed else rate * 100 >= plan.target_on_time_rate
        checks.append(PlanCheck(period.key, rate, item.score if item else None, met, closed))
    return checks


def visible_warnings(user: User | None) -> list[EarlyWarning]:
    """The warnings ``user`` may open, newest period first."""
    if not permissions.can_view_warnings(user):
        return []
    stmt = select(EarlyWarning).order_by(EarlyWarning.period_key.desc(), EarlyWarning.group_by, EarlyWarning.subject_key)
    return [w for w in db.session.scalars(stmt) if permissions.can_view_warning(user, w)]
