"""The supervision inbox in a real browser: a unit's staff sees the unread badge, opens a timeout order and replies."""

from __future__ import annotations

import pytest

from gridops.extensions import db
from gridops.supervision.services import sweep_escalations
from tests.browser.helpers import sign_in
from tests.case_factories import T0, act, make_case, make_world
from tests.test_escalation import local

pytestmark = pytest.mark.browser


@pytest.fixture
def world(app):
    """A handling case escalated to level 2 and one under leader supervision, committed."""
    world = make_world()
    make_case("handling", world=world, now=T0)
    supervised = make_case("handling", world=world, now=T0)
    act(world, supervised, "supervise", "leader", instruction="今天下班前必须清运完毕", now=local(2026, 6, 1, 11))
    sweep_escalations(local(2026, 6, 2, 18))
    db.session.commit()
    db.session.close()
    return world


def test_unit_staff_reads_and_answers_a_timeout_order(page_for, world, screenshot_dir):
    page = sign_in(page_for, "unit_staff", width=1024, height=768)
    badge = page.locator("nav.mainnav a:has-text('督办') .nav-badge")
    assert badge.inner_text().startswith("7")
    page.click("nav.mainnav a:has-text('督办')")
    page.wait_for_url("**/supervision/inbox")
    assert page.locator(".sv-item").count() == 7
    assert page.locator(".sv-item.sv-unread").count() == 7
    page.screenshot(path=str(screenshot_dir / "supervision-inbox-1024x768.png"), full_page=True)

    page.click(".sv-item:has-text('超时督办单（第 1 级）') >> nth=0 >> a.sv-title")
    page.wait_for_url("**/supervision/orders/*")
    assert "自" in page.locator(".sv-instruction").inner_text()
    page.fill("#reply-body", "已安排环卫车清运，今天 17:00 前完成")
    page.screenshot(path=str(screenshot_dir / "supervision-order-1024x768.png"), full_page=True)
    page.click("button:has-text('提交回复')")
    page.wait_for_selector(".flash-success")
    assert "已安排环卫车清运" in page.locator(".sv-replies").inner_text()
    assert page.locator("nav.mainnav .nav-badge").inner_text().startswith("6")

    page.click("text=返回督办收件箱")
    page.click("a:has-text('待回复')")
    page.wait_for_url("**tab=awaiting_reply")
    assert page.locator(".sv-item").count() == 4
    assert page.console_errors == []


def test_leader_follows_the_order_given_in_english(page_for, world, screenshot_dir):
    page = sign_in(page_for, "leader", locale="en-US")
    page.goto("/supervision/inbox")
    if page.locator("html").get_attribute("lang") != "en":
        page.click("button:has-text('English')")
    item = page.locator(".sv-item.sv-kind-leader")
    assert item.count() == 1
    assert "今天下班前必须清运完毕" in item.inner_text()
    page.screenshot(path=str(screenshot_dir / "supervision-inbox-leader-en-1280x800.png"), full_page=True)
    assert page.console_errors == []
