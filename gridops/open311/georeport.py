"""Open311 GeoReport v2 in gridops' words: services from the catalogue, service requests from cases.

Everything here returns plain data (dicts and lists in the spec's field order); ``views``
turns it into JSON or XML. Nothing ever carries a caller's or a staff member's personal
data: no reporter, no actor, no contact, no free text a hotline operator typed (a hotline
case's description may quote the caller), no event notes.

- service_code: the small class's full code (``E0102``, ``C0101``); group: its big class.
- service_request_id: the case number.
- status: ``open`` while the case's state is open, ``closed`` in a final state (closed,
  cancelled, merged); status_notes: the detailed state in words.
- api_key: an API token of a user who may file public reports (``can_file_open311_reports``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import joinedload

from gridops.auth.models import User
from gridops.auth.permissions import can_file_open311_reports
from gridops.auth.tokens import user_for_token
from gridops.cases.forms import STATE_LABELS
from gridops.cases.models import Case, CaseEvent
from gridops.cases.services import file_case
from gridops.cases.states import FINAL_STATES, OPEN_STATES, State
from gridops.catalogue.models import BigClass, SmallClass
from gridops.catalogue.services import small_class_by_full_code
from gridops.errors import DomainError
from gridops.extensions import db
from gridops.i18n import current_locale
from gridops.territory.datum import convert

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
#: When this implementation's behaviour last changed (discovery's changeset).
CHANGESET = "2026-11-21T00:00:00+08:00"
#: Sources whose description was written by the reporter or staff about the place, never
#: quoting a caller: only these descriptions are published.
PUBLISHED_DESCRIPTIONS = frozenset({"public", "patrol", "video"})
#: GET requests: the default and the largest span of start_date … end_date (the spec's 90 days).
MAX_SPAN = timedelta(days=90)
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_IDS = 200
MAX_KEY = 58
TOKEN_SALT = "gridops.open311.token"


class Open311Error(Exception):
    """A refusal in the spec's error list: an HTTP status and one or more descriptions."""

    def __init__(self, status: int, *descriptions: str):
        super().__init__(descriptions[0] if descriptions else "")
        self.status = status
        self.descriptions = list(descriptions)

    @classmethod
    def from_domain(cls, exc: DomainError) -> "Open311Error":
        """A domain refusal as an Open311 one: 403 stays, 404 stays, everything else is a 400."""
        status = exc.status if exc.status in (403, 404) else 400
        descriptions = [f"{field}: {reason}" for field, reason in exc.fields.items()] or [exc.message]
        return cls(status, *descriptions)


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["GRIDOPS_TIMEZONE"])


def w3c(value: datetime | None) -> str | None:
    """An instant as ISO 8601 / W3C with the city's offset, e.g. 2026-06-01T10:00:00+08:00."""
    return value.astimezone(_zone()).isoformat(timespec="seconds") if value is not None else None


def _name(row) -> str:
    return (row.name_en or row.name) if current_locale() == "en" else row.name


# -- discovery and services -------------------------------------------------------------------


def jurisdiction(host: str) -> str:
    """The jurisdiction_id this city answers to: the configured one, else ``host`` (the request's, port dropped)."""
    return current_app.config.get("GRIDOPS_OPEN311_JURISDICTION") or (urlsplit("//" + host).hostname or "")


def check_jurisdiction(value: str | None, host: str) -> None:
    """Refuse a jurisdiction_id that is not this city's (404, as the spec has it); none given is fine."""
    if value is None or not value.strip():
        return
    ours = jurisdiction(host)
    if value.strip().lower() != ours:
        raise Open311Error(404, _("jurisdiction_id %(given)s not found: this endpoint serves %(ours)s",
                                  given=value.strip()[:100], ours=ours))


def discovery(base_url: str, host: str) -> dict:
    """The discovery document: where this endpoint is, which jurisdiction and what it speaks."""
    config = current_app.config
    return {
        "changeset": CHANGESET,
        "jurisdiction_id": jurisdiction(host),
        "contact": config.get("GRIDOPS_OPEN311_CONTACT", ""),
        "key_service": config.get("GRIDOPS_OPEN311_KEY_SERVICE", ""),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base_url,
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


def _active_classes():
    return (
        select(SmallClass)
        .join(SmallClass.big_class)
        .where(SmallClass.active.is_(True), BigClass.active.is_(True))
        .options(joinedload(SmallClass.big_class), joinedload(SmallClass.standards))
        .order_by(SmallClass.case_type.desc(), SmallClass.code)
    )


def _standards(small_class: SmallClass) -> list:
    return [standard for standard in small_class.standards if standard.active]


def service_list() -> list[dict]:
    """Every active small class as a service, grouped by its big class."""
    services = []
    for small_class in db.session.scalars(_active_classes()).unique():
        big = small_class.big_class
        services.append(
            {
                "service_code": small_class.full_code,
                "service_name": _name(small_class),
                "description": _service_description(small_class),
                "metadata": len(_standards(small_class)) > 1,
                "type": "realtime",
                "keywords": ", ".join(k for k in (small_class.nine_word, small_class.name, small_class.name_en) if k),
                "group": _name(big),
            }
        )
    return services


def _service_description(small_class: SmallClass) -> str:
    kind = _("Component (public facility)") if small_class.case_type == "component" else _("Event")
    return f"{kind}: {_name(small_class)}"


def find_service(code: str) -> SmallClass:
    """The active small class of a service code, or a 404 in the spec's words."""
    small_class = small_class_by_full_code(code.strip()) if isinstance(code, str) and code.strip() else None
    if small_class is None or not small_class.active or not small_class.big_class.active:
        raise Open311Error(404, _("service_code %(code)s not found", code=code))
    return small_class


def service_definition(small_class: SmallClass) -> dict:
    """The inputs a request of this service takes beyond the standard ones.

    A small class with several filing standards asks which one applies (each has its own
    time limit), as a single-value list keyed by the standard's id.
    """
    attributes = []
    standards = _standards(small_class)
    if len(standards) > 1:
        attributes.append(
            {
                "variable": True,
                "code": "standard",
                "datatype": "singlevaluelist",
                "required": True,
                "datatype_description": None,
                "order": 1,
                "description": _("Which filing standard applies?"),
                "values": [{"key": str(s.id), "name": _name(s)} for s in standards],
            }
        )
    return {"service_code": small_class.full_code, "attributes": attributes}


# -- filing ---------------------------------------------------------------------------------------


def reporter_for(api_key: str | None) -> User:
    """The user behind ``api_key`` if they may file public reports, else the spec's 403."""
    if not api_key:
        raise Open311Error(403, _("api_key is required to submit a request"))
    user, touched = user_for_token(api_key.strip())
    if user is None or not can_file_open311_reports(user):
        raise Open311Error(403, _("Invalid api_key"))
    return user


def _number(raw, field: str) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise Open311Error(400, _("%(field)s must be a number", field=field)) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise Open311Error(400, _("%(field)s must be a number", field=field))
    return value


def _position(fields) -> tuple[float, float, str, str]:
    """(x, y, datum, address) from lat/long, or from address_string through the gazetteer."""
    from gridops.hotline.gazetteer import search_places

    address = (fields.get("address_string") or "").strip()
    lat, long = fields.get("lat"), fields.get("long")
    if lat not in (None, "") or long not in (None, ""):
        if lat in (None, "") or long in (None, ""):
            raise Open311Error(400, _("lat and long must be given together"))
        y, x = _number(lat, "lat"), _number(long, "long")
        if not (-90 <= y <= 90 and -180 <= x <= 180):
            raise Open311Error(400, _("lat and long must be a WGS-84 position in degrees"))
        return x, y, "wgs84", address
    if not address:
        raise Open311Error(400, _("a location is required: lat and long, or address_string"))
    hits = [hit for hit in search_places(address, limit=5) if hit.type == "place"]
    if not hits:
        raise Open311Error(400, _("address_string %(address)s is not a known place: send lat and long",
                                  address=address))
    return hits[0].x, hits[0].y, hits[0].datum, address


def _standard_id(small_class: SmallClass, fields) -> int | None:
    raw = fields.get("attribute[standard]")
    standards = _standards(small_class)
    if raw in (None, ""):
        if len(standards) > 1:
            raise Open311Error(400, _("attribute[standard] is required for this service"))
        return None
    for standard in standards:
        if str(standard.id) == str(raw).strip():
            return standard.id
    raise Open311Error(400, _("attribute[standard] is not one of this service's values"))


@dataclass(frozen=True)
class Filed:
    """A request filed (or found again by its idempotency key)."""

    case: Case
    created: bool


def idempotency_key(key: str | None) -> str | None:
    """The case's idempotency key for a client's key (namespaced, so it never meets the cases API's)."""
    if key is None or not key.strip():
        return None
    key = key.strip()
    if len(key) > MAX_KEY:
        raise Open311Error(400, _("the idempotency key may have at most %(count)d characters", count=MAX_KEY))
    return "o311:" + key


def submit_request(reporter: User, fields, media=(), *, now: datetime | None = None) -> Filed:
    """POST requests: a public report filed as a case, located in its grid (verified on site first)."""
    code = fields.get("service_code")
    if not code:
        raise Open311Error(400, _("service_code is required"))
    small_class = find_service(code)
    x, y, datum, address = _position(fields)
    key = idempotency_key(fields.get("idempotency_key"))
    if key is not None:
        existing = db.session.scalar(select(Case).where(Case.idempotency_key == key))
        if existing is not None and existing.reporter_id == reporter.id:
            return Filed(existing, False)
    try:
        case = file_case(
            reporter,
            source="public",
            case_type=small_class.case_type,
            small_class_code=small_class.code,
            x=x,
            y=y,
            datum=datum,
            standard_id=_standard_id(small_class, fields),
            address=address[:255],
            description=(fields.get("description") or "").strip(),
            idempotency_key=key,
            photos=tuple(media),
            now=now,
        )
    except DomainError as exc:
        raise Open311Error.from_domain(exc) from exc
    return Filed(case, True)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=TOKEN_SALT)


def token_for(case: Case) -> str:
    """A token that leads to the request (tokens/{token}), signed so it cannot be guessed."""
    return _serializer().dumps(case.id)


def request_for_token(token: str) -> Case:
    """The case a token was issued for, or the spec's 404."""
    try:
        case_id = _serializer().loads(token)
    except BadSignature:
        case_id = None
    case = db.session.get(Case, case_id) if isinstance(case_id, int) else None
    if case is None:
        raise Open311Error(404, _("token %(token)s not found", token=token[:80]))
    return case


def submitted(filed: Filed) -> dict:
    """The POST answer: the request's id, a notice of how it goes on, and the token."""
    case = filed.case
    return {
        "service_request_id": case.number,
        "service_notice": _service_notice(case),
        "account_id": None,
        "token": token_for(case),
    }


# -- reading requests -----------------------------------------------------------------------------


def _parse_instant(raw: str, field: str, *, end: bool = False) -> datetime:
    """A W3C date-time (a zone-less one is the city's time) or a bare date (its start, or the next day's)."""
    text = raw.strip()
    try:
        if len(text) == 10:
            value = datetime.combine(date.fromisoformat(text), time.min, tzinfo=_zone())
        else:
            value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Open311Error(400, _("%(field)s must be a W3C date and time, e.g. 2026-06-01T00:00:00Z",
                                  field=field)) from None
    if not 1900 <= value.year <= 9000:
        raise Open311Error(400, _("start_date and end_date must lie between the years 1900 and 9000"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=_zone())
    return value + timedelta(days=1) if end and len(text) == 10 else value


def _positive(raw, field: str, default: int, maximum: int) -> int:
    if raw in (None, ""):
        return default
    if not raw.strip().isdigit() or not 1 <= int(raw) <= maximum:
        raise Open311Error(400, _("%(field)s must be a whole number from 1 to %(maximum)d",
                                  field=field, maximum=maximum))
    return int(raw)


def _split(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


@dataclass(frozen=True)
class RequestQuery:
    """The filters of GET requests, checked."""

    ids: tuple[str, ...] = ()
    class_ids: tuple[int, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[str, ...] = ()
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE


def parse_query(args, now: datetime) -> RequestQuery:
    """Check the query string of GET requests; service_request_id overrides every other filter."""
    for name in ("service_request_id", "service_code", "start_date", "end_date", "status", "page", "page_size"):
        if len(args.getlist(name)) > 1:
            raise Open311Error(400, _("%(field)s may be given only once (comma-separate several values)",
                                      field=name))
    page = _positive(args.get("page"), "page", 1, 100_000)
    page_size = _positive(args.get("page_size"), "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    ids = _split(args.get("service_request_id"))
    if ids:
        if len(ids) > MAX_IDS:
            raise Open311Error(400, _("at most %(count)d service_request_id values", count=MAX_IDS))
        return RequestQuery(ids=tuple(ids), page=page, page_size=page_size)
    class_ids = tuple(find_service(code).id for code in _split(args.get("service_code")))
    statuses = tuple(_split(args.get("status")))
    if any(status not in ("open", "closed") for status in statuses):
        raise Open311Error(400, _("status must be open or closed"))
    start = _parse_instant(args["start_date"], "start_date") if args.get("start_date") else None
    end = _parse_instant(args["end_date"], "end_date", end=True) if args.get("end_date") else None
    if start is None and end is None:
        end = now
    if start is None:
        start = end - MAX_SPAN
    elif end is None:
        end = start + MAX_SPAN
    if end < start:
        raise Open311Error(400, _("end_date must not be before start_date"))
    if end - start > MAX_SPAN:
        raise Open311Error(400, _("start_date and end_date may span at most 90 days"))
    return RequestQuery((), class_ids, start, end, statuses, page, page_size)


def _status_clause(statuses) -> ColumnElement[bool] | None:
    wanted = set(statuses)
    if not wanted or wanted == {"open", "closed"}:
        return None
    states = OPEN_STATES if "open" in wanted else FINAL_STATES
    return Case.state.in_([state.value for state in states])


def find_requests(query: RequestQuery) -> list[Case]:
    """One page of the cases the query names, newest report first."""
    stmt = select(Case).options(
        joinedload(Case.small_class), joinedload(Case.holder_department), joinedload(Case.standard)
    )
    if query.ids:
        stmt = stmt.where(Case.number.in_(query.ids))
    else:
        stmt = stmt.where(Case.reported_at >= query.start, Case.reported_at < query.end)
        if query.class_ids:
            stmt = stmt.where(Case.small_class_id.in_(query.class_ids))
        if (clause := _status_clause(query.statuses)) is not None:
            stmt = stmt.where(clause)
    stmt = stmt.order_by(Case.reported_at.desc(), Case.id.desc())
    return list(db.session.scalars(stmt.limit(query.page_size).offset((query.page - 1) * query.page_size)))


def find_request(number: str) -> Case:
    """The case of a service_request_id, or the spec's 404."""
    case = db.session.scalar(
        select(Case).where(Case.number == number.strip()).options(
            joinedload(Case.small_class), joinedload(Case.holder_department), joinedload(Case.standard)
        )
    )
    if case is None:
        raise Open311Error(404, _("service_request_id %(id)s not found", id=number[:40]))
    return case


def _status_notes(case: Case) -> str:
    words = str(STATE_LABELS[State(case.state)])
    if case.state == State.MERGED.value and case.merged_into_id is not None:
        master = db.session.scalar(select(Case.number).where(Case.id == case.merged_into_id))
        return _("%(state)s: merged into request %(number)s", state=words, number=master)
    return words


def _service_notice(case: Case) -> str:
    standard = case.standard
    if standard is None:
        return ""
    from gridops.cases.views import CLOCK_LABELS

    clock = str(CLOCK_LABELS.get(standard.limit_clock, standard.limit_clock))
    return _("Handled within %(value)d %(clock)s of dispatch", value=standard.limit_value, clock=clock)


def _timelines(cases: list[Case]) -> dict[int, list[CaseEvent]]:
    """The public part of each case's timeline: the steps that changed its state, and its filing."""
    rows = db.session.scalars(
        select(CaseEvent)
        .where(
            CaseEvent.case_id.in_([case.id for case in cases]),
            or_(CaseEvent.action == "file", CaseEvent.from_state != CaseEvent.to_state),
        )
        .order_by(CaseEvent.id)
    )
    timelines: dict[int, list[CaseEvent]] = {case.id: [] for case in cases}
    for event in rows:
        timelines[event.case_id].append(event)
    return timelines


def _updated(cases: list[Case]) -> dict[int, datetime]:
    if not cases:
        return {}
    return dict(
        db.session.execute(
            select(CaseEvent.case_id, func.max(CaseEvent.at))
            .where(CaseEvent.case_id.in_([case.id for case in cases]))
            .group_by(CaseEvent.case_id)
        ).all()
    )


def service_requests(cases: list[Case], *, extensions: bool = False) -> list[dict]:
    """Cases as GeoReport service requests (no personal data), with the public timeline on request."""
    from gridops.cases.views import action_label

    updated = _updated(cases)
    timelines = _timelines(cases) if extensions and cases else {}
    answer = []
    for case in cases:
        lat = long = None
        if case.x is not None and case.y is not None:
            long, lat = convert(case.x, case.y, case.datum, "wgs84")
        item = {
            "service_request_id": case.number,
            "status": "open" if State(case.state).is_open else "closed",
            "status_notes": _status_notes(case),
            "service_name": _name(case.small_class),
            "service_code": case.small_class.full_code,
            "description": case.description if case.source in PUBLISHED_DESCRIPTIONS else "",
            "agency_responsible": case.holder_department.display_name(current_locale())
            if case.holder_department else "",
            "service_notice": _service_notice(case),
            "requested_datetime": w3c(case.reported_at),
            "updated_datetime": w3c(updated.get(case.id, case.reported_at)),
            "expected_datetime": w3c(case.handle_due_at) if State(case.state).is_open else None,
            "address": case.address,
            "address_id": None,
            "zipcode": None,
            "lat": round(lat, 7) if lat is not None else None,
            "long": round(long, 7) if long is not None else None,
            "media_url": None,
        }
        if extensions:
            item["extended_attributes"] = {
                "state": case.state,
                "state_name": str(STATE_LABELS[State(case.state)]),
                "timeline": [
                    {
                        "at": w3c(event.at),
                        "action": event.action,
                        "action_name": action_label(event.action),
                        "from_state": event.from_state,
                        "to_state": event.to_state,
                    }
                    for event in timelines.get(case.id, [])
                ],
            }
        answer.append(item)
    return answer


def token_answer(case: Case, token: str) -> dict:
    """tokens/{token}: the request a token stands for."""
    return {"service_request_id": case.number, "token": token}

