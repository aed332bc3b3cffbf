"""The whole loop on a tablet-sized screen: the grid worker reports with a photo, intake
registers, the dispatcher dispatches, the unit signs and reports back with a photo, the
worker's on-site check passes, and the case is closed."""

from __future__ import annotations

import re

import pytest
from PIL import Image
from sqlalchemy import func, select

from gridops.cases.models import Case, CasePhoto
from gridops.extensions import db
from tests.browser.test_tablet_pages import GRID1_GPS, open_tablet
from tests.case_factories import make_case, make_world
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def world(app):
    """The staffed small city (the grid worker answers for unit grids 1 and 2), committed."""
    make_world()
    db.session.commit()
    db.session.close()


@pytest.fixture
def photo(tmp_path):
    """A camera-sized JPEG on disk, as the file input hands it over."""
    path = tmp_path / "IMG_0001.jpg"
    Image.new("RGB", (1600, 1200), (120, 110, 90)).save(path, "JPEG")
    return str(path)


def office(page_for, username):
    """A desktop user of the office (intake, dispatch, unit) signed in."""
    page = page_for(1280, 800)
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r".*/(cases|work.*)$"))
    return page


def act(page, number, action, button, **fields):
    """Take one action on the case page: fill its fields, press its button, wait for the result."""
    page.goto(f"/cases/{number}")
    for name, value in fields.items():
        if name == "photos":
            page.set_input_files(f"#{action}-photos", value)
        else:
            page.fill(f"#{action}-{name}", value)
    page.click(f"form.action-form button[name='{action}-submit']:has-text('{button}')")
    page.wait_for_selector(".flash-success")


def test_report_to_closure_on_a_tablet(page_for, world, photo, screenshot_dir):
    worker = open_tablet(page_for, 1280, 800, gps=GRID1_GPS)
    worker.click(".tablet-tabs >> text=上报问题")
    worker.wait_for_function("document.getElementById('grid-status').textContent.includes('411302001001001')")
    worker.fill("#class-search", "暴露")
    worker.click("label[for^=class-]:has-text('暴露垃圾')")
    worker.set_input_files("#report-photos", photo)
    assert worker.locator("#report-photos-preview img").count() == 1
    worker.fill("#report-description", "路边堆放生活垃圾约两立方米")
    worker.screenshot(path=str(screenshot_dir / "tablet-loop-1-report-1280x800.png"), full_page=True)
    worker.click("#report-send")
    sent = worker.locator(".outbox-sent")
    sent.wait_for()
    number = re.search(r"\d+", sent.locator(".outbox-number").inner_text()).group(0)
    worker.screenshot(path=str(screenshot_dir / "tablet-loop-2-sent-1280x800.png"), full_page=True)

    case = db.session.scalar(select(Case).where(Case.number == number))
    assert (case.state, case.source, case.datum, case.unit_grid.code) == ("reported", "patrol", "wgs84", "411302001001001")
    assert case.accuracy_m == 8
    assert db.session.scalar(select(func.count()).where(CasePhoto.case_id == case.id)) == 1
    db.session.close()

    intake = office(page_for, "intake_operator")
    act(intake, number, "register", "立案")
    dispatcher = office(page_for, "dispatcher")
    act(dispatcher, number, "dispatch", "派遣")
    unit = office(page_for, "unit_staff")
    act(unit, number, "sign", "签收")
    act(unit, number, "feedback", "处置反馈", note="已清运", photos=photo)

    worker.goto("/tablet/")
    task = worker.locator(".task", has_text=number)
    assert "现场核查" in task.inner_text()
    task.locator("a").click()
    worker.wait_for_url(f"**/tablet/tasks/{number}")
    worker.wait_for_selector(".task-photos img")
    assert worker.locator(".task-photos img").count() == 2
    worker.screenshot(path=str(screenshot_dir / "tablet-loop-3-check-1280x800.png"), full_page=True)
    worker.set_input_files("#check_pass-photos", photo)
    worker.click("form.answer-check_pass button[type=submit]")
    worker.wait_for_url("**/tablet/")
    assert number in worker.inner_text(".flash-success")
    assert worker.locator(".task", has_text=number).count() == 0
    worker.screenshot(path=str(screenshot_dir / "tablet-loop-4-closed-1280x800.png"), full_page=True)

    case = db.session.scalar(select(Case).where(Case.number == number))
    assert case.state == "closed"
    assert [event.action for event in case.events] == ["file", "register", "dispatch", "sign", "feedback", "check_pass"]
    for page in (worker, intake, dispatcher, unit):
        assert page.console_errors == []


def test_verify_a_hotline_report_on_site(page_for, app, photo, screenshot_dir):
    world = make_world()
    number = make_case("verifying", world=world).number
    db.session.commit()
    db.session.close()
    worker = open_tablet(page_for, 1280, 800, gps=GRID1_GPS)
    worker.locator(".task", has_text=number).locator("a").click()
    worker.wait_for_url(f"**/tablet/tasks/{number}")
    assert "现场核实" in worker.inner_text("h1")
    worker.wait_for_function("document.getElementById('task-distance').textContent.includes('米')")
    worker.set_input_files("#verify-photos", photo)
    assert worker.locator("[data-preview-for='verify-photos'] img").count() == 1
    worker.screenshot(path=str(screenshot_dir / "tablet-verify-1280x800.png"), full_page=True)
    worker.click("form.answer-verify button[type=submit]")
    worker.wait_for_url("**/tablet/")
    assert number in worker.inner_text(".flash-success")
    case = db.session.scalar(select(Case).where(Case.number == number))
    assert case.state == "reported" and case.assignee_id is None
    assert worker.console_errors == []
