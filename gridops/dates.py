"""The years a date typed by a person may fall in, for every form and API field that takes one.

Anything outside is a typing mistake — and the extremes (year 1, year 9999) would not even
fit a timestamp once moved to UTC or a day later, which must be a clear error, never a 500.
"""

from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from wtforms.validators import ValidationError

from gridops.errors import ValidationFailed

FIRST_YEAR, LAST_YEAR = 1900, 2200


def within_years(value: date | None) -> bool:
    """``value`` (a date or a date and time) is None or falls in FIRST_YEAR..LAST_YEAR."""
    return value is None or FIRST_YEAR <= value.year <= LAST_YEAR


def years_message() -> str:
    return _("must be a date from %(first)d to %(last)d", first=FIRST_YEAR, last=LAST_YEAR)


def check_years(value, field: str):
    """``value`` itself, or ValidationFailed naming ``field`` when it lies outside the years."""
    if not within_years(value):
        raise ValidationFailed.field(field, years_message())
    return value


class WithinYears:
    """WTForms validator: the field's date (or date and time) lies in FIRST_YEAR..LAST_YEAR."""

    def __call__(self, form, field) -> None:
        if not within_years(field.data):
            raise ValidationError(years_message())
