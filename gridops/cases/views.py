"""Case pages: the list, one case with its timeline and actions, the filing form."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import case as sql_case
from sqlalchemy import Interval, func, literal, select
from sqlalchemy.orm import selectinload

from gridops.auth.models import User
from gridops.auth.roles import Role
from gridops.cases.forms import (
    SORTS,
    SOURCE_LABELS,
    STATE_LABELS,
    URGENCY_LABELS,
    ActionForm,
    CaseFilterForm,
    FileCaseForm,
    choices,
)
from gridops.cases.models import Case, CaseRequest
from gridops.cases.clocks import VERIFY_HOURS, case_colour, current_stage
from gridops.cases.duplicates import duplicates_of
from gridops.cases.merging import merge_links
from gridops.cases.photos import discard_photos, store_photos
from gridops.cases.queries import CaseFilter, apply_filters, visible_cases
from gridops.cases.services import FILING_ROLES, allowed_actions, file_case, take_action
from gridops.cases.states import ACTIONS, Input, State, action_for
from gridops.catalogue.models import BigClass, FilingStandard, SmallClass
from gridops.errors import DomainError, InvalidTransition, NotAllowed, StaleCase, ValidationFailed
from gridops.extensions import db
from gridops.i18n import current_locale
from gridops.org.models import Department
from gridops.territory.models import Area, AreaLevel
from gridops.territory.views import current_layer

bp = Blueprint("cases", __name__)

PAGE_SIZE = 25
#: Roles that take part in the loop: their start page is the case list.
CASE_ROLES = frozenset(role for action in ACTIONS.values() for role in action.roles)
#: The column holding the due time of the stage each open state is in (see clocks.current_stage).
STAGE_DUE = {
    State.REPORTED: "register_due_at",
    State.REGISTERED: "dispatch_due_at",
    State.DISPATCHED: "sign_due_at",
    State.HANDLING: "handle_due_at",
    State.SUSPENDED: "handle_due_at",
    State.HANDLED: "check_due_at",
}
STAGES = (
    ("register_due_at", _l("Register by")),
    ("dispatch_due_at", _l("Dispatch by")),
    ("sign_due_at", _l("Sign by")),
    ("handle_due_at", _l("Handle by")),
    ("check_due_at", _l("Check by")),
)
CLOCK_LABELS = {
    "urgent_hours": _l("urgent hours"),
    "working_hours": _l("working hours"),
    "working_days": _l("working days"),
    "natural_days": _l("natural days"),
}
CASE_TYPE_LABELS = {"component": _l("Component"), "event": _l("Event")}
REQUEST_LABELS = {"return": _l("Return"), "extension": _l("Extension"), "suspension": _l("Suspension")}
COLOUR_LABELS = {"green": _l("On time"), "yellow": _l("Due soon"), "red": _l("Overdue")}
#: Events that are not actions of the table.
EVENT_LABELS = {
    "file": _l("Filed"),
    "merge_in": _l("Duplicate merged in"),
    "merge_undone": _l("Merge of a duplicate undone"),
    "hotline_intake": _l("Hotline complaint logged"),
    "repeat_complaint": _l("Repeat complaint"),
    "hotline_reply": _l("Caller answered"),
    "hotline_follow_up": _l("Follow-up call"),
}
#: Form field that shows an error the services report under another name.
FIELD_ALIASES = {
    "small_class_code": "small_class",
    "case_type": "small_class",
    "position": "x",
    "unit_id": "unit",
    "standard_id": "standard",
}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["GRIDOPS_TIMEZONE"])


def current_due(case: Case) -> datetime | None:
    """The due time of the stage the case is in (None when no clock runs)."""
    stage = current_stage(case)
    return stage[1] if stage else None


def _due_expression():
    """SQL for ``current_due``, to sort a list by the time left."""
    if db.session.get_bind().dialect.name == "sqlite":
        verify_due = func.datetime(Case.reported_at, f"+{VERIFY_HOURS} hours")
    else:
        verify_due = Case.reported_at + literal(timedelta(hours=VERIFY_HOURS), Interval())
    whens = [(Case.state == State.VERIFYING.value, verify_due)]
    whens += [(Case.state == state.value, getattr(Case, column)) for state, column in STAGE_DUE.items()]
    return sql_case(*whens, else_=None)


def time_left(due: datetime | None, now: datetime) -> str:
    """Wall-clock time to a due time, or past it, in a few words."""
    if due is None:
        return ""
    delta = due - now
    minutes = int(abs(delta) / timedelta(minutes=1))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        span = _("%(d)d d %(h)d h", d=days, h=hours)
    elif hours:
        span = _("%(h)d h %(m)d min", h=hours, m=minutes)
    else:
        span = _("%(m)d min", m=minutes)
    return _("%(span)s left", span=span) if delta >= timedelta(0) else _("%(span)s overdue", span=span)


def state_label(state: str) -> str:
    """A state's name in the reader's language."""
    return str(STATE_LABELS[State(state)])


def action_label(name: str) -> str:
    """An action's label in the reader's language, from the transition table."""
    action = action_for(name)
    if action is None:
        return str(EVENT_LABELS.get(name, name))
    return action.label_en if current_locale() == "en" else action.label_zh


def role_label(role: str | None) -> str:
    """A role's name in the reader's language ("" for none)."""
    return Role(role).label(current_locale()) if role else ""


def unit_name(department: Department | None) -> str:
    """A unit's name in the reader's language ("" for none)."""
    return department.display_name(current_locale()) if department else ""


def class_label(small_class: SmallClass) -> str:
    """"E0102 暴露垃圾": the small class's full code and name."""
    name = (small_class.name_en or small_class.name) if current_locale() == "en" else small_class.name
    return f"{small_class.full_code} {name}"


def photo_url(photo_id: int, thumb: bool = False) -> str:
    """Where the API serves a photo or its thumbnail (it checks the viewer's scope again)."""
    return url_for("api.get_photo_thumb" if thumb else "api.get_photo", photo_id=photo_id)


@bp.context_processor
def case_helpers() -> dict:
    """Labels and helpers for the case templates."""
    return {
        "state_label": state_label,
        "action_label": action_label,
        "role_label": role_label,
        "unit_name": unit_name,
        "class_label": class_label,
        "standard_label": standard_label,
        "time_left": time_left,
        "current_due": current_due,
        "photo_url": photo_url,
        "colour_labels": COLOUR_LABELS,
        "source_labels": SOURCE_LABELS,
        "urgency_labels": URGENCY_LABELS,
        "case_type_labels": CASE_TYPE_LABELS,
        "can_file": can_file_cases(current_user),
    }


def standard_label(standard: FilingStandard) -> str:
    """A filing standard's name and time limit, e.g. "已建成 · 20 working days"."""
    name = (standard.name_en or standard.name) if current_locale() == "en" else standard.name
    limit = _("%(value)d %(clock)s", value=standard.limit_value, clock=CLOCK_LABELS[standard.limit_clock])
    return f"{name} · {limit}" if name else limit


def can_file_cases(user) -> bool:
    """The user's role may file cases (which sources it may file from is the service's rule)."""
    return bool(user.is_authenticated and user.is_active and user.role_enum in FILING_ROLES)


def filing_sources(user) -> list[str]:
    """The sources ``user`` may file from, in the usual order."""
    allowed = FILING_ROLES[user.role_enum]
    return [source for source in SOURCE_LABELS if allowed is None or source in allowed]


def class_groups() -> list[tuple[str, list[SmallClass]]]:
    """Active small classes grouped under "type · big class" for a select's optgroups."""
    rows = db.session.execute(
        select(SmallClass, BigClass)
        .join(BigClass, SmallClass.big_class_id == BigClass.id)
        .where(SmallClass.active.is_(True))
        .options(selectinload(SmallClass.standards))
        .order_by(SmallClass.case_type.desc(), BigClass.code, SmallClass.code)
    ).all()
    locale = current_locale()
    groups: dict[tuple[str, str], tuple[str, list[SmallClass]]] = {}
    for small, big in rows:
        big_name = (big.name_en or big.name) if locale == "en" else big.name
        label = f"{CASE_TYPE_LABELS[small.case_type]} · {big.code} {big_name}"
        groups.setdefault((small.case_type, big.code), (label, []))[1].append(small)
    return list(groups.values())


def load_case(number: str) -> Case:
    """The case with this number if the user may see it; 404 otherwise (never a hint it exists)."""
    case = db.session.scalar(visible_cases(current_user).where(Case.number == number))
    if case is None:
        abort(404)
    return case


def _local_day_start(day, *, next_day: bool = False) -> datetime:
    start = datetime.combine(day, datetime.min.time(), tzinfo=_zone())
    return (start + timedelta(days=1) if next_day else start).astimezone(timezone.utc)


def filter_from_form(form: CaseFilterForm, now: datetime) -> CaseFilter:
    """The query's filter from the form's valid fields (an invalid field is ignored and shown)."""
    state = form.state.data if form.state.data in {s.value for s in State} else None
    small_class_id = int(form.small_class.data) if (form.small_class.data or "").isdigit() else None
    source = form.source.data if form.source.data in SOURCE_LABELS else None
    return CaseFilter(
        states=(state,) if state else (),
        small_class_id=small_class_id,
        source=source,
        overdue=bool(form.overdue.data) or None,
        supervised=bool(form.supervised.data) or None,
        reported_from=_local_day_start(form.date_from.data) if form.date_from.data and not form.date_from.errors else None,
        reported_to=(
            _local_day_start(form.date_to.data, next_day=True) if form.date_to.data and not form.date_to.errors else None
        ),
        text=None if form.text.errors else (form.text.data or "").strip() or None,
        now=now,
    )


@bp.route("/cases")
@login_required
def case_list():
    """The cases the user may see, filtered, sorted and paginated."""
    form = CaseFilterForm(formdata=request.args or None)
    form.validate()
    now = _now()
    stmt = apply_filters(visible_cases(current_user), filter_from_form(form, now))
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    sort = form.sort.data if form.sort.data in SORTS else "newest"
    if sort == "time_left":
        due = _due_expression()
        stmt = stmt.order_by(None).order_by(due.is_(None), due, Case.id)
    else:
        stmt = stmt.order_by(None).order_by(Case.reported_at.desc(), Case.id.desc())
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(form.page.data or 1, pages) if not form.page.errors else 1
    cases = db.session.scalars(stmt.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    args = request.args.to_dict()
    args.pop("page", None)
    return render_template(
        "cases/list.html",
        form=form,
        cases=cases,
        colours={case.id: case_colour(case, now) for case in cases},
        now=now,
        total=total,
        page=page,
        pages=pages,
        page_args=args,
        states=[(s.value, STATE_LABELS[s]) for s in State],
        class_groups=class_groups(),
        sorts=SORTS,
    )


def area_chain(area: Area | None) -> list[Area]:
    """The area and its ancestors, city first."""
    if area is None:
        return []
    areas = db.session.scalars(select(Area).where(Area.id.in_(area.ancestor_ids))).all()
    return sorted(areas, key=lambda a: a.level_rank)


def stage_rows(case: Case) -> list[tuple]:
    """(label, due, is the current stage) for each stage with a due time, in loop order."""
    rows = []
    if case.state_enum is State.VERIFYING:
        rows.append((_("Verify on site by"), current_due(case), True))
    current = STAGE_DUE.get(case.state_enum)
    rows += [(label, getattr(case, column), column == current) for column, label in STAGES if getattr(case, column)]
    return rows


def _action_forms(case: Case, actions) -> list[tuple]:
    """One (action, form) per action the user may take, the unit select pre-set to the suggestion."""
    units = None
    forms = []
    for action in actions:
        form = ActionForm(formdata=None, expected_version=case.version, prefix=action.name)
        if Input.UNIT in action.required:
            if units is None:
                units = db.session.scalars(
                    select(Department).where(Department.active.is_(True)).order_by(Department.code)
                ).all()
            form.unit.choices = choices([("", _("Choose a unit"))] + [(str(d.id), unit_name(d)) for d in units])
            form.unit.data = str(case.suggested_department_id or "")
        forms.append((action, form))
    return forms


@bp.route("/cases/<number>")
@login_required
def case_detail(number: str):
    """A case: facts, photos, timeline, pending requests and the actions the user may take."""
    case = load_case(number)
    now = _now()
    pending = db.session.scalars(
        select(CaseRequest)
        .where(CaseRequest.case_id == case.id, CaseRequest.status == "pending")
        .order_by(CaseRequest.id)
    ).all()
    forms = _action_forms(case, allowed_actions(case, current_user))
    return render_template(
        "cases/detail.html",
        case=case,
        now=now,
        colour=case_colour(case, now),
        chain=area_chain(case.area),
        stages=stage_rows(case),
        clock_labels=CLOCK_LABELS,
        photos=[photo for event in case.events for photo in event.photos],
        pending=pending,
        requesters={
            user.id: user
            for user in db.session.scalars(select(User).where(User.id.in_({r.requested_by_id for r in pending})))
        },
        request_labels=REQUEST_LABELS,
        action_forms=forms,
        Input=Input,
        duplicates=duplicates_of(case, current_user) if any(a.name == "merge" for a, _f in forms) else [],
        merges=merge_links(case),
    )


def _local_to_utc(value: datetime | None) -> datetime | None:
    """A date and time typed in the city's zone, as aware UTC."""
    return value.replace(tzinfo=_zone()).astimezone(timezone.utc) if value else None


def take_action_from_form(case: Case, action_name: str, form: ActionForm, *, master: Case | None = None) -> None:
    """Take ``action_name`` on ``case`` with what ``form`` holds (photos stored first), and commit.

    Every page with an action form (case page, workspaces, tablet) comes through here. On a
    refusal the transaction is rolled back, the uploaded photos are discarded and the
    ``DomainError`` goes on to the caller, which says why on its page.
    """
    stored = []
    try:
        stored = store_photos(form.photos.data or ())
        take_action(
            case,
            action_name,
            current_user,
            expected_version=form.expected_version.data,
            reason=(form.reason.data or "").strip() or None,
            note=(form.note.data or "").strip() or None,
            unit_id=int(form.unit.data) if (form.unit.data or "").isdigit() else None,
            due_at=_local_to_utc(form.due_at.data),
            instruction=(form.instruction.data or "").strip() or None,
            photos=stored,
            master=master,
            confirm=bool(form.confirm.data),
        )
        db.session.commit()
    except DomainError:
        db.session.rollback()
        discard_photos(stored)
        raise


def explain(exc: DomainError, labels: dict[str, str]) -> str:
    """A domain error as a sentence for a page, in the reader's language."""
    if isinstance(exc, StaleCase):
        return _("The case changed while you were looking at it — reload")
    if isinstance(exc, NotAllowed):
        return _("Your role or scope does not allow this on this case.")
    if isinstance(exc, InvalidTransition):
        return _("This is not possible in the case's current state. Reload to see where it stands.")
    if isinstance(exc, ValidationFailed) and exc.fields:
        return " ".join(
            _("%(field)s: %(reason)s", field=labels.get(FIELD_ALIASES.get(name, name), name), reason=reason)
            for name, reason in exc.fields.items()
        )
    return exc.message


@bp.route("/cases/<number>/actions/<action_name>", methods=["POST"])
@login_required
def case_action(number: str, action_name: str):
    """Take one action on a case from its page; any refusal comes back as a message on the page."""
    case = load_case(number)
    action = action_for(action_name)
    if action is None:
        abort(404)
    form = ActionForm(prefix=action.name)
    labels = {name: str(field.label.text) for name, field in form._fields.items()}
    back = redirect(url_for(".case_detail", number=number), 303)
    if not form.validate():
        for name, errors in form.errors.items():
            flash(_("%(field)s: %(reason)s", field=labels.get(name, name), reason=" ".join(errors)), "error")
        return back
    master = None
    if action.name == "merge" and (number_typed := (form.master.data or "").strip()):
        master = db.session.scalar(visible_cases(current_user).where(Case.number == number_typed))
        if master is None:
            flash(_("There is no case %(number)s that you may see.", number=number_typed), "error")
            return back
    try:
        take_action_from_form(case, action.name, form, master=master)
    except DomainError as exc:
        flash(explain(exc, labels), "error")
        return back
    flash(_("Done: %(action)s.", action=action_label(action.name)), "success")
    return back


@bp.route("/cases/new", methods=["GET", "POST"])
@login_required
def new_case():
    """The desktop filing form; a hidden idempotency key makes a double submit file one case."""
    if not can_file_cases(current_user):
        abort(403)
    groups = class_groups()
    form = FileCaseForm()
    form.small_class.choices = choices((f"{s.case_type}:{s.code}", class_label(s)) for _g, items in groups for s in items)
    form.source.choices = choices((source, SOURCE_LABELS[source]) for source in filing_sources(current_user))
    if request.method == "GET":
        form.idempotency_key.data = uuid.uuid4().hex
    problems: list[str] = []
    if form.validate_on_submit():
        case_type, _sep, code = form.small_class.data.partition(":")
        stored = []
        try:
            stored = store_photos(form.photos.data or ())
            case = file_case(
                current_user,
                source=form.source.data,
                case_type=case_type,
                small_class_code=code,
                standard_id=int(form.standard.data) if (form.standard.data or "").isdigit() else None,
                x=form.x.data,
                y=form.y.data,
                datum=form.datum.data,
                address=(form.address.data or "").strip(),
                description=(form.description.data or "").strip(),
                urgency=form.urgency.data,
                idempotency_key=form.idempotency_key.data,
                photos=stored,
            )
            db.session.commit()
        except ValidationFailed as exc:
            db.session.rollback()
            discard_photos(stored)
            for name, reason in (exc.fields or {"": exc.message}).items():
                field = form._fields.get(FIELD_ALIASES.get(name, name))
                if field is None or field is form.idempotency_key:
                    problems.append(f"{name}: {reason}" if name else reason)
                else:
                    field.errors = [*field.errors, reason]
        except DomainError as exc:
            db.session.rollback()
            discard_photos(stored)
            problems.append(explain(exc, {}))
        else:
            flash(_("Case %(number)s filed.", number=case.number), "success")
            return redirect(url_for(".case_detail", number=case.number), 303)
    status = 422 if form.errors or problems else 200
    return (
        render_template("cases/new.html", form=form, class_groups=groups, problems=problems, map_config=_map_config()),
        status,
    )


def _map_config() -> dict:
    """What the filing form's small map needs: the layer's datum, tiles and the areas API."""
    layer = current_layer()
    levels = db.session.scalars(select(AreaLevel).order_by(AreaLevel.rank)).all()
    overview = next((level.key for level in levels if level.rank > 0 and not level.is_unit), None)
    return {
        "datum": layer.datum if layer else None,
        "overviewLevel": overview,
        "unitLevel": next((level.key for level in levels if level.is_unit), None),
        "tileUrl": current_app.config["GRIDOPS_TILE_URL"],
        "tileAttribution": current_app.config["GRIDOPS_TILE_ATTRIBUTION"],
        "areas": url_for("api.list_areas"),
    }
