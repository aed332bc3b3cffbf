"""An administrator in a real browser reviews who saw callers' data (filters, a refused filter, the CSV)
and sets how long callers' data is kept."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gridops.extensions import db
from gridops.hotline.privacy import record_caller_view
from gridops.hotline.retention import purge_caller_data
from gridops.hotline.services import log_complaint
from gridops.hotline.settings import retention_days
from tests.browser.helpers import sign_in
from tests.case_factories import GRID1_XY, T0, make_world

pytestmark = pytest.mark.browser


@pytest.fixture
def world(app):
    """The staffed small city, one hotline case, views of it and of a lookup, and one purge run."""
    world = make_world()
    complaint = log_complaint(world.user("hotline_operator"), caller_name="赵大海", phone="13912345678",
                              content="井盖丢了", case_type="component", small_class_code="0101",
                              x=GRID1_XY[0], y=GRID1_XY[1], datum="gcj02", now=T0)
    record_caller_view(world.user("hotline_operator"), context="order_page", case_ids=[complaint.case.id], now=T0)
    record_caller_view(world.user("shift_leader"), context="api:caller", phone="+8613700000000",
                       now=T0 + timedelta(hours=2))
    purge_caller_data(T0, origin="scheduler")
    db.session.commit()
    world.number = complaint.case.number
    db.session.close()
    return world


def test_review_the_log_and_set_the_retention_period(page_for, world, screenshot_dir):
    admin = sign_in(page_for, "admin")
    admin.click("nav.mainnav >> text=系统管理")
    admin.click(".admin-nav >> text=来电人信息查看记录")
    admin.wait_for_url("**/admin/caller-views")
    table = admin.locator("#caller-views tbody")
    assert table.locator("tr").count() == 2
    assert "137****0000" in table.inner_text() and world.number in table.inner_text()
    admin.screenshot(path=str(screenshot_dir / "admin-caller-views-1280x800.png"), full_page=True)

    # An unknown user is refused beside its field; what was typed stays.
    admin.fill("#v-user", "nobody")
    admin.click("button:has-text('显示记录')")
    admin.wait_for_selector("#v-user-error")
    assert "nobody" in admin.locator("#v-user-error").inner_text()
    assert admin.locator("#caller-views").count() == 0 and admin.input_value("#v-user") == "nobody"

    # The caller's number however typed finds the view of the case it called about.
    admin.fill("#v-user", "")
    admin.fill("#v-phone", "139 1234 5678")
    admin.click("button:has-text('显示记录')")
    admin.wait_for_url("**phone=139*")
    assert table.locator("tr").count() == 1 and world.number in table.inner_text()
    with admin.expect_download() as download:
        admin.click("a:has-text('下载 CSV')")
    with open(download.value.path(), encoding="utf-8-sig") as handle:
        text = handle.read()
    assert text.splitlines()[0].startswith("viewed_at,username") and world.number in text
    assert "137****0000" not in text
    admin.screenshot(path=str(screenshot_dir / "admin-caller-views-filtered-1280x800.png"), full_page=True)

    admin.click(".admin-nav >> text=来电人信息保存期限")
    admin.wait_for_url("**/admin/retention")
    assert admin.locator("#purge-runs tbody tr").count() == 1 and "定时任务" in admin.inner_text("#purge-runs")
    admin.fill("#days", "10")
    admin.click("button:has-text('保存期限设置')")
    admin.wait_for_selector("#days-error")
    admin.fill("#days", "730")
    admin.click("button:has-text('保存期限设置')")
    admin.wait_for_selector(".flash-success")
    assert admin.input_value("#days") == "730"
    db.session.expire_all()
    assert retention_days() == 730
    admin.screenshot(path=str(screenshot_dir / "admin-retention-1280x800.png"), full_page=True)
    assert admin.console_errors == []


def test_the_log_reads_on_a_phone(page_for, world, screenshot_dir):
    admin = sign_in(page_for, "admin", width=390, height=844, next_path="/admin/caller-views")
    assert admin.locator("#caller-views tbody tr").count() == 2
    admin.screenshot(path=str(screenshot_dir / "admin-caller-views-390x844.png"), full_page=True)
    assert admin.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert admin.console_errors == []
