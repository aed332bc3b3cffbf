"""Administration pages (/admin/…): users and roles, territory import, catalogue and time limits,
routing rules, the working calendar, the escalation policy and the duplicate rules — each with
its change history —, the log of unmasked views of callers' data and their retention period.
Administrators only.

Every POST is a Flask-WTF form; it calls one service, commits once and redirects; a refusal
rolls back and shows every reason on the page beside its field (HTTP 422), so nothing is
ever half-written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from gridops.admin import forms
from gridops.admin.history import history
from gridops.admin.users import (
    activate_staff,
    create_staff,
    deactivate_staff,
    find_staff,
    reset_staff_password,
    update_staff,
)
from gridops.auth.models import User
from gridops.auth.permissions import can_audit_caller_data, is_admin
from gridops.auth.roles import Role
from gridops.cases.duplicates import DuplicateRules, duplicate_rules, reset_duplicate_rules, set_duplicate_rules
from gridops.cases.exports import csv_stream
from gridops.catalogue import services as catalogue
from gridops.catalogue.models import BigClass, FilingStandard, RoutingRule, SmallClass
from gridops.errors import DomainError, ValidationFailed
from gridops.extensions import db, login_manager
from gridops.hotline import audit
from gridops.hotline.retention import purge_runs
from gridops.hotline.settings import retention_days, set_retention_days
from gridops.i18n import current_locale
from gridops.jobs.runner import make_trigger
from gridops.jobs.schedule import job_by_id
from gridops.org.models import Department
from gridops.supervision.models import JobState
from gridops.supervision.policy import (
    NUMBER_LIMITS,
    REPLY_KINDS,
    EscalationPolicy,
    escalation_policy,
    reset_escalation_policy,
    set_escalation_policy,
)
from gridops.supervision.serializers import reply_kind_label
from gridops.territory.importer import ImportRejected, read_collection
from gridops.territory.models import Area, AreaLevel, GridLayer
from gridops.territory.services import import_territory, set_urban_rural_fringe
from gridops.worktime import store
from gridops.worktime.calendars import OFFICIAL_YEARS
from gridops.worktime.clocks import ClockType

bp = Blueprint("admin", __name__, url_prefix="/admin")

USERS_PER_PAGE = 50
#: Largest layer file accepted through the page, in bytes (the command line takes any size).
MAX_LAYER_BYTES = 50 * 1024 * 1024
SECTIONS = (
    ("admin.users", _l("Users and roles")),
    ("admin.territory", _l("Territory")),
    ("admin.catalogue_page", _l("Catalogue and time limits")),
    ("admin.routing", _l("Routing rules")),
    ("admin.calendar", _l("Working calendar")),
    ("admin.escalation", _l("Escalation policy")),
    ("admin.duplicates", _l("Likely duplicates")),
    ("admin.caller_views", _l("Caller data views")),
    ("admin.retention", _l("Caller data retention")),
)
ENTITY_LABELS = {
    "user": _l("User"),
    "grid_layer": _l("Territory layer"),
    "area": _l("Area"),
    "big_class": _l("Big class"),
    "small_class": _l("Small class"),
    "standard": _l("Filing standard"),
    "routing_rule": _l("Routing rule"),
    "calendar_day": _l("Calendar day"),
    "calendar_year": _l("Calendar year"),
    "schedule": _l("Office hours"),
    "thresholds": _l("Warning thresholds"),
    "registration_limits": _l("Registration limits"),
    "escalation_policy": _l("Escalation policy"),
    "duplicate_rules": _l("Duplicate rules"),
    "hotline_retention": _l("Caller data retention"),
    "gazetteer_place": _l("Gazetteer place"),
}
ACTION_LABELS = {
    "create": _l("created"),
    "update": _l("changed"),
    "delete": _l("removed"),
    "deactivate": _l("deactivated"),
    "activate": _l("reactivated"),
    "reset_password": _l("password reset"),
    "import": _l("imported"),
    "reset": _l("reset to the defaults"),
}
#: The scheduler's job that erases callers' data past the retention period.
PURGE_JOB = "purge_caller_data"
CALENDAR_ENTITIES = ("calendar_day", "calendar_year", "schedule", "thresholds", "registration_limits")


@bp.before_request
def _administrators_only():
    """Signed out: to the sign-in page; signed in without the administrator role: 403."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not is_admin(current_user):
        abort(403)
    return None


@bp.context_processor
def _labels():
    return {
        "sections": SECTIONS,
        "entity_labels": ENTITY_LABELS,
        "action_labels": ACTION_LABELS,
        "clock_labels": forms.CLOCK_LABELS,
        "role_label": lambda value: Role(value).label(current_locale()) if value in Role._value2member_map_ else value,
    }


# --- helpers ------------------------------------------------------------------------------


def _show_errors(form, exc: DomainError, aliases: dict[str, str] | None = None) -> list[str]:
    """Put a service's reasons beside the form's fields; return those that fit no field."""
    leftovers = []
    if isinstance(exc, ValidationFailed) and exc.fields:
        for name, reason in exc.fields.items():
            field = form._fields.get((aliases or {}).get(name, name))
            if field is None or field.name == "csrf_token":
                leftovers.append(f"{name}: {reason}")
            else:
                field.errors = [*field.errors, reason]
    else:
        leftovers.append(exc.message)
    return leftovers


@contextmanager
def _refusals(form, problems: list[str], aliases: dict[str, str] | None = None) -> Iterator[None]:
    """Around a service call for a posted form: a refusal rolls back and lands beside the fields.

    What fits no field goes on to ``problems``; the page is then shown again with them.
    """
    try:
        yield
    except DomainError as exc:
        db.session.rollback()
        problems.extend(_show_errors(form, exc, aliases))


def _done(message: str, endpoint: str, **values):
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(endpoint, **values), 303)


def _department_choices(empty: str):
    units = db.session.scalars(select(Department).where(Department.active.is_(True)).order_by(Department.code))
    locale = current_locale()
    return forms.choices([("", empty)] + [
        (unit.code, f"{unit.code} {(unit.name_en or unit.name) if locale == 'en' else unit.name}") for unit in units
    ])


def _area_name(area: Area | None) -> str:
    return area.display_name(current_locale()) if area is not None else ""


# --- index --------------------------------------------------------------------------------


@bp.get("/")
def index():
    """The sections, with the latest changes across all of them."""
    counts = {
        "users": db.session.scalar(select(func.count()).select_from(User).where(User.active.is_(True))),
        "areas": db.session.scalar(select(func.count()).select_from(Area).where(Area.active.is_(True))),
        "classes": db.session.scalar(select(func.count()).select_from(SmallClass).where(SmallClass.active.is_(True))),
        "rules": db.session.scalar(select(func.count()).select_from(RoutingRule).where(RoutingRule.active.is_(True))),
    }
    return render_template("admin/index.html", counts=counts, changes=history(list(ENTITY_LABELS), limit=20))


# --- users --------------------------------------------------------------------------------


@bp.get("/users")
def users():
    """Accounts, searchable by name, role and status."""
    search = forms.UserSearchForm(request.args)
    search.role.choices = forms.choices([("", _("All roles"))]) + forms.role_choices(current_locale())
    active = {"active": True, "inactive": False}.get(search.status.data or "")
    stmt = find_staff(text=search.q.data or "", role=search.role.data or None, active=active)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    page = max(1, request.args.get("page", 1, type=int) or 1)
    rows = db.session.scalars(
        stmt.options(selectinload(User.area), selectinload(User.department))
        .limit(USERS_PER_PAGE)
        .offset((page - 1) * USERS_PER_PAGE)
    ).all()
    return render_template(
        "admin/users.html", search=search, rows=rows, total=total, page=page,
        pages=max(1, -(-total // USERS_PER_PAGE)), area_name=_area_name,
        query={name: value for name, value in request.args.items() if name != "page"},
        changes=history(["user"], limit=20),
    )


def _user_form(form: forms.UserForm) -> forms.UserForm:
    form.role.choices = forms.role_choices(current_locale())
    form.department.choices = _department_choices(_("No unit"))
    return form


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    """Create an account with its role, scope and first password."""
    form = _user_form(forms.UserForm())
    problems: list[str] = []
    if form.validate_on_submit():
        with _refusals(form, problems):
            user = create_staff(current_user, {name: form[name].data for name in
                                               ("username", "full_name", "password", "role", "area", "department", "locale")})
            return _done(_("Account %(name)s created.", name=user.username), ".user_detail", user_id=user.id)
    status = 422 if form.errors or problems else 200
    return render_template("admin/user_new.html", form=form, problems=problems), status


def _load_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user_detail(user_id: int):
    """One account: edit its name, role, scope and language; deactivate; reset its password."""
    user = _load_user(user_id)
    form = _user_form(forms.UserForm(obj=None if request.method == "POST" else user))
    del form.username, form.password
    if request.method == "GET":
        form.area.data = user.area.code if user.area else ""
        form.department.data = user.department.code if user.department else ""
        form.locale.data = user.locale or ""
    problems: list[str] = []
    if form.validate_on_submit():
        with _refusals(form, problems):
            update_staff(current_user, user, {name: form[name].data for name in
                                              ("full_name", "role", "area", "department", "locale")})
            return _done(_("Account %(name)s saved.", name=user.username), ".user_detail", user_id=user.id)
    status = 422 if form.errors or problems else 200
    return render_template(
        "admin/user.html", user=user, form=form, problems=problems,
        password_form=forms.PasswordForm(formdata=None), action_form=forms.ActionForm(formdata=None),
        changes=history(["user"], user.id),
    ), status


@bp.post("/users/<int:user_id>/password")
def user_password(user_id: int):
    """Set a new password for the account; its sessions end."""
    user = _load_user(user_id)
    password_form = forms.PasswordForm()
    problems: list[str] = []
    if password_form.validate():
        with _refusals(password_form, problems):
            reset_staff_password(current_user, user, password_form.password.data)
            return _done(_("New password set for %(name)s.", name=user.username), ".user_detail", user_id=user.id)
    form = _user_form(forms.UserForm(formdata=None, obj=user))
    del form.username, form.password
    form.area.data = user.area.code if user.area else ""
    form.department.data = user.department.code if user.department else ""
    return render_template(
        "admin/user.html", user=user, form=form, problems=problems, password_form=password_form,
        action_form=forms.ActionForm(formdata=None), changes=history(["user"], user.id),
    ), 422


@bp.post("/users/<int:user_id>/active")
def user_active(user_id: int):
    """Deactivate or reactivate the account (field ``active``: yes or no)."""
    user = _load_user(user_id)
    if not forms.ActionForm().validate():
        abort(400)
    try:
        if request.form.get("active") == "yes":
            activate_staff(current_user, user)
            message = _("Account %(name)s can sign in again.", name=user.username)
        else:
            deactivate_staff(current_user, user)
            message = _("Account %(name)s deactivated.", name=user.username)
    except DomainError as exc:
        db.session.rollback()
        flash(" ".join(exc.fields.values()) if exc.fields else exc.message, "error")
        return redirect(url_for(".user_detail", user_id=user.id), 303)
    return _done(message, ".user_detail", user_id=user.id)


# --- territory ----------------------------------------------------------------------------


def _territory_page(import_form, fringe_form, *, report=None, status=200, problems=()):
    layer = db.session.scalar(select(GridLayer).order_by(GridLayer.id).limit(1))
    levels = db.session.execute(
        select(AreaLevel, func.count(Area.id))
        .outerjoin(Area, (Area.level_rank == AreaLevel.rank) & Area.active.is_(True))
        .group_by(AreaLevel.rank)
        .order_by(AreaLevel.rank)
    ).all()
    fringe_areas = db.session.scalars(
        select(Area).where(Area.urban_rural_fringe.is_(True), Area.active.is_(True)).order_by(Area.code)
    ).all()
    return render_template(
        "admin/territory.html", layer=layer, levels=levels, import_form=import_form, fringe_form=fringe_form,
        report=report, problems=problems, fringe_areas=fringe_areas, area_name=_area_name,
        imports=history(["grid_layer"]), changes=history(["grid_layer", "area"]),
    ), status


@bp.get("/territory")
def territory():
    """The layer, its import history, the import form and the urban-rural fringe areas."""
    return _territory_page(forms.LayerImportForm(formdata=None), forms.FringeForm(formdata=None))


@bp.post("/territory/import")
def territory_import():
    """Validate an uploaded layer; import it only when it has no error, else show every problem."""
    form = forms.LayerImportForm()
    fringe_form = forms.FringeForm(formdata=None)
    if not form.validate():
        return _territory_page(form, fringe_form, status=422)
    upload = form.layer.data
    data = upload.read(MAX_LAYER_BYTES + 1)
    if len(data) > MAX_LAYER_BYTES:
        form.layer.errors = [_("The file is larger than %(count)d MB.", count=MAX_LAYER_BYTES // (1024 * 1024))]
        return _territory_page(form, fringe_form, status=422)
    datum = form.datum.data or None
    name = upload.filename or "upload.geojson"
    try:
        result = import_territory(current_user, read_collection(data), datum=datum, source_name=name)
    except ImportRejected as exc:
        db.session.rollback()
        report = {"file": name, "problems": exc.problems, "imported": False}
        return _territory_page(form, fringe_form, report=report, status=422)
    db.session.commit()
    flash(
        _("Layer version %(version)d imported from %(file)s: %(created)d new, %(updated)d changed, %(retired)d retired.",
          version=result.layer_version, file=name, created=sum(result.created.values()),
          updated=sum(result.updated.values()), retired=sum(result.retired.values())),
        "success",
    )
    if result.warnings:
        report = {"file": name, "problems": result.warnings, "imported": True}
        return _territory_page(forms.LayerImportForm(formdata=None), fringe_form, report=report)
    return redirect(url_for(".territory"), 303)


@bp.post("/territory/fringe")
def territory_fringe():
    """Mark an area (and so its subtree) as urban-rural fringe, or clear the mark."""
    form = forms.FringeForm()
    problems: list[str] = []
    if form.validate():
        code = form.area.data.strip()
        area = db.session.scalar(select(Area).where(Area.code == code, Area.active.is_(True)))
        if area is None:
            form.area.errors = [_("no area has the code %(code)s", code=code)]
        else:
            with _refusals(form, problems, {"urban_rural_fringe": "fringe"}):
                set_urban_rural_fringe(current_user, area, form.fringe.data == "yes")
                return _done(_("Saved: %(area)s.", area=f"{area.code} {_area_name(area)}"), ".territory")
    return _territory_page(forms.LayerImportForm(formdata=None), form, status=422, problems=problems)


# --- catalogue ----------------------------------------------------------------------------


def _class_label(row: SmallClass) -> str:
    name = (row.name_en or row.name) if current_locale() == "en" else row.name
    return f"{row.full_code} {name}"


def _catalogue(*, form=None, big_form=None, problems=(), big_problems=(), status=200):
    big_classes = db.session.scalars(select(BigClass).order_by(BigClass.case_type.desc(), BigClass.code)).all()
    small = db.session.scalars(
        select(SmallClass).options(selectinload(SmallClass.standards)).order_by(SmallClass.code)
    ).all()
    by_big: dict[int, list[SmallClass]] = {}
    for row in small:
        by_big.setdefault(row.big_class_id, []).append(row)
    return render_template(
        "admin/catalogue.html", big_classes=big_classes, by_big=by_big,
        form=form or forms.SmallClassForm(formdata=None), problems=problems,
        big_form=big_form or forms.BigClassForm(formdata=None), big_problems=big_problems,
        changes=history(["big_class", "small_class", "standard"]),
    ), status


@bp.get("/catalogue")
def catalogue_page():
    """Big classes with their small classes, standards and time limits; add a class."""
    return _catalogue()


@bp.post("/catalogue/classes")
def new_small_class():
    """Add a small class under the big class its code names."""
    form = forms.SmallClassForm()
    problems: list[str] = []
    if form.validate():
        with _refusals(form, problems):
            row = catalogue.create_small_class(current_user, _small_class_data(form, with_key=True))
            return _done(_("Small class %(code)s added.", code=row.full_code), ".small_class_page", class_id=row.id)
    return _catalogue(form=form, problems=problems, status=422)


def _big_class_data(form: forms.BigClassForm) -> dict:
    data = {"name": form.name.data, "name_en": (form.name_en.data or "").strip() or None,
            "active": bool(form.active.data)}
    if "code" in form:
        data.update(case_type=form.case_type.data, code=(form.code.data or "").strip())
    return data


@bp.post("/catalogue/big-classes")
def new_big_class():
    """Add a big class (a local extension, say)."""
    form = forms.BigClassForm()
    problems: list[str] = []
    if form.validate():
        with _refusals(form, problems):
            row = catalogue.create_big_class(current_user, _big_class_data(form))
            return _done(_("Big class %(code)s added.", code=row.code), ".catalogue_page")
    return _catalogue(big_form=form, big_problems=problems, status=422)


@bp.route("/catalogue/big-classes/<int:big_id>", methods=["GET", "POST"])
def big_class_page(big_id: int):
    """Rename or retire a big class (its type and code stay)."""
    row = db.session.get(BigClass, big_id)
    if row is None:
        abort(404)
    form = forms.BigClassForm(obj=None if request.method == "POST" else row)
    del form.case_type, form.code
    problems: list[str] = []
    if form.validate_on_submit():
        with _refusals(form, problems):
            catalogue.update_big_class(current_user, row, _big_class_data(form))
            return _done(_("Big class %(code)s saved.", code=row.code), ".catalogue_page")
    status = 422 if form.errors or problems else 200
    return render_template(
        "admin/big_class.html", row=row, form=form, problems=problems, changes=history(["big_class"], row.id),
    ), status


def _small_class_data(form: forms.SmallClassForm, *, with_key: bool) -> dict:
    data = {
        "name": form.name.data,
        "name_en": (form.name_en.data or "").strip() or None,
        "nine_word": form.nine_word.data or None,
        "default_unit_kind": (form.default_unit_kind.data or "").strip() or None,
        "active": bool(form.active.data),
    }
    if with_key:
        data.update(case_type=form.case_type.data, code=(form.code.data or "").strip())
    return data


def _standard_data(form: forms.StandardForm) -> dict:
    data = {
        "name": form.name.data or "",
        "name_en": (form.name_en.data or "").strip() or None,
        "limit_value": form.limit_value.data,
        "limit_clock": form.limit_clock.data,
        "closing_condition": form.closing_condition.data or "",
        "active": bool(form.active.data),
    }
    if form.sort.data is not None:
        data["sort"] = form.sort.data
    return data


def _load_class(class_id: int) -> SmallClass:
    row = db.session.get(SmallClass, class_id)
    if row is None:
        abort(404)
    return row


def _class_page(row: SmallClass, *, class_form=None, standard_forms=None, new_form=None, problems=(), status=200):
    if class_form is None:
        class_form = forms.SmallClassForm(formdata=None, obj=row)
        class_form.nine_word.data = row.nine_word or ""
    for fixed in ("case_type", "code"):
        if fixed in class_form:
            delattr(class_form, fixed)
    standard_forms = standard_forms or {}
    rows = []
    for standard in row.standards:
        form = standard_forms.get(standard.id) or forms.StandardForm(formdata=None, obj=standard, prefix=f"s{standard.id}")
        rows.append((standard, form))
    new_form = new_form or forms.StandardForm(formdata=None, prefix="new")
    ids = [row.id] + [standard.id for standard in row.standards]
    changes = [
        entry for entry in history(["small_class", "standard"], limit=200)
        if (entry.entity == "small_class" and entry.entity_id == row.id)
        or (entry.entity == "standard" and entry.entity_id in ids[1:])
    ][:50]
    return render_template(
        "admin/small_class.html", row=row, class_form=class_form, standards=rows, new_form=new_form,
        problems=problems, changes=changes, label=_class_label(row),
    ), status


@bp.get("/catalogue/classes/<int:class_id>")
def small_class_page(class_id: int):
    """One small class: its fields, each filing standard with its time limit, and their history."""
    return _class_page(_load_class(class_id))


@bp.post("/catalogue/classes/<int:class_id>")
def edit_small_class(class_id: int):
    row = _load_class(class_id)
    form = forms.SmallClassForm()
    del form.case_type, form.code
    problems: list[str] = []
    if form.validate():
        with _refusals(form, problems):
            catalogue.update_small_class(current_user, row, _small_class_data(form, with_key=False))
            return _done(_("Small class %(code)s saved.", code=row.full_code), ".small_class_page", class_id=row.id)
    return _class_page(row, class_form=form, problems=problems, status=422)


@bp.post("/catalogue/classes/<int:class_id>/standards")
def new_standard(class_id: int):
    row = _load_class(class_id)
    form = forms.StandardForm(prefix="new")
    problems: list[str] = []
    if form.validate():
        with _refusals(form, problems):
            catalogue.create_standard(current_user, row, _standard_data(form))
            return _done(_("Filing standard added to %(code)s.", code=row.full_code), ".small_class_page", class_id=row.id)
    return _class_page(row, new_form=form, problems=problems, status=422)


@bp.post("/catalogue/standards/<int:standard_id>")
def edit_standard(standard_id: int):
    standard = db.session.get(FilingStandard, standard_id)
    if standard is None:
        abort(404)
    row = standard.small_class
    form = forms.StandardForm(prefix=f"s{standard.id}")
    problems: list[str] = []
    if form.validate():
        with _refusals(form, problems):
            catalogue.update_standard(current_user, standard, _standard_data(form))
            return _done(_("Time limit and standard of %(code)s saved.", code=row.full_code),
                         ".small_class_page", class_id=row.id)
    return _class_page(row, standard_forms={standard.id: form}, problems=problems, status=422)


# --- routing rules ------------------------------------------------------------------------


def _rule_form(form: forms.RoutingRuleForm) -> forms.RoutingRuleForm:
    classes = db.session.scalars(
        select(SmallClass).where(SmallClass.active.is_(True)).order_by(SmallClass.case_type.desc(), SmallClass.code)
    ).all()
    form.small_class.choices = forms.choices([("", _("Any class"))] + [(row.full_code, _class_label(row)) for row in classes])
    form.department.choices = _department_choices(_("Choose a unit"))
    return form


def _rule_data(form: forms.RoutingRuleForm) -> dict:
    return {
        "small_class": form.small_class.data or None,
        "area": form.area.data.strip(),
        "department": form.department.data,
        "basis": form.basis.data,
        "priority": form.priority.data,
        "active": bool(form.active.data),
    }


def _rules_page(form, *, problems=(), status=200):
    show_retired = request.args.get("retired") == "1"
    stmt = select(RoutingRule).options(
        selectinload(RoutingRule.small_class), selectinload(RoutingRule.area), selectinload(RoutingRule.department)
    )
    if not show_retired:
        stmt = stmt.where(RoutingRule.active.is_(True))
    rules = db.session.scalars(stmt.order_by(RoutingRule.priority, RoutingRule.id)).all()
    return render_template(
        "admin/routing.html", rules=rules, form=form, problems=problems, show_retired=show_retired,
        class_label=_class_label, area_name=_area_name, basis_labels=forms.BASIS_LABELS,
        action_form=forms.ActionForm(formdata=None), changes=history(["routing_rule"]),
    ), status


@bp.get("/routing")
def routing():
    """The routing rules by priority, a form to add one, and their history."""
    return _rules_page(_rule_form(forms.RoutingRuleForm(formdata=None)))


@bp.post("/routing")
def new_rule():
    form = _rule_form(forms.RoutingRuleForm())
    problems: list[str] = []
    if form.validate():
        with _refusals(form, problems):
            catalogue.create_routing_rule(current_user, _rule_data(form))
            return _done(_("Routing rule added."), ".routing")
    return _rules_page(form, problems=problems, status=422)


def _load_rule(rule_id: int) -> RoutingRule:
    row = db.session.get(RoutingRule, rule_id)
    if row is None:
        abort(404)
    return row


@bp.route("/routing/<int:rule_id>", methods=["GET", "POST"])
def rule_detail(rule_id: int):
    """Edit one routing rule."""
    row = _load_rule(rule_id)
    if request.method == "GET":
        form = _rule_form(forms.RoutingRuleForm(formdata=None, obj=row))
        form.small_class.data = row.small_class.full_code if row.small_class else ""
        form.area.data = row.area.code
        form.department.data = row.department.code
    else:
        form = _rule_form(forms.RoutingRuleForm())
    problems: list[str] = []
    if form.validate_on_submit():
        with _refusals(form, problems):
            catalogue.update_routing_rule(current_user, row, _rule_data(form))
            return _done(_("Routing rule saved."), ".routing")
    status = 422 if form.errors or problems else 200
    return render_template(
        "admin/rule.html", row=row, form=form, problems=problems, action_form=forms.ActionForm(formdata=None),
        class_label=_class_label, changes=history(["routing_rule"], row.id),
    ), status


@bp.post("/routing/<int:rule_id>/delete")
def delete_rule(rule_id: int):
    """Retire a rule: routing stops using it; it stays in the history."""
    row = _load_rule(rule_id)
    if not forms.ActionForm().validate():
        abort(400)
    catalogue.deactivate_routing_rule(current_user, row)
    return _done(_("Routing rule deleted."), ".routing")


# --- working calendar ---------------------------------------------------------------------


def _schedule_text(schedule: dict) -> tuple[str, str]:
    def hours(pairs) -> str:
        return ", ".join(f"{start}-{end}" for start, end in pairs)

    seasons = "\n".join(
        f"{season['name']} | {season['from']} | {season['to']} | {hours(season['hours'])}"
        for season in schedule.get("seasons", [])
    )
    return hours(schedule["hours"]), seasons


def _parse_hours_text(text: str, field: str) -> list[list[str]]:
    pairs = []
    for part in (piece.strip() for piece in text.replace("，", ",").split(",")):
        if not part:
            continue
        start, dash, end = part.partition("-")
        if not dash:
            raise ValidationFailed.field(field, _("write the hours as 08:00-12:00, 14:00-18:00"))
        pairs.append([start.strip(), end.strip()])
    return pairs


def _schedule_data(form: forms.ScheduleForm) -> dict:
    seasons = []
    for number, line in enumerate((form.seasons.data or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|")]
        if len(parts) != 4:
            raise ValidationFailed.field(
                "seasons", _("line %(number)d: write name | MM-DD | MM-DD | hours", number=number)
            )
        seasons.append({"name": parts[0], "from": parts[1], "to": parts[2],
                        "hours": _parse_hours_text(parts[3], "seasons")})
    return {"hours": _parse_hours_text(form.hours.data, "hours"), "seasons": seasons}


def _month_weeks(year: int, month: int) -> list[list[date | None]]:
    first = date(year, month, 1)
    days = (date(year + month // 12, month % 12 + 1, 1) - first).days
    cells: list[date | None] = [None] * first.weekday() + [first + timedelta(days=n) for n in range(days)]
    cells += [None] * (-len(cells) % 7)
    return [cells[i:i + 7] for i in range(0, len(cells), 7)]


def _calendar_page(*, year: int | None = None, day_form=None, year_form=None, schedule_form=None,
                   thresholds_form=None, registration_form=None, problems=(), status=200):
    clock = store.get_city_clock()
    today = datetime.now(clock.zone).date()
    year = year or request.args.get("year", today.year, type=int) or today.year
    if not 1900 <= year <= 2200:
        abort(404)
    calendar = clock.calendar
    months = []
    for month in range(1, 13):
        weeks = [[calendar.day_info(day) if day else None for day in week] for week in _month_weeks(year, month)]
        months.append((month, weeks))
    overrides = [override for day, override in sorted(calendar.overrides.items()) if day.year == year]
    if schedule_form is None:
        schedule_form = forms.ScheduleForm(formdata=None)
        schedule_form.hours.data, schedule_form.seasons.data = _schedule_text(clock.schedule.to_dict())
    if thresholds_form is None:
        thresholds_form = forms.ThresholdsForm(formdata=None)
        for kind, value in clock.thresholds.items():
            thresholds_form[f"{kind.value}_yellow"].data = Decimal(str(round(value.yellow * 100, 2)))
            thresholds_form[f"{kind.value}_red"].data = Decimal(str(round(value.red * 100, 2)))
    if registration_form is None:
        limits = store.registration_limits()
        registration_form = forms.RegistrationForm(formdata=None)
        registration_form.normal.data = Decimal(str(limits.normal))
        registration_form.fringe.data = Decimal(str(limits.fringe))
    if year in OFFICIAL_YEARS:
        source = "official"
    else:
        source = "provisional" if calendar.is_provisional(year) else "entered"
    return render_template(
        "admin/calendar.html", year=year, today=today, months=months, overrides=overrides, source=source,
        provisional_years=clock.provisional_years(today),
        day_form=day_form or forms.DayForm(formdata=None),
        year_form=year_form or forms.YearForm(formdata=None, year=year),
        schedule_form=schedule_form, thresholds_form=thresholds_form, registration_form=registration_form,
        clear_form=forms.ClearDayForm(formdata=None), clock_types=list(ClockType),
        problems=problems, changes=history(CALENDAR_ENTITIES),
    ), status


@bp.get("/calendar")
def calendar():
    """A year of working days and holidays, overrides, office hours, thresholds and limits."""
    return _calendar_page()


def _calendar_post(form, service, message: str, form_name: str, *, aliases=None):
    """Validate ``form``, run ``service(form)``, commit; on refusal show the page with the reasons."""
    year = request.args.get("year", type=int)
    problems: list[str] = []
    if form.validate():
        with _refusals(form, problems, aliases):
            service(form)
            return _done(message, ".calendar", year=year) if year else _done(message, ".calendar")
    return _calendar_page(year=year, problems=problems, status=422, **{form_name: form})


@bp.post("/calendar/days")
def calendar_day():
    form = forms.DayForm()
    return _calendar_post(
        form, lambda f: store.set_calendar_day(current_user, f.day.data, f.working.data == "yes", f.note.data or ""),
        _("Calendar day saved."), "day_form",
    )


@bp.post("/calendar/days/clear")
def calendar_clear():
    form = forms.ClearDayForm()
    year = request.args.get("year", type=int)
    if not form.validate():
        flash(_("Choose a date."), "error")
        return redirect(url_for(".calendar", year=year), 303)
    try:
        store.clear_calendar_day(current_user, form.day.data)
    except DomainError as exc:
        db.session.rollback()
        flash(" ".join(exc.fields.values()) if exc.fields else exc.message, "error")
        return redirect(url_for(".calendar", year=year), 303)
    return _done(_("Override of %(day)s removed.", day=form.day.data.isoformat()), ".calendar", year=year)


@bp.post("/calendar/years")
def calendar_year():
    form = forms.YearForm()
    return _calendar_post(
        form, lambda f: store.enter_calendar_year(current_user, f.year.data),
        _("Year entered: its days now follow your overrides and Monday to Friday."), "year_form",
    )


@bp.post("/calendar/schedule")
def calendar_schedule():
    form = forms.ScheduleForm()
    return _calendar_post(
        form, lambda f: store.set_work_schedule(current_user, _schedule_data(f)),
        _("Office hours saved."), "schedule_form",
    )


def _thresholds_data(form: forms.ThresholdsForm) -> dict:
    return {
        kind.value: {
            "yellow": float(form[f"{kind.value}_yellow"].data) / 100,
            "red": float(form[f"{kind.value}_red"].data) / 100,
        }
        for kind in ClockType
    }


@bp.post("/calendar/thresholds")
def calendar_thresholds():
    form = forms.ThresholdsForm()
    aliases = {f"thresholds.{kind.value}": f"{kind.value}_yellow" for kind in ClockType}
    return _calendar_post(
        form, lambda f: store.set_warning_thresholds(current_user, _thresholds_data(f)),
        _("Warning thresholds saved."), "thresholds_form", aliases=aliases,
    )


@bp.post("/calendar/registration")
def calendar_registration():
    form = forms.RegistrationForm()
    return _calendar_post(
        form,
        lambda f: store.set_registration_limits(current_user, {"normal": float(f.normal.data), "fringe": float(f.fringe.data)}),
        _("Registration limits saved."), "registration_form",
    )


# --- escalation policy --------------------------------------------------------------------


def _plain(number: float) -> float | int:
    """A number as people write it: 50 rather than 50.0, 33.3 rather than 33.300000000000004."""
    number = round(float(number), 4)
    return int(number) if number.is_integer() else number


def _percent(share: float) -> float | int:
    return _plain(share * 100)


def _fill_policy_form(form: forms.EscalationPolicyForm, policy: EscalationPolicy) -> forms.EscalationPolicyForm:
    form.level2_share.data = _percent(policy.level2_share)
    for name in ("level2_min_working_days", "level3_working_days", "hotline_notice_working_days",
                 "hotline_criticism_working_days"):
        form[name].data = getattr(policy, name)
    for kind in REPLY_KINDS:
        form[f"reply_{kind}"].data = policy.reply_hours.get(kind)
    return form


def _policy_data(form: forms.EscalationPolicyForm) -> dict:
    """The form in the policy's own terms: the share as a fraction, reply limits by kind."""
    data = {name: form[name].data for name in ("level2_min_working_days", "level3_working_days",
                                               "hotline_notice_working_days", "hotline_criticism_working_days")}
    data["level2_share"] = round(form.level2_share.data / 100, 6)
    data["reply_hours"] = {kind: form[f"reply_{kind}"].data for kind in REPLY_KINDS}
    return data


def _share_refusal() -> str:
    """The policy's range of the level-2 share, in the percent the form shows."""
    _type, low, high = NUMBER_LIMITS["level2_share"]
    return _("must be from %(low)s %% to %(high)s %% of the time limit", low=_percent(low), high=_percent(high))


def _escalation_page(form=None, *, problems=(), status=200):
    policy = escalation_policy()
    changes = history(["escalation_policy"])
    return render_template(
        "admin/escalation.html", policy=policy, defaults=EscalationPolicy(), percent=_percent,
        form=form or _fill_policy_form(forms.EscalationPolicyForm(formdata=None), policy), problems=problems,
        reply_kinds=[(kind, reply_kind_label(kind)) for kind in REPLY_KINDS],
        reset_form=forms.ActionForm(formdata=None), changes=changes, last_change=changes[0] if changes else None,
    ), status


@bp.get("/escalation")
def escalation():
    """The escalation policy in force, a form to change it, and its history."""
    return _escalation_page()


@bp.post("/escalation")
def edit_escalation():
    form = forms.EscalationPolicyForm()
    problems: list[str] = []
    if form.validate():
        try:
            set_escalation_policy(current_user, _policy_data(form))
        except DomainError as exc:
            db.session.rollback()
            problems = _show_errors(form, exc, {f"reply_hours.{kind}": f"reply_{kind}" for kind in REPLY_KINDS})
            if isinstance(exc, ValidationFailed) and "level2_share" in exc.fields:
                form.level2_share.errors = [_share_refusal()]
        else:
            return _done(_("Escalation policy saved."), ".escalation")
    return _escalation_page(form, problems=problems, status=422)


@bp.post("/escalation/reset")
def reset_escalation():
    """Go back to the published defaults."""
    if not forms.ActionForm().validate():
        abort(400)
    reset_escalation_policy(current_user)
    return _done(_("Escalation policy reset to the defaults."), ".escalation")


# --- duplicate rules ----------------------------------------------------------------------


def _duplicates_page(form=None, *, problems=(), status=200):
    rules = duplicate_rules()
    if form is None:
        form = forms.DuplicateRulesForm(formdata=None)
        form.radius_m.data, form.window_hours.data = _plain(rules.radius_m), _plain(rules.window_hours)
    changes = history(["duplicate_rules"])
    return render_template(
        "admin/duplicates.html", rules=rules, defaults=DuplicateRules(), plain=_plain, form=form, problems=problems,
        reset_form=forms.ActionForm(formdata=None), changes=changes, last_change=changes[0] if changes else None,
    ), status


@bp.get("/duplicates")
def duplicates():
    """The duplicate rules in force, a form to change them, and their history."""
    return _duplicates_page()


@bp.post("/duplicates")
def edit_duplicates():
    form = forms.DuplicateRulesForm()
    problems: list[str] = []
    if form.validate():
        with _refusals(form, problems):
            set_duplicate_rules(current_user, radius_m=form.radius_m.data, window_hours=form.window_hours.data)
            return _done(_("Duplicate rules saved."), ".duplicates")
    return _duplicates_page(form, problems=problems, status=422)


@bp.post("/duplicates/reset")
def reset_duplicates():
    """Go back to the defaults."""
    if not forms.ActionForm().validate():
        abort(400)
    reset_duplicate_rules(current_user)
    return _done(_("Duplicate rules reset to the defaults."), ".duplicates")


# --- callers' personal data: the log of unmasked views, retention ----------------------------


def _city_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["GRIDOPS_TIMEZONE"])


def _log_request() -> tuple[dict, audit.ViewFilter | None, int, dict[str, str]]:
    """(the filters as typed, the parsed filter or None, the page, every problem by field)."""
    values = {name: request.args.get(name, "") for name in audit.FILTER_FIELDS}
    problems: dict[str, str] = {}
    view_filter = None
    try:
        view_filter = audit.parse_view_filter(request.args, _city_zone())
    except ValidationFailed as exc:
        problems.update(exc.fields)
    page_text = (request.args.get("page") or "1").strip()
    page = int(page_text) if re.fullmatch(r"[0-9]{1,9}", page_text) else 0
    if page < 1:
        problems["page"] = _("must be a whole number, 1 or more")
    return values, view_filter, page, problems


def _log_page(values: dict, log, problems: dict[str, str], status: int = 200):
    return render_template(
        "admin/caller_views.html", values=values, log=log, problems=problems,
        context_labels=audit.CONTEXT_LABELS, shown_phone=audit.shown_phone,
        query={name: value for name, value in values.items() if value},
    ), status


@bp.get("/caller-views")
def caller_views():
    """The log of unmasked views of callers' data, newest first, filtered and paginated."""
    if not can_audit_caller_data(current_user):
        abort(403)
    values, view_filter, page, problems = _log_request()
    if problems:
        return _log_page(values, None, problems, 422)
    return _log_page(values, audit.log_page(view_filter, page), {})


@bp.get("/caller-views.csv")
def caller_views_csv():
    """The filtered log as CSV, streamed batch by batch (bad filters: the page with their errors)."""
    if not can_audit_caller_data(current_user):
        abort(403)
    values, view_filter, _page, problems = _log_request()
    problems.pop("page", None)
    if problems:
        return _log_page(values, None, problems, 422)
    zone = _city_zone()
    name = f"caller-views-{datetime.now(zone):%Y%m%d-%H%M}.csv"
    chunks = csv_stream(audit.CSV_COLUMNS, audit.csv_rows(view_filter, zone))
    return Response(stream_with_context(chunks), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
    })


def _retention_page(form=None, *, problems=(), status=200):
    if form is None:
        form = forms.RetentionForm(formdata=None)
        form.days.data = retention_days()
    zone = _city_zone()
    trigger = make_trigger(job_by_id(PURGE_JOB), zone, current_app.config.get("GRIDOPS_JOB_TIMES") or {})
    return render_template(
        "admin/retention.html", form=form, problems=problems, runs=purge_runs(),
        job=db.session.get(JobState, PURGE_JOB), next_run=trigger.get_next_fire_time(None, datetime.now(zone)),
        changes=history(["hotline_retention"]),
    ), status


@bp.get("/retention")
def retention():
    """How long callers' data is kept, and the purge runs that erased it."""
    if not can_audit_caller_data(current_user):
        abort(403)
    return _retention_page()


@bp.post("/retention")
def change_retention():
    """Change the retention period (kept in the history)."""
    form = forms.RetentionForm()
    problems: list[str] = []
    if form.validate():
        with _refusals(form, problems):
            set_retention_days(current_user, form.days.data)
            return _done(_("Callers' data is now kept %(days)d days after their last case is finished.",
                           days=form.days.data), ".retention")
    return _retention_page(form, problems=problems, status=422)
