"""Callers' phone numbers: validation of mainland numbers, masking, and who may see them unmasked."""

from __future__ import annotations

import pytest

from gridops.auth.permissions import can_see_caller
from gridops.auth.roles import Role
from gridops.errors import ValidationFailed
from gridops.hotline.privacy import display_phone, mask_name, mask_phone, normalize_phone
from tests.factories import make_user


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("13812345678", "+8613812345678"),
        ("138 1234 5678", "+8613812345678"),
        ("+86 138-1234-5678", "+8613812345678"),
        ("0377-63123456", "+8637763123456"),
        ("(0377) 6312 3456", "+8637763123456"),
        ("010-12345678", "+861012345678"),
    ],
)
def test_mainland_mobiles_and_landlines_are_normalised(raw, e164):
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "12345", "63123456", "1381234567", "138123456789", "+1 202 555 0143", "call me", None, 13812345678],
)
def test_other_numbers_are_refused(raw):
    with pytest.raises(ValidationFailed) as info:
        normalize_phone(raw)
    assert "phone" in info.value.fields


@pytest.mark.parametrize(
    ("e164", "shown", "masked"),
    [
        ("+8613812345678", "13812345678", "138****5678"),
        ("+8637763123456", "0377-63123456", "0377-****3456"),
        ("+861012345678", "010-12345678", "010-****5678"),
    ],
)
def test_display_and_mask(e164, shown, masked):
    assert display_phone(e164) == shown
    assert mask_phone(e164) == masked
    assert mask_phone(shown) == masked


def test_mask_never_returns_the_whole_number():
    for phone in ("1234", "123", "12", ""):
        masked = mask_phone(phone)
        assert phone == "" or masked != phone


def test_mask_name_keeps_only_the_family_name():
    assert mask_name("张三丰") == "张**"
    assert mask_name("李") == "李*"
    assert mask_name("") == ""


@pytest.mark.parametrize("role", list(Role))
def test_only_hotline_and_supervision_centre_staff_see_callers(app, role):
    user = make_user(f"u_{role.value}", role.value)
    expected = role in {Role.HOTLINE_OPERATOR, Role.INTAKE_OPERATOR, Role.SHIFT_LEADER}
    assert can_see_caller(user) is expected
    user.active = False
    assert can_see_caller(user) is False


def test_signed_out_sees_no_caller():
    assert can_see_caller(None) is False
