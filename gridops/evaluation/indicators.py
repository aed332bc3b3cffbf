"""Evaluation indicators (考核指标) of domain.md §7, counted in SQL for any period and grouping.

Every figure is a count, a sum or a ratio of counts over the cases of a period, grouped by
an area level (district, subdistrict, community, unit grid), a handling unit, a post (the
role that filed the case), a grid worker, or the whole city. Counting happens in a few
aggregate queries (one pass over the period's cases, one over its events, one each over the
hotline's orders and contacts, one for patrol coverage); Python only divides and labels
the per-group totals. Merged cases (并单) are left out everywhere. The definitions — what
"due in the period" means, which time each figure is judged by — are in docs/evaluation.md.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, fields
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import (
    Integer,
    Select,
    and_,
    case,
    cast,
    distinct,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
)

from gridops.auth.models import User
from gridops.auth.roles import ROLE_VALUES, Role
from gridops.cases.models import Case, CaseEvent, CasePause
from gridops.cases.states import State
from gridops.errors import ValidationFailed
from gridops.evaluation.models import GROUP_BYS
from gridops.evaluation.periods import Period
from gridops.extensions import db
from gridops.hotline.models import HotlineContact, HotlineOrder
from gridops.i18n import current_locale
from gridops.org.models import Department
from gridops.territory.models import Area, AreaLevel, ResponsibilityGrid, responsibility_grid_area

#: Area groupings and the level key each one counts at (the unit grid level is found by its flag).
AREA_GROUPS = {"district": "district", "subdistrict": "subdistrict", "community": "community", "grid": None}
#: Sources whose cases count double in deductions (领导交办、媒体曝光).
PRIORITY_SOURCES = ("leader", "media")
#: Events counted: dispatches, those that prove a dispatch wrong, on-site checks.
DISPATCH_ACTIONS = ("dispatch", "redispatch")
INACCURATE_ACTIONS = ("redispatch", "approve_return")
CHECK_ACTIONS = ("check_pass", "check_fail")
#: Follow-up answers that count as satisfied (满意、基本满意).
SATISFIED = ("satisfied", "basically_satisfied")


@dataclass
class IndicatorRow:
    """The figures of one group (an area, unit, post, grid worker or the city) for one period.

    Rates are fractions (0–1) rounded to 4 places, None when their denominator is 0.
    """

    key: str
    label: str
    #: Rows of the same peer group are ranked together (area level; a unit's territory).
    peer_group: str
    #: Area path or department id of the group, for scoping frozen figures on read.
    path: str = ""
    ref_id: int | None = None

    # Reporting and registration (立案)
    reports: int = 0
    registered_reports: int = 0
    registration_rate: float | None = None
    registrations: int = 0
    on_time_registrations: int = 0
    on_time_registration_rate: float | None = None
    # Dispatch (派遣)
    dispatches: int = 0
    inaccurate_dispatches: int = 0
    accurate_dispatch_rate: float | None = None
    # Closure (结案)
    closures: int = 0
    self_handled: int = 0
    due: int = 0
    suspended: int = 0
    closed_due: int = 0
    closure_rate: float | None = None
    on_time_closed: int = 0
    on_time_closure_rate: float | None = None
    on_time_handled: int = 0
    on_time_handling_rate: float | None = None
    # Rework (返工) and overdue (超期)
    checks: int = 0
    rework_count: int = 0
    rework_rate: float | None = None
    rework_cases: int = 0
    triple_rework_cases: int = 0
    overdue_closed: int = 0
    overdue_open: int = 0
    avg_handling_hours: float | None = None
    # Hotline (12345): replies (答复) and follow-up calls (回访), each against its own limit
    replies: int = 0
    on_time_replies: int = 0
    on_time_reply_rate: float | None = None
    followups: int = 0
    on_time_followups: int = 0
    on_time_followup_rate: float | None = None
    satisfied_followups: int = 0
    hotline_satisfaction_rate: float | None = None
    hotline_contacts: int = 0
    repeat_contacts: int = 0
    repeat_complaint_rate: float | None = None
    # Grid workers' patrol (巡查)
    patrol_reports: int = 0
    valid_reports: int = 0
    invalid_reports: int = 0
    valid_report_rate: float | None = None
    patrol_grids: int = 0
    covered_grids: int = 0
    patrol_coverage: float | None = None
    # Leader-assigned and media cases among the above, for double counting (加倍计分)
    priority_due: int = 0
    priority_closed_due: int = 0
    priority_on_time_closed: int = 0
    priority_overdue_closed: int = 0
    priority_rework_cases: int = 0
    priority_triple_rework_cases: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> IndicatorRow:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


#: Names of the counted figures (everything but labels and rates), in row order.
COUNT_FIELDS = tuple(
    f.name for f in fields(IndicatorRow)
    if f.name not in ("key", "label", "peer_group", "path", "ref_id", "avg_handling_hours")
    and not f.name.endswith(("_rate", "_coverage"))
)
RATE_FIELDS = tuple(f.name for f in fields(IndicatorRow) if f.name.endswith(("_rate", "_coverage")))

#: (rate, numerator, denominator) — denominators named "-" are worked out in _finish.
_RATES = (
    ("registration_rate", "registered_reports", "reports"),
    ("on_time_registration_rate", "on_time_registrations", "registrations"),
    ("rework_rate", "rework_count", "checks"),
    ("on_time_reply_rate", "on_time_replies", "replies"),
    ("on_time_followup_rate", "on_time_followups", "followups"),
    ("hotline_satisfaction_rate", "satisfied_followups", "followups"),
    ("repeat_complaint_rate", "repeat_contacts", "hotline_contacts"),
    ("patrol_coverage", "covered_grids", "patrol_grids"),
)


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator rounded to 4 places; None when there is nothing to divide by."""
    if not denominator or denominator <= 0:
        return None
    return round(numerator / denominator, 4)


# ---------------------------------------------------------------------------------------------
# Entry point


def compute_indicators(
    period: Period,
    group_by: str,
    *,
    scope_path: str | None = None,
    department_id: int | None = None,
) -> list[IndicatorRow]:
    """Every indicator of domain.md §7 for ``period``, one row per group of ``group_by``.

    ``scope_path`` keeps the cases (and area groups) of one area subtree; ``department_id``
    the cases held by one unit and its sub-units. Groups with no cases still get a row
    (zeros, rates None) so that rankings list every area and unit.
    """
    return compute_indicator_sets(period, [group_by], scope_path=scope_path, department_id=department_id)[group_by]


def compute_indicator_sets(
    period: Period,
    group_bys,
    *,
    scope_path: str | None = None,
    department_id: int | None = None,
) -> dict[str, list[IndicatorRow]]:
    """``compute_indicators`` for several groupings of one period, by grouping, counted together.

    The city, area and unit groupings share their passes: one query over the period's cases
    (and one over its events, hotline orders and contacts, and patrol reports) reads every
    grouping's key at once, and each grouping adds up the rows of its keys. The figures are
    the same as one grouping at a time; grid workers and posts take passes of their own.
    """
    for group_by in group_bys:
        if group_by not in GROUP_BYS:
            raise ValidationFailed.field(
                "group_by", _("must be one of %(values)s", values=", ".join(GROUP_BYS))
            )
    start, end = period.start_utc, period.end_utc
    if db.engine.dialect.name == "postgresql":
        # Compiling these wide aggregates costs PostgreSQL's JIT more than running them.
        db.session.execute(text("SET LOCAL jit = off"))
    departments = department_subtree(department_id) if department_id is not None else None
    groupings = [_Grouping(group_by, scope_path, departments) for group_by in dict.fromkeys(group_bys)]
    shared = [g for g in groupings if g.group_by in SHARED_PASS]
    passes = ([_Keys(shared)] if shared else []) + [_Keys([g]) for g in groupings if g.group_by not in SHARED_PASS]
    totals: dict[str, dict] = {g.group_by: {} for g in groupings}
    for keys in passes:
        for facts in (
            _case_facts(keys, start, end),
            _event_facts(keys, start, end),
            _hotline_facts(keys, start, end),
            _patrol_facts(keys, start, end),
        ):
            for group_by, by_key in facts.items():
                _add(totals[group_by], by_key)
    out = {}
    for grouping in groupings:
        group_totals = totals[grouping.group_by]
        rows = grouping.rows(group_totals)
        for row in rows:
            _finish(row, group_totals.get(row.ref_id if row.ref_id is not None else row.key, {}))
        out[grouping.group_by] = rows
    return out


def _add(totals: dict, facts: dict) -> None:
    """Add per-key figures into ``totals`` (key → figure → sum); a missing figure counts 0."""
    for key, values in facts.items():
        row = totals.setdefault(key, {})
        for name, value in values.items():
            row[name] = row.get(name, 0) + (value or 0)


# ---------------------------------------------------------------------------------------------
# Which group a case counts for


class _Grouping:
    """How cases map to groups (a key column plus the joins it needs) and which groups exist."""

    def __init__(self, group_by: str, scope_path: str | None, departments: set[int] | None):
        self.group_by = group_by
        self.scope_path = scope_path
        self.departments = departments
        self.level: AreaLevel | None = None
        if group_by in AREA_GROUPS:
            self.level = _level_for(group_by)

    def area_key(self, path_column):
        """The id of the area of the grouping's level on a materialised path (None above that level)."""
        return path_part(path_column, self.level.rank)

    # -- case attribution ----------------------------------------------------------------------

    def key_and_joins(self, stmt: Select, *, by_reporter: bool = False) -> tuple[Select, object]:
        """``stmt`` (selecting from Case) joined so that the returned column is the group key.

        ``by_reporter`` attributes a case to the grid worker who filed it instead of the one
        whose grids it lies in (their own patrol figures).
        """
        group_by = self.group_by
        if group_by == "city":
            return stmt, literal_column("'city'")
        if self.level is not None:
            return stmt, self.area_key(Case.area_path)
        if group_by == "unit":
            return stmt.where(Case.holder_department_id.is_not(None)), Case.holder_department_id
        if group_by == "post":
            stmt = stmt.join(User, User.id == Case.reporter_id)
            return stmt, User.role
        if by_reporter:
            return stmt.where(Case.reporter_id.is_not(None)), Case.reporter_id
        link = responsibility_grid_area.c
        stmt = stmt.join(responsibility_grid_area, link.area_id == Case.unit_grid_id).join(
            ResponsibilityGrid, ResponsibilityGrid.id == link.responsibility_grid_id
        )
        return stmt.where(ResponsibilityGrid.worker_id.is_not(None)), ResponsibilityGrid.worker_id

    def group(self, stmt: Select, key) -> Select:
        """``stmt`` grouped by ``key`` (the city is one group: no GROUP BY, which PostgreSQL refuses for a constant)."""
        return stmt if self.group_by == "city" else stmt.group_by(key)

    def case_scope(self):
        """A WHERE clause for the scope (area subtree, unit) and the merged-case exclusion."""
        clauses = [Case.state != State.MERGED.value, Case.merged_into_id.is_(None)]
        if self.scope_path:
            clauses.append(Case.area_path.startswith(self.scope_path, autoescape=True))
        if self.departments is not None:
            clauses.append(Case.holder_department_id.in_(self.departments) if self.departments else false())
        return and_(*clauses)

    # -- the groups ------------------------------------------------------------------------------

    def rows(self, totals: dict) -> list[IndicatorRow]:
        """One empty row per group in scope (plus any group that has figures), in a stable order."""
        locale = current_locale()
        group_by = self.group_by
        if group_by == "city":
            city = db.session.scalar(select(Area).where(Area.level_rank == 0).order_by(Area.id).limit(1))
            label = city.display_name(locale) if city else _("City")
            return [IndicatorRow(key="city", label=label, peer_group="city", path=city.path if city else "/")]
        if self.level is not None:
            stmt = select(Area).where(Area.level_rank == self.level.rank)
            if self.scope_path:
                stmt = stmt.where(or_(
                    Area.path.startswith(self.scope_path, autoescape=True),
                    literal(self.scope_path).startswith(Area.path),
                ))
            areas = {a.id: a for a in db.session.scalars(stmt.order_by(Area.code))}
            keep = [a for a in areas.values() if a.active or a.id in totals]
            return [
                IndicatorRow(key=a.code, label=a.display_name(locale), peer_group=self.level.key,
                             path=a.path, ref_id=a.id)
                for a in keep
            ]
        if group_by == "unit":
            stmt = select(Department)
            if self.departments is not None:
                stmt = stmt.where(Department.id.in_(self.departments) if self.departments else false())
            units = [d for d in db.session.scalars(stmt.order_by(Department.code)) if d.active or d.id in totals]
            if self.scope_path:
                units = [d for d in units if d.id in totals]
            area_codes = dict(db.session.execute(select(Area.id, Area.code).where(
                Area.id.in_({d.area_id for d in units if d.area_id is not None}))).all())
            return [
                IndicatorRow(key=d.code, label=d.display_name(locale),
                             peer_group=area_codes.get(d.area_id, "city"), ref_id=d.id)
                for d in units
            ]
        if group_by == "worker":
            stmt = select(User).where(User.role == Role.GRID_WORKER.value)
            if self.scope_path or self.departments is not None:
                stmt = stmt.where(User.id.in_([k for k in totals if isinstance(k, int)]))
            else:
                stmt = stmt.where(or_(User.active.is_(True), User.id.in_([k for k in totals if isinstance(k, int)])))
            return [
                IndicatorRow(key=u.username, label=u.full_name, peer_group=Role.GRID_WORKER.value, ref_id=u.id)
                for u in db.session.scalars(stmt.order_by(User.username))
            ]
        roles = [role for role in ROLE_VALUES if role in totals]
        return [IndicatorRow(key=role, label=Role(role).label(locale), peer_group="post") for role in roles]


#: Groupings under which each case (event, order, contact) counts for at most one group:
#: they are counted together, every key read in the same pass.
SHARED_PASS = ("city", *AREA_GROUPS, "unit")


class _Keys:
    """The group keys one pass reads: one grouping's key, or the keys of several shared-pass
    groupings side by side (the area ids at their levels and the holding unit)."""

    def __init__(self, groupings: list[_Grouping], *, side_by_side: bool = False):
        self.groupings = groupings
        #: One grouping read through its own key column (the city: a constant).
        self.single = groupings[0] if len(groupings) == 1 and not side_by_side else None
        self.group_bys = [g.group_by for g in groupings]

    def case_scope(self):
        return self.groupings[0].case_scope()

    @property
    def scope_path(self) -> str | None:
        return self.groupings[0].scope_path

    def only(self, group_bys) -> _Keys | None:
        """The keys of those of ``group_bys`` this pass reads (None if none)."""
        kept = [g for g in self.groupings if g.group_by in group_bys]
        return _Keys(kept) if kept else None

    # -- side by side: grouped by each case's area path and holding unit, then by the keys ------

    def raw_columns(self) -> list:
        """The case columns the side-by-side keys are read from: the area path, the holding unit."""
        columns = []
        if any(g.level is not None for g in self.groupings):
            columns.append(Case.area_path)
        if "unit" in self.group_bys:
            columns.append(Case.holder_department_id)
        return columns

    def keys_from(self, places) -> list:
        """The side-by-side key columns (every grouping but the city, in order) read off a
        subquery ``places`` of ``raw_columns`` labelled raw0, raw1, …"""
        raw = [c.name for c in self.raw_columns()]
        columns = []
        for grouping in self.groupings:
            if grouping.level is not None:
                columns.append(grouping.area_key(places.c[f"raw{raw.index('area_path')}"]))
            elif grouping.group_by == "unit":
                columns.append(places.c[f"raw{raw.index('holder_department_id')}"])
        return columns

    def split(self, parts) -> list[tuple[str, object]]:
        """(grouping, key) pairs a row of key columns ``parts`` counts for (no group: none)."""
        if self.single is not None:
            return [(self.single.group_by, parts[0])]
        out, position = [], 0
        for grouping in self.groupings:
            if grouping.group_by == "city":
                out.append(("city", "city"))
                continue
            key = parts[position]
            position += 1
            if key is not None:
                out.append((grouping.group_by, key))
        return out

    # -- counting --------------------------------------------------------------------------------

    def aggregate(self, stmt: Select, columns: dict, where: list, *, by_reporter: bool = False, key=None,
                  keyed_only: bool = False) -> dict[str, dict]:
        """``columns`` (aggregates) over ``stmt`` (from Case, or joined to it) and ``where``,
        by group: grouping → key → figure → value.

        One grouping is grouped by its key (``key`` overrides it; ``keyed_only`` leaves out the
        rows without a group in SQL). Side by side, the rows are grouped by their raw area path
        and holding unit first — a hash on plain columns, nothing computed per row — and those
        few groups are added up by the keys read off their paths; each case has one path and
        one holder, so the sums (and distinct counts of cases) add up exactly.
        """
        names = list(columns)
        aggregates = [columns[name].label(name) for name in names]
        where = [*where, self.case_scope()]
        if self.single is not None:
            if key is None:
                stmt, key = self.single.key_and_joins(stmt, by_reporter=by_reporter)
            if keyed_only:
                where.append(key.is_not(None))
            stmt = stmt.with_only_columns(key.label("group_key"), *aggregates, maintain_column_froms=True)
            rows, width = db.session.execute(self.single.group(stmt.where(*where), key)), 1
        else:
            raw = self.raw_columns()
            places = (
                stmt.with_only_columns(*(c.label(f"raw{n}") for n, c in enumerate(raw)), *aggregates,
                                       maintain_column_froms=True)
                .where(*where).group_by(*raw).subquery("by_place")
            )
            key_columns = self.keys_from(places)
            totals = select(*key_columns, *(func.sum(places.c[name]) for name in names))
            rows, width = db.session.execute(totals.group_by(*key_columns) if key_columns else totals), len(key_columns)
        facts: dict[str, dict] = {g: {} for g in self.group_bys}
        for row in rows:
            values = dict(zip(names, row[width:]))
            for group_by, group_key in self.split(row[:width]):
                _add(facts[group_by], {group_key: values})
        return facts


def _level_for(group_by: str) -> AreaLevel:
    key = AREA_GROUPS[group_by]
    stmt = select(AreaLevel).where(AreaLevel.is_unit.is_(True)) if key is None else select(AreaLevel).where(
        AreaLevel.key == key
    )
    level = db.session.scalar(stmt)
    if level is None:
        raise ValidationFailed.field("group_by", _("the territory has no %(level)s level", level=group_by))
    return level


def path_part(path_column, depth: int):
    """SQL: the area id at ``depth`` (0: the city) of a materialised path "/1/5/23/", or NULL.

    Reading the ancestor off the path the case already carries needs no join at all, so a
    grouping by unit grid costs what a grouping by district does. Levels are nested one rank
    per step (rank = depth); an id read at a depth is only ever matched to an area of that
    level, so a hierarchy that skipped a level would leave cases out, never misplace them.
    """
    if db.engine.dialect.name == "postgresql":
        return cast(func.nullif(func.split_part(path_column, "/", depth + 2), ""), Integer)
    _register_sqlite_path_part()
    return func.gridops_path_part(path_column, depth)


def _sqlite_path_part(path: str | None, depth: int) -> int | None:
    parts = (path or "").strip("/").split("/")
    return int(parts[depth]) if 0 <= depth < len(parts) and parts[depth].isdigit() else None


def _register_sqlite_path_part() -> None:
    """Give this session's SQLite connection the path_part function (idempotent, per connection)."""
    raw = db.session.connection().connection.driver_connection
    raw.create_function("gridops_path_part", 2, _sqlite_path_part, deterministic=True)


def department_subtree(department_id: int) -> set[int]:
    ids = {department_id}
    frontier = {department_id}
    while frontier:
        frontier = set(db.session.scalars(select(Department.id).where(Department.parent_id.in_(frontier)))) - ids
        ids |= frontier
    return ids


# ---------------------------------------------------------------------------------------------
# The counting queries


def _count(condition):
    return func.sum(case((condition, 1), else_=0))


def _seconds_between(later, earlier):
    """Wall seconds from ``earlier`` to ``later``, in the dialect's own date arithmetic."""
    if db.engine.dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _within(column, start: datetime, end: datetime):
    return and_(column >= start, column < end)


def _case_facts(keys: _Keys, start: datetime, end: datetime) -> dict:
    """Reports, registrations, closures, the due set and overdue cases: one pass over the cases."""
    open_at_end = and_(
        Case.state.notin_([State.CANCELLED.value, State.MERGED.value]),
        or_(Case.closed_at.is_(None), Case.closed_at >= end),
    )
    paused = (
        select(CasePause.case_id)
        .where(CasePause.started_at < end, or_(CasePause.ended_at.is_(None), CasePause.ended_at >= end))
        .group_by(CasePause.case_id)
        .subquery("paused_at_end")
    )
    suspended_at_end = paused.c.case_id.is_not(None)
    reported = _within(Case.reported_at, start, end)
    registered = _within(Case.registered_at, start, end)
    closed = and_(Case.state == State.CLOSED.value, _within(Case.closed_at, start, end))
    closed_by_end = and_(Case.state == State.CLOSED.value, Case.closed_at < end)
    # Due in the period: the handling due time falls in it, or the case was closed in it
    # ahead of a due time after it (so early closures count in the period they happen).
    due = or_(
        _within(Case.handle_due_at, start, end),
        and_(closed, Case.handle_due_at >= end),
    )
    counted_due = and_(due, or_(closed_by_end, ~suspended_at_end))
    closed_due = and_(counted_due, closed_by_end)
    on_time_closed = and_(closed_due, Case.closed_on_time.is_(True))
    on_time_handled = and_(
        counted_due, Case.handled_at.is_not(None), Case.handled_at <= Case.handle_due_at, Case.handled_at < end
    )
    overdue_closed = and_(closed, Case.closed_on_time.is_(False))
    # Open and past due at the period's end, unless the unit reported back in time (the
    # on-site check is then what is late, not the unit).
    handled_in_time = and_(Case.handled_at.is_not(None), Case.handled_at <= Case.handle_due_at)
    overdue_open = and_(open_at_end, Case.handle_due_at < end, ~suspended_at_end, ~handled_in_time)
    priority = Case.source.in_(PRIORITY_SOURCES)
    patrol = and_(reported, Case.source == "patrol")
    handled_closure = and_(closed, Case.dispatched_at.is_not(None))
    relevant = or_(
        reported,
        registered,
        _within(Case.closed_at, start, end),
        _within(Case.handle_due_at, start, end),
        and_(Case.state.in_([s.value for s in (State.DISPATCHED, State.HANDLING, State.SUSPENDED, State.HANDLED)]),
             Case.handle_due_at < end),
        and_(Case.closed_at >= end, Case.handle_due_at < end),
    )
    columns = {
        "reports": _count(reported),
        "registered_reports": _count(and_(reported, Case.registered_at.is_not(None))),
        "registrations": _count(registered),
        "on_time_registrations": _count(and_(
            registered, or_(Case.register_due_at.is_(None), Case.registered_at <= Case.register_due_at)
        )),
        "closures": _count(closed),
        "self_handled": _count(and_(closed, Case.self_handled.is_(True))),
        "due": _count(due),
        "suspended": _count(and_(due, ~closed_by_end, suspended_at_end)),
        "closed_due": _count(closed_due),
        "on_time_closed": _count(on_time_closed),
        "on_time_handled": _count(on_time_handled),
        "overdue_closed": _count(overdue_closed),
        "overdue_open": _count(overdue_open),
        "handling_closures": _count(handled_closure),
        "handling_seconds": func.sum(case((handled_closure, _seconds_between(Case.closed_at, Case.dispatched_at)),
                                          else_=0)),
        "priority_due": _count(and_(counted_due, priority)),
        "priority_closed_due": _count(and_(closed_due, priority)),
        "priority_on_time_closed": _count(and_(on_time_closed, priority)),
        "priority_overdue_closed": _count(and_(overdue_closed, priority)),
    }
    patrol_columns = {
        "patrol_reports": _count(patrol),
        "valid_reports": _count(and_(patrol, Case.registered_at.is_not(None))),
        "invalid_reports": _count(and_(patrol, Case.state == State.CANCELLED.value)),
    }
    if "worker" not in keys.group_bys:
        columns.update(patrol_columns)
    facts = _grouped(keys, columns, relevant, paused)
    if "worker" in keys.group_bys:
        # A grid worker's own patrol figures follow the reports they filed.
        _add(facts["worker"], _grouped(keys, patrol_columns, patrol, None, by_reporter=True)["worker"])
    return facts


def _grouped(keys: _Keys, columns: dict, where, paused, *, by_reporter: bool = False) -> dict:
    stmt = select(Case.id).select_from(Case)
    if paused is not None:
        stmt = stmt.outerjoin(paused, paused.c.case_id == Case.id)
    return keys.aggregate(stmt, columns, [where], by_reporter=by_reporter)


def _event_facts(keys: _Keys, start: datetime, end: datetime) -> dict:
    """Dispatches and their accuracy, on-site checks and rework: the period's events."""
    in_period = _within(CaseEvent.at, start, end)
    priority = Case.source.in_(PRIORITY_SOURCES)
    failed = CaseEvent.action == "check_fail"
    third_failure = and_(failed, CaseEvent.payload["rework"].as_integer() == 3)
    inaccurate = CaseEvent.action.in_(INACCURATE_ACTIONS)
    columns = {
        "inaccurate_dispatches": _count(inaccurate),
        "checks": _count(CaseEvent.action.in_(CHECK_ACTIONS)),
        "rework_count": _count(failed),
        "rework_cases": func.count(distinct(case((failed, CaseEvent.case_id)))),
        "priority_rework_cases": func.count(distinct(case((and_(failed, priority), CaseEvent.case_id)))),
        "triple_rework_cases": _count(third_failure),
        "priority_triple_rework_cases": _count(and_(third_failure, priority)),
    }
    facts: dict = {group_by: {} for group_by in keys.group_bys}

    def add(keys: _Keys, columns: dict, actions: tuple, key=None) -> None:
        stmt = select(CaseEvent.id).select_from(CaseEvent).join(Case, Case.id == CaseEvent.case_id)
        where = [in_period, CaseEvent.action.in_(actions)]
        for group_by, by_key in keys.aggregate(stmt, columns, where, key=key, keyed_only=True).items():
            _add(facts[group_by], by_key)

    unit = keys.only(("unit",))
    if unit is not None:
        # A dispatch counts for the unit it went to; an inaccurate one for the unit it left;
        # checks for the unit holding the case.
        add(unit, {"dispatches": func.count()}, DISPATCH_ACTIONS, CaseEvent.payload["unit_id"].as_integer())
        left = case((inaccurate, CaseEvent.payload["from_unit_id"].as_integer()), else_=Case.holder_department_id)
        add(unit, columns, INACCURATE_ACTIONS + CHECK_ACTIONS, left)
    others = keys.only([g for g in keys.group_bys if g != "unit"])
    if others is not None:
        columns["dispatches"] = _count(CaseEvent.action.in_(DISPATCH_ACTIONS))
        add(others, columns, tuple({*DISPATCH_ACTIONS, *INACCURATE_ACTIONS, *CHECK_ACTIONS}))
    return facts


def _hotline_facts(keys: _Keys, start: datetime, end: datetime) -> dict:
    """Replies and follow-up calls (on time or not, satisfaction) and repeated complaints of the 12345 hotline."""
    facts: dict = {group_by: {} for group_by in keys.group_bys}

    def add(source, columns: dict, where) -> None:
        for group_by, by_key in keys.aggregate(source, columns, where).items():
            _add(facts[group_by], by_key)

    orders = select(HotlineOrder.id).select_from(HotlineOrder).join(Case, Case.id == HotlineOrder.case_id)
    add(orders, {
        "replies": func.count(),
        "on_time_replies": _count(HotlineOrder.replied_at <= HotlineOrder.reply_due_at),
    }, [_within(HotlineOrder.replied_at, start, end)])
    add(orders, {
        "followups": func.count(),
        "on_time_followups": _count(HotlineOrder.followed_up_at <= HotlineOrder.followup_due_at),
        "satisfied_followups": _count(HotlineOrder.satisfaction.in_(SATISFIED)),
    }, [_within(HotlineOrder.followed_up_at, start, end), HotlineOrder.satisfaction.is_not(None)])
    contacts = select(HotlineContact.id).select_from(HotlineContact).join(Case, Case.id == HotlineContact.case_id)
    add(contacts, {
        "hotline_contacts": func.count(),
        "repeat_contacts": _count(HotlineContact.repeat.is_(True)),
    }, [_within(HotlineContact.contacted_at, start, end)])
    return facts


def _patrol_facts(keys: _Keys, start: datetime, end: datetime) -> dict:
    """Patrol coverage: of a group's active unit grids, how many had a patrol report in the period.

    Small aggregates: the grids per group, and the distinct grids among the period's patrol
    reports (a grid worker: among the reports they filed in their own grids). The city and
    area groupings read the reported grids once — each (area path, grid) pair, with every
    grouping's area id read off the path — and count each group's distinct grids from those
    rows (Python over grids, never over cases).
    """
    facts: dict = {group_by: {} for group_by in keys.group_bys}
    unit_rank = select(AreaLevel.rank).where(AreaLevel.is_unit.is_(True)).scalar_subquery()
    grids = select(Area.id).where(Area.level_rank == unit_rank, Area.active.is_(True))
    if keys.scope_path:
        grids = grids.where(Area.path.startswith(keys.scope_path, autoescape=True))
    reports = select(Case.id).select_from(Case).where(
        _within(Case.reported_at, start, end), Case.source == "patrol", keys.case_scope(),
        Case.unit_grid_id.in_(grids),
    )
    link = responsibility_grid_area.c
    if "worker" in keys.group_bys:
        owner = ResponsibilityGrid.worker_id
        owned = (
            select(owner, func.count())
            .join(responsibility_grid_area, link.responsibility_grid_id == ResponsibilityGrid.id)
            .where(owner.is_not(None), link.area_id.in_(grids))
            .group_by(owner)
        )
        covered = (
            reports.join(responsibility_grid_area, link.area_id == Case.unit_grid_id)
            .join(ResponsibilityGrid, ResponsibilityGrid.id == link.responsibility_grid_id)
            .where(ResponsibilityGrid.worker_id == Case.reporter_id)
            .with_only_columns(Case.reporter_id, func.count(distinct(Case.unit_grid_id)), maintain_column_froms=True)
            .group_by(Case.reporter_id)
        )
        _add(facts["worker"], {key: {"patrol_grids": count} for key, count in db.session.execute(owned)})
        _add(facts["worker"], {key: {"covered_grids": count} for key, count in db.session.execute(covered)})
        return facts
    areas = keys.only(["city", *AREA_GROUPS])
    if areas is None:  # units and posts own no grids
        return facts
    for grouping in areas.groupings:
        if grouping.group_by == "city":
            owned = select(literal_column("'city'"), func.count()).select_from(grids.subquery())
        else:
            key = grouping.area_key(Area.path)
            owned = select(key, func.count()).where(Area.id.in_(grids)).group_by(key)
        _add(facts[grouping.group_by], {key: {"patrol_grids": count} for key, count in db.session.execute(owned)})
    side_by_side = _Keys(areas.groupings, side_by_side=True)
    raw = side_by_side.raw_columns()
    places = (
        reports.with_only_columns(*(c.label(f"raw{n}") for n, c in enumerate(raw)), Case.unit_grid_id.label("grid"))
        .group_by(*raw, Case.unit_grid_id).subquery("by_place")
    )
    reported = select(*side_by_side.keys_from(places), places.c.grid)
    covered: dict = defaultdict(set)
    for row in db.session.execute(reported):
        for group_by, key in side_by_side.split(row[:-1]):
            covered[group_by, key].add(row[-1])
    for (group_by, key), grid_ids in covered.items():
        _add(facts[group_by], {key: {"covered_grids": len(grid_ids)}})
    return facts


# ---------------------------------------------------------------------------------------------
# From totals to a row


def _finish(row: IndicatorRow, totals: dict) -> None:
    for name in COUNT_FIELDS:
        setattr(row, name, int(totals.get(name) or 0))
    for rate, numerator, denominator in _RATES:
        setattr(row, rate, ratio(getattr(row, numerator), getattr(row, denominator)))
    counted = row.due - row.suspended
    row.closure_rate = ratio(row.closed_due, counted)
    row.on_time_closure_rate = ratio(row.on_time_closed, counted)
    row.on_time_handling_rate = ratio(row.on_time_handled, counted)
    # A return in this period may undo a dispatch of the last one: the rate never goes below 0.
    row.accurate_dispatch_rate = ratio(max(0, row.dispatches - row.inaccurate_dispatches), row.dispatches)
    row.valid_report_rate = ratio(row.valid_reports, row.valid_reports + row.invalid_reports)
    closures = int(totals.get("handling_closures") or 0)
    seconds = float(totals.get("handling_seconds") or 0)
    row.avg_handling_hours = round(seconds / closures / 3600, 2) if closures else None
