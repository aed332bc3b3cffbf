"""The hotline's services: log a complaint, repeat it on a case, reply to the caller, make the follow-up call.

Like the case services they check the actor and the input, mutate, append the case event,
flush and never commit. Case events carry no caller data (other roles read the timeline):
only the contact's id, the channel and the counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from gridops.auth.models import User
from gridops.auth.permissions import can_take_hotline_calls
from gridops.cases.models import Case, CaseEvent
from gridops.cases.services import file_case, take_action
from gridops.cases.states import State
from gridops.catalogue.routing import BUREAU_KIND, suggest_unit_with_reason
from gridops.db import utcnow
from gridops.errors import InvalidTransition, NotAllowed, StaleCase, ValidationFailed
from gridops.extensions import db
from gridops.hotline.gazetteer import area_point
from gridops.hotline.models import (
    CHANNELS,
    REPLY_LIMIT_KINDS,
    SATISFACTIONS,
    GazetteerPlace,
    HotlineContact,
    HotlineOrder,
)
from gridops.hotline.privacy import normalize_phone
from gridops.hotline.settings import hotline_settings
from gridops.org.models import Department
from gridops.territory.models import Area, AreaLevel
from gridops.worktime.store import get_city_clock

MAX_NAME = 64
MAX_CONTENT = 4000
MAX_NOTE = 2000
#: Routing outcomes that mean nobody clearly owns the matter (the district then answers for it).
UNCLEAR_OWNER = {"territorial_fallback", "any_unit", "none"}
#: States from which a case can no longer take a repeat complaint (a new case is filed instead).
NO_REPEAT_STATES = {State.CLOSED.value, State.CANCELLED.value, State.MERGED.value}
#: States in which the matter is finished for the caller: the follow-up call can be made.
FINISHED_STATES = {State.CLOSED.value, State.CANCELLED.value}


@dataclass(frozen=True)
class Caller:
    """Who complained and how: checked once, used for a new case or a repeat contact."""

    name: str
    phone: str
    channel: str
    content: str
    consent_callback: bool


@dataclass(frozen=True)
class Complaint:
    """The result of logging a complaint: its case, the contact and the hotline order."""

    case: Case
    contact: HotlineContact
    order: HotlineOrder
    #: False when the idempotency key had filed it before (nothing new was written).
    created: bool = True


def _now(now: datetime | None) -> datetime:
    if now is None:
        return utcnow()
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise ValidationFailed.field("now", _("must be a date and time with its time zone"))
    return now


def _check_operator(actor: User) -> None:
    if not can_take_hotline_calls(actor):
        raise NotAllowed(_("Only hotline operators may do this."))


def check_caller(*, caller_name="", phone, channel, content, consent_callback=True) -> Caller:
    """The caller's details validated (phone normalised to E.164), or ValidationFailed per field."""
    problems: dict[str, str] = {}
    if not isinstance(caller_name, str) or len(caller_name.strip()) > MAX_NAME:
        problems["caller_name"] = _("at most %(count)d characters", count=MAX_NAME)
    try:
        phone = normalize_phone(phone)
    except ValidationFailed as exc:
        problems.update(exc.fields)
    if channel not in CHANNELS:
        problems["channel"] = _("must be one of %(values)s", values=", ".join(CHANNELS))
    if not isinstance(content, str) or not content.strip():
        problems["content"] = _("is required")
    elif len(content) > MAX_CONTENT:
        problems["content"] = _("at most %(count)d characters", count=MAX_CONTENT)
    if not isinstance(consent_callback, bool):
        problems["consent_callback"] = _("must be true or false")
    if problems:
        raise ValidationFailed(_("The complaint cannot be logged: check the marked fields."), problems)
    return Caller(caller_name.strip(), phone, channel, content.strip(), consent_callback)


def reply_due(kind: str, start: datetime) -> datetime:
    """When the caller must have been answered for a complaint of reply limit ``kind`` made at ``start``."""
    limit = hotline_settings().reply_limit(kind)
    return get_city_clock().due_at(start, limit.value, limit.clock)


def followup_due(order: HotlineOrder, case: Case) -> datetime | None:
    """When the follow-up call is due: the follow-up limit from the later of reply and finish (None: not yet)."""
    if order.replied_at is None or case.state not in FINISHED_STATES:
        return None
    # A cancelled case has no closing time: the reply itself finishes the matter for the caller.
    start = max(order.replied_at, case.closed_at or order.replied_at)
    limit = hotline_settings().followup_limit
    return get_city_clock().due_at(start, limit.value, limit.clock)


def _position(*, x=None, y=None, datum="wgs84", place_id=None, area_code=None):
    """(x, y, datum, located_by, place) from exactly one of a point, a gazetteer place or an area."""
    given = [name for name, value in (("position", x if x is not None else y), ("place_id", place_id),
                                      ("area_code", area_code)) if value not in (None, "")]
    if len(given) != 1:
        raise ValidationFailed.field(
            "location", _("give exactly one of a map position, a gazetteer place or an area")
        )
    if place_id not in (None, ""):
        place = db.session.get(GazetteerPlace, place_id) if isinstance(place_id, int) else None
        if place is None or not place.active:
            raise ValidationFailed.field("place_id", _("is not a place of the gazetteer"))
        return place.x, place.y, place.datum, "place", place
    if area_code not in (None, ""):
        area = db.session.scalar(select(Area).where(Area.code == area_code, Area.active.is_(True)))
        point = area_point(area) if area is not None else None
        if point is None:
            raise ValidationFailed.field("area_code", _("is not an area of the territory"))
        return *point, "area", None
    return x, y, datum, "point", None


def district_unit(area: Area) -> Department | None:
    """The district's city administration bureau for ``area`` (属地兜底), else the nearest bureau above it."""
    ancestors = area.ancestor_ids
    rows = db.session.execute(
        select(Department, Area.level_rank)
        .join(Area, Area.id == Department.area_id)
        .where(Department.active.is_(True), Department.kind == BUREAU_KIND, Department.area_id.in_(ancestors))
    ).all()
    district_rank = db.session.scalar(select(AreaLevel.rank).where(AreaLevel.key == "district"))
    at_or_above = [(dept, rank) for dept, rank in rows if district_rank is None or rank <= district_rank]
    best = max(at_or_above or rows, key=lambda pair: (pair[1], -pair[0].id), default=None)
    return best[0] if best else None


def _event(case: Case, actor: User, action: str, now: datetime, payload: dict, note: str = "") -> CaseEvent:
    event = CaseEvent(
        case_id=case.id, at=now, actor=actor, actor_role=actor.role, action=action,
        from_state=case.state, to_state=case.state, note=note, payload=payload,
    )
    db.session.add(event)
    return event


def log_complaint(
    operator: User,
    *,
    caller_name: str = "",
    phone: str,
    channel: str = "phone",
    content: str,
    consent_callback: bool = True,
    case_type: str,
    small_class_code: str,
    reply_limit_kind: str = "general",
    x: float | None = None,
    y: float | None = None,
    datum: str = "wgs84",
    place_id: int | None = None,
    area_code: str | None = None,
    address: str = "",
    urgency: str = "normal",
    no_clear_owner: bool = False,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Complaint:
    """受理: a new complaint becomes a hotline case (verified on site first) with its order and first contact.

    The position comes from a map click (``x``/``y``), a gazetteer place or only an area (its
    centre stands in and the order is flagged unlocated). Without a clear owner — the
    operator says so, or routing finds no rule and no unit of the class's kind — the
    district's bureau is suggested and the order is marked 属地兜底.
    """
    now = _now(now)
    _check_operator(operator)
    caller = check_caller(caller_name=caller_name, phone=phone, channel=channel, content=content,
                          consent_callback=consent_callback)
    if reply_limit_kind not in REPLY_LIMIT_KINDS:
        raise ValidationFailed.field(
            "reply_limit_kind", _("must be one of %(values)s", values=", ".join(REPLY_LIMIT_KINDS))
        )
    if not isinstance(no_clear_owner, bool):
        raise ValidationFailed.field("no_clear_owner", _("must be true or false"))
    px, py, pdatum, located_by, place = _position(x=x, y=y, datum=datum, place_id=place_id, area_code=area_code)
    if not address and place is not None:
        address = place.name
    case = file_case(
        operator, source="hotline", case_type=case_type, small_class_code=small_class_code,
        x=px, y=py, datum=pdatum, address=address, description=caller.content, urgency=urgency,
        idempotency_key=idempotency_key, now=now,
    )
    existing = db.session.scalar(select(HotlineOrder).where(HotlineOrder.case_id == case.id))
    if existing is not None:  # the same filing sent twice (idempotency key): nothing new
        contact = db.session.scalar(
            select(HotlineContact).where(HotlineContact.case_id == case.id).order_by(HotlineContact.id).limit(1)
        )
        return Complaint(case, contact, existing, created=False)
    reason = suggest_unit_with_reason(case.small_class, case.area)[1]
    fallback = no_clear_owner or reason.source in UNCLEAR_OWNER
    if fallback:
        unit = district_unit(case.area)
        if unit is not None:
            case.suggested_department = unit
    order = HotlineOrder(
        case_id=case.id, reply_limit_kind=reply_limit_kind, created_at=now, reply_due_at=reply_due(reply_limit_kind, now),
        territorial_fallback=fallback, located_by=located_by, place_id=place.id if place else None,
    )
    contact = _contact(case, operator, caller, now, repeat=False)
    db.session.add(order)
    db.session.flush()
    _event(case, operator, "hotline_intake", now, {
        "contact_id": contact.id, "channel": caller.channel, "reply_limit_kind": reply_limit_kind,
        "reply_due_at": order.reply_due_at.isoformat(), "territorial_fallback": fallback,
        "located_by": located_by,
    })
    db.session.flush()
    return Complaint(case, contact, order)


def _contact(case: Case, operator: User, caller: Caller, now: datetime, *, repeat: bool) -> HotlineContact:
    contact = HotlineContact(
        case_id=case.id, caller_name=caller.name, phone=caller.phone, channel=caller.channel,
        content=caller.content, contacted_at=now, operator_id=operator.id,
        consent_callback=caller.consent_callback, repeat=repeat,
    )
    db.session.add(contact)
    db.session.flush()
    return contact


def add_repeat_contact(
    case: Case,
    operator: User,
    *,
    caller_name: str = "",
    phone: str,
    channel: str = "phone",
    content: str,
    consent_callback: bool = True,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> HotlineContact:
    """重复诉求: a complaint about a problem already on file becomes a contact of its case.

    The case's repeat count goes up, and once it reaches the city's threshold the case
    becomes urgent.
    """
    now = _now(now)
    _check_operator(operator)
    caller = check_caller(caller_name=caller_name, phone=phone, channel=channel, content=content,
                          consent_callback=consent_callback)
    if expected_version is not None and expected_version != case.version:
        raise StaleCase(_("The case has changed since you loaded it. Reload it and try again."))
    if case.state in NO_REPEAT_STATES:
        raise InvalidTransition(_("This case is finished: log the complaint as a new case."))
    contact = _contact(case, operator, caller, now, repeat=True)
    case.repeat_count += 1
    raised = False
    if case.repeat_count >= hotline_settings().urgent_after_repeats and case.urgency != "urgent":
        case.urgency = "urgent"
        raised = True
    _event(case, operator, "repeat_complaint", now, {
        "contact_id": contact.id, "channel": caller.channel, "repeat_count": case.repeat_count,
        "urgency_raised": raised,
    })
    db.session.flush()
    return contact


def order_of(case: Case) -> HotlineOrder | None:
    """The hotline order of ``case`` (None for a case that did not come from the hotline desk)."""
    return db.session.scalar(select(HotlineOrder).where(HotlineOrder.case_id == case.id))


def _clean_note(note, field: str, required: bool) -> str:
    if note is None:
        note = ""
    if not isinstance(note, str):
        raise ValidationFailed.field(field, _("must be text"))
    note = note.strip()
    if required and not note:
        raise ValidationFailed.field(field, _("is required"))
    if len(note) > MAX_NOTE:
        raise ValidationFailed.field(field, _("at most %(count)d characters", count=MAX_NOTE))
    return note


def reply_to_caller(order: HotlineOrder, operator: User, *, note: str, now: datetime | None = None) -> HotlineOrder:
    """答复: tell the caller what was done (or is being done); on time if before ``reply_due_at``."""
    now = _now(now)
    _check_operator(operator)
    note = _clean_note(note, "note", required=True)
    if order.replied_at is not None:
        raise InvalidTransition(_("The caller has been answered already."))
    case = order.case
    order.replied_at = now
    order.replied_by_id = operator.id
    order.reply_note = note
    order.followup_due_at = followup_due(order, case)
    _event(case, operator, "hotline_reply", now, {
        "on_time": now <= order.reply_due_at, "reply_due_at": order.reply_due_at.isoformat(),
    }, note)
    db.session.flush()
    return order


def record_follow_up(
    order: HotlineOrder, operator: User, *, satisfaction: str, note: str = "", now: datetime | None = None
) -> HotlineOrder:
    """回访: ask the caller whether they are satisfied; a dissatisfied answer reopens a closed case (重办).

    Reopening gives the case a new handling due time (the reopen action) and the order a
    new reply due time; the dissatisfied answer stays as the order's satisfaction until the
    next follow-up.
    """
    now = _now(now)
    _check_operator(operator)
    if satisfaction not in SATISFACTIONS:
        raise ValidationFailed.field("satisfaction", _("must be one of %(values)s", values=", ".join(SATISFACTIONS)))
    note = _clean_note(note, "note", required=satisfaction == "dissatisfied")
    case = order.case
    if order.replied_at is None:
        raise InvalidTransition(_("Answer the caller before the follow-up call."))
    if case.state not in FINISHED_STATES:
        raise InvalidTransition(_("The follow-up call is made once the case is finished."))
    if order.followed_up_at is not None:
        raise InvalidTransition(_("The follow-up call has been made already."))
    order.followup_due_at = order.followup_due_at or followup_due(order, case)
    on_time = now <= order.followup_due_at
    order.followed_up_at = now
    order.followed_up_by_id = operator.id
    order.followup_note = note
    order.satisfaction = satisfaction
    _event(case, operator, "hotline_follow_up", now, {"satisfaction": satisfaction, "on_time": on_time}, note)
    db.session.flush()
    if satisfaction == "dissatisfied" and case.state == State.CLOSED.value and case.holder_department_id:
        take_action(case, "reopen", operator, reason=note, now=now)
        order.reopen_count += 1
        order.reply_due_at = reply_due(order.reply_limit_kind, now)
        order.replied_at = order.replied_by_id = None
        order.followup_due_at = order.followed_up_at = order.followed_up_by_id = None
        db.session.flush()
    return order
