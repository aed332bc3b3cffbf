"""`gridops users …`: create with every field validated, list, set-password, deactivate, activate."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gridops.auth.models import User
from gridops.extensions import db
from tests.factories import make_department, make_small_city, make_user

NEW_PASSWORD = "long-enough-password"


@pytest.fixture
def city():
    """The small test city and one sanitation department."""
    areas = make_small_city()
    make_department("SAN01", "环卫处", "sanitation")
    db.session.commit()
    return areas


def _user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def _create(runner, *extra, username="zhang.wei", role="grid_worker", name="张伟", area="411302001001", **kwargs):
    args = ["users", "create", username, "--role", role, "--name", name]
    if area:
        args += ["--area", area]
    args += list(extra)
    if "--password" not in extra and "input" not in kwargs:
        args += ["--password", NEW_PASSWORD]
    return runner.invoke(args=args, **kwargs)


def test_create_with_every_field(runner, city):
    result = _create(runner, "--department", "SAN01", "--locale", "en", role="unit_staff")
    assert result.exit_code == 0, result.output
    assert "created user zhang.wei (unit_staff)" in result.output
    user = db.session.scalar(select(User).where(User.username == "zhang.wei"))
    assert user.full_name == "张伟"
    assert user.area.code == "411302001001"
    assert user.department.code == "SAN01"
    assert user.locale == "en"
    assert user.active
    assert user.password_hash.startswith("pbkdf2:")  # the suite's cheap method; scrypt by default
    assert user.check_password(NEW_PASSWORD)


def test_password_is_asked_for_twice_when_not_given(runner, city):
    result = _create(runner, input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(User).where(User.username == "zhang.wei")).check_password(NEW_PASSWORD)


def test_city_centre_staff_need_no_area(runner, city):
    result = _create(runner, role="dispatcher", area=None)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "kwargs, extra, label, reason",
    [
        ({"username": "zw"}, [], "USERNAME", "3–64 letters"),
        ({"username": "zhang wei"}, [], "USERNAME", "3–64 letters"),
        ({"username": "Existing"}, [], "USERNAME", "already taken"),
        ({}, ["--password", "short"], "--password", "at least 8 characters"),
        ({"name": "   "}, [], "--name", "required"),
        ({"area": "999999"}, [], "--area", "no area with code 999999"),
        ({"area": None}, [], "--area", "needs the area they work in"),
        ({"role": "area_lead", "area": None}, [], "--area", "needs the area they work in"),
        ({}, ["--department", "NOPE"], "--department", "no department with code NOPE"),
        ({"role": "unit_staff"}, [], "--department", "need a department"),
    ],
)
def test_each_bad_field_is_named_and_nothing_is_written(runner, city, kwargs, extra, label, reason):
    make_user("existing", role="dispatcher")
    db.session.commit()
    before = _user_count()
    result = _create(runner, *extra, **kwargs)
    assert result.exit_code == 1
    assert "the user cannot be created" in result.output
    assert f"{label}: " in result.output and reason in result.output
    assert _user_count() == before


def test_several_bad_fields_are_all_reported(runner, city):
    result = _create(runner, "--password", "short", username="x", name=" ", area="000")
    assert result.exit_code == 1
    for label in ("USERNAME:", "--password:", "--name:", "--area:"):
        assert label in result.output
    assert _user_count() == 0


@pytest.mark.parametrize(
    "extra, option", [(["--locale", "fr"], "--locale"), ([], "--role")]
)
def test_choices_are_checked_by_the_command_line(runner, city, extra, option):
    role = "chief" if option == "--role" else "grid_worker"
    result = _create(runner, *extra, role=role)
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.output
    assert _user_count() == 0


def test_retired_area_is_refused(runner, city):
    city["grid1"].active = False
    db.session.commit()
    result = _create(runner, area=city["grid1"].code)
    assert result.exit_code == 1
    assert "is retired" in result.output


def test_list_shows_role_scope_department_and_state(runner, city):
    _create(runner, "--department", "SAN01", role="unit_staff")
    make_user("old.hand", role="dispatcher", active=False)
    db.session.commit()
    result = runner.invoke(args=["users", "list"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split()[:5] == ["old.hand", "dispatcher", "city", "-", "inactive"]
    assert lines[1].split()[:5] == ["zhang.wei", "unit_staff", "411302001001", "SAN01", "active"]


def test_set_password(runner, city):
    user = make_user("zhang.wei", area=city["community"])
    db.session.commit()
    result = runner.invoke(args=["users", "set-password", "zhang.wei", "--password", "another-password-9"])
    assert result.exit_code == 0, result.output
    db.session.refresh(user)
    assert user.check_password("another-password-9")


@pytest.mark.parametrize(
    "args, message",
    [
        (["users", "set-password", "zhang.wei", "--password", "short"], "--password: at least 8 characters"),
        (["users", "set-password", "ghost", "--password", "another-password-9"], "no user named ghost"),
    ],
)
def test_set_password_refusals(runner, city, args, message):
    user = make_user("zhang.wei", area=city["community"])
    db.session.commit()
    old_hash = user.password_hash
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert message in result.output
    db.session.refresh(user)
    assert user.password_hash == old_hash


def test_deactivate_and_activate(runner, city):
    user = make_user("zhang.wei", area=city["community"])
    db.session.commit()
    result = runner.invoke(args=["users", "deactivate", "zhang.wei"])
    assert result.exit_code == 0, result.output
    db.session.refresh(user)
    assert not user.active
    assert "inactive" in runner.invoke(args=["users", "list"]).output
    result = runner.invoke(args=["users", "activate", "zhang.wei"])
    assert result.exit_code == 0, result.output
    db.session.refresh(user)
    assert user.active


def test_deactivate_unknown_user_fails(runner):
    result = runner.invoke(args=["users", "deactivate", "ghost"])
    assert result.exit_code == 1
    assert "no user named ghost" in result.output


def test_passwords_are_hashed_with_scrypt_unless_configured_otherwise(app):
    from gridops.auth.models import password_method
    from gridops.config import load_config

    assert "GRIDOPS_PASSWORD_METHOD" not in load_config({})
    saved = app.config.pop("GRIDOPS_PASSWORD_METHOD")
    try:
        assert password_method() == "scrypt"
        user = User(username="hashed", full_name="H", role="admin")
        user.set_password(NEW_PASSWORD)
        assert user.password_hash.startswith("scrypt:") and user.check_password(NEW_PASSWORD)
    finally:
        app.config["GRIDOPS_PASSWORD_METHOD"] = saved
