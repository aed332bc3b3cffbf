"""Callers' personal data: phone validation and normalisation, masking, and the log of unmasked views.

A caller's name and phone are shown in full only to the roles of
``permissions.can_see_caller`` (hotline and supervision staff), and each time they are
shown unmasked a ``CallerDataView`` row records who saw which case's caller, when and where.
Everyone else, every export to other roles, public pages and Open311 get the masked form or
nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

import phonenumbers
from flask_babel import gettext as _

from gridops.auth.models import User
from gridops.auth.permissions import can_see_caller
from gridops.db import utcnow
from gridops.errors import ValidationFailed
from gridops.extensions import db
from gridops.hotline.models import CallerDataView

#: Mainland numbers only: mobiles and fixed lines (with their area code), in any common spelling.
REGION = "CN"
_ACCEPTED_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}


def normalize_phone(raw, field: str = "phone") -> str:
    """``raw`` as E.164 (+8613812345678) if it is a valid mainland mobile or landline number.

    Landlines need their area code (0377-63123456): a caller's local number alone does not
    say which city it rings in.
    """
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 32:
        raise ValidationFailed.field(field, _("must be a mainland mobile or landline number"))
    try:
        number = phonenumbers.parse(raw.strip(), REGION)
    except phonenumbers.NumberParseException:
        raise ValidationFailed.field(field, _("must be a mainland mobile or landline number")) from None
    if (
        number.country_code != 86
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) not in _ACCEPTED_TYPES
    ):
        raise ValidationFailed.field(
            field, _("must be a mainland mobile or landline number (landlines with their area code)")
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _national_parts(phone: str) -> tuple[str, str]:
    """(area code with its 0, subscriber number) of a landline; ("", digits) of a mobile or anything else."""
    try:
        number = phonenumbers.parse(phone, REGION)
    except phonenumbers.NumberParseException:
        return "", "".join(ch for ch in phone if ch.isdigit())
    national = str(number.national_number)
    if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.FIXED_LINE:
        code_length = phonenumbers.length_of_geographical_area_code(number)
        if code_length:
            return "0" + national[:code_length], national[code_length:]
    return "", national


def display_phone(phone: str) -> str:
    """The full number as a Chinese operator writes it: 13812345678, 0377-63123456."""
    area, subscriber = _national_parts(phone)
    return f"{area}-{subscriber}" if area else subscriber


def mask_phone(phone: str) -> str:
    """The phone with its middle hidden: 138****5678 for a mobile, 0377-****3456 for a landline."""
    if not phone:
        return ""
    area, subscriber = _national_parts(phone)
    if area:
        return f"{area}-{'*' * max(len(subscriber) - 4, 0)}{subscriber[-4:]}"
    if len(subscriber) >= 8:
        return subscriber[:3] + "*" * (len(subscriber) - 7) + subscriber[-4:]
    return "*" * max(len(subscriber) - 2, 1) + subscriber[-2:] if len(subscriber) > 2 else "*" * len(subscriber)


def mask_name(name: str) -> str:
    """The caller's name with all but the first character hidden: 张** (an empty name stays empty)."""
    name = (name or "").strip()
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


#: What stands in for a caller's name or number taken out of a free text.
ERASED_MARK = "***"
#: Separators callers and operators put between the digits of a number.
_SEP = r"[\s\-.]?"


def _digits(digits: str) -> str:
    return _SEP.join(digits)


def phone_pattern(phone: str) -> re.Pattern:
    """The E.164 ``phone`` as people write it in a text: 13812345678, 138 1234 5678, +86 138…,
    0377-63123456, (0377) 6312 3456, or a landline's number without its area code."""
    area, subscriber = _national_parts(phone)
    country = r"(?:(?:\+|00)86[\s\-]?)?"
    if area:
        prefix = rf"(?:{country}\(?0?{_digits(area[1:])}\)?[\s\-]?)?"
    else:
        prefix = country
    return re.compile(rf"(?<!\d){prefix}{_digits(subscriber)}(?!\d)")


def scrub_caller(text: str, names: Iterable[str], phones: Iterable[str]) -> str:
    """``text`` with these callers' names (two characters or more) and numbers (E.164) replaced by ERASED_MARK."""
    for phone in phones:
        if phone:
            text = phone_pattern(phone).sub(ERASED_MARK, text)
    for name in sorted({name.strip() for name in names}, key=len, reverse=True):
        if len(name) >= 2:
            text = text.replace(name, ERASED_MARK)
    return text


def record_caller_view(
    user: User, *, context: str, case_ids=(), phone: str | None = None, now: datetime | None = None
) -> None:
    """Log that ``user`` saw callers' data unmasked (one row per case, or one for a phone lookup)."""
    now = now or utcnow()
    case_ids = sorted({case_id for case_id in case_ids if case_id is not None})
    rows = [
        CallerDataView(user_id=user.id, user_role=user.role, case_id=case_id, context=context, viewed_at=now)
        for case_id in case_ids
    ]
    if phone is not None and not rows:
        rows.append(CallerDataView(user_id=user.id, user_role=user.role, context=context, phone=phone, viewed_at=now))
    db.session.add_all(rows)
    db.session.flush()


def shows_caller_data(contacts) -> bool:
    """Whether any of ``contacts`` still holds a caller's data (an erased one shows nothing to log)."""
    return any(not contact.erased for contact in contacts)


def caller_fields(contact, user: User) -> dict:
    """Name and phone of ``contact`` as ``user`` may see them, with ``masked`` saying which.

    An erased contact (retention purge) has neither: both come back empty for everyone.
    """
    if can_see_caller(user):
        return {"caller_name": contact.caller_name, "phone": display_phone(contact.phone), "masked": False}
    return {"caller_name": mask_name(contact.caller_name), "phone": mask_phone(contact.phone), "masked": True}
