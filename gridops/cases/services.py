"""The case workflow's services: filing, and one function per action of the transition table.

Every service checks the actor (role, scope), the transition (source state, required
inputs, guard) and the case's version, mutates the case, appends one immutable CaseEvent,
and flushes; it never commits. ``take_action`` dispatches an action name of ``states.py``
to its service, so the table, the services and the UI agree on what is allowed.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Sequence
from datetime import datetime
from types import SimpleNamespace

from flask_babel import gettext as _
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import JSON, String, bindparam, cast, func, insert, literal_column, select, true
from sqlalchemy.orm import aliased, make_transient_to_detached
from sqlalchemy.orm.attributes import flag_modified, set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from gridops.auth.models import User
from gridops.auth.permissions import (
    department_ids_in_scope,
    has_role,
    is_signed_in,
    scope_path,
    sees_whole_city,
)
from gridops.auth.roles import Role
from gridops.cases import clocks
from gridops.cases.models import (
    SOURCES,
    URGENCIES,
    Case,
    CaseEvent,
    CasePause,
    CaseRequest,
)
from gridops.cases.numbers import (
    case_day,
    case_number,
    case_number_sql,
    counter_bump,
    give_back_case_number,
    next_case_number,
)
from gridops.cases.photos import attach_photos
from gridops.cases.states import ACTIONS, Action, Input, Scope, State, action_for, actions_from
from gridops.catalogue.models import FilingStandard, SmallClass
from gridops.catalogue.routing import suggest_unit
from gridops.catalogue.services import find_small_class
from gridops.db import UPSERTS, dialect_name, reused_statement, utcnow
from gridops.errors import InvalidTransition, NotAllowed, StaleCase, ValidationFailed
from gridops.extensions import db
from gridops.i18n import current_locale
from gridops.org.models import Department
from gridops.supervision.models import EscalationWatch
from gridops.supervision.services import first_watch, open_leader_order, track_case
from gridops.supervision.stages import CLOCK_COLUMNS
from gridops.territory.datum import check_datum
from gridops.territory.locator import Location, locate
from gridops.territory.models import Area, ResponsibilityGrid, responsibility_grid_area

#: Sources whose reports are verified on site before registration (domain.md §5).
VERIFIED_SOURCES = frozenset({"public", "hotline"})
#: Roles that may file a case, and the sources each may file from (None: any source).
FILING_ROLES: dict[Role, frozenset[str] | None] = {
    Role.GRID_WORKER: frozenset({"patrol"}),
    Role.HOTLINE_OPERATOR: frozenset({"hotline", "public"}),
    Role.INTAKE_OPERATOR: None,
    Role.DISPATCHER: None,
    Role.SHIFT_LEADER: None,
    Role.LEADER: frozenset({"leader"}),
    Role.ADMIN: None,
}
MAX_PHOTOS = 9
MAX_ADDRESS = 255
MAX_DESCRIPTION = 4000
MAX_TEXT = 2000
MAX_IDEMPOTENCY_KEY = 64
#: take_action's keyword for each input of the table (and the field named when it is missing).
INPUT_FIELDS = {
    Input.REASON: "reason",
    Input.PHOTOS: "photos",
    Input.UNIT: "unit_id",
    Input.DUE_AT: "due_at",
    Input.INSTRUCTION: "instruction",
    Input.NOTE: "note",
    Input.MASTER: "master",
}
#: States in which a grid worker must act on site next: the case's assignee is set there only.
ASSIGNED_STATES = frozenset({State.VERIFYING, State.HANDLED})
#: Photo kind stored for the photos of each step.
STEP_PHOTO_KINDS = {"file": "near", "verify": "near", "self_close": "after", "feedback": "after",
               "check_pass": "after", "check_fail": "after"}


# ---------------------------------------------------------------------------------------------
# Filing


def file_case(reporter: User, **fields) -> Case:
    """File a case (see ``file_or_find_case``); the case, new or filed before under the same key."""
    return file_or_find_case(reporter, **fields)[0]


def file_or_find_case(
    reporter: User,
    *,
    source: str,
    case_type: str,
    small_class_code: str,
    x: float,
    y: float,
    datum: str = "wgs84",
    accuracy_m: float | None = None,
    standard_id: int | None = None,
    address: str = "",
    description: str = "",
    urgency: str = "normal",
    idempotency_key: str | None = None,
    photos: Sequence = (),
    self_handled: bool = False,
    now: datetime | None = None,
) -> tuple[Case, bool]:
    """File a case: validate, locate, classify, number it, start its clock, log the first event.

    Returns the case and whether it is new: the same ``idempotency_key`` returns the case it
    first created (and False), also when two filings race; the unique index decides, so a
    first filing pays no lookup.
    A self-handled report (a grid worker's patrol with an after photo) is registered and
    closed at once.
    """
    now = _now(now)
    if not is_signed_in(reporter) or reporter.role_enum not in FILING_ROLES:
        raise NotAllowed(_("You may not file cases."))
    problems: dict[str, str] = {}
    if source not in SOURCES:
        problems["source"] = _("must be one of %(values)s", values=", ".join(SOURCES))
    else:
        sources = FILING_ROLES[reporter.role_enum]
        if sources is not None and source not in sources:
            problems["source"] = _(
                "your role may file only these sources: %(values)s", values=", ".join(sorted(sources))
            )
    if case_type not in ("component", "event"):
        problems["case_type"] = _("must be component or event")
    for name, value in (("x", x), ("y", y)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            problems[name] = _("must be a finite number")
    try:
        datum = check_datum(datum)
    except ValidationFailed as exc:
        problems.update(exc.fields)
    if accuracy_m is not None and (
        isinstance(accuracy_m, bool)
        or not isinstance(accuracy_m, (int, float))
        or not math.isfinite(accuracy_m)
        or accuracy_m < 0
    ):
        problems["accuracy_m"] = _("must be a number of metres, 0 or more")
    _check_text(problems, "address", address, MAX_ADDRESS)
    _check_text(problems, "description", description, MAX_DESCRIPTION)
    if urgency not in URGENCIES:
        problems["urgency"] = _("must be one of %(values)s", values=", ".join(URGENCIES))
    if idempotency_key is not None and (
        not isinstance(idempotency_key, str)
        or not idempotency_key.strip()
        or len(idempotency_key) > MAX_IDEMPOTENCY_KEY
    ):
        problems["idempotency_key"] = _("must be 1 to %(count)d characters", count=MAX_IDEMPOTENCY_KEY)
    photos = tuple(photos)
    if len(photos) > MAX_PHOTOS:
        problems["photos"] = _("at most %(count)d photos per step", count=MAX_PHOTOS)
    if self_handled:
        if reporter.role_enum is not Role.GRID_WORKER or source != "patrol":
            problems["self_handled"] = _("only a grid worker's patrol report can be self-handled")
        elif not photos:
            problems["photos"] = _("a self-handled case needs a photo after handling")
    small_class = standard = None
    if "case_type" not in problems:
        small_class = _small_class(case_type, small_class_code, problems)
    if small_class is not None:
        standard = _standard(small_class, standard_id, problems)
    if problems:
        raise ValidationFailed(_("The case cannot be filed: check the marked fields."), problems)

    location = locate(x, y, datum)
    unit_grid_id = location.unit_grid.id if location.unit_grid else None
    area, worker_id, in_fringe = _area_worker_fringe(location)
    state = State.VERIFYING if source in VERIFIED_SOURCES else State.REPORTED
    department = suggest_unit(small_class, area)
    payload: dict = {"source": source, "located_in_gap": location.gap}
    if state is State.VERIFYING:
        payload["assigned_to"] = worker_id
    case_values = dict(
        idempotency_key=idempotency_key,
        source=source,
        case_type=case_type,
        small_class_id=small_class.id,
        standard_id=standard.id if standard is not None else None,
        description=description.strip(),
        address=address.strip(),
        urgency=urgency,
        x=float(x),
        y=float(y),
        datum=datum,
        accuracy_m=None if accuracy_m is None else float(accuracy_m),
        layer_x=location.x,
        layer_y=location.y,
        layer_version=location.layer_version,
        unit_grid_id=unit_grid_id,
        area_id=area.id,
        area_path=area.path,
        located_in_gap=location.gap,
        in_fringe=in_fringe,
        reporter_id=reporter.id,
        state=state.value,
        suggested_department_id=department.id if department is not None else None,
        reported_at=now,
        register_due_at=(
            clocks.stage_due(now, clocks.register_limit(in_fringe)) if state is State.REPORTED else None
        ),
        assignee_id=worker_id if state is State.VERIFYING else None,
    )
    # A new case's stage (verification or registration) is watched from its filing, in the same statement.
    watch = None if self_handled else first_watch(SimpleNamespace(**case_values), now)
    filed = _insert_case(
        case_values,
        _event_values(reporter, "file", None, state, now, payload=payload),
        reporter,
        now,
        watch,
    )
    if filed is None:
        # The key was used before (or by a concurrent filing, which the unique index waited for).
        return _same_report(_case_by_key(idempotency_key), reporter), False
    case, event = filed
    # The rows the case points at are at hand: keep them on it, so reading it costs no query.
    for name, row in (
        ("small_class", small_class),
        ("standard", standard),
        ("area", area),
        ("unit_grid", area if unit_grid_id == area.id else None),
        ("reporter", reporter),
        ("suggested_department", department),
    ):
        set_committed_value(case, name, row)
    events = [event]
    if self_handled:
        events.append(self_close_case(case, reporter, photos=photos, now=now))
    else:
        _attach(case, event, photos, reporter, "file")
        _flush()
    # A new case's timeline is the events just written: no query when it is read.
    set_committed_value(case, "events", events)
    return case, True


def _area_worker_fringe(location: Location) -> tuple[Area, int | None, bool]:
    """The located area, its grid worker if it is the unit grid (``grid_worker_id``), and
    whether it lies in an urban-rural fringe area (``in_fringe``): one query."""
    area_id = location.area.id
    chain_ids = [ref.id for ref in location.chain] + [area_id]
    row = db.session.execute(_area_worker_fringe_query(), {"area_id": area_id, "chain_ids": chain_ids}).one()
    is_unit_grid = location.unit_grid is not None and location.unit_grid.id == area_id
    return row[0], (row[1] if is_unit_grid else None), bool(row[2])


@reused_statement
def _area_worker_fringe_query(_dialect: str):
    link = responsibility_grid_area.c
    return (
        select(Area, ResponsibilityGrid.worker_id, _fringe_clause(bindparam("chain_ids", expanding=True)))
        .outerjoin(responsibility_grid_area, link.area_id == Area.id)  # at most one: area_id is unique
        .outerjoin(ResponsibilityGrid, ResponsibilityGrid.id == link.responsibility_grid_id)
        .where(Area.id == bindparam("area_id"))
    )


def _fringe_clause(area_ids):
    """True when one of ``area_ids`` (an area and its ancestors) is an urban-rural fringe area.

    Primary-key lookups of the chain's few areas: no scan of the area table.
    """
    fringe = aliased(Area)  # not correlated with an outer query's area
    return select(fringe.id).where(fringe.id.in_(area_ids), fringe.urban_rural_fringe.is_(True)).exists()


def in_fringe(area: Area) -> bool:
    """Whether ``area`` or one of its ancestors is an urban-rural fringe area (城乡结合部)."""
    return bool(db.session.scalar(select(_fringe_clause(area.ancestor_ids))))


def _insert_case(
    values: dict, event: dict, actor: User, now: datetime, watch: dict | None
) -> tuple[Case, CaseEvent] | None:
    """Number and insert the case, its first event and its escalation watch (``watch``, unless None);
    None if its idempotency key is taken.

    ``INSERT … ON CONFLICT (idempotency_key) DO NOTHING RETURNING``: a first filing pays
    no lookup. A refused insert gives its number back (this transaction still holds the
    day's counter row, so no later number can have been handed out): numbers stay gap-free.
    On PostgreSQL the counter, the case, the event and the watch are written by one statement
    (data-modifying ``WITH``); elsewhere by four.
    """
    values = _CASE_DEFAULTS | values
    day = case_day(now)
    if dialect_name() == "postgresql":
        case_id, sequence, event_id = db.session.execute(
            _filing_statement(),
            {"day": day, "case": _json_text(values), "event": _json_text(event), "watch": _json_text(watch or {})},
        ).one()
        number = case_number(day, sequence)
    else:
        number = next_case_number(now)
        case_id = db.session.execute(_case_insert(), {"number": number, **values}).scalar()
        event_id = None
        if case_id is not None and watch is not None:
            db.session.execute(insert(EscalationWatch.__table__).values(case_id=case_id, **watch))
    if case_id is None:
        give_back_case_number(number)
        return None
    # Every column was written from ``values``: the rows need not be read back.
    case = _persistent(Case(id=case_id, number=number, **values))
    if event_id is None:
        return case, _insert_event(case, event, actor)
    return case, _event_in_hand(_persistent(CaseEvent(id=event_id, case_id=case_id, **event)), actor)


def _persistent(instance):
    """``instance``, whose row another statement wrote with exactly its values, as a row of the session.

    No query. An object of the same identity still in the session is a row rolled back to a
    savepoint whose id the database (SQLite) hands out again: it is let go.
    """
    make_transient_to_detached(instance)
    stale = db.session.identity_map.get(sa_inspect(instance).key)
    if stale is not None:
        db.session.expunge(stale)
    db.session.add(instance)
    return instance


#: The case columns a filing writes (all but the key and the number).
_FILED_COLUMNS = [column for column in Case.__table__.c if column.name not in ("id", "number")]
#: Their values unless a filing says otherwise: the fixed default, or NULL.
_CASE_DEFAULTS = {
    column.name: column.default.arg if column.default is not None and column.default.is_scalar else None
    for column in _FILED_COLUMNS
}
_EVENT_COLUMNS = [column for column in CaseEvent.__table__.c if column.name not in ("id", "case_id")]
_WATCH_COLUMNS = [column for column in EscalationWatch.__table__.c if column.name != "case_id"]


@reused_statement
def _case_insert(dialect: str):
    # A NULL key never conflicts: a filing without one always inserts.
    cases = Case.__table__
    return (
        UPSERTS[dialect](cases)
        .values({column.name: bindparam(column.name, type_=column.type) for column in [cases.c.number, *_FILED_COLUMNS]})
        .on_conflict_do_nothing(index_elements=[cases.c.idempotency_key])
        .returning(cases.c.id)
    )


@reused_statement
def _filing_statement(dialect: str):
    """PostgreSQL: bump the day's counter, insert the case numbered by it, its first event and its
    escalation watch (none when the watch parameter is an empty object).

    The case, the event and the watch come as one JSON parameter each (``json_populate_record``):
    four parameters instead of seventy keep the statement within psycopg's cache of converted
    queries. Returns one row: the case id (None when its key was taken), the sequence drawn, the
    event id.
    """
    bumped = counter_bump(dialect).cte("bumped")
    cases, events = Case.__table__, CaseEvent.__table__
    case_row = _json_record(cases, "case", _FILED_COLUMNS)
    filed = (
        UPSERTS[dialect](cases)
        .from_select(
            ["number"] + [column.name for column in _FILED_COLUMNS],
            select(case_number_sql(bindparam("day", type_=String), bumped.c.last), *case_row.c)
            .select_from(bumped)
            .join(case_row, true()),
        )
        .on_conflict_do_nothing(index_elements=[cases.c.idempotency_key])
        .returning(cases.c.id)
        .cte("filed")
    )
    event_row = _json_record(events, "event", _EVENT_COLUMNS)
    logged = (
        insert(events)
        .from_select(
            ["case_id"] + [column.name for column in _EVENT_COLUMNS],
            select(filed.c.id, *event_row.c).select_from(filed).join(event_row, true()),
        )
        .returning(events.c.id)
        .cte("logged")
    )
    watches = EscalationWatch.__table__
    watch_row = _json_record(watches, "watch", _WATCH_COLUMNS)
    watched = (
        insert(watches)
        .from_select(
            ["case_id"] + [column.name for column in _WATCH_COLUMNS],
            select(filed.c.id, *watch_row.c).select_from(filed).join(watch_row, true())
            .where(watch_row.c.stage.is_not(None)),
        )
        .cte("watched")
    )
    return (
        select(filed.c.id, bumped.c.last, logged.c.id)
        .select_from(bumped.outerjoin(filed, true()).outerjoin(logged, true()))
        .add_cte(watched)
    )


def _json_record(table, parameter: str, columns):
    """The row of ``table`` that the JSON object in bind parameter ``parameter`` describes (PostgreSQL)."""
    return (
        func.json_populate_record(
            literal_column(f"NULL::{table.name}"), cast(bindparam(parameter, type_=String), JSON)
        )
        .table_valued(*(column.name for column in columns))
        .alias(f"{parameter}_row")
    )


def _json_text(values: dict) -> str:
    return json.dumps(values, ensure_ascii=False, default=lambda value: value.isoformat())


def _check_text(problems: dict, field: str, value, limit: int) -> None:
    if not isinstance(value, str):
        problems[field] = _("must be text")
    elif len(value) > limit:
        problems[field] = _("at most %(count)d characters", count=limit)


def _small_class(case_type: str, code, problems: dict) -> SmallClass | None:
    """The catalogue's answer, with its refusal collected among the other fields' problems."""
    try:
        return find_small_class(case_type, code)
    except ValidationFailed as exc:
        problems.update(exc.fields)
        return None


def _standard(small_class: SmallClass, standard_id, problems: dict) -> FilingStandard | None:
    active = [s for s in small_class.standards if s.active]
    if standard_id is None:
        if not active:
            problems["small_class"] = _("has no active filing standard")
            return None
        return active[0]
    for standard in active:
        if standard.id == standard_id:
            return standard
    problems["standard_id"] = _("is not an active filing standard of this small class")
    return None


def _case_by_key(key: str) -> Case | None:
    return db.session.scalar(select(Case).where(Case.idempotency_key == key))


def _same_report(case: Case, reporter: User) -> Case:
    if case.reporter_id != reporter.id:
        raise ValidationFailed.field("idempotency_key", _("already used for another report"))
    return case


def grid_worker_id(case: Case) -> int | None:
    """The grid worker responsible for the case's unit grid (on-site verification and check)."""
    if case.unit_grid_id is None:
        return None
    return db.session.scalar(
        select(ResponsibilityGrid.worker_id)
        .join(responsibility_grid_area)
        .where(responsibility_grid_area.c.area_id == case.unit_grid_id)
    )


# ---------------------------------------------------------------------------------------------
# Taking actions: the checks every service shares


def take_action(
    case: Case,
    action_name: str,
    actor: User,
    *,
    expected_version: int | None = None,
    reason: str | None = None,
    note: str | None = None,
    unit_id: int | None = None,
    due_at: datetime | None = None,
    instruction: str | None = None,
    photos: Sequence = (),
    master: Case | None = None,
    confirm: bool = False,
    now: datetime | None = None,
) -> CaseEvent:
    """Take the action named ``action_name`` of the transition table on ``case`` as ``actor``.

    ``master`` and ``confirm`` are the merge's: the case to merge into, and the confirmation
    a merge across grids or small classes needs.
    """
    action = action_for(action_name)
    if action is None:
        raise ValidationFailed.field("action", _("unknown action %(name)s", name=repr(action_name)))
    return SERVICES[action.name](
        case,
        actor,
        expected_version=expected_version,
        reason=reason,
        note=note,
        unit_id=unit_id,
        due_at=due_at,
        instruction=instruction,
        photos=photos,
        master=master,
        confirm=confirm,
        now=now,
    )


class _Step:
    """One action being taken: the checked inputs, and the event it ends with."""

    def __init__(self, case: Case, action: Action, actor: User, inputs: dict, now: datetime | None):
        self.case = case
        self.action = action
        self.actor = actor
        self.now = _now(now)
        self.from_state = case.state_enum
        self.reason = _clean(inputs.get("reason"))
        self.note = _clean(inputs.get("note"))
        self.instruction = _clean(inputs.get("instruction"))
        self.unit_id = inputs.get("unit_id")
        self.due_at = inputs.get("due_at")
        self.photos = tuple(inputs.get("photos") or ())
        self.master = inputs.get("master")
        self.confirm = bool(inputs.get("confirm"))
        #: For a step that undoes another (``Action.restores``): the state it returns to.
        self.restored: State | None = None
        self.payload: dict = {}

    def finish(self) -> CaseEvent:
        """Bump the case's version, append the event (with the step's photos) and flush."""
        to_state = self.action.target or self.restored or self.from_state
        if to_state is not self.from_state:
            self.case.state = to_state.value
        if to_state not in ASSIGNED_STATES:
            self.case.assignee_id = None
        flag_modified(self.case, "state")
        watch = _moves_stage_clock(self.case, self.from_state)
        event = _append_event(
            self.case, self.actor, self.action.name, self.from_state, to_state, self.now,
            note=self.reason or self.note or self.instruction, payload=self.payload or None,
        )
        _attach(self.case, event, self.photos, self.actor, self.action.name)
        _flush()
        if watch:
            track_case(self.case, now=self.now)
        return event


def _moves_stage_clock(case: Case, from_state: State) -> bool:
    """The step starts, stops or moves a stage clock that escalation watches (a new state, a new time)."""
    if case.state != from_state.value:
        return True
    attrs = sa_inspect(case).attrs
    return any(attrs[name].history.has_changes() for name in CLOCK_COLUMNS)


def _begin(case: Case, name: str, actor: User, expected_version: int | None, inputs: dict, now) -> _Step:
    """Check version, role, source state, scope, required inputs and guard, in that order."""
    action = ACTIONS[name]
    if expected_version is not None and expected_version != case.version:
        raise _stale()
    if not has_role(actor, *action.roles):
        raise NotAllowed(_("Your role may not take this step: %(action)s.", action=action_label(action)))
    if case.state_enum not in action.sources:
        raise InvalidTransition(
            _("This step (%(action)s) is not possible in the case's current state.",
              action=action_label(action))
        )
    if not in_scope(case, actor, action.scope):
        raise NotAllowed(_("This case is outside your responsibility."))
    step = _Step(case, action, actor, inputs, now)
    _check_inputs(step)
    problem = _guard_problem(step.case, action, step.now)
    if problem:
        raise InvalidTransition(problem)
    return step


def action_label(action: Action) -> str:
    """The action's name in the current language."""
    return action.label_en if current_locale() == "en" else action.label_zh


def in_scope(case: Case, actor: User, scope: Scope) -> bool:
    """The case lies within ``actor``'s reach for an action of ``scope``."""
    if scope is Scope.REPORTER:
        # Only the filer: co-reporters of a merged-in duplicate see the case but do not act as its reporter.
        return case.reporter_id == actor.id
    if scope is Scope.UNIT:
        ids = department_ids_in_scope(actor)
        return ids is None or case.holder_department_id in ids
    if _in_area(case, actor):
        return True
    if scope is Scope.GRID and case.unit_grid_id is not None:
        return case.unit_grid_id in responsible_grid_ids(actor)
    return False


def _in_area(case: Case, actor: User) -> bool:
    if sees_whole_city(actor):
        return True
    prefix = scope_path(actor)
    return prefix is not None and case.area_path.startswith(prefix)


def responsible_grid_ids(user: User) -> set[int]:
    """Ids of the unit grids in the user's responsibility grids."""
    return set(
        db.session.scalars(
            select(responsibility_grid_area.c.area_id)
            .join(ResponsibilityGrid)
            .where(ResponsibilityGrid.worker_id == user.id)
        )
    )


def _check_inputs(step: _Step) -> None:
    problems: dict[str, str] = {}
    values = {
        Input.REASON: step.reason,
        Input.NOTE: step.note,
        Input.INSTRUCTION: step.instruction,
        Input.UNIT: step.unit_id,
        Input.DUE_AT: step.due_at,
        Input.PHOTOS: step.photos,
        Input.MASTER: step.master,
    }
    for required in step.action.required:
        if not values[required]:
            problems[INPUT_FIELDS[required]] = _("is required")
    for field, value in (("reason", step.reason), ("note", step.note), ("instruction", step.instruction)):
        if value and len(value) > MAX_TEXT:
            problems[field] = _("at most %(count)d characters", count=MAX_TEXT)
    if len(step.photos) > MAX_PHOTOS:
        problems["photos"] = _("at most %(count)d photos per step", count=MAX_PHOTOS)
    if step.due_at is not None and (not isinstance(step.due_at, datetime) or step.due_at.utcoffset() is None):
        problems["due_at"] = _("must be a date and time with its time zone")
    if step.unit_id is not None and Input.UNIT in step.action.required and "unit_id" not in problems:
        unit = db.session.get(Department, step.unit_id) if isinstance(step.unit_id, int) else None
        if unit is None or not unit.active:
            problems["unit_id"] = _("is not an active handling unit")
    if problems:
        raise ValidationFailed(_("Missing or invalid input: check the marked fields."), problems)


def _pending(case: Case, kind: str | None = None) -> CaseRequest | None:
    stmt = select(CaseRequest).where(CaseRequest.case_id == case.id, CaseRequest.status == "pending")
    if kind is not None:
        stmt = stmt.where(CaseRequest.kind == kind)
    return db.session.scalar(stmt.order_by(CaseRequest.id.desc()).limit(1))


def _guard_problem(case: Case, action: Action, now: datetime) -> str | None:
    """Why the action's guard refuses (None: it passes)."""
    guard = action.guard
    if guard is None:
        return None
    if guard == "no_pending_request":
        return _("A request is already waiting for the shift leader.") if _pending(case) else None
    if guard == "before_deadline":
        if _pending(case):
            return _("A request is already waiting for the shift leader.")
        if case.handle_due_at is None or now >= case.handle_due_at:
            return _("An extension must be asked for before the deadline.")
        return None
    if guard.startswith("pending_"):
        kind = guard.removeprefix("pending_")
        return None if _pending(case, kind) else _("No such request is waiting for a decision.")
    if guard == "self_handleable":
        return None if case.source == "patrol" else _("Only a patrol report can be fixed on the spot.")
    if guard == "undoable_merge":
        from gridops.cases.merging import undo_problem  # merging builds on this module

        return undo_problem(case, now)
    if guard == "dissatisfied_callback":
        if case.source not in VERIFIED_SOURCES or case.self_handled or case.holder_department_id is None:
            return _("Only a handled hotline or public report can be reopened after a callback.")
        if not _callback_was_dissatisfied(case):
            return _("Only a dissatisfied follow-up call reopens a hotline order.")
        return None
    raise LookupError(f"guard {guard!r} of {action.name} has no check")


def _callback_was_dissatisfied(case: Case) -> bool:
    """A hotline order's latest follow-up (made since the case closed) was dissatisfied; True without an order."""
    from gridops.hotline.models import HotlineOrder  # the hotline package builds on this module

    order = db.session.scalar(select(HotlineOrder).where(HotlineOrder.case_id == case.id))
    if order is None:
        return True
    return (
        order.satisfaction == "dissatisfied"
        and order.followed_up_at is not None
        and (case.closed_at is None or order.followed_up_at >= case.closed_at)
    )


def allowed_actions(case: Case, user: User, now: datetime | None = None) -> list[Action]:
    """The actions ``user`` may take on ``case`` at ``now`` (inputs aside), in table order."""
    now = _now(now)
    return [
        action
        for action in actions_from(case.state_enum)
        if has_role(user, *action.roles)
        and in_scope(case, user, action.scope)
        and _guard_problem(case, action, now) is None
    ]


# ---------------------------------------------------------------------------------------------
# One service per action


def _service(function: Callable[..., CaseEvent]) -> Callable[..., CaseEvent]:
    """Run a service without autoflush: its reads never flush a half-changed case (one version step)."""

    @functools.wraps(function)
    def service(*args, **kwargs) -> CaseEvent:
        with db.session.no_autoflush:
            return function(*args, **kwargs)

    return service


@_service
def verify_case(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """核实属实: the grid worker confirms a public/hotline report on site; it awaits registration."""
    step = _begin(case, "verify", actor, expected_version, inputs, now)
    case.register_due_at = clocks.stage_due(step.now, clocks.register_limit(case.in_fringe))
    return step.finish()


@_service
def verify_not_found(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """核实不属实: nothing found on site; the report is cancelled with the reason."""
    step = _begin(case, "verify_not_found", actor, expected_version, inputs, now)
    return step.finish()


@_service
def self_close_case(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """自行处置: the reporting grid worker fixed it on the spot; registered and closed at once."""
    step = _begin(case, "self_close", actor, expected_version, inputs, now)
    case.registered_at = case.closed_at = step.now
    case.self_handled = True
    case.closed_on_time = True
    return step.finish()


@_service
def register_case(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """立案: the intake operator accepts the report; it waits for dispatch."""
    step = _begin(case, "register", actor, expected_version, inputs, now)
    case.registered_at = step.now
    case.dispatch_due_at = clocks.stage_due(step.now, clocks.DISPATCH_LIMIT)
    return step.finish()


@_service
def cancel_case(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """不予立案: the report is not registered, with the reason."""
    step = _begin(case, "cancel", actor, expected_version, inputs, now)
    return step.finish()


def _send_to_unit(step: _Step) -> None:
    case = step.case
    case.holder_department_id = step.unit_id
    case.dispatched_at = step.now
    case.signed_at = None
    case.dispatch_count += 1
    case.sign_due_at = clocks.stage_due(step.now, clocks.SIGN_LIMIT)
    # 派遣即计时: the handling clock starts at dispatch.
    case.handle_due_at = clocks.stage_due(step.now, clocks.handling_limit(case))
    step.payload["unit_id"] = step.unit_id


@_service
def dispatch_case(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """派遣: the dispatcher sends the case to a handling unit; sign and handling clocks start."""
    step = _begin(case, "dispatch", actor, expected_version, inputs, now)
    _send_to_unit(step)
    return step.finish()


@_service
def redispatch_case(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """改派: the dispatcher sends a not-yet-signed case to another unit, with the reason."""
    step = _begin(case, "redispatch", actor, expected_version, inputs, now)
    if step.unit_id == case.holder_department_id:
        raise ValidationFailed.field("unit_id", _("already holds the case"))
    step.payload["from_unit_id"] = case.holder_department_id
    _send_to_unit(step)
    return step.finish()


@_service
def sign_case(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """签收: the unit takes the case on; handling begins."""
    step = _begin(case, "sign", actor, expected_version, inputs, now)
    case.signed_at = step.now
    return step.finish()


@_service
def feed_back(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """处置反馈: the unit reports the work done, with photos; the grid worker checks on site."""
    step = _begin(case, "feedback", actor, expected_version, inputs, now)
    case.handled_at = step.now
    case.check_due_at = clocks.stage_due(step.now, clocks.CHECK_LIMIT)
    case.assignee_id = step.payload["assigned_to"] = grid_worker_id(case)
    return step.finish()


def _request(step: _Step, kind: str) -> CaseEvent:
    request = CaseRequest(
        case_id=step.case.id,
        kind=kind,
        reason=step.reason,
        requested_due_at=step.due_at if kind == "extension" else None,
        requested_by_id=step.actor.id,
        requested_at=step.now,
    )
    db.session.add(request)
    _flush()
    step.payload["request_id"] = request.id
    if request.requested_due_at is not None:
        step.payload["requested_due_at"] = request.requested_due_at.isoformat()
    return step.finish()


def _settle(step: _Step, kind: str, status: str) -> CaseRequest:
    request = _pending(step.case, kind)
    request.status = status
    request.decided_by_id = step.actor.id
    request.decided_at = step.now
    request.decision_note = step.reason or step.note or ""
    step.payload["request_id"] = request.id
    return request


@_service
def request_return(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """申请回退: the unit says the case is not theirs; the shift leader decides."""
    step = _begin(case, "request_return", actor, expected_version, inputs, now)
    return _request(step, "return")


@_service
def approve_return(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """同意回退: back to the dispatcher; the dispatch counts as inaccurate."""
    step = _begin(case, "approve_return", actor, expected_version, inputs, now)
    _settle(step, "return", "approved")
    step.payload.update(from_unit_id=case.holder_department_id, dispatch_inaccurate=True)
    case.holder_department_id = None
    case.return_count += 1
    case.dispatched_at = case.signed_at = None
    case.sign_due_at = case.handle_due_at = None
    case.dispatch_due_at = clocks.stage_due(step.now, clocks.DISPATCH_LIMIT)
    return step.finish()


@_service
def reject_return(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """驳回回退: the unit keeps the case."""
    step = _begin(case, "reject_return", actor, expected_version, inputs, now)
    _settle(step, "return", "rejected")
    return step.finish()


@_service
def request_extension(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """申请延期: before the deadline, the unit asks for a later due time, with the reason."""
    step = _begin(case, "request_extension", actor, expected_version, inputs, now)
    if step.due_at <= case.handle_due_at:
        raise ValidationFailed.field("due_at", _("must be later than the current due time"))
    return _request(step, "extension")


@_service
def approve_extension(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """同意延期: the requested due time becomes the handling due time."""
    step = _begin(case, "approve_extension", actor, expected_version, inputs, now)
    request = _settle(step, "extension", "approved")
    step.payload["previous_due_at"] = case.handle_due_at.isoformat()
    case.handle_due_at = request.requested_due_at
    case.extension_count += 1
    return step.finish()


@_service
def reject_extension(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """驳回延期: the due time stays."""
    step = _begin(case, "reject_extension", actor, expected_version, inputs, now)
    _settle(step, "extension", "rejected")
    return step.finish()


@_service
def request_suspension(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """申请挂账: the work cannot be done now (season, funding); the shift leader decides."""
    step = _begin(case, "request_suspension", actor, expected_version, inputs, now)
    return _request(step, "suspension")


@_service
def approve_suspension(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """同意挂账: the case is suspended and its handling clock stops."""
    step = _begin(case, "approve_suspension", actor, expected_version, inputs, now)
    _settle(step, "suspension", "approved")
    db.session.add(CasePause(case_id=case.id, started_at=step.now))
    return step.finish()


@_service
def reject_suspension(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """驳回挂账: the unit carries on."""
    step = _begin(case, "reject_suspension", actor, expected_version, inputs, now)
    _settle(step, "suspension", "rejected")
    return step.finish()


def _end_pause(step: _Step) -> None:
    case = step.case
    pause = db.session.scalar(
        select(CasePause).where(CasePause.case_id == case.id, CasePause.ended_at.is_(None))
    )
    pause.ended_at = step.now
    if case.handle_due_at is not None:
        step.payload["previous_due_at"] = case.handle_due_at.isoformat()
        case.handle_due_at = clocks.shift_past_pause(
            case.handle_due_at, clocks.handling_limit(case)[1], pause.started_at, step.now
        )


@_service
def resume_case(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """恢复办理: the suspension ends; the due time moves by the time it lasted."""
    step = _begin(case, "resume", actor, expected_version, inputs, now)
    _end_pause(step)
    return step.finish()


@_service
def check_pass(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """核查通过: the on-site check confirms the work; the case is closed."""
    step = _begin(case, "check_pass", actor, expected_version, inputs, now)
    case.closed_at = step.now
    case.closed_on_time = case.handled_at <= case.handle_due_at
    return step.finish()


@_service
def check_fail(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """核查不通过: back to the unit for rework; a new check follows its next feedback."""
    step = _begin(case, "check_fail", actor, expected_version, inputs, now)
    case.rework_count += 1
    case.handled_at = None
    case.check_due_at = None
    step.payload["rework"] = case.rework_count
    return step.finish()


@_service
def force_close(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """强制结案: the shift leader closes the case, with the reason; pending requests lapse."""
    step = _begin(case, "force_close", actor, expected_version, inputs, now)
    for request in db.session.scalars(
        select(CaseRequest).where(CaseRequest.case_id == case.id, CaseRequest.status == "pending")
    ):
        request.status = "rejected"
        request.decided_by_id = actor.id
        request.decided_at = step.now
        request.decision_note = step.reason
    if case.state_enum is State.SUSPENDED:
        _end_pause(step)
    case.closed_at = step.now
    case.closed_on_time = None if case.handle_due_at is None else step.now <= case.handle_due_at
    step.payload["forced"] = True
    return step.finish()


@_service
def reopen_case(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """重办: the caller is dissatisfied; the unit handles it again, with a new due time."""
    step = _begin(case, "reopen", actor, expected_version, inputs, now)
    case.closed_at = case.handled_at = case.check_due_at = None
    case.closed_on_time = None
    case.handle_due_at = clocks.stage_due(step.now, clocks.handling_limit(case))
    step.payload["callback"] = "dissatisfied"
    return step.finish()


@_service
def supervise_case(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """督办: a leader flags the case and records an instruction; the state does not change."""
    step = _begin(case, "supervise", actor, expected_version, inputs, now)
    case.supervised = True
    step.payload["instruction"] = step.instruction
    event = step.finish()
    open_leader_order(case, actor, step.instruction, now=step.now)
    return event


def _merge(case, actor, *, expected_version=None, now=None, master=None, confirm=False, **inputs) -> CaseEvent:
    """并单, as a step of the table (``merging.merge_case``)."""
    from gridops.cases.merging import merge_case

    record = merge_case(case, master, actor, confirm=confirm, now=now, expected_version=expected_version, **inputs)
    return db.session.get(CaseEvent, record.duplicate_event_id)


def _unmerge(case, actor, *, expected_version=None, now=None, **inputs) -> CaseEvent:
    """撤销并单, as a step of the table (``merging.undo_merge``)."""
    from gridops.cases.merging import undo_merge

    record = undo_merge(case, actor, now=now, expected_version=expected_version)
    return db.session.get(CaseEvent, record.undo_event_id)


SERVICES: dict[str, Callable[..., CaseEvent]] = {
    "verify": verify_case,
    "verify_not_found": verify_not_found,
    "self_close": self_close_case,
    "register": register_case,
    "cancel": cancel_case,
    "dispatch": dispatch_case,
    "redispatch": redispatch_case,
    "sign": sign_case,
    "feedback": feed_back,
    "request_return": request_return,
    "approve_return": approve_return,
    "reject_return": reject_return,
    "request_extension": request_extension,
    "approve_extension": approve_extension,
    "reject_extension": reject_extension,
    "request_suspension": request_suspension,
    "approve_suspension": approve_suspension,
    "reject_suspension": reject_suspension,
    "resume": resume_case,
    "check_pass": check_pass,
    "check_fail": check_fail,
    "force_close": force_close,
    "reopen": reopen_case,
    "supervise": supervise_case,
    "merge": _merge,
    "unmerge": _unmerge,
}


# ---------------------------------------------------------------------------------------------
# Helpers


def _stale() -> StaleCase:
    """The error for an action on a case that changed since the actor loaded it (HTTP 409)."""
    return StaleCase(_("The case has changed since you loaded it. Reload it and try again."))


def _now(now: datetime | None) -> datetime:
    if now is None:
        return utcnow()
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise ValidationFailed.field("now", _("must be a date and time with its time zone"))
    return now


def _clean(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _append_event(case, actor, action, from_state, to_state, at, *, note="", payload=None) -> CaseEvent:
    _flush()  # the case's own changes first: a concurrent change to it is StaleCase
    return _insert_event(case, _event_values(actor, action, from_state, to_state, at, note=note, payload=payload), actor)


def _event_values(actor, action, from_state, to_state, at, *, note="", payload=None) -> dict:
    """The columns of an event, but its case."""
    return dict(
        at=at,
        actor_id=actor.id,
        actor_role=actor.role,
        action=action,
        from_state=from_state.value if from_state else None,
        to_state=to_state.value if to_state else None,
        note=note or "",
        payload=payload,
    )


def _insert_event(case, values: dict, actor) -> CaseEvent:
    event = db.session.scalars(_event_insert(), {"case_id": case.id, **values}).one()
    return _event_in_hand(event, actor)


def _event_in_hand(event: CaseEvent, actor) -> CaseEvent:
    # The actor is at hand, and a new event has no photos yet: reading them needs no query.
    set_committed_value(event, "actor", actor)
    set_committed_value(event, "photos", [])
    return event


@reused_statement
def _event_insert(_dialect: str):
    return insert(CaseEvent).returning(CaseEvent)


def _flush() -> None:
    """Flush; a concurrent change to the case (its version moved on) becomes StaleCase."""
    try:
        db.session.flush()
    except StaleDataError:
        raise _stale() from None


def _attach(case: Case, event: CaseEvent, photos: tuple, actor: User, step: str) -> None:
    if photos:
        attach_photos(case, event, list(photos), actor, kind=STEP_PHOTO_KINDS.get(step, "other"))
