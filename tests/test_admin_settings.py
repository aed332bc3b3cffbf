"""The escalation policy and the duplicate rules as administrators edit them: pages, API, command
line and services, every change in the administration history."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from gridops.cases.duplicates import (
    RADIUS_KEY,
    WINDOW_KEY,
    DuplicateRules,
    duplicate_rules,
    reset_duplicate_rules,
    set_duplicate_rules,
)
from gridops.catalogue.models import CatalogueChange
from gridops.errors import NotAllowed, ValidationFailed
from gridops.extensions import db
from gridops.supervision.policy import (
    POLICY_KEY,
    EscalationPolicy,
    escalation_policy,
    reset_escalation_policy,
    set_escalation_policy,
)
from gridops.worktime.models import CitySetting
from tests.case_factories import make_world
from tests.test_api_cases import FreshContextClient
from tests.test_duplicates import auth_headers

SETTINGS_PAGES = ["/admin/escalation", "/admin/duplicates"]
SETTINGS_POSTS = ["/admin/escalation", "/admin/escalation/reset", "/admin/duplicates", "/admin/duplicates/reset"]
#: The escalation form as the defaults fill it (the share in percent, reply limits in working hours).
POLICY_FORM = {
    "level2_share": "50", "level2_min_working_days": "1", "level3_working_days": "3",
    "hotline_notice_working_days": "1", "hotline_criticism_working_days": "5",
    "reply_warning": "", "reply_timeout1": "4", "reply_timeout2": "8", "reply_timeout3": "8", "reply_leader": "8",
    "reply_hotline_reminder": "", "reply_hotline_notice": "8", "reply_hotline_criticism": "",
}


@pytest.fixture
def world(app):
    """The small city with staff for every role (reading English), committed."""
    world = make_world()
    for user in [*world.users.values(), *world.outsiders.values()]:
        user.locale = "en"
    db.session.commit()
    return world


@pytest.fixture
def admin(world, auth):
    """Signed in as the administrator."""
    auth.login("admin")
    return world.user("admin")


@pytest.fixture
def api(app):
    """A client whose requests each get their own app context (and so their own signed-in user)."""
    return FreshContextClient(app, app.response_class)


def _changes(entity: str) -> list[CatalogueChange]:
    return db.session.scalars(
        select(CatalogueChange).where(CatalogueChange.entity == entity).order_by(CatalogueChange.id)
    ).all()


def _nothing_stored() -> None:
    """Neither setting is stored and neither has a history entry."""
    keys = (POLICY_KEY, RADIUS_KEY, WINDOW_KEY)
    assert db.session.scalar(select(func.count()).select_from(CitySetting).where(CitySetting.key.in_(keys))) == 0
    entities = ("escalation_policy", "duplicate_rules")
    assert db.session.scalar(
        select(func.count()).select_from(CatalogueChange).where(CatalogueChange.entity.in_(entities))
    ) == 0


def _field_error(page: str, field: str) -> str:
    """The error text shown next to ``field`` (empty when there is none)."""
    match = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', page)
    return match.group(1) if match else ""


def _typed(page: str, field: str) -> str:
    """The value the input ``field`` shows."""
    match = re.search(rf'<input [^>]*id="{field}"[^>]*>', page)
    assert match, field
    value = re.search(r'value="([^"]*)"', match.group(0))
    return value.group(1) if value else ""


def _in_force(page: str, field: str) -> str:
    """The "in force" cell of the row whose input is ``field``."""
    match = re.search(rf'id="{field}"[^>]*>.*?<td class="setting-value">([^<]*)</td>', page, re.S)
    assert match, field
    return match.group(1).strip()


# --- escalation policy page -------------------------------------------------------------------


def test_the_policy_page_shows_the_values_in_force_and_the_defaults(admin, client):
    page = client.get("/admin/escalation").text
    assert "Never changed: the published defaults apply." in page
    assert _in_force(page, "level2_share") == "50 %"
    assert _in_force(page, "level3_working_days") == "3"
    assert _in_force(page, "reply_timeout1") == "4"
    assert _in_force(page, "reply_warning") == "no reply"
    assert _typed(page, "level2_share") == "50" and _typed(page, "reply_warning") == ""
    assert "Timeout supervision order, level 2" in page and "Written criticism" in page

    set_escalation_policy(None, {"level2_share": 0.25, "level3_working_days": 5, "reply_hours": {"timeout1": 2}})
    db.session.commit()
    page = client.get("/admin/escalation").text
    assert _in_force(page, "level2_share") == "25 %"
    assert _typed(page, "level2_share") == "25"
    assert _in_force(page, "level3_working_days") == "5" and _in_force(page, "reply_timeout1") == "2"
    assert "by System (command line)" in page
    assert "level3_working_days" in page.split('id="history-title"')[1]  # the change is in the history


def test_a_valid_policy_is_saved_in_the_policy_s_own_terms_and_recorded(admin, client):
    form = {**POLICY_FORM, "level2_share": "33.3", "level3_working_days": "4", "reply_timeout1": "",
            "reply_warning": "2"}
    response = client.post("/admin/escalation", data=form)
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/escalation")
    policy = escalation_policy()
    assert policy.level2_share == 0.333 and policy.level3_working_days == 4
    assert policy.reply_hours["timeout1"] is None and policy.reply_hours["warning"] == 2
    [change] = _changes("escalation_policy")
    assert (change.action, change.changed_by_id) == ("update", admin.id)
    assert change.before["level2_share"] == 0.5 and change.after["level2_share"] == 0.333
    assert change.before["reply_hours.timeout1"] == 4 and change.after["reply_hours.timeout1"] is None
    page = client.get("/admin/escalation").text
    assert "Escalation policy saved." in page
    assert _in_force(page, "level2_share") == "33.3 %" and _in_force(page, "reply_timeout1") == "no reply"
    history = page.split('id="history-title"')[1]
    assert admin.full_name in history and "reply_hours.timeout1" in history and "0.5 → 0.333" in history


@pytest.mark.parametrize(
    "field, value, reason",
    [
        ("level2_share", "-10", "must be from 0 % to 1000 % of the time limit"),
        ("level2_share", "1001", "must be from 0 % to 1000 % of the time limit"),
        ("level2_share", "nan", "must be from 0 % to 1000 % of the time limit"),
        ("level2_share", "half", "Not a valid float value."),
        ("level2_share", "", "This field is required."),
        ("level2_min_working_days", "61", "must be from 0 to 60"),
        ("level2_min_working_days", "1.5", "Not a valid integer value."),
        ("level3_working_days", "0", "must be from 1 to 60"),
        ("hotline_notice_working_days", "0", "must be from 1 to 60"),
        ("hotline_criticism_working_days", "99", "must be from 1 to 60"),
        ("reply_timeout1", "241", "must be a whole number of working hours from 1 to 240, or none (no reply asked)"),
        ("reply_leader", "0", "must be a whole number of working hours from 1 to 240, or none (no reply asked)"),
        ("reply_hotline_notice", "eight", "Not a valid integer value."),
    ],
)
def test_each_bad_policy_field_shows_its_reason_and_nothing_is_saved(admin, client, field, value, reason):
    response = client.post("/admin/escalation", data={**POLICY_FORM, field: value})
    assert response.status_code == 422
    assert _field_error(response.text, field) == reason
    assert 'aria-invalid="true"' in response.text
    assert "Nothing was saved: check the fields marked below." in response.text
    assert _typed(response.text, field) == value  # what was typed stays
    assert _in_force(response.text, "level3_working_days") == "3"
    _nothing_stored()


def test_several_bad_policy_fields_are_all_marked(admin, client):
    response = client.post("/admin/escalation", data={**POLICY_FORM, "level3_working_days": "0",
                                                       "reply_timeout2": "500", "level2_share": "2000"})
    assert response.status_code == 422
    assert all(_field_error(response.text, name) for name in ("level3_working_days", "reply_timeout2", "level2_share"))
    _nothing_stored()


def test_reset_the_policy_to_the_defaults(admin, client):
    set_escalation_policy(admin, {"level3_working_days": 7, "reply_hours": {"leader": 2}})
    db.session.commit()
    response = client.post("/admin/escalation/reset")
    assert response.status_code == 303
    assert escalation_policy() == EscalationPolicy()
    assert db.session.get(CitySetting, POLICY_KEY) is None  # later default changes apply too
    assert [(c.action, c.after["level3_working_days"]) for c in _changes("escalation_policy")] == [
        ("update", 7), ("reset", 3),
    ]
    page = client.get("/admin/escalation").text
    assert "Escalation policy reset to the defaults." in page and "reset to the defaults" in page


# --- duplicate rules page ---------------------------------------------------------------------


def test_the_duplicates_page_shows_the_rules_in_force(admin, client):
    page = client.get("/admin/duplicates").text
    assert _in_force(page, "radius_m") == "50" and _in_force(page, "window_hours") == "24"
    assert _typed(page, "radius_m") == "50" and _typed(page, "window_hours") == "24"
    assert "Never changed: the defaults apply." in page


def test_valid_duplicate_rules_are_saved_and_recorded(admin, client):
    response = client.post("/admin/duplicates", data={"radius_m": "80.5", "window_hours": "48"})
    assert response.status_code == 303
    assert duplicate_rules() == DuplicateRules(80.5, 48.0)
    [change] = _changes("duplicate_rules")
    assert change.changed_by_id == admin.id
    assert (change.before, change.after) == ({"radius_m": 50.0, "window_hours": 24.0},
                                             {"radius_m": 80.5, "window_hours": 48.0})
    page = client.get("/admin/duplicates").text
    assert "Duplicate rules saved." in page and _in_force(page, "radius_m") == "80.5"
    assert "50.0 → 80.5" in page.split('id="history-title"')[1]


@pytest.mark.parametrize(
    "field, value, reason",
    [
        ("radius_m", "0", "must be above 0 and at most 5000"),
        ("radius_m", "5001", "must be above 0 and at most 5000"),
        ("radius_m", "inf", "must be a finite number"),
        ("radius_m", "far", "Not a valid float value."),
        ("window_hours", "-1", "must be above 0 and at most 720"),
        ("window_hours", "", "This field is required."),
    ],
)
def test_each_bad_duplicate_rule_shows_its_reason_and_nothing_is_saved(admin, client, field, value, reason):
    response = client.post("/admin/duplicates", data={"radius_m": "60", "window_hours": "12", field: value})
    assert response.status_code == 422
    assert _field_error(response.text, field) == reason
    assert _in_force(response.text, "radius_m") == "50"
    _nothing_stored()


def test_both_bad_duplicate_rules_are_marked_together(admin, client):
    response = client.post("/admin/duplicates", data={"radius_m": "0", "window_hours": "1000"})
    assert response.status_code == 422
    assert _field_error(response.text, "radius_m") and _field_error(response.text, "window_hours")
    _nothing_stored()


def test_reset_the_duplicate_rules(admin, client):
    set_duplicate_rules(admin, radius_m=120)
    db.session.commit()
    assert client.post("/admin/duplicates/reset").status_code == 303
    assert duplicate_rules() == DuplicateRules()
    assert db.session.get(CitySetting, RADIUS_KEY) is None and db.session.get(CitySetting, WINDOW_KEY) is None
    assert [c.action for c in _changes("duplicate_rules")] == ["update", "reset"]


# --- who may, CSRF, language ------------------------------------------------------------------


@pytest.mark.parametrize("role", ["dispatcher", "shift_leader", "leader", "evaluator", "grid_worker"])
def test_other_roles_can_neither_see_nor_change_the_settings(world, client, auth, role):
    auth.login(role)
    for path in SETTINGS_PAGES:
        assert client.get(path).status_code == 403, path
    for path in SETTINGS_POSTS:
        assert client.post(path, data={**POLICY_FORM, "radius_m": "80", "window_hours": "2"}).status_code == 403, path
    _nothing_stored()


def test_signed_out_visitors_are_sent_to_sign_in(world, client):
    for path in SETTINGS_PAGES:
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post("/admin/duplicates", data={"radius_m": "80", "window_hours": "2"}).status_code == 302
    _nothing_stored()


def test_forms_need_the_page_s_csrf_token(admin, client, app):
    app.config["WTF_CSRF_ENABLED"] = True
    for path in SETTINGS_POSTS:
        assert client.post(path, data={**POLICY_FORM, "radius_m": "80", "window_hours": "2"}).status_code == 400, path
    _nothing_stored()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/admin/duplicates").text)[1]
    response = client.post("/admin/duplicates", data={"radius_m": "80", "window_hours": "2", "csrf_token": token})
    assert response.status_code == 303 and duplicate_rules() == DuplicateRules(80.0, 2.0)
    response = client.post("/admin/escalation", data={**POLICY_FORM, "level3_working_days": "4", "csrf_token": token})
    assert response.status_code == 303 and escalation_policy().level3_working_days == 4


def test_the_sections_are_in_the_administration(admin, client):
    index = client.get("/admin/").text
    assert 'href="/admin/escalation"' in index and 'href="/admin/duplicates"' in index
    assert 'aria-current="page">Escalation policy</a>' in client.get("/admin/escalation").text


def test_the_pages_speak_chinese(admin, client):
    admin.locale = "zh"
    db.session.commit()
    page = client.get("/admin/escalation").text
    assert "升级督办规则" in page and "超时督办单（第 2 级）" in page and "工作日" in page and "变更记录" in page
    response = client.post("/admin/escalation", data={**POLICY_FORM, "level2_share": "-1"})
    assert "必须在 0% 到 1000% 之间" in _field_error(response.text, "level2_share")
    page = client.get("/admin/duplicates").text
    assert "疑似重复" in page and "米" in page and "恢复默认值" in page


# --- the command line is recorded too ---------------------------------------------------------


def test_the_commands_still_work_and_are_recorded(world, runner):
    result = runner.invoke(args=["supervision", "policy", "--set", "level3_working_days=6",
                                 "--set", 'reply_hours={"leader": 3}'])
    assert result.exit_code == 0, result.output
    assert '"level3_working_days": 6' in result.output and '"leader": 3' in result.output
    result = runner.invoke(args=["supervision", "policy", "--set", "level3_working_days=0"])
    assert result.exit_code != 0 and "level3_working_days" in result.output
    result = runner.invoke(args=["supervision", "policy", "--reset", "--set", "level2_share=0.75"])
    assert result.exit_code == 0, result.output
    assert escalation_policy() == EscalationPolicy(level2_share=0.75)
    assert [(c.action, c.changed_by_id) for c in _changes("escalation_policy")] == [
        ("update", None), ("reset", None), ("update", None),
    ]

    assert runner.invoke(args=["duplicate-rules", "--radius-m", "70"]).exit_code == 0
    result = runner.invoke(args=["duplicate-rules", "--reset"])
    assert result.exit_code == 0 and "radius 50 m, window 24 h" in result.output
    assert [(c.action, c.changed_by_id) for c in _changes("duplicate_rules")] == [("update", None), ("reset", None)]


# --- services ---------------------------------------------------------------------------------


def test_only_administrators_may_change_the_settings(world):
    for role in ("dispatcher", "shift_leader", "leader"):
        user = world.user(role)
        with pytest.raises(NotAllowed):
            set_escalation_policy(user, {"level3_working_days": 4})
        with pytest.raises(NotAllowed):
            reset_escalation_policy(user)
        with pytest.raises(NotAllowed):
            reset_duplicate_rules(user)
    _nothing_stored()


def test_reply_limits_left_out_keep_their_current_values(world):
    set_escalation_policy(world.user("admin"), {"reply_hours": {"timeout1": 2, "leader": 3}})
    set_escalation_policy(world.user("admin"), {"reply_hours": {"timeout1": 6}})
    assert escalation_policy().reply_hours == {**EscalationPolicy().reply_hours, "timeout1": 6, "leader": 3}


def test_a_bad_policy_names_every_field_and_stores_nothing(world):
    with pytest.raises(ValidationFailed) as refused:
        set_escalation_policy(world.user("admin"), {"level3_working_days": 2.5, "level2_share": "half",
                                                    "reply_hours": {"timeout1": True, "nope": 1}})
    assert set(refused.value.fields) == {"level3_working_days", "level2_share", "reply_hours"}
    _nothing_stored()


# --- API --------------------------------------------------------------------------------------


def test_api_reads_and_changes_the_policy(world, api):
    admin, worker = auth_headers(world.user("admin")), auth_headers(world.user("grid_worker"))
    db.session.commit()
    body = api.get("/api/v1/supervision/policy", headers=worker).get_json()
    assert body["level2_share"] == 0.5 and body["reply_hours"]["timeout1"] == 4
    response = api.put("/api/v1/supervision/policy", json={"level3_working_days": 2}, headers=worker)
    assert response.status_code == 403
    response = api.put("/api/v1/supervision/policy", headers=admin,
                          json={"level2_share": 0.6, "reply_hours": {"timeout3": None}})
    assert response.status_code == 200
    assert response.get_json()["level2_share"] == 0.6 and response.get_json()["reply_hours"]["timeout3"] is None
    db.session.expire_all()
    assert escalation_policy().reply_hours["timeout2"] == 8
    response = api.put("/api/v1/supervision/policy", headers=admin,
                          json={"level2_share": 11, "reply_hours": {"leader": 0}, "colour": "red"})
    assert response.status_code == 422
    assert set(response.get_json()["fields"]) == {"level2_share", "reply_hours.leader", "colour"}
    assert api.put("/api/v1/supervision/policy", data="[]", headers=admin,
                      content_type="application/json").status_code == 422
    db.session.expire_all()
    assert escalation_policy().level2_share == 0.6
    assert api.delete("/api/v1/supervision/policy", headers=worker).status_code == 403
    assert api.delete("/api/v1/supervision/policy", headers=admin).get_json()["level2_share"] == 0.5
    changes = _changes("escalation_policy")
    assert [(c.action, c.changed_by_id) for c in changes] == [("update", world.user("admin").id),
                                                              ("reset", world.user("admin").id)]


def test_api_reads_and_changes_the_duplicate_rules(world, api):
    admin, worker = auth_headers(world.user("admin")), auth_headers(world.user("intake_operator"))
    db.session.commit()
    assert api.get("/api/v1/cases/duplicate-rules", headers=worker).get_json() == {"radius_m": 50, "window_hours": 24}
    assert api.put("/api/v1/cases/duplicate-rules", json={"radius_m": 70}, headers=worker).status_code == 403
    response = api.put("/api/v1/cases/duplicate-rules", json={"window_hours": 6}, headers=admin)
    assert response.get_json() == {"radius_m": 50, "window_hours": 6}
    response = api.put("/api/v1/cases/duplicate-rules", json={"radius_m": None, "window_hours": 0, "x": 1},
                          headers=admin)
    assert response.status_code == 422 and set(response.get_json()["fields"]) == {"radius_m", "x"}
    response = api.put("/api/v1/cases/duplicate-rules", json={"radius_m": "50", "window_hours": 0}, headers=admin)
    assert response.status_code == 422 and set(response.get_json()["fields"]) == {"radius_m", "window_hours"}
    db.session.expire_all()
    assert duplicate_rules() == DuplicateRules(50.0, 6.0)
    assert api.delete("/api/v1/cases/duplicate-rules", headers=admin).get_json() == {"radius_m": 50,
                                                                                        "window_hours": 24}
    response = api.get("/api/v1/catalogue/history?entity=duplicate_rules", headers=admin).get_json()
    assert [change["action"] for change in response["changes"]] == ["reset", "update"]
