"""The notice rhythm (周督查、月通报、季讲评): weekly supervision, monthly notice, quarterly review.

``generate_notice(kind, period, now=...)`` computes a notice's figures once and stores them as
JSON in a ``Notice`` row; the unique key (kind, period, scope) makes a notice exist exactly
once however many schedulers or evaluators ask for it. A draft can be refreshed while its
figures may still move; publishing freezes it for good. ``generate_due_notices(now)`` is the
scheduled job's service: it makes every notice whose period has ended (and catches up on
missed ones). What a notice lists by name is narrowed to the reader's scope when shown
(``content_for``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from gridops.auth import permissions
from gridops.auth.models import User
from gridops.auth.roles import Role
from gridops.cases.models import Case
from gridops.cases.queries import overdue_clause
from gridops.cases.states import OPEN_STATES, State
from gridops.catalogue.models import SmallClass
from gridops.catalogue.services import get_city_clock
from gridops.errors import InvalidTransition, NotAllowed, ValidationFailed
from gridops.evaluation.campaigns import campaign_progress, campaigns_overlapping
from gridops.evaluation.models import NOTICE_KINDS, Notice
from gridops.evaluation.periods import Period
from gridops.evaluation.snapshots import freeze_snapshots, indicator_table, indicator_tables
from gridops.extensions import db
from gridops.org.models import Department
from gridops.supervision.models import SupervisionOrder
from gridops.supervision.stages import STAGES
from gridops.territory.models import Area
from gridops.worktime import ClockType
from gridops.worktime.models import CitySetting

#: The period kind each notice kind covers.
PERIOD_KIND = {"weekly": "week", "monthly": "month", "quarterly": "quarter"}
NINE_WORDS = ("净", "绿", "亮", "齐", "便", "美", "通", "平", "清")
SETTINGS_KEY = "evaluation.notices"
#: Defaults of the configurable numbers (city setting ``evaluation.notices`` overrides them).
DEFAULT_SETTINGS: dict[str, Any] = {
    # Hours after the period's end (local midnight) at which the scheduled notice is made:
    # 8 → Monday 08:00 for the week, the 1st at 08:00 for the month and the quarter.
    "generate_after_hours": {"weekly": 8, "monthly": 8, "quarterly": 8},
    # Closed periods looked back over for missing notices (a scheduler that was down catches up).
    "catch_up_periods": 4,
    # A unit grid with this many reports of one small class in the week is a hot spot; "new" when
    # it was not one the week before.
    "hot_spot_min_reports": 3,
    # The same small class this many times in one unit grid in a quarter is a recurring problem.
    "recurring_min_reports": 3,
    # Overdue by this many working days or more: level 3 (listed by name, counts for warnings).
    "level3_working_days": 3,
    # Rows in best/worst and top lists.
    "list_length": 5,
    # Groupings scored and ranked in the monthly notice (and frozen as snapshots).
    "monthly_groups": ["district", "subdistrict", "unit"],
    # Months of city figures drawn in the monthly notice's trend chart.
    "trend_months": 6,
}


def notice_settings() -> dict[str, Any]:
    """The defaults, overridden key by key by the city setting ``evaluation.notices``."""
    settings = dict(DEFAULT_SETTINGS)
    stored = db.session.get(CitySetting, SETTINGS_KEY)
    if stored is not None and isinstance(stored.value, dict):
        settings.update({k: v for k, v in stored.value.items() if k in DEFAULT_SETTINGS})
    return settings


@dataclass(frozen=True)
class Scope:
    """What a notice covers: the whole city, or one area's subtree."""

    area: Area | None = None

    @property
    def key(self) -> str:
        return "city" if self.area is None else f"area:{self.area.id}"

    @property
    def path(self) -> str | None:
        return None if self.area is None else self.area.path

    def clause(self):
        """WHERE clause keeping the cases in scope (merged cases never count)."""
        clause = Case.state != State.MERGED.value
        if self.area is not None:
            clause = and_(clause, Case.area_path.startswith(self.area.path, autoescape=True))
        return clause


def _check_kind(kind: str, period: Period) -> None:
    if kind not in NOTICE_KINDS:
        raise ValidationFailed.field("kind", _("must be one of %(values)s", values=", ".join(NOTICE_KINDS)))
    if period.kind != PERIOD_KIND[kind]:
        raise ValidationFailed.field("period", _("does not match the kind of notice"))


def find_notice(kind: str, period: Period, scope_key: str = "city") -> Notice | None:
    return db.session.scalar(
        select(Notice).where(Notice.kind == kind, Notice.period_key == period.key, Notice.scope_key == scope_key)
    )


def generate_notice(
    kind: str, period: Period, *, now: datetime, scope_area: Area | None = None, actor: User | None = None
) -> Notice:
    """The notice of ``kind`` for ``period`` (and scope), made now if it does not exist yet.

    ``actor`` None is the scheduler. Exactly once: an existing notice is returned unchanged, and
    a concurrent maker losing the race on the unique key gets the winner's notice.
    """
    if actor is not None and not permissions.can_manage_notices(actor):
        raise NotAllowed(_("Only evaluators and administrators make notices."))
    _check_kind(kind, period)
    if now < period.start:
        raise ValidationFailed.field("period", _("has not started yet"))
    scope = Scope(scope_area)
    existing = find_notice(kind, period, scope.key)
    if existing is not None:
        return existing
    notice = Notice(
        kind=kind,
        period_key=period.key,
        period_start=period.start_utc,
        period_end=period.end_utc,
        scope_key=scope.key,
        scope_area_id=scope_area.id if scope_area is not None else None,
        status="draft",
        content=build_content(kind, period, scope, now=now),
        generated_at=now,
        generated_by_id=actor.id if actor is not None else None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(notice)
            db.session.flush()
    except IntegrityError:
        winner = find_notice(kind, period, scope.key)
        if winner is None:
            raise
        return winner
    return notice


def refresh_notice(notice: Notice, actor: User, *, now: datetime) -> Notice:
    """Recompute a draft's figures (late data); a published notice never changes."""
    if not permissions.can_manage_notices(actor):
        raise NotAllowed(_("Only evaluators and administrators make notices."))
    if notice.status == "published":
        raise InvalidTransition(_("A published notice is frozen."))
    period = Period.parse(notice.period_key)
    notice.content = build_content(notice.kind, period, Scope(notice.scope_area), now=now)
    notice.generated_at = now
    notice.generated_by_id = actor.id
    db.session.flush()
    return notice


def publish_notice(notice: Notice, actor: User, *, now: datetime) -> Notice:
    """Publish a draft to its readers; from now on its content is frozen."""
    if not permissions.can_manage_notices(actor):
        raise NotAllowed(_("Only evaluators and administrators publish notices."))
    return _publish(notice, actor, now)


def publish_notice_as_system(notice: Notice, *, now: datetime) -> Notice:
    """Publish a draft on the operator's command line or the demo's load (no user acts)."""
    return _publish(notice, None, now)


def _publish(notice: Notice, actor: User | None, now: datetime) -> Notice:
    if notice.status == "published":
        raise InvalidTransition(_("The notice is already published."))
    if now < notice.period_end:
        raise InvalidTransition(_("A notice can be published once its period has ended."))
    notice.status = "published"
    notice.published_at = now
    notice.published_by_id = actor.id if actor is not None else None
    db.session.flush()
    return notice


def due_periods(kind: str, now: datetime, settings: dict | None = None) -> list[Period]:
    """Closed periods of ``kind`` whose scheduled time has come by ``now``, newest first."""
    settings = settings or notice_settings()
    delay = timedelta(hours=float(settings["generate_after_hours"].get(kind, 0)))
    period = Period.last_closed(PERIOD_KIND[kind], now)
    periods = []
    for _step in range(max(1, int(settings["catch_up_periods"]))):
        if now >= period.end + delay:
            periods.append(period)
        period = period.previous()
    return periods


def generate_due_notices(now: datetime) -> list[Notice]:
    """Make every city notice that is due by ``now`` and missing (the scheduled job's service)."""
    settings = notice_settings()
    made = []
    for kind in NOTICE_KINDS:
        for period in due_periods(kind, now, settings):
            if find_notice(kind, period) is None:
                made.append(generate_notice(kind, period, now=now))
    return made


# ---- content -------------------------------------------------------------------------------


def build_content(kind: str, period: Period, scope: Scope, *, now: datetime) -> dict:
    """The figures of one notice as plain JSON data (what is stored and frozen)."""
    settings = notice_settings()
    as_of = min(now, period.end_utc)
    content: dict[str, Any] = {
        "kind": kind,
        "period": period.to_dict(),
        "scope": {"key": scope.key, "code": scope.area.code if scope.area else None,
                  "name": scope.area.name if scope.area else None},
        "as_of": as_of.isoformat(),
        "complete": now >= period.end_utc,
        "settings": {k: settings[k] for k in ("hot_spot_min_reports", "recurring_min_reports",
                                             "level3_working_days", "list_length")},
    }
    builder = {"weekly": _weekly, "monthly": _monthly, "quarterly": _quarterly}[kind]
    content.update(builder(period, scope, as_of, settings, now=now))
    content["nine_words"] = nine_word_counts(period, scope, as_of)
    content["campaigns"] = _campaigns(period, as_of)
    return content


def _case_row(row, level3_stages: list[str]) -> dict:
    """One listed case; ``level3_stages`` names the stages at level 3 (notices made before the
    stage was named carry only ``level3``)."""
    return {
        "number": row.number,
        "state": row.state,
        "small_class": f"{row.case_type[0].upper()}{row.class_code} {row.class_name}",
        "area_code": row.area_code,
        "area_name": row.area_name,
        "area_path": row.area_path,
        "unit_id": row.holder_department_id,
        "address": row.address,
        "due_at": row.due.isoformat() if row.due else None,
        "overdue_hours": round((row.as_of - row.due) / timedelta(hours=1), 1) if row.due else None,
        "supervised": bool(row.supervised),
        "level3": bool(level3_stages),
        "level3_stages": level3_stages,
    }


#: The due time a listed case is measured by: the first of these that is set, and the stage it is of.
_DUE_STAGES = (
    (Case.handle_due_at, "handling"), (Case.sign_due_at, "signing"), (Case.dispatch_due_at, "dispatch"),
    (Case.register_due_at, "registration"),
)


def _named_cases(scope: Scope, as_of: datetime, *, supervised: bool) -> list:
    """Open cases overdue at ``as_of`` (or, ``supervised``, open supervised ones), by holder."""
    area = aliased(Area)
    due = func.coalesce(*(column for column, _stage in _DUE_STAGES))
    due_stage = case(*((column.is_not(None), stage) for column, stage in _DUE_STAGES), else_=None)
    stmt = (
        select(
            Case.id, Case.number, Case.state, Case.case_type, Case.address, Case.area_path, Case.supervised,
            Case.holder_department_id, due.label("due"), due_stage.label("due_stage"),
            SmallClass.code.label("class_code"), SmallClass.name.label("class_name"),
            area.code.label("area_code"), area.name.label("area_name"),
        )
        .join(SmallClass, Case.small_class_id == SmallClass.id)
        .outerjoin(area, Case.area_id == area.id)
        .where(scope.clause(), Case.state.in_([s.value for s in OPEN_STATES]), Case.reported_at < as_of)
        .order_by(due, Case.number)
    )
    stmt = stmt.where(Case.supervised.is_(True)) if supervised else stmt.where(overdue_clause(as_of))
    return list(db.session.execute(stmt))


def _weekly(period: Period, scope: Scope, as_of: datetime, settings: dict, *, now: datetime) -> dict:
    clock = get_city_clock()
    level3_days = int(settings["level3_working_days"])
    units: dict[int | None, dict] = {}

    def unit_entry(unit_id):
        return units.setdefault(unit_id, {"unit_id": unit_id, "overdue": [], "supervised": []})

    level3_count = 0
    overdue = _named_cases(scope, as_of, supervised=False)
    ordered = _level3_ordered([row.id for row in overdue], as_of)
    for row in overdue:
        row = _with_as_of(row, as_of)
        stages = ordered.get(row.id, [])
        if not stages and row.due is not None and clock.due_at(row.due, level3_days, ClockType.WORKING_DAYS) <= as_of:
            stages = [row.due_stage]
        level3_count += bool(stages)
        unit_entry(row.holder_department_id)["overdue"].append(_case_row(row, stages))
    for row in _named_cases(scope, as_of, supervised=True):
        unit_entry(row.holder_department_id)["supervised"].append(_case_row(_with_as_of(row, as_of), []))
    figures = {
        item.row.ref_id: _scored(item)
        for item in scored_table(period, "unit", scope, now=now).rows
        if item.row.due or item.row.reports or item.row.dispatches
    }
    for unit_id in figures:
        unit_entry(unit_id)
    names = _department_names([u for u in units if u is not None])
    unit_list = sorted(
        units.values(), key=lambda u: (u["unit_id"] is None, -len(u["overdue"]), names.get(u["unit_id"], ""))
    )
    for entry in unit_list:
        entry["unit_code"], entry["unit_name"] = names.get(entry["unit_id"], ("", ""))
        entry["figures"] = figures.get(entry["unit_id"])
    return {
        "units": unit_list,
        "totals": {
            "overdue": sum(len(u["overdue"]) for u in unit_list),
            "level3": level3_count,
            "supervised": sum(len(u["supervised"]) for u in unit_list),
        },
        "hot_spots": hot_spots(period, scope, int(settings["hot_spot_min_reports"])),
    }


def _level3_ordered(case_ids: list[int], as_of: datetime) -> dict[int, list[str]]:
    """Per case, the stages it is in with a level-3 timeout supervision order made by ``as_of``, in
    the order of the loop (the escalation's own list; a level 3 of a stage the case has left does not count)."""
    if not case_ids:
        return {}
    current_stage = or_(*(
        and_(SupervisionOrder.stage == stage.name, Case.state.in_(sorted(stage.states))) for stage in STAGES.values()
    ))
    rows = db.session.execute(
        select(SupervisionOrder.case_id, SupervisionOrder.stage).distinct()
        .join(Case, Case.id == SupervisionOrder.case_id).where(
            SupervisionOrder.kind == "timeout", SupervisionOrder.level == 3,
            SupervisionOrder.created_at <= as_of, SupervisionOrder.case_id.in_(case_ids), current_stage,
        )
    )
    order = list(STAGES)
    stages: dict[int, list[str]] = {}
    for case_id, stage in sorted(rows, key=lambda row: order.index(row.stage)):
        stages.setdefault(case_id, []).append(stage)
    return stages


@dataclass(frozen=True)
class _Row:
    """A result row with the notice's reference instant attached (for overdue hours)."""

    id: int
    number: str
    state: str
    case_type: str
    address: str
    area_path: str
    supervised: bool
    holder_department_id: int | None
    due: datetime | None
    due_stage: str | None
    class_code: str
    class_name: str
    area_code: str | None
    area_name: str | None
    as_of: datetime


def _with_as_of(row, as_of: datetime) -> _Row:
    return _Row(**row._asdict(), as_of=as_of)


def _department_names(ids) -> dict[int, tuple[str, str]]:
    if not ids:
        return {}
    rows = db.session.execute(select(Department.id, Department.code, Department.name).where(Department.id.in_(ids)))
    return {id_: (code, name) for id_, code, name in rows}


def _class_grid_counts(start: datetime, end: datetime, scope: Scope, minimum: int):
    grid = aliased(Area)
    return db.session.execute(
        select(
            Case.unit_grid_id, Case.small_class_id, func.count().label("reports"),
            grid.code, grid.name, grid.path, SmallClass.case_type, SmallClass.code, SmallClass.name,
            SmallClass.nine_word,
        )
        .join(grid, Case.unit_grid_id == grid.id)
        .join(SmallClass, Case.small_class_id == SmallClass.id)
        .where(scope.clause(), Case.reported_at >= start, Case.reported_at < end)
        .group_by(
            Case.unit_grid_id, Case.small_class_id, grid.code, grid.name, grid.path, SmallClass.case_type,
            SmallClass.code, SmallClass.name, SmallClass.nine_word,
        )
        .having(func.count() >= minimum)
        .order_by(func.count().desc(), grid.code, SmallClass.code)
    )


def _spot(row) -> dict:
    grid_id, class_id, reports, grid_code, grid_name, grid_path, case_type, code, name, nine_word = row
    return {
        "grid_code": grid_code, "grid_name": grid_name, "area_path": grid_path,
        "small_class": f"{case_type[0].upper()}{code} {name}", "nine_word": nine_word, "reports": reports,
        "_key": (grid_id, class_id),
    }


def hot_spots(period: Period, scope: Scope, minimum: int) -> list[dict]:
    """Unit grids with ``minimum`` or more reports of one small class in the period; ``new`` when
    the previous period had fewer."""
    before = period.previous()
    earlier = {
        (row[0], row[1]) for row in _class_grid_counts(before.start_utc, before.end_utc, scope, minimum)
    }
    spots = []
    for row in _class_grid_counts(period.start_utc, period.end_utc, scope, minimum):
        spot = _spot(row)
        spot["new"] = spot.pop("_key") not in earlier
        spots.append(spot)
    return spots


def recurring_problems(period: Period, scope: Scope, minimum: int) -> list[dict]:
    """The same small class ``minimum`` or more times in one unit grid over the period."""
    problems = []
    for row in _class_grid_counts(period.start_utc, period.end_utc, scope, minimum):
        spot = _spot(row)
        spot.pop("_key")
        problems.append(spot)
    return problems


def nine_word_counts(period: Period, scope: Scope, as_of: datetime) -> list[dict]:
    """Reports and closures per nine-word dimension (净绿亮齐便美通平清) in the period."""
    start, end = period.start_utc, min(period.end_utc, as_of)
    reported = and_(Case.reported_at >= start, Case.reported_at < end)
    closed = and_(Case.state == State.CLOSED.value, Case.closed_at >= start, Case.closed_at < end)
    rows = db.session.execute(
        select(SmallClass.nine_word, func.count().filter(reported), func.count().filter(closed))
        .join(SmallClass, Case.small_class_id == SmallClass.id)
        .where(scope.clause(), or_(reported, closed))
        .group_by(SmallClass.nine_word)
    )
    counts = {word: (found, done) for word, found, done in rows}
    return [{"word": w, "reports": counts.get(w, (0, 0))[0], "closed": counts.get(w, (0, 0))[1]} for w in NINE_WORDS]


def unit_counts(period: Period, scope: Scope, column) -> list[dict]:
    """Per holding unit, the sum of a per-case counter (rework, extensions) of cases closed or
    handled in the period, largest first."""
    total = func.sum(column)
    rows = db.session.execute(
        select(Department.id, Department.code, Department.name, total, func.count())
        .join(Department, Case.holder_department_id == Department.id)
        .where(
            scope.clause(), column > 0,
            Case.handled_at >= period.start_utc, Case.handled_at < period.end_utc,
        )
        .group_by(Department.id, Department.code, Department.name)
        .order_by(total.desc(), Department.code)
    )
    return [
        {"unit_id": id_, "unit_code": code, "unit_name": name, "total": int(count_sum), "cases": cases}
        for id_, code, name, count_sum, cases in rows
    ]


#: Figures of a scored row kept in a notice (with score, grade, rank and changes).
ROW_FIGURES = (
    "reports", "registrations", "dispatches", "accurate_dispatch_rate", "due", "suspended", "closures",
    "closure_rate", "on_time_closure_rate", "on_time_handling_rate", "rework_count", "overdue_closed",
    "overdue_open", "avg_handling_hours", "hotline_satisfaction_rate",
)


def _scored(item) -> dict:
    """A scored indicator row as notice content: figures, score, grade, rank, MoM and YoY changes."""
    row = item.row
    data = {"key": row.key, "label": row.label, "peer_group": row.peer_group, "ref_id": row.ref_id,
            "path": row.path}
    data.update({name: getattr(row, name) for name in ROW_FIGURES})
    data.update({"score": item.score, "grade": item.grade, "rank": item.rank, "rank_of": item.rank_of,
                 "previous": item.previous, "last_year": item.last_year})
    return data


def scored_table(period: Period, group_by: str, scope: Scope, *, now: datetime, with_changes: bool = True):
    """The period's scored rows for ``group_by`` in scope; a closed period's are frozen first."""
    return scored_tables(period, [group_by], scope, now=now, with_changes=with_changes)[group_by]


def scored_tables(period: Period, group_bys, scope: Scope, *, now: datetime, with_changes: bool = True):
    """``scored_table`` for several groupings, by grouping: each period involved is frozen or
    computed once for all of them (one pass over its cases)."""
    if period.is_closed(now):
        freeze_snapshots(period, group_bys, now=now)
    return indicator_tables(period, group_bys, scope_path=scope.path, with_changes=with_changes, now=now)


def _ranked(rows: list[dict], length: int) -> tuple[list[dict], list[dict]]:
    """Best and worst rows by score (rows without a score are left out)."""
    scored = sorted((r for r in rows if r["score"] is not None), key=lambda r: (-r["score"], r["key"]))
    best = scored[:length]
    worst = [r for r in reversed(scored) if r not in best][:length]
    return best, worst


def _monthly(period: Period, scope: Scope, as_of: datetime, settings: dict, *, now: datetime) -> dict:
    length = int(settings["list_length"])
    tables = scored_tables(period, [*settings["monthly_groups"], "city"], scope, now=now)
    groups = []
    for group_by in settings["monthly_groups"]:
        table = tables[group_by]
        rows = sorted((_scored(item) for item in table.rows),
                      key=lambda r: (r["peer_group"], r["rank"] is None, r["rank"] or 0, r["key"]))
        best, worst = _ranked(rows, length)
        groups.append({"group_by": group_by, "frozen": table.frozen, "rows": rows, "best": best, "worst": worst})
    city = tables["city"]
    months, month = [], period
    for _step in range(max(1, int(settings["trend_months"]))):
        months.insert(0, month)
        month = month.previous()
    return {
        "city": _scored(city.rows[0]) if city.rows else None,
        "groups": groups,
        "trend": _city_trend(months, scope, as_of),
    }


def _city_trend(months: list[Period], scope: Scope, as_of: datetime) -> list[dict]:
    """City (or scope) figures month by month, for the trend chart (months not begun are left out)."""
    trend = []
    for month in months:
        if month.start_utc >= as_of:
            continue
        rows = indicator_table(month, "city", scope_path=scope.path, with_changes=False, now=as_of).rows
        if rows:
            item = rows[0]
            trend.append({"period": month.key, "reports": item.row.reports, "closures": item.row.closures,
                          "closure_rate": item.row.closure_rate,
                          "on_time_closure_rate": item.row.on_time_closure_rate, "score": item.score})
    return trend


def _quarterly(period: Period, scope: Scope, as_of: datetime, settings: dict, *, now: datetime) -> dict:
    city = scored_table(period, "city", scope, now=now)
    return {
        "city": _scored(city.rows[0]) if city.rows else None,
        "trend": _city_trend(_months_of(period), scope, as_of),
        "recurring": recurring_problems(period, scope, int(settings["recurring_min_reports"])),
        "rework": unit_counts(period, scope, Case.rework_count),
        "extensions": unit_counts(period, scope, Case.extension_count),
        "months": [
            {"period": month.key, "nine_words": nine_word_counts(month, scope, as_of)}
            for month in _months_of(period)
            if month.start_utc < as_of
        ],
    }


def _months_of(period: Period) -> list[Period]:
    months, month = [], Period.containing("month", period.first_day)
    while month.first_day < period.end_day:
        months.append(month)
        month = month.next()
    return months


def _campaigns(period: Period, as_of: datetime) -> list[dict]:
    rows = []
    for campaign in campaigns_overlapping(period.start_utc, period.end_utc):
        progress = campaign_progress(campaign, now=as_of)
        rows.append({
            "id": campaign.id, "name": campaign.name,
            "starts_on": campaign.starts_on.isoformat(), "ends_on": campaign.ends_on.isoformat(),
            **progress.as_dict(),
        })
    return rows


# ---- reading -------------------------------------------------------------------------------


def visible_notices(user: User | None):
    """The notices ``user`` may open, newest period first (filtered in Python by can_view_notice)."""
    stmt = select(Notice).order_by(Notice.period_start.desc(), Notice.kind, Notice.id)
    if not permissions.can_view_notices(user):
        return []
    return [n for n in db.session.scalars(stmt) if permissions.can_view_notice(user, n)]


def content_for(notice: Notice, user: User) -> dict:
    """The notice's content with named cases narrowed to what ``user`` may see."""
    content = notice.content
    if notice.kind != "weekly" or (permissions.sees_whole_city(user) and user.role_enum is not Role.UNIT_STAFF):
        return content
    if user.role_enum is Role.UNIT_STAFF:
        ids = permissions.department_ids_in_scope(user) or set()
        keep = lambda row: row["unit_id"] in ids  # noqa: E731
    else:
        prefix = permissions.scope_path(user)
        keep = lambda row: prefix is not None and row["area_path"].startswith(prefix)  # noqa: E731
    units = []
    for entry in content.get("units", []):
        overdue = [r for r in entry["overdue"] if keep(r)]
        supervised = [r for r in entry["supervised"] if keep(r)]
        if overdue or supervised:
            units.append({**entry, "overdue": overdue, "supervised": supervised})
    spots = [s for s in content.get("hot_spots", []) if user.role_enum is Role.UNIT_STAFF or keep(s)]
    return {**content, "units": units, "hot_spots": spots, "narrowed": True}
