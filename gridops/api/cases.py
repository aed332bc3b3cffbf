"""Cases API: file a case, list the caller's cases, read one with its timeline, take an action.

Every lookup goes through ``visible_cases(user)``: a case outside the caller's scope is a 404,
exactly like a case that does not exist. Writes take JSON, or multipart form data with
``photos`` files (tablets).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta

from zoneinfo import ZoneInfo

from flask import Response, current_app, jsonify, request, send_file, stream_with_context, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from gridops.api import bp
from gridops.auth.sessions import caller
from gridops.cases import exports, services
from gridops.cases.clocks import case_colour
from gridops.cases.merging import merge_links
from gridops.cases.models import SOURCES, URGENCIES, Case, CaseEvent, CasePhoto
from gridops.cases.photos import discard_photos, store_photos
from gridops.cases.queries import CaseFilter, apply_filters, visible_cases
from gridops.cases.serializers import case_detail, case_summary
from gridops.cases.states import ACTIONS, State
from gridops.dates import check_years
from gridops.db import MAX_ROW_ID, utcnow
from gridops.errors import NotFound, ValidationFailed
from gridops.extensions import db
from gridops.org.models import Department
from gridops.catalogue.services import small_class_by_full_code
from gridops.territory.models import GridLayer

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
CASE_TYPES = ("component", "event")
DATUMS = ("wgs84", "gcj02", "bd09")
MAX_TEXT = {"description": 4000, "address": 255, "idempotency_key": 64, "reason": 2000,
            "note": 2000, "instruction": 2000, "small_class": 4, "q": 100, "master": 20}
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}
_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')

#: Eager loads for everything a serialized case shows.
CASE_LOADS = (
    joinedload(Case.small_class),
    joinedload(Case.area),
    joinedload(Case.unit_grid),
    joinedload(Case.holder_department),
    joinedload(Case.assignee),
)


def api_prefix() -> str:
    """The path prefix of the API as the client reached it (photo links are built on it)."""
    return request.script_root + (bp.url_prefix or "")


# -- parsing -------------------------------------------------------------------------------------


def _text(source: Mapping, field: str, *, required: bool = False, default: str | None = "") -> str | None:
    raw = source.get(field)
    if raw is None or raw == "":
        if required:
            raise ValidationFailed.field(field, _("required"))
        return default
    if not isinstance(raw, str):
        raise ValidationFailed.field(field, _("must be text"))
    if "\x00" in raw:
        raise ValidationFailed.field(field, _("must not contain NUL characters"))
    limit = MAX_TEXT.get(field)
    if limit is not None and len(raw) > limit:
        raise ValidationFailed.field(field, _("at most %(count)d characters", count=limit))
    return raw


def _choice(source: Mapping, field: str, allowed, default: str | None = None) -> str | None:
    value = _text(source, field, required=default is None, default=default)
    if value not in allowed:
        raise ValidationFailed.field(field, _("must be one of %(values)s", values=", ".join(allowed)))
    return value


def _number(source: Mapping, field: str, *, required: bool = False) -> float | None:
    raw = source.get(field)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise ValidationFailed.field(field, _("required"))
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ValidationFailed.field(field, _("must be a finite number"))
    try:
        value = float(raw)
    except (ValueError, OverflowError):
        raise ValidationFailed.field(field, _("must be a finite number")) from None
    if not math.isfinite(value):
        raise ValidationFailed.field(field, _("must be a finite number"))
    return value


def _integer(source: Mapping, field: str, *, minimum: int = 0, maximum: int = 2**31 - 1) -> int | None:
    raw = source.get(field)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ValidationFailed.field(field, _("must be a whole number"))
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed.field(field, _("must be a whole number")) from None
    if not minimum <= value <= maximum:
        raise ValidationFailed.field(
            field, _("must be between %(minimum)d and %(maximum)d", minimum=minimum, maximum=maximum)
        )
    return value


def _flag(source: Mapping, field: str) -> bool | None:
    raw = source.get(field)
    if raw is None:
        return None
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise ValidationFailed.field(field, _("must be true or false"))


def _date(source: Mapping, field: str) -> date | None:
    if source.get(field) is None:
        return None
    raw = _text(source, field, required=True)
    try:
        return check_years(date.fromisoformat(raw.strip()), field)
    except ValueError:
        raise ValidationFailed.field(field, _("must be a date, YYYY-MM-DD")) from None


def _instant(source: Mapping, field: str) -> datetime | None:
    raw = _text(source, field, default=None)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationFailed.field(field, _("must be a date and time, e.g. 2026-11-21T18:00:00+08:00")) from None
    if value.tzinfo is None:
        raise ValidationFailed.field(field, _("must carry a time zone offset, e.g. +08:00"))
    return check_years(value, field)


def _list(args: Mapping, field: str, allowed) -> tuple[str, ...]:
    values = []
    for raw in args.getlist(field):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    unknown = [value for value in values if value not in allowed]
    if unknown:
        raise ValidationFailed.field(field, _("must be one of %(values)s", values=", ".join(allowed)))
    return tuple(dict.fromkeys(values))


def _body() -> tuple[Mapping, list]:
    """The request's fields and uploaded ``photos``: a JSON object or form data."""
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        # A form's empty field means "not given" (JSON says so by leaving the key out).
        fields = {key: value for key, value in request.form.items() if value != ""}
        return fields, [f for f in request.files.getlist("photos") if f.filename or f.content_length]
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationFailed(
            _("Send a JSON object, or multipart form data with photos."), {"body": _("must be a JSON object")}
        )
    return data, []


def _local_day(day: date | None, *, next_day: bool = False) -> datetime | None:
    if day is None:
        return None
    start = datetime.combine(day, time.min, tzinfo=ZoneInfo(current_app.config["GRIDOPS_TIMEZONE"]))
    return start + timedelta(days=1) if next_day else start


def _once(args, fields) -> None:
    """Refuse a single-valued query parameter given more than once (which one would count?)."""
    for field in fields:
        if len(args.getlist(field)) > 1:
            raise ValidationFailed.field(field, _("give it once"))


def parse_case_filter(args) -> CaseFilter:
    """Read the list/export query string; each problem names its parameter."""
    _once(args, ("area", "unit", "class", "source", "overdue", "supervised", "from", "to", "q", "assignee"))
    unit_id = None
    if unit_code := _text(args, "unit", default=None):
        unit_id = db.session.scalar(select(Department.id).where(Department.code == unit_code.strip()))
        if unit_id is None:
            raise ValidationFailed.field("unit", _("no unit has the code %(code)s", code=unit_code))
    small_class_id = None
    if class_code := _text(args, "class", default=None):
        small_class = small_class_by_full_code(class_code.strip())
        if small_class is None:
            raise ValidationFailed.field("class", _("no small class %(code)s; use e.g. E0102 or C0101", code=class_code))
        small_class_id = small_class.id
    date_from, date_to = _date(args, "from"), _date(args, "to")
    if date_from and date_to and date_from > date_to:
        raise ValidationFailed.field("to", _("must not be before from"))
    source = args.get("source")
    if source is not None and source not in SOURCES:
        raise ValidationFailed.field("source", _("must be one of %(values)s", values=", ".join(SOURCES)))
    return CaseFilter(
        states=_list(args, "state", [s.value for s in State]),
        area_code=(_text(args, "area", default="") or "").strip() or None,
        unit_id=unit_id,
        small_class_id=small_class_id,
        source=source,
        overdue=_flag(args, "overdue"),
        supervised=_flag(args, "supervised"),
        reported_from=_local_day(date_from),
        reported_to=_local_day(date_to, next_day=True),
        text=(_text(args, "q", default="") or "").strip() or None,
        assignee_id=_assignee(args),
    )


def _assignee(args) -> int | None:
    """``assignee=me`` (the caller's own on-site tasks) or a user id."""
    if (args.get("assignee") or "").strip() == "me":
        return current_user.id
    return _integer(args, "assignee", minimum=1, maximum=MAX_ROW_ID)


def _page(args) -> tuple[int, int]:
    _once(args, ("limit", "offset"))
    limit = _integer(args, "limit", minimum=1, maximum=MAX_LIMIT)
    offset = _integer(args, "offset", minimum=0)
    return (DEFAULT_LIMIT if limit is None else limit), (offset or 0)


# -- loading -------------------------------------------------------------------------------------


def load_visible_case(number: str) -> Case:
    """The case with this number if the caller may see it; 404 alike for unknown and out of scope."""
    case = db.session.scalar(visible_cases(current_user).where(Case.number == number).options(*CASE_LOADS))
    if case is None:
        raise NotFound(_("There is no case %(number)s that you may see.", number=number), {"number": _("unknown")})
    return case


def detail_response(case: Case, status: int = 200, events: list[CaseEvent] | None = None) -> Response:
    """The case as JSON, with its version as ETag (send it back as If-Match).

    ``events``: the case's whole timeline when it is in hand (a case just filed), so that
    neither it nor its photos are read again.
    """
    now = utcnow()
    just_filed = events is not None
    if events is None:
        events = db.session.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id == case.id)
            .options(joinedload(CaseEvent.actor), selectinload(CaseEvent.photos))
            .order_by(CaseEvent.id)
        ).all()
        photos = db.session.scalars(
            select(CasePhoto).where(CasePhoto.case_id == case.id).order_by(CasePhoto.id)
        ).all()
    else:
        photos = sorted((photo for event in events for photo in event.photos), key=lambda photo: photo.id)
    data = case_detail(
        case, case_colour(case, now), list(events), list(photos),
        services.allowed_actions(case, caller()), api_prefix(),
    )
    # A case just filed has taken part in no merge yet: nothing to look up.
    data.update({"merged_into": None, "merged_cases": [], "co_reporters": []} if just_filed else merge_links(case))
    response = jsonify(data)
    response.status_code = status
    response.set_etag(str(case.version))
    return response


@contextmanager
def _discarded_on_error(stored: list) -> Iterator[None]:
    """Delete the files of uploads that will not be attached because the step failed."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        discard_photos(stored)
        raise


# -- endpoints -----------------------------------------------------------------------------------


@bp.get("/cases")
def list_cases():
    """The caller's cases, newest first, filtered, in pages with the total and a next link."""
    filters = parse_case_filter(request.args)
    limit, offset = _page(request.args)
    stmt = apply_filters(visible_cases(current_user), filters)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    cases = db.session.scalars(stmt.options(*CASE_LOADS).limit(limit).offset(offset)).all()
    now = utcnow()
    next_link = None
    if offset + limit < total:
        args = request.args.to_dict(flat=False)
        args.update(limit=[str(limit)], offset=[str(offset + limit)])
        next_link = url_for("api.list_cases", **args)
    return jsonify(
        {
            "items": [case_summary(case, case_colour(case, now)) for case in cases],
            "total": total,
            "limit": limit,
            "offset": offset,
            "next": next_link,
        }
    )


@bp.post("/cases")
def file_case():
    """File a case (201); the same idempotency key again returns the first case (200)."""
    data, files = _body()
    key = request.headers.get("Idempotency-Key", "").strip() or _text(data, "idempotency_key", default=None)
    if key is not None:
        key = _text({"idempotency_key": key}, "idempotency_key")
    fields = dict(
        source=_choice(data, "source", SOURCES),
        case_type=_choice(data, "case_type", CASE_TYPES),
        small_class_code=_text(data, "small_class", required=True),
        x=_number(data, "x", required=True),
        y=_number(data, "y", required=True),
        datum=_choice(data, "datum", DATUMS, default="wgs84"),
        accuracy_m=_number(data, "accuracy_m"),
        standard_id=_integer(data, "standard_id", minimum=1),
        address=_text(data, "address"),
        description=_text(data, "description"),
        urgency=_choice(data, "urgency", URGENCIES, default="normal"),
        self_handled=bool(_flag(data, "self_handled")),
    )
    stored = store_photos(files) if files else []
    with _discarded_on_error(stored):
        case, created = services.file_or_find_case(caller(), idempotency_key=key, photos=stored, **fields)
        if not created:
            discard_photos(stored)
            return detail_response(case)
        # The caller filed the case, so it is theirs to see: answered from the rows just
        # written, before the commit expires them, instead of reading them all back.
        response = detail_response(case, 201, case.events)
        db.session.commit()
    return response


@bp.get("/cases/<number>")
def get_case(number: str):
    """One case with its stage due times, timeline, photos and the caller's allowed actions."""
    return detail_response(load_visible_case(number))


def _expected_version(data: Mapping) -> int | None:
    from_body = _integer(data, "expected_version", minimum=1)
    header = request.headers.get("If-Match", "").strip()
    if not header:
        return from_body
    match = _ETAG.match(header)
    if match is None:
        raise ValidationFailed.field("If-Match", _('must be the case version as an ETag, e.g. "3"'))
    from_header = int(match.group(1))
    if from_body is not None and from_body != from_header:
        raise ValidationFailed.field("expected_version", _("differs from the If-Match header"))
    return from_header


@bp.post("/cases/<number>/actions/<action>")
def take_action(number: str, action: str):
    """Take one workflow action on a case; 409 when the case changed or the step is not possible now."""
    if action not in ACTIONS:
        raise NotFound(_("There is no action %(action)s.", action=action), {"action": _("unknown")})
    data, files = _body()
    expected_version = _expected_version(data)
    unit_id = None
    if unit_code := _text(data, "unit", default=None):
        unit_id = db.session.scalar(select(Department.id).where(Department.code == unit_code.strip()))
        if unit_id is None:
            raise ValidationFailed.field("unit", _("no unit has the code %(code)s", code=unit_code))
    inputs = dict(
        reason=_text(data, "reason", default=None),
        note=_text(data, "note", default=None),
        instruction=_text(data, "instruction", default=None),
        due_at=_instant(data, "due_at"),
        confirm=bool(_flag(data, "confirm")),
    )
    if master_number := _text(data, "master", default=None):
        inputs["master"] = db.session.scalar(
            visible_cases(current_user).where(Case.number == master_number.strip())
        )
        if inputs["master"] is None:
            raise ValidationFailed.field("master", _("There is no case %(number)s that you may see.",
                                                     number=master_number))
    case = load_visible_case(number)
    stored = store_photos(files) if files else []
    with _discarded_on_error(stored):
        try:
            services.take_action(
                case, action, current_user, expected_version=expected_version, unit_id=unit_id,
                photos=stored, **inputs,
            )
        except ValidationFailed as exc:
            # The service names the unit by id; clients send its code as ``unit``.
            if "unit_id" in exc.fields:
                exc.fields["unit"] = exc.fields.pop("unit_id")
            raise
        db.session.commit()
    return detail_response(load_visible_case(number))


def _export(kind: str):
    """The caller's filtered cases (lazily, in batches), the city's zone and a file name."""
    filters = parse_case_filter(request.args)
    zone = ZoneInfo(current_app.config["GRIDOPS_TIMEZONE"])
    now = datetime.now(zone)
    rows = exports.export_rows(apply_filters(visible_cases(current_user), filters), now)
    return rows, zone, f"cases-{now:%Y%m%d-%H%M}.{kind}"


def _attachment(name: str) -> dict:
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}


@bp.get("/cases/export.csv")
def export_csv():
    """The filtered case list the caller may see, as CSV streamed row batch by row batch."""
    rows, zone, name = _export("csv")
    chunks = exports.csv_chunks(rows, zone)
    return Response(stream_with_context(chunks), mimetype="text/csv", headers=_attachment(name))


@bp.get("/cases/export.xlsx")
def export_xlsx():
    """The filtered case list the caller may see, as an XLSX workbook (written to disk, then streamed)."""
    rows, zone, name = _export("xlsx")
    workbook = exports.write_xlsx(rows, zone)
    response = send_file(
        workbook,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=name,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/cases/export.geojson")
def export_geojson():
    """The filtered case list the caller may see, as GeoJSON points streamed feature by feature."""
    rows, zone, name = _export("geojson")
    datum = db.session.scalar(select(GridLayer.datum).order_by(GridLayer.id).limit(1))
    chunks = exports.geojson_chunks(rows, zone, datum)
    return Response(stream_with_context(chunks), mimetype="application/geo+json", headers=_attachment(name))
