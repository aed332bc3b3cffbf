"""Case numbers: the city's local date (YYYYMMDD) and a 6-digit daily sequence, unique and sortable."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import String, bindparam, cast, func, update

from gridops.cases.models import CaseNumberCounter
from gridops.db import UPSERTS, reused_statement
from gridops.extensions import db
from gridops.worktime import DEFAULT_TIMEZONE

_ZONE = ZoneInfo(DEFAULT_TIMEZONE)
_counter = CaseNumberCounter.__table__
#: Digits of the daily sequence in a case number.
SEQUENCE_DIGITS = 6


def case_day(moment: datetime) -> str:
    """The city's local date of ``moment`` as YYYYMMDD."""
    return moment.astimezone(_ZONE).strftime("%Y%m%d")


def next_case_number(moment: datetime) -> str:
    """The next number of ``moment``'s local day, taken atomically from the day's counter.

    One ``INSERT … ON CONFLICT (day) DO UPDATE … RETURNING`` creates the day's row at 1 or
    increments it, under the row's lock (held until the transaction ends), so concurrent
    filings never share a number and the day's first filings need no second attempt.
    """
    day = case_day(moment)
    return case_number(day, db.session.execute(_bump_counter(), {"day": day}).scalar_one())


def case_number(day: str, sequence: int) -> str:
    """The number of the day's ``sequence``-th case."""
    return f"{day}{sequence:0{SEQUENCE_DIGITS}d}"


def case_number_sql(day, sequence):
    """``case_number`` as a SQL expression of a day and a sequence expression."""
    return day + func.lpad(cast(sequence, String), SEQUENCE_DIGITS, "0")


def counter_bump(dialect: str):
    """``INSERT … ON CONFLICT (day) DO UPDATE … RETURNING last`` for a ``day`` parameter, in ``dialect``."""
    statement = UPSERTS[dialect](_counter).values(day=bindparam("day", type_=String), last=1)
    return statement.on_conflict_do_update(
        index_elements=[_counter.c.day], set_={"last": _counter.c.last + 1}
    ).returning(_counter.c.last)


_bump_counter = reused_statement(counter_bump)


def give_back_case_number(number: str) -> None:
    """Return ``number`` to its day's counter when no case took it after all.

    Only the last number can go back, and only by the transaction that drew it: that
    transaction still holds the counter row, so no later number exists yet.
    """
    day, sequence = number[:8], int(number[8:])
    db.session.execute(
        update(_counter).where(_counter.c.day == day, _counter.c.last == sequence).values(last=sequence - 1)
    )
