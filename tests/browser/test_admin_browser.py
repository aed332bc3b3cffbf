"""An administrator in a real browser: a layer with an error is refused with its report, the fixed
file imports, a time limit is changed, a calendar day is overridden, the escalation policy and
the duplicate rules are changed and reset — each in the history."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from gridops.cases.duplicates import DuplicateRules, duplicate_rules
from gridops.catalogue.models import FilingStandard, SmallClass
from gridops.catalogue.services import seed_default_catalogue
from gridops.extensions import db
from gridops.supervision.policy import EscalationPolicy, escalation_policy
from gridops.territory.models import Area, GridLayer
from gridops.worktime.models import CalendarDay
from tests.browser.helpers import sign_in
from tests.factories import PASSWORD, make_user
from tests.test_territory_import import small_layer

pytestmark = pytest.mark.browser


@pytest.fixture
def world(app):
    """The default catalogue and one administrator, committed (no territory yet)."""
    seed_default_catalogue()
    make_user("root", "admin", full_name="赵管理")
    db.session.commit()
    db.session.close()


def test_import_a_layer_edit_a_time_limit_and_override_a_day(page_for, world, screenshot_dir, tmp_path):
    admin = sign_in(page_for, "root")
    admin.click("nav.mainnav >> text=系统管理")
    admin.wait_for_url("**/admin/")
    admin.screenshot(path=str(screenshot_dir / "admin-index-1280x800.png"), full_page=True)

    # A layer whose unit grid names a parent that does not exist: refused, with the reason.
    broken = small_layer()
    broken["features"][5]["properties"]["parent_code"] = "411302001999"
    bad_file = tmp_path / "wancheng-bad.geojson"
    bad_file.write_text(json.dumps(broken, ensure_ascii=False), encoding="utf-8")
    admin.click(".admin-nav >> text=辖区网格")
    admin.set_input_files("#layer", str(bad_file))
    admin.click("button:has-text('校验并导入')")
    report = admin.locator(".import-report")
    report.wait_for()
    assert "已拒绝" in report.inner_text()
    assert "unknown parent 411302001999" in report.inner_text()
    assert report.locator("tbody tr").count() >= 1
    admin.screenshot(path=str(screenshot_dir / "admin-import-rejected-1280x800.png"), full_page=True)
    assert db.session.scalar(select(GridLayer)) is None

    good_file = tmp_path / "wancheng.geojson"
    good_file.write_text(json.dumps(small_layer(), ensure_ascii=False), encoding="utf-8")
    admin.set_input_files("#layer", str(good_file))
    admin.click("button:has-text('校验并导入')")
    admin.wait_for_selector(".flash-success")
    assert "wancheng.geojson" in admin.locator("#imports-title + .table-wrap").inner_text()
    assert db.session.scalar(select(Area.id).where(Area.code == "411302001002004")) is not None
    admin.screenshot(path=str(screenshot_dir / "admin-import-done-1280x800.png"), full_page=True)

    # Exposed garbage (E0102): 4 working hours → 6.
    admin.click(".admin-nav >> text=立结案标准与时限")
    admin.click("a.case-number:has-text('E0102')")
    standard = admin.locator("form.standard-form").first
    standard.locator("input[name$='limit_value']").fill("6")
    standard.locator("textarea[name$='closing_condition']").fill("垃圾清运完毕，地面无残留")
    standard.locator("button:has-text('保存立案条件')").click()
    admin.wait_for_selector(".flash-success")
    history = admin.locator(".admin-history").inner_text()
    assert "limit_value" in history and "4 → 6" in history
    admin.screenshot(path=str(screenshot_dir / "admin-time-limit-1280x800.png"), full_page=True)
    db.session.expire_all()
    row = db.session.scalar(select(SmallClass).where(SmallClass.case_type == "event", SmallClass.code == "0102"))
    assert row.standards[0].limit_value == 6

    # A refused edit shows the reason and changes nothing.
    standard = admin.locator("form.standard-form").first
    standard.locator("input[name$='limit_value']").fill("0")
    standard.locator("button:has-text('保存立案条件')").click()
    assert admin.locator("form.standard-form .field-error").first.is_visible()
    db.session.expire_all()
    assert db.session.get(FilingStandard, row.standards[0].id).limit_value == 6

    # An extra day off, then it shows in the month and in the history.
    admin.click("nav.mainnav >> text=系统管理")
    admin.click(".admin-nav >> text=工作日历")
    admin.fill("#day", "2026-12-28")
    admin.select_option("#working", "no")
    admin.fill("#note", "城市纪念日")
    admin.click("button:has-text('保存日期')")
    admin.wait_for_selector(".flash-success")
    assert "城市纪念日" in admin.locator(".override-list").inner_text()
    assert admin.locator("td.day-off.override").count() >= 1
    admin.screenshot(path=str(screenshot_dir / "admin-calendar-1280x800.png"), full_page=True)
    db.session.expire_all()
    assert db.session.get(CalendarDay, date(2026, 12, 28)).working is False
    assert admin.console_errors == []


def test_users_page_on_a_tablet_in_english(page_for, world, screenshot_dir):
    page = page_for(1024, 768, locale="en-GB")
    page.goto("/login")
    page.fill("#username", "root")
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    page.goto("/admin/users/new")
    page.fill("#username", "li.si")
    page.fill("#full_name", "李四")
    page.fill("#password", "short")
    page.select_option("#role", "unit_staff")
    page.click("button[type=submit].primary")
    assert page.locator(".field-error").count() >= 2
    page.screenshot(path=str(screenshot_dir / "admin-user-refused-1024x768.png"), full_page=True)
    assert page.console_errors == []


def test_change_the_escalation_policy_and_the_duplicate_rules(page_for, world, screenshot_dir):
    admin = sign_in(page_for, "root", next_path="/admin/")
    admin.click(".admin-nav >> text=升级督办规则")
    admin.wait_for_url("**/admin/escalation")
    assert admin.locator("#level2_share").input_value() == "50"

    # A refused value is shown next to its field, in percent, and nothing is saved.
    admin.fill("#level2_share", "2000")
    admin.click("button:has-text('保存规则')")
    error = admin.locator("#level2_share-error")
    error.wait_for()
    assert "1000%" in error.inner_text()
    assert admin.locator("#level2_share").get_attribute("aria-invalid") == "true"
    db.session.expire_all()
    assert escalation_policy() == EscalationPolicy()

    # Level 2 at 60 % of the limit, leader supervision without a reply limit.
    admin.fill("#level2_share", "60")
    admin.fill("#reply_leader", "")
    admin.click("button:has-text('保存规则')")
    admin.wait_for_selector(".flash-success")
    history = admin.locator(".admin-history").inner_text()
    assert "赵管理" in history and "0.5 → 0.6" in history and "reply_hours.leader" in history
    admin.screenshot(path=str(screenshot_dir / "admin-escalation-1280x800.png"), full_page=True)
    db.session.expire_all()
    policy = escalation_policy()
    assert policy.level2_share == 0.6 and policy.reply_hours["leader"] is None

    admin.click(".admin-nav >> text=疑似重复")
    admin.fill("#radius_m", "80")
    admin.fill("#window_hours", "0")
    admin.click("button:has-text('保存规则')")
    assert admin.locator("#window_hours-error").is_visible()
    admin.fill("#window_hours", "12")
    admin.click("button:has-text('保存规则')")
    admin.wait_for_selector(".flash-success")
    admin.screenshot(path=str(screenshot_dir / "admin-duplicates-1280x800.png"), full_page=True)
    db.session.expire_all()
    assert duplicate_rules() == DuplicateRules(80.0, 12.0)
    admin.click("button:has-text('恢复默认值')")
    admin.wait_for_selector(".flash-success")
    assert "恢复默认值" in admin.locator(".admin-history").inner_text()
    db.session.expire_all()
    assert duplicate_rules() == DuplicateRules()
    assert admin.console_errors == []
