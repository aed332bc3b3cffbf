"""Workspaces: the command centre, the unit inbox and the leader view (pages under /work)."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from gridops.auth import permissions
from gridops.auth.roles import Role
from gridops.cases.forms import STATE_LABELS, ActionForm
from gridops.cases.models import Case, CaseRequest
from gridops.cases.queries import CaseFilter, apply_filters, visible_cases
from gridops.cases.services import allowed_actions
from gridops.cases.states import ACTIONS, Input, action_for
from gridops.cases.views import (
    COLOUR_LABELS,
    action_label,
    case_helpers,
    explain,
    load_case,
    take_action_from_form,
    unit_name,
)
from gridops.errors import DomainError, NotFound, ValidationFailed
from gridops.evaluation.indicators import compute_indicators
from gridops.evaluation.periods import Period
from gridops.extensions import db
from gridops.org.models import Department
from gridops.territory.models import Area, AreaLevel
from gridops.territory.views import current_layer
from gridops.workspaces import queues
from gridops.workspaces.services import MAX_BATCH, DispatchRequest, dispatch_numbers

bp = Blueprint("workspaces", __name__, url_prefix="/work")

#: Cases shown per queue on a page (the counts say how many there are in all).
PAGE_SIZE = 50
#: Where a workspace's action forms send the user back to.
WORKSPACES = {"command": "workspaces.command", "inbox": "workspaces.inbox", "leader": "workspaces.leader"}
#: Seconds between two polls of the "changes since" endpoint.
POLL_SECONDS = 15


#: What a listed case shows, loaded with it rather than one query per case and relation.
LIST_LOADS = (
    joinedload(Case.small_class),
    joinedload(Case.standard),
    joinedload(Case.unit_grid),
    joinedload(Case.area),
    joinedload(Case.holder_department),
)


def _now() -> datetime:
    return datetime.now(timezone.utc)


bp.context_processor(case_helpers)


def _require(allowed: bool) -> None:
    if not allowed:
        abort(403)


def _filter_from_args(args) -> tuple[CaseFilter, dict]:
    """The area / unit / text filters of a workspace (an unknown value is dropped and flashed)."""
    area = (args.get("area") or "").strip()
    unit = (args.get("unit") or "").strip()
    text = (args.get("q") or "").strip()[:100]
    unit_id = None
    if unit:
        unit_id = db.session.scalar(select(Department.id).where(Department.code == unit))
        if unit_id is None:
            flash(_("No unit has the code %(code)s.", code=unit), "warning")
            unit = ""
    if area and db.session.scalar(select(Area.id).where(Area.code == area)) is None:
        flash(_("No area has the code %(code)s.", code=area), "warning")
        area = ""
    filters = CaseFilter(area_code=area or None, unit_id=unit_id, text=text or None)
    return filters, {"area": area, "unit": unit, "q": text}


def _area_choices() -> list[Area]:
    """The districts and subdistricts the user may see, for the area filter."""
    stmt = select(Area).where(Area.level_rank.in_((1, 2)), Area.active.is_(True)).order_by(Area.code)
    stmt = stmt.where(permissions.area_scope_clause(current_user, Area.path))
    return list(db.session.scalars(stmt.limit(500)))


def _units() -> list[Department]:
    return list(db.session.scalars(select(Department).where(Department.active.is_(True)).order_by(Department.code)))


def _base(filters: CaseFilter):
    """The user's open cases, narrowed by the workspace's filters."""
    stmt = apply_filters(visible_cases(current_user), filters)
    return stmt.where(Case.state.in_(queues.OPEN_VALUES))


def workspace_queue(queue_set, filters: CaseFilter, now: datetime, selected: str):
    """(counts, the selected queue's first cases, their colours) for a workspace page."""
    counts, yellow = queues.queue_counts_for(_base(filters), queue_set, now)
    stmt = _base(filters).where(queues.queue_clause(selected, now, yellow))
    cases = list(db.session.scalars(queues.by_time_left(stmt).options(*LIST_LOADS).limit(PAGE_SIZE)))
    colours = queues.warning_colours([c.id for c in cases], now)
    return counts, cases, colours


def _selected(queue_set, default: str) -> str:
    key = request.args.get("queue", default)
    return key if key in {q.key for q in queue_set} else default


@bp.route("/command")
@login_required
def command():
    """The command centre: queues with counts, the live map, a case panel and batch dispatch."""
    _require(permissions.can_use_command_centre(current_user))
    now = _now()
    default = {"intake_operator": "register", "dispatcher": "dispatch"}.get(current_user.role, "approvals")
    selected = _selected(queues.COMMAND_QUEUES, default)
    try:
        filters, filter_values = _filter_from_args(request.args)
        counts, cases, colours = workspace_queue(queues.COMMAND_QUEUES, filters, now, selected)
    except ValidationFailed as exc:
        flash(exc.message, "error")
        filters, filter_values = CaseFilter(), {"area": "", "unit": "", "q": ""}
        counts, cases, colours = workspace_queue(queues.COMMAND_QUEUES, filters, now, selected)
    units = _units()
    layer = current_layer()
    pending = {}
    if selected == "approvals" and cases:
        for item in db.session.scalars(
            select(CaseRequest)
            .where(CaseRequest.case_id.in_([c.id for c in cases]), CaseRequest.status == "pending")
            .order_by(CaseRequest.id)
        ):
            pending.setdefault(item.case_id, []).append(item)
    can_dispatch = permissions.has_role(current_user, *action_for("dispatch").roles)
    config = {
        "queue": selected,
        "filters": filter_values,
        "datum": layer.datum if layer else None,
        "pollSeconds": POLL_SECONDS,
        "lastEventId": queues.last_event_id(current_user),
        "locale": _locale(),
        "tileUrl": current_app.config["GRIDOPS_TILE_URL"],
        "tileAttribution": current_app.config["GRIDOPS_TILE_ATTRIBUTION"],
        "home": _home_bounds(),
        "units": [{"code": unit.code, "name": unit_name(unit)} for unit in units],
        "timezone": current_app.config["GRIDOPS_TIMEZONE"],
        "levels": _map_levels(),
        "stateLabels": {state.value: str(label) for state, label in STATE_LABELS.items()},
        "actionLabels": {name: action_label(name) for name in ["file", *ACTIONS]},
        "roleLabels": {role.value: role.label(_locale()) for role in Role},
        "colourLabels": {key: str(label) for key, label in COLOUR_LABELS.items()},
        "api": {
            "changes": url_for("api.work_changes", workspace="command"),
            "map": url_for("api.work_map"),
            "areas": url_for("api.list_areas"),
            "case": url_for("api.get_case", number="__number__"),
            "action": url_for("api.take_action", number="__number__", action="__action__"),
            "page": url_for("cases.case_detail", number="__number__"),
        },
    }
    return render_template(
        "workspaces/command.html",
        queues=queues.COMMAND_QUEUES,
        counts=counts,
        selected=selected,
        cases=cases,
        colours=colours,
        now=now,
        pending=pending,
        units=units,
        unit_options=[(unit.id, unit_name(unit)) for unit in units],
        areas=_area_choices(),
        filter_values=filter_values,
        can_dispatch=can_dispatch and selected == "dispatch",
        config=config,
        page_size=PAGE_SIZE,
    )


def _map_levels() -> dict:
    """The level keys the command map draws: the first under the city as outlines, unit grids close up."""
    levels = list(db.session.scalars(select(AreaLevel).order_by(AreaLevel.rank)))
    return {
        "overview": next((level.key for level in levels if level.rank > 0 and not level.is_unit), None),
        "unit": next((level.key for level in levels if level.is_unit), None),
    }


def _locale() -> str:
    from gridops.i18n import current_locale

    return current_locale()


def _home_bounds() -> list[float] | None:
    """The user's own area's bounding box (None: the whole city)."""
    area = current_user.area
    if area is None or area.min_x is None:
        area = db.session.scalar(select(Area).where(Area.parent_id.is_(None), Area.min_x.is_not(None)).limit(1))
    if area is None or area.min_x is None:
        return None
    return [area.min_x, area.min_y, area.max_x, area.max_y]


@bp.route("/command/dispatch", methods=["POST"])
@login_required
def batch_dispatch():
    """Dispatch the selected cases, each to its chosen unit; report per case what happened."""
    _require(permissions.can_use_command_centre(current_user))
    numbers = list(dict.fromkeys(n.strip() for n in request.form.getlist("case") if n.strip()))
    back = redirect(url_for(".command", queue="dispatch", **_kept_filters()), 303)
    if not numbers:
        flash(_("Select the cases to dispatch first."), "warning")
        return back
    if len(numbers) > MAX_BATCH:
        flash(_("Dispatch at most %(count)d cases at once.", count=MAX_BATCH), "error")
        return back
    unit_ids = {str(d.id): d.id for d in db.session.scalars(select(Department).where(Department.active.is_(True)))}
    requests = []
    for number in numbers:
        version = request.form.get(f"version-{number}", "")
        requests.append(
            DispatchRequest(
                number=number,
                unit_id=unit_ids.get(request.form.get(f"unit-{number}", "")),
                expected_version=int(version) if version.isdigit() else None,
            )
        )
    outcomes = dispatch_numbers(requests, current_user)
    db.session.commit()
    done = [outcome.number for outcome in outcomes if outcome.ok]
    if done:
        flash(_("Dispatched %(count)d: %(numbers)s.", count=len(done), numbers=", ".join(done)), "success")
    labels = {"unit_id": _("Handling unit")}
    for outcome in outcomes:
        if isinstance(outcome.error, NotFound):
            flash(_("Case %(number)s not dispatched: you may not see it.", number=outcome.number), "error")
        elif not outcome.ok:
            flash(_("Case %(number)s not dispatched: %(reason)s", number=outcome.number,
                    reason=explain(outcome.error, labels)), "error")
    return back


def _kept_filters() -> dict:
    return {key: request.form[key] for key in ("area", "unit", "q") if request.form.get(key)}


@bp.route("/inbox")
@login_required
def inbox():
    """A handling unit's inbox: to sign, in progress, returned for rework, each with time left."""
    _require(permissions.can_use_unit_inbox(current_user))
    now = _now()
    base = _base(CaseFilter())
    counts, yellow = queues.queue_counts_for(base, queues.INBOX_QUEUES, now)
    sections = []
    for queue in queues.INBOX_QUEUES:
        stmt = base.where(queues.queue_clause(queue.key, now))
        cases = list(db.session.scalars(queues.by_time_left(stmt).options(*LIST_LOADS).limit(PAGE_SIZE)))
        sections.append((queue, cases))
    all_cases = [case for _queue, cases in sections for case in cases]
    colours = queues.warning_colours([case.id for case in all_cases], now)
    forms = {case.id: _forms_for(case) for case in all_cases}
    return render_template(
        "workspaces/inbox.html", sections=sections, counts=counts, colours=colours, forms=forms, now=now,
        Input=Input, page_size=PAGE_SIZE,
        poll={"changes": url_for("api.work_changes", workspace="inbox"),
              "lastEventId": queues.last_event_id(current_user), "pollSeconds": POLL_SECONDS},
    )


def _forms_for(case: Case) -> list[tuple]:
    """(action, form) for each action the user may take on the case now."""
    return [
        (action, ActionForm(formdata=None, expected_version=case.version, prefix=f"{action.name}-{case.id}"))
        for action in allowed_actions(case, current_user)
        # Merging is chosen beside the likely duplicates, on the case page.
        if Input.MASTER not in action.required
    ]


@bp.route("/leader")
@login_required
def leader():
    """The leader view: overdue and supervised cases, and supervising a case with an instruction."""
    _require(permissions.can_use_leader_view(current_user))
    now = _now()
    selected = _selected(queues.LEADER_QUEUES, "overdue")
    try:
        filters, filter_values = _filter_from_args(request.args)
        counts, cases, colours = workspace_queue(queues.LEADER_QUEUES, filters, now, selected)
    except ValidationFailed as exc:
        flash(exc.message, "error")
        filters, filter_values = CaseFilter(), {"area": "", "unit": "", "q": ""}
        counts, cases, colours = workspace_queue(queues.LEADER_QUEUES, filters, now, selected)
    forms = {case.id: _forms_for(case) for case in cases}
    span = request.args.get("span") if request.args.get("span") in FIGURE_SPANS else "today"
    period = (Period.custom(*[now.astimezone(_zone()).date()] * 2) if span == "today"
              else Period.containing("week", now))
    return render_template(
        "workspaces/leader.html", queues=queues.LEADER_QUEUES, counts=counts, selected=selected, cases=cases,
        figures=leader_figures(current_user, period), span=span, spans=FIGURE_SPANS, period=period,
        figure_columns=FIGURE_COLUMNS,
        colours=colours, forms=forms, now=now, areas=_area_choices(), units=_units(),
        filter_values=filter_values, Input=Input, page_size=PAGE_SIZE,
        poll={"changes": url_for("api.work_changes", workspace="leader"),
              "lastEventId": queues.last_event_id(current_user), "pollSeconds": POLL_SECONDS},
    )


#: The two spans of the leader's figures.
FIGURE_SPANS = {"today": _l("Today"), "week": _l("This week")}
#: Indicator columns of the leader's tables: (attribute of IndicatorRow, heading, is a rate).
FIGURE_COLUMNS = (
    ("reports", _l("Reports"), False),
    ("registrations", _l("Registered"), False),
    ("dispatches", _l("Dispatched"), False),
    ("closures", _l("Closed"), False),
    ("closure_rate", _l("Closure rate"), True),
    ("on_time_closure_rate", _l("On-time closure rate"), True),
    ("overdue_open", _l("Overdue open"), False),
    ("rework_count", _l("Rework"), False),
)
#: The area level whose groups a leader's table lists, by the rank of the leader's own area.
AREA_GROUP_BY = {0: "district", 1: "subdistrict", 2: "community", 3: "grid"}


def leader_figures(user, period: Period) -> list[tuple[str, list]]:
    """(title, indicator rows) per area one level below the user's scope, and per unit."""
    path = permissions.scope_path(user)
    rank = user.area.level_rank if path is not None and user.area is not None else 0
    group_by = AREA_GROUP_BY.get(rank, "grid")
    return [
        (_("By area"), compute_indicators(period, group_by, scope_path=path)),
        (_("By unit"), [row for row in compute_indicators(period, "unit", scope_path=path) if row.dispatches
                        or row.closures or row.overdue_open]),
    ]


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["GRIDOPS_TIMEZONE"])


@bp.route("/<workspace>/cases/<number>/<action_name>", methods=["POST"])
@login_required
def case_action(workspace: str, number: str, action_name: str):
    """Take one action from a workspace's list; back to the same list with the outcome."""
    if workspace not in WORKSPACES:
        abort(404)
    case = load_case(number)
    action = action_for(action_name)
    if action is None:
        abort(404)
    form = ActionForm(prefix=f"{action.name}-{case.id}")
    labels = {name: str(field.label.text) for name, field in form._fields.items()}
    args = {key: request.args[key] for key in ("queue", "area", "unit", "q") if request.args.get(key)}
    back = redirect(url_for(WORKSPACES[workspace], **args) + f"#case-{number}", 303)
    if not form.validate():
        for name, errors in form.errors.items():
            flash(_("%(field)s: %(reason)s", field=labels.get(name, name), reason=" ".join(errors)), "error")
        return back
    try:
        take_action_from_form(case, action.name, form)
    except DomainError as exc:
        flash(_("Case %(number)s: %(reason)s", number=number, reason=explain(exc, labels)), "error")
        return back
    flash(_("Case %(number)s: %(action)s done.", number=number, action=action_label(action.name)), "success")
    return back
