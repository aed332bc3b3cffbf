"""Case numbers: the city's local date (YYYYMMDD) and a 6-digit daily sequence, unique and sortable."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from gridops.cases.models import CaseNumberCounter
from gridops.extensions import db
from gridops.worktime import DEFAULT_TIMEZONE

_ZONE = ZoneInfo(DEFAULT_TIMEZONE)
_counter = CaseNumberCounter.__table__


def case_day(moment: datetime) -> str:
    """The city's local date of ``moment`` as YYYYMMDD."""
    return moment.astimezone(_ZONE).strftime("%Y%m%d")


def next_case_number(moment: datetime) -> str:
    """The next number of ``moment``'s local day, taken atomically from the day's counter.

    One UPDATE … RETURNING increments and reads the counter under its row lock (held until the
    transaction ends), so concurrent filings never share a number; the day's first filing
    inserts the row, and a filing that loses that race increments the winner's row instead.
    """
    day = case_day(moment)
    bump = (
        update(_counter)
        .where(_counter.c.day == day)
        .values(last=_counter.c.last + 1)
        .returning(_counter.c.last)
    )
    sequence = db.session.execute(bump).scalar_one_or_none()
    if sequence is None:
        try:
            with db.session.begin_nested():
                db.session.execute(insert(_counter).values(day=day, last=1))
            sequence = 1
        except IntegrityError:
            sequence = db.session.execute(bump).scalar_one()
    return f"{day}{sequence:06d}"
