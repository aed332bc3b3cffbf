"""The log of unmasked views of callers' data, read by its reviewers: filters, pages and the CSV download.

Every unmasked answer writes a ``CallerDataView`` row (``privacy.record_caller_view``); this
module reads them back, newest first. The reviewers (``permissions.can_audit_caller_data``) are
not among the roles that see callers unmasked, so a looked-up phone is shown to them masked,
like everywhere else; they filter by the full number.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select

from gridops.auth.models import User
from gridops.cases.models import Case
from gridops.dates import within_years, years_message
from gridops.errors import ValidationFailed
from gridops.extensions import db
from gridops.hotline.models import CallerDataView, HotlineContact
from gridops.hotline.privacy import mask_phone, normalize_phone

#: Where the unmasked data was shown (the ``context`` the log records).
CONTEXT_LABELS = {
    "order_page": _l("Hotline order page"),
    "api:order": _l("Order (API)"),
    "api:complaint": _l("Complaint logged (API)"),
    "api:contact": _l("Repeat complaint added (API)"),
    "api:reply": _l("Reply recorded (API)"),
    "api:follow_up": _l("Follow-up call recorded (API)"),
    "api:caller": _l("Caller lookup by phone (desk or API)"),
}
#: The query parameters of the filters, on the page, the CSV download and the API alike.
FILTER_FIELDS = ("user", "case", "phone", "from", "to", "context")
MAX_TEXT = 64
PER_PAGE = 50
BATCH_SIZE = 1000
CSV_COLUMNS = ("viewed_at", "username", "full_name", "role", "context", "case_number", "phone_masked")


@dataclass(frozen=True)
class ViewFilter:
    """Which log rows to read; every part optional (an empty filter reads the whole log)."""

    user: User | None = None
    case: Case | None = None
    #: E.164: rows of lookups of this number, and rows about the cases it called about.
    phone: str | None = None
    #: From the start of this instant (included) to this one (excluded), UTC.
    viewed_from: datetime | None = None
    viewed_to: datetime | None = None
    context: str | None = None


def _day(raw: str, field: str, problems: dict[str, str]) -> date | None:
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        problems[field] = _("must be a date, YYYY-MM-DD")
        return None
    if not within_years(day):
        problems[field] = years_message()
        return None
    return day


def parse_view_filter(args: Mapping[str, str], zone: tzinfo) -> ViewFilter:
    """The filter from query parameters (``FILTER_FIELDS``), or ValidationFailed naming every bad one.

    Dates are days in the city's time zone ``zone``; ``to`` includes its whole day.
    """
    raw = {name: (args.get(name) or "").strip() for name in FILTER_FIELDS}
    problems: dict[str, str] = {}
    for name, value in raw.items():
        if len(value) > MAX_TEXT:
            problems[name] = _("at most %(count)d characters", count=MAX_TEXT)
    user = case = phone = context = None
    if raw["user"] and "user" not in problems:
        user = db.session.scalar(select(User).where(func.lower(User.username) == raw["user"].lower()))
        if user is None:
            problems["user"] = _("no user has the username %(name)s", name=raw["user"])
    if raw["case"] and "case" not in problems:
        case = db.session.scalar(select(Case).where(Case.number == raw["case"]))
        if case is None:
            problems["case"] = _("no case has the number %(number)s", number=raw["case"])
    if raw["phone"] and "phone" not in problems:
        try:
            phone = normalize_phone(raw["phone"])
        except ValidationFailed as exc:
            problems.update(exc.fields)
    if raw["context"] and "context" not in problems:
        if raw["context"] not in CONTEXT_LABELS:
            problems["context"] = _("must be one of %(values)s", values=", ".join(CONTEXT_LABELS))
        else:
            context = raw["context"]
    first = _day(raw["from"], "from", problems) if raw["from"] and "from" not in problems else None
    last = _day(raw["to"], "to", problems) if raw["to"] and "to" not in problems else None
    if first and last and first > last:
        problems["to"] = _("must not be before the start date")
    if problems:
        raise ValidationFailed(_("The log cannot be filtered so: check the marked filters."), problems)
    return ViewFilter(
        user=user, case=case, phone=phone, context=context,
        viewed_from=datetime.combine(first, time.min, tzinfo=zone) if first else None,
        viewed_to=datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone) if last else None,
    )


def log_rows(view_filter: ViewFilter) -> Select:
    """The filtered log as plain rows (who, role, when, where, which case or phone), newest first."""
    view = CallerDataView
    stmt = (
        select(
            view.id, view.viewed_at, view.context, view.phone, view.user_role, view.case_id,
            view.user_id, User.username, User.full_name, Case.number.label("case_number"),
        )
        .join(User, User.id == view.user_id)
        .outerjoin(Case, Case.id == view.case_id)
        .order_by(view.viewed_at.desc(), view.id.desc())
    )
    if view_filter.user is not None:
        stmt = stmt.where(view.user_id == view_filter.user.id)
    if view_filter.case is not None:
        stmt = stmt.where(view.case_id == view_filter.case.id)
    if view_filter.phone is not None:
        called_about = select(HotlineContact.case_id).where(HotlineContact.phone == view_filter.phone)
        stmt = stmt.where(or_(view.phone == view_filter.phone, view.case_id.in_(called_about)))
    if view_filter.context is not None:
        stmt = stmt.where(view.context == view_filter.context)
    if view_filter.viewed_from is not None:
        stmt = stmt.where(view.viewed_at >= view_filter.viewed_from)
    if view_filter.viewed_to is not None:
        stmt = stmt.where(view.viewed_at < view_filter.viewed_to)
    return stmt


@dataclass(frozen=True)
class LogPage:
    """One page of the filtered log with the count of the whole of it."""

    rows: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def log_count(view_filter: ViewFilter) -> int:
    """How many rows the filtered log has."""
    return db.session.scalar(select(func.count()).select_from(log_rows(view_filter).order_by(None).subquery()))


def log_slice(view_filter: ViewFilter, limit: int, offset: int) -> list:
    """``limit`` rows of the filtered log from ``offset`` on."""
    return db.session.execute(log_rows(view_filter).limit(limit).offset(offset)).all()


def log_page(view_filter: ViewFilter, page: int = 1, per_page: int = PER_PAGE) -> LogPage:
    """Page ``page`` (from 1; past the end: the last page) of the filtered log."""
    total = log_count(view_filter)
    page = min(page, max(1, -(-total // per_page)))
    return LogPage(log_slice(view_filter, per_page, (page - 1) * per_page), page, per_page, total)


def shown_phone(row) -> str:
    """The looked-up number as reviewers see it: masked (empty on case rows and once erased)."""
    return mask_phone(row.phone) if row.phone else ""


def csv_rows(view_filter: ViewFilter, zone: tzinfo) -> Iterator[list]:
    """The filtered log as CSV rows (``CSV_COLUMNS``), read in batches; times in the city's zone."""
    result = db.session.execute(log_rows(view_filter).execution_options(yield_per=BATCH_SIZE))
    try:
        for row in result:
            yield [
                row.viewed_at.astimezone(zone), row.username, row.full_name, row.user_role, row.context,
                row.case_number or "", shown_phone(row),
            ]
    finally:
        result.close()
