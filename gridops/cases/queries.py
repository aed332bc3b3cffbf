"""Case lists: what a user may see (never more), filters on top of it, and pages of the result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import Select, and_, exists, false, func, or_, select, true

from gridops.auth.models import User
from gridops.auth.permissions import (
    CITY_WIDE_ROLES,
    area_scope_clause,
    department_scope_clause,
    is_signed_in,
)
from gridops.auth.roles import Role
from gridops.cases.clocks import VERIFY_HOURS
from gridops.cases.models import SOURCES, Case, CaseReporter
from gridops.cases.states import State
from gridops.db import utcnow
from gridops.errors import ValidationFailed
from gridops.extensions import db
from gridops.territory.models import Area, ResponsibilityGrid, responsibility_grid_area

MAX_PER_PAGE = 200


def visible_cases(user: User | None) -> Select[tuple[Case]]:
    """Every case ``user`` may see: city-wide roles all, unit staff their unit's, others their area's.

    Grid workers also see the cases in their responsibility grids, and everyone sees the
    cases they filed themselves or are co-reporters of (a duplicate they filed was merged
    into it). Signed out or deactivated: nothing.
    """
    stmt = select(Case)
    if not is_signed_in(user):
        return stmt.where(false())
    role = user.role_enum
    if role in CITY_WIDE_ROLES:
        return stmt.where(true())
    if role is Role.UNIT_STAFF:
        clause = department_scope_clause(user, Case.holder_department_id)
    else:
        clause = area_scope_clause(user, Case.area_path)
        if role is Role.GRID_WORKER:
            grids = (
                select(responsibility_grid_area.c.area_id)
                .join(ResponsibilityGrid)
                .where(ResponsibilityGrid.worker_id == user.id)
            )
            clause = or_(clause, Case.unit_grid_id.in_(grids))
    co_reported = exists().where(CaseReporter.case_id == Case.id, CaseReporter.user_id == user.id)
    return stmt.where(or_(clause, Case.reporter_id == user.id, co_reported))


@dataclass(frozen=True)
class CaseFilter:
    """Filters of a case list; None (or empty) leaves a filter off."""

    states: Sequence[str] = ()
    area_code: str | None = None
    unit_id: int | None = None
    small_class_id: int | None = None
    source: str | None = None
    overdue: bool | None = None
    supervised: bool | None = None
    reported_from: datetime | None = None
    reported_to: datetime | None = None
    text: str | None = None
    #: The grid worker who must act on site next (``Case.assignee_id``): a worker's own tasks.
    assignee_id: int | None = None
    #: The instant "overdue" is judged at (default: now).
    now: datetime | None = None


def overdue_clause(now: datetime):
    """A WHERE clause: the current stage's due time has passed (suspended cases never are).

    Never NULL, so its negation lists exactly the cases that are not overdue.
    """
    stages = [
        (State.REPORTED, Case.register_due_at),
        (State.REGISTERED, Case.dispatch_due_at),
        (State.DISPATCHED, Case.sign_due_at),
        (State.HANDLING, Case.handle_due_at),
        (State.HANDLED, Case.check_due_at),
    ]
    return or_(
        and_(Case.state == State.VERIFYING.value, Case.reported_at < now - timedelta(hours=VERIFY_HOURS)),
        *(and_(Case.state == state.value, due.is_not(None), due < now) for state, due in stages),
    )


def apply_filters(stmt: Select, params: CaseFilter) -> Select:
    """``stmt`` narrowed by ``params`` and sorted newest report first (ties by id)."""
    problems: dict[str, str] = {}
    valid_states = {s.value for s in State}
    if any(state not in valid_states for state in params.states):
        problems["state"] = _("must be among %(values)s", values=", ".join(sorted(valid_states)))
    elif params.states:
        stmt = stmt.where(Case.state.in_(list(params.states)))
    if params.area_code:
        path = db.session.scalar(select(Area.path).where(Area.code == params.area_code))
        if path is None:
            problems["area"] = _("no area has the code %(code)s", code=repr(params.area_code))
        else:
            stmt = stmt.where(Case.area_path.startswith(path, autoescape=True))
    if params.unit_id is not None:
        stmt = stmt.where(Case.holder_department_id == params.unit_id)
    if params.small_class_id is not None:
        stmt = stmt.where(Case.small_class_id == params.small_class_id)
    if params.assignee_id is not None:
        stmt = stmt.where(Case.assignee_id == params.assignee_id)
    if params.source is not None:
        if params.source not in SOURCES:
            problems["source"] = _("must be one of %(values)s", values=", ".join(SOURCES))
        stmt = stmt.where(Case.source == params.source)
    for field, value in (("reported_from", params.reported_from), ("reported_to", params.reported_to)):
        if value is not None and value.utcoffset() is None:
            problems[field] = _("must be a date and time with its time zone")
    if problems:
        raise ValidationFailed(_("Invalid case filter: check the marked fields."), problems)
    if params.overdue is not None:
        clause = overdue_clause(params.now or utcnow())
        stmt = stmt.where(clause if params.overdue else ~clause)
    if params.supervised is not None:
        stmt = stmt.where(Case.supervised.is_(params.supervised))
    if params.reported_from is not None:
        stmt = stmt.where(Case.reported_at >= params.reported_from)
    if params.reported_to is not None:
        stmt = stmt.where(Case.reported_at < params.reported_to)
    text = (params.text or "").strip()
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                Case.number.ilike(pattern, escape="\\"),
                Case.description.ilike(pattern, escape="\\"),
                Case.address.ilike(pattern, escape="\\"),
            )
        )
    return stmt.order_by(Case.reported_at.desc(), Case.id.desc())


@dataclass(frozen=True)
class CasePage:
    """One page of a case list, with the total count of the whole list."""

    items: list[Case]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def page_of(stmt: Select, *, page: int = 1, per_page: int = 50) -> CasePage:
    """Page ``page`` (from 1) of the sorted list ``stmt``, ``per_page`` cases long."""
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise ValidationFailed.field("page", _("must be a whole number, 1 or more"))
    if isinstance(per_page, bool) or not isinstance(per_page, int) or not 1 <= per_page <= MAX_PER_PAGE:
        raise ValidationFailed.field("per_page", _("must be between 1 and %(count)d", count=MAX_PER_PAGE))
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = list(db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    return CasePage(items, page, per_page, total)
