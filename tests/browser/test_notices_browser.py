"""A notice in a real browser: the evaluator makes the weekly supervision list, publishes and prints it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from gridops.extensions import db
from tests.browser.helpers import sign_in
from tests.case_factories import GRID4_XY, T0, act, make_case, make_world

pytestmark = pytest.mark.browser


@pytest.fixture
def world(app):
    """Week 23 of 2026 in the small city: overdue, supervised and closed cases, committed."""
    world = make_world()
    for day in (0, 1, 3):
        make_case("handling", world=world, now=T0 + timedelta(days=day))
    make_case("closed", world=world, now=T0)
    watched = make_case("dispatched", world=world, now=T0 + timedelta(days=2), xy=GRID4_XY,
                        case_type="component", small_class_code="0118")
    act(world, watched, "supervise", "leader", instruction="今天处理", now=T0 + timedelta(days=2, hours=1))
    db.session.commit()
    db.session.close()


def test_make_publish_and_print_the_weekly_supervision_list(page_for, world, screenshot_dir):
    page = sign_in(page_for, "evaluator")
    page.click("nav.mainnav >> text=综合评价")
    page.wait_for_url("**/evaluation/notices")
    page.select_option("#n-kind", "weekly")
    page.fill("#n-period", "2026-W23")
    page.click("button:has-text('生成')")
    page.wait_for_url(re.compile(r".*/evaluation/notices/\d+$"))
    assert "周督查 2026-W23" in page.locator("h1").inner_text()
    assert page.locator("#t-totals + .table-wrap td").first.inner_text() == "4"
    assert page.locator("figure.ev-chart svg rect.ev-bar").count() > 0
    page.screenshot(path=str(screenshot_dir / "notice-weekly-1280x800.png"), full_page=True)

    page.click("button:has-text('发布')")
    page.wait_for_selector(".flash-success")
    assert page.locator(".ev-status-published").count() == 1
    assert page.locator("button:has-text('发布')").count() == 0

    page.click("text=打印视图（A4）")
    page.wait_for_url("**/print")
    assert not page.locator("header.topbar").is_visible()
    page.screenshot(path=str(screenshot_dir / "notice-weekly-print.png"), full_page=True)
    page.emulate_media(media="print")
    assert not page.locator(".ev-print-hint").is_visible()
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF") and 1 <= len(re.findall(rb"/Type\s*/Page[^s]", pdf)) <= 4
    (screenshot_dir / "notice-weekly.pdf").write_bytes(pdf)
    assert page.console_errors == []


def test_notice_page_on_a_tablet(page_for, world, screenshot_dir):
    from gridops.evaluation.notices import generate_notice
    from gridops.evaluation.periods import Period

    notice = generate_notice("quarterly", Period.parse("2026-Q2"), now=T0 + timedelta(days=40))
    db.session.commit()
    page = sign_in(page_for, "leader", 800, 1280)
    page.goto(f"/evaluation/notices/{notice.id}")
    assert "季讲评 2026-Q2" in page.locator("h1").inner_text()
    assert page.locator("#chart-months-caption").is_visible()
    page.screenshot(path=str(screenshot_dir / "notice-quarterly-800x1280.png"), full_page=True)
    assert page.console_errors == []
