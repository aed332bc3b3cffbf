"""Pages of the hotline package: the desk (intake, duplicates, the caller's history, queues), an order, the gazetteer."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import func, select

from gridops.auth import permissions
from gridops.cases.forms import URGENCY_LABELS
from gridops.cases.models import URGENCIES
from gridops.cases.states import State
from gridops.cases.views import (
    CLOCK_LABELS,
    _map_config,
    case_helpers,
    class_groups,
    explain,
    load_case,
    state_label,
)
from gridops.errors import DomainError, ValidationFailed
from gridops.extensions import db
from gridops.hotline import queries, services
from gridops.admin.history import history
from gridops.admin.views import ACTION_LABELS, ENTITY_LABELS
from gridops.hotline.gazetteer import (
    HISTORY_ENTITY,
    add_place,
    PlaceHit,
    import_gazetteer,
    list_places,
    restore_place,
    retire_place,
    search_places,
    update_place,
)
from gridops.hotline.models import CHANNELS, PLACE_KINDS, REPLY_LIMIT_KINDS, SATISFACTIONS, GazetteerPlace
from gridops.hotline.privacy import caller_fields, record_caller_view, shows_caller_data
from gridops.hotline.settings import LIMIT_NAMES, hotline_settings, set_hotline_settings

bp = Blueprint("hotline", __name__, url_prefix="/hotline")
bp.context_processor(case_helpers)

CHANNEL_LABELS = {
    "phone": _l("Phone call"), "web": _l("Website"), "wechat": _l("WeChat"), "sms": _l("Text message"),
    "app": _l("Mobile app"), "email": _l("Email"), "letter": _l("Letter"), "visit": _l("Visit in person"),
}
REPLY_KIND_LABELS = {
    "emergency": _l("Emergency"), "utility": _l("Water, power, gas or heating"),
    "general": _l("General"), "complex": _l("Complex"),
}
SATISFACTION_LABELS = {
    "satisfied": _l("Satisfied"), "basically_satisfied": _l("Basically satisfied"), "dissatisfied": _l("Dissatisfied"),
}
PLACE_KIND_LABELS = {
    "road": _l("Road"), "landmark": _l("Landmark"), "building": _l("Building"), "bridge": _l("Bridge"),
    "park": _l("Park"), "other": _l("Other place"),
}
#: The place form's fields, in the order they are shown.
PLACE_FIELDS = ("name", "name_en", "aliases", "kind", "x", "y", "datum")
LOCATED_LABELS = {"point": _l("Map position"), "place": _l("Gazetteer place"), "area": _l("Area only (unlocated)")}
#: Service field names → the desk form's field names, so that errors land beside their field.
FORM_FIELDS = {"small_class_code": "small_class", "case_type": "small_class", "location": "place_q", "place_id": "place_q"}


def _now() -> datetime:
    return datetime.now(timezone.utc)


@bp.app_context_processor
def hotline_order_lookup() -> dict:
    """``hotline_order_of(case)`` for the case page's hotline panel (its flags, a link to the order)."""
    return {"hotline_order_of": services.order_of}


@bp.context_processor
def hotline_helpers() -> dict:
    return {
        "channel_labels": CHANNEL_LABELS,
        "reply_kind_labels": REPLY_KIND_LABELS,
        "satisfaction_labels": SATISFACTION_LABELS,
        "located_labels": LOCATED_LABELS,
        "urgency_labels": URGENCY_LABELS,
        "place_kind_labels": PLACE_KIND_LABELS,
    }


def _reply_limit_texts() -> dict[str, str]:
    """Each reply limit kind with its configured limit, for the select."""
    settings = hotline_settings()
    texts = {}
    for kind in REPLY_LIMIT_KINDS:
        limit = settings.reply_limit(kind)
        texts[kind] = f"{REPLY_KIND_LABELS[kind]} · {limit.value} {CLOCK_LABELS[limit.clock.value]}"
    return texts


def _float(form, field: str) -> float | None:
    value = (form.get(field) or "").strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise ValidationFailed.field(field, _("must be a finite number")) from None


class PlaceChoice(Exception):
    """The typed place name matches several places: the operator must pick one (``hits``)."""

    def __init__(self, hits: list[PlaceHit]):
        super().__init__("several places match")
        self.hits = hits


def _chosen_place(form) -> tuple[int | None, str | None]:
    """The gazetteer place id, or the area code, that the desk form chose.

    The page's script turns the typed name (``place_q``) into a pick as the operator types.
    Without the script — or when the form is sent before a pick — the server does it: a pick
    among offered choices (``place_pick``) wins; else, when no position, place or area is
    given, a typed name matching one place or area is that one, and several raise
    ``PlaceChoice`` so that the form is shown again with them to choose from.
    """
    area_code = (form.get("area_code") or "").strip() or None
    place_id = (form.get("place_id") or "").strip()
    pick = form.get("place_pick") or ""
    if pick:
        kind, _sep, value = pick.partition(":")
        if kind == "place" and value.isdigit():
            return int(value), None
        if kind == "area" and value.strip():
            return None, value.strip()
        raise ValidationFailed.field("place_q", _("pick one of the places offered"))
    query = (form.get("place_q") or "").strip()
    if place_id or area_code or (form.get("x") or "").strip() or (form.get("y") or "").strip() or not query:
        return (int(place_id) if place_id.isdigit() else None), area_code
    hits = search_places(query)
    if not hits:
        raise ValidationFailed.field("place_q", _("no place or area matches “%(text)s”", text=query))
    if len(hits) > 1:
        raise PlaceChoice(hits)
    hit = hits[0]
    return (hit.id, None) if hit.type == "place" else (None, hit.area_code)


def _desk(form: dict, errors: dict[str, str], problems: list[str], status: int = 200,
          place_choices: list[PlaceHit] = ()):
    now = _now()
    return render_template(
        "hotline/desk.html",
        form=form,
        errors=errors,
        problems=problems,
        place_choices=place_choices,
        class_groups=class_groups(),
        reply_limits=_reply_limit_texts(),
        channels=CHANNELS,
        urgencies=URGENCIES,
        reply_queue=queries.reply_queue(current_user, now),
        followup_queue=queries.followup_queue(current_user, now),
        map_config=_map_config(),
        state_labels={state.value: state_label(state.value) for state in State},
        now=now,
    ), status


@bp.get("/")
@login_required
def desk():
    """The hotline desk: the intake form beside duplicates and the caller's history, then the queues."""
    if not permissions.can_take_hotline_calls(current_user):
        abort(403)
    return _desk({"idempotency_key": uuid.uuid4().hex, "channel": "phone", "reply_limit_kind": "general",
                  "consent_callback": "1", "urgency": "normal"}, {}, [])


def _caller_form(form) -> dict:
    return dict(
        caller_name=(form.get("caller_name") or "").strip(),
        phone=form.get("phone") or "",
        channel=form.get("channel") or "phone",
        content=form.get("content") or "",
        consent_callback=form.get("consent_callback") == "1",
    )


@bp.post("/complaints")
@login_required
def log_complaint():
    """Log the desk's complaint as a new case; errors come back beside their fields."""
    if not permissions.can_take_hotline_calls(current_user):
        abort(403)
    form = request.form
    case_type, _sep, code = (form.get("small_class") or "").partition(":")
    try:
        place_id, area_code = _chosen_place(form)
        complaint = services.log_complaint(
            current_user,
            **_caller_form(form),
            case_type=case_type,
            small_class_code=code,
            reply_limit_kind=form.get("reply_limit_kind") or "general",
            x=_float(form, "x"),
            y=_float(form, "y"),
            datum=form.get("datum") or "wgs84",
            place_id=place_id,
            area_code=area_code,
            address=(form.get("address") or "").strip(),
            urgency=form.get("urgency") or "normal",
            no_clear_owner=form.get("no_clear_owner") == "1",
            idempotency_key=form.get("idempotency_key") or None,
        )
        db.session.commit()
    except PlaceChoice as choice:
        errors = {"place_q": _("Several places match: pick one below.")}
        return _desk(form.to_dict(), errors, [], 422, place_choices=choice.hits)
    except ValidationFailed as exc:
        db.session.rollback()
        errors = {FORM_FIELDS.get(name, name): reason for name, reason in exc.fields.items()}
        return _desk(form.to_dict(), errors, [] if errors else [exc.message], 422)
    except DomainError as exc:
        db.session.rollback()
        return _desk(form.to_dict(), {}, [explain(exc, {})], 422)
    flash(_("Complaint logged as case %(number)s.", number=complaint.case.number), "success")
    return redirect(url_for(".order_page", number=complaint.case.number), 303)


@bp.post("/cases/<number>/contacts")
@login_required
def add_contact(number: str):
    """Add the desk's caller to an existing case as a repeat complaint."""
    if not permissions.can_take_hotline_calls(current_user):
        abort(403)
    case = load_case(number)
    try:
        services.add_repeat_contact(case, current_user, **_caller_form(request.form))
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        errors = {FORM_FIELDS.get(name, name): reason for name, reason in exc.fields.items()}
        return _desk(request.form.to_dict(), errors, [] if errors else [exc.message], 422)
    except DomainError as exc:
        db.session.rollback()
        return _desk(request.form.to_dict(), {}, [explain(exc, {})], 422)
    flash(_("The call was added to case %(number)s as a repeat complaint.", number=number), "success")
    return redirect(url_for(".order_page", number=number), 303)


@bp.get("/cases/<number>")
@login_required
def order_page(number: str):
    """A case's hotline order: contacts (masked unless allowed; unmasked views are recorded), reply, follow-up."""
    case = load_case(number)
    order = services.order_of(case)
    contacts = queries.contacts_of(case)
    if order is None and not contacts:
        abort(404)
    shown = [(contact, caller_fields(contact, current_user)) for contact in contacts]
    if shows_caller_data(contacts) and permissions.can_see_caller(current_user):
        record_caller_view(current_user, context="order_page", case_ids=[case.id])
    db.session.commit()
    return render_template(
        "hotline/order.html",
        case=case,
        order=order,
        contacts=shown,
        followup_due=services.followup_due(order, case) if order else None,
        satisfactions=SATISFACTIONS,
        can_act=permissions.can_take_hotline_calls(current_user),
        now=_now(),
    )


def _order_step(number: str, step) -> object:
    if not permissions.can_take_hotline_calls(current_user):
        abort(403)
    case = load_case(number)
    order = services.order_of(case)
    if order is None:
        abort(404)
    try:
        step(order)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(explain(exc, {"note": _("Note"), "satisfaction": _("Satisfaction")}), "error")
    return redirect(url_for(".order_page", number=number), 303)


@bp.post("/cases/<number>/reply")
@login_required
def reply(number: str):
    """答复: record what the caller was told."""
    def step(order):
        services.reply_to_caller(order, current_user, note=request.form.get("note", ""))
        flash(_("The reply is recorded."), "success")

    return _order_step(number, step)


@bp.post("/cases/<number>/follow-up")
@login_required
def follow_up(number: str):
    """回访: record the caller's satisfaction (dissatisfied reopens the case)."""
    def step(order):
        services.record_follow_up(order, current_user, satisfaction=request.form.get("satisfaction", ""),
                                  note=request.form.get("note", ""))
        if order.satisfaction == "dissatisfied" and order.reopen_count:
            flash(_("The caller is dissatisfied: the case is reopened for handling."), "warning")
        else:
            flash(_("The follow-up call is recorded."), "success")

    return _order_step(number, step)


@bp.route("/gazetteer", methods=["GET", "POST"])
@login_required
def gazetteer():
    """Hotline administration: the gazetteer (counts, CSV/GeoJSON import) and the hotline's time limits."""
    if not permissions.can_manage_gazetteer(current_user):
        abort(403)
    problems: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        upload = request.files.get("file")
        name = (upload.filename or "") if upload else ""
        file_format = request.form.get("format") or ("csv" if name.lower().endswith(".csv") else "geojson")
        try:
            if not upload or not name:
                raise ValidationFailed.field("file", _("choose a file"))
            result = import_gazetteer(current_user, upload.read(), file_format=file_format,
                                      datum=request.form.get("datum") or None, source_name=name)
            db.session.commit()
        except ValidationFailed as exc:
            db.session.rollback()
            problems = exc.fields or {"file": exc.message}
            status = 422
        else:
            flash(_("Gazetteer imported: %(created)d places created, %(updated)d updated.",
                    created=result.created, updated=result.updated), "success")
            return redirect(url_for(".gazetteer"), 303)
    return _gazetteer_page(problems, status)


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and len(raw) < 7 else 1


def _gazetteer_page(problems: dict[str, str], status: int):
    counts = dict(db.session.execute(
        select(GazetteerPlace.kind, func.count()).where(GazetteerPlace.active.is_(True)).group_by(GazetteerPlace.kind)
    ).all())
    query = (request.args.get("q") or "").strip()[:128]
    places = list_places(query, page=_page_number(request.args.get("page")))
    return render_template("hotline/gazetteer.html", counts=counts, places=places, query=query, problems=problems,
                           settings=hotline_settings(), limit_names=LIMIT_NAMES, clock_labels=CLOCK_LABELS,
                           limit_labels={**REPLY_KIND_LABELS, "followup": _l("Follow-up call")}), status


def _load_place(place_id: int) -> GazetteerPlace:
    if not permissions.can_manage_gazetteer(current_user):
        abort(403)
    place = db.session.get(GazetteerPlace, place_id)
    if place is None:
        abort(404)
    return place


def _place_form(place: GazetteerPlace) -> dict:
    return {"name": place.name, "name_en": place.name_en or "", "aliases": place.aliases, "kind": place.kind,
            "x": str(place.x), "y": str(place.y), "datum": place.datum}


def _place_page(place: GazetteerPlace | None, form: dict, save, saved: str):
    """A place's form page: on a post, ``save(fields)`` and on to the place's page, or the fields marked (422)."""
    errors, status = {}, 200
    if request.method == "POST":
        form = {name: request.form.get(name, "") for name in PLACE_FIELDS}
        try:
            place = save(form)
            db.session.commit()
        except ValidationFailed as exc:
            db.session.rollback()
            errors, status = exc.fields or {"name": exc.message}, 422
        else:
            flash(saved % {"name": place.name}, "success")
            return redirect(url_for(".place_page", place_id=place.id), 303)
    return render_template(
        "hotline/gazetteer_place.html", place=place, form=form, errors=errors,
        kinds=[(kind, PLACE_KIND_LABELS[kind]) for kind in PLACE_KINDS],
        changes=history([HISTORY_ENTITY], place.id) if place is not None else [],
        entity_labels=ENTITY_LABELS, action_labels=ACTION_LABELS,
    ), status


@bp.route("/gazetteer/places/new", methods=["GET", "POST"])
@login_required
def new_place():
    """Add one place by hand (a road opened since the last import, say)."""
    if not permissions.can_manage_gazetteer(current_user):
        abort(403)
    return _place_page(
        None, {"datum": _map_config().get("datum") or "wgs84"}, lambda form: add_place(current_user, form),
        _("The place %(name)s is added: the desk finds it now."),
    )


@bp.route("/gazetteer/places/<int:place_id>", methods=["GET", "POST"])
@login_required
def place_page(place_id: int):
    """One place: change its names, kind and position (re-located in its grid), retire or restore it; its history."""
    place = _load_place(place_id)
    return _place_page(
        place, _place_form(place), lambda form: update_place(current_user, place, form),
        _("The place %(name)s is saved."),
    )


@bp.post("/gazetteer/places/<int:place_id>/retire")
@login_required
def retire(place_id: int):
    """Retire a place: the desk's search no longer finds it."""
    place = retire_place(current_user, _load_place(place_id))
    db.session.commit()
    flash(_("The place %(name)s is retired: the desk no longer finds it.", name=place.name), "success")
    return redirect(url_for(".place_page", place_id=place.id), 303)


@bp.post("/gazetteer/places/<int:place_id>/restore")
@login_required
def restore(place_id: int):
    """Bring a retired place back into the desk's search."""
    place = restore_place(current_user, _load_place(place_id))
    db.session.commit()
    flash(_("The place %(name)s is back: the desk finds it again.", name=place.name), "success")
    return redirect(url_for(".place_page", place_id=place.id), 303)


@bp.post("/settings")
@login_required
def change_settings():
    """Change the reply and follow-up limits and the repeat threshold (administrators; kept in history)."""
    if not permissions.is_admin(current_user):
        abort(403)
    form = request.form
    data: dict = {"limits": {}}
    try:
        for name in LIMIT_NAMES:
            value = (form.get(f"{name}-value") or "").strip()
            data["limits"][name] = {"value": int(value) if value.isdigit() else value,
                                    "clock": form.get(f"{name}-clock")}
        repeats = (form.get("urgent_after_repeats") or "").strip()
        data["urgent_after_repeats"] = int(repeats) if repeats.isdigit() else repeats
        set_hotline_settings(current_user, data)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(explain(exc, {}), "error")
    else:
        flash(_("The hotline's time limits are saved."), "success")
    return redirect(url_for(".gazetteer"), 303)
