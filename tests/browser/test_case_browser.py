"""A case in a real browser: a grid worker files it on the form, intake registers it, a dispatcher dispatches it."""

from __future__ import annotations

import re

import pytest

from gridops.catalogue.services import seed_default_catalogue
from gridops.extensions import db
from tests.browser.helpers import sign_in as shared_sign_in
from tests.factories import make_department, make_small_city, make_user

pytestmark = pytest.mark.browser


@pytest.fixture
def world(app):
    """The tiny city, the default catalogue, a sanitation unit and the three people of the path, committed."""
    areas = make_small_city()
    seed_default_catalogue()
    make_department("SAN01", "环卫处", "sanitation", area=areas["district"])
    make_user("worker", "grid_worker", area=areas["community"], full_name="王芳")
    make_user("intake", "intake_operator", full_name="李明")
    make_user("dispatcher", "dispatcher", full_name="张伟")
    db.session.commit()
    db.session.close()


def sign_in(page_for, username):
    return shared_sign_in(page_for, username, next_path="/cases")


def test_file_register_and_dispatch_a_case(page_for, world, screenshot_dir):
    worker = sign_in(page_for, "worker")
    worker.click("text=上报案件")
    worker.wait_for_url("**/cases/new")
    # Only the chosen class's filing standards are offered (illegal structures have two).
    worker.select_option("#small_class", "event:0101")
    assert worker.locator("#standard optgroup:not([hidden]) option").count() == 2
    worker.select_option("#small_class", "event:0102")
    assert worker.locator("#standard optgroup:not([hidden])").count() == 0
    worker.fill("#description", "路边堆放生活垃圾约两立方米")
    worker.fill("#address", "建设路 12 号")
    # The map draws the district; a tap inside it fills the position in the layer's datum.
    worker.wait_for_selector("#file-map path.leaflet-interactive, #file-map path", state="attached")
    box = worker.locator("#file-map").bounding_box()
    worker.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert worker.input_value("#x") and worker.input_value("#y")
    assert worker.input_value("#datum") == "gcj02"
    worker.screenshot(path=str(screenshot_dir / "case-file-1280x800.png"), full_page=True)
    worker.click("button:has-text('提交案件')")
    worker.wait_for_url(re.compile(r".*/cases/\d+$"))
    number = worker.url.rsplit("/", 1)[1]
    assert "已上报" in worker.locator(".case-status").inner_text()
    assert worker.locator(".timeline-event").count() == 1
    worker.screenshot(path=str(screenshot_dir / "case-filed-1280x800.png"), full_page=True)

    intake = sign_in(page_for, "intake")
    intake.click(f"text={number}")
    intake.click("form.action-form button:has-text('立案')")
    intake.wait_for_selector(".flash-success")
    assert "已立案" in intake.locator(".case-status").inner_text()

    dispatcher = sign_in(page_for, "dispatcher")
    row = dispatcher.locator("tr", has_text=number)
    assert "已立案" in row.inner_text()
    dispatcher.screenshot(path=str(screenshot_dir / "case-list-1280x800.png"), full_page=True)
    row.locator("a.case-number").click()
    assert dispatcher.locator("select[name='dispatch-unit'] option:checked").inner_text() == "环卫处"
    dispatcher.click("form.action-form button:has-text('派遣')")
    dispatcher.wait_for_selector(".flash-success")
    assert "已派遣" in dispatcher.locator(".case-status").inner_text()
    timeline = dispatcher.locator(".timeline-event")
    assert timeline.count() == 3
    assert "已立案 → 已派遣" in timeline.nth(2).inner_text()
    assert "张伟" in timeline.nth(2).inner_text()
    dispatcher.screenshot(path=str(screenshot_dir / "case-dispatched-1280x800.png"), full_page=True)
    # The same pages on a 10-inch tablet held upright: the list turns into one card per case.
    dispatcher.set_viewport_size({"width": 800, "height": 1280})
    dispatcher.screenshot(path=str(screenshot_dir / "case-dispatched-800x1280.png"), full_page=True)
    dispatcher.goto("/cases")
    assert dispatcher.locator("a.case-number").bounding_box()["height"] >= 44
    dispatcher.screenshot(path=str(screenshot_dir / "case-list-800x1280.png"), full_page=True)

    for page in (worker, intake, dispatcher):
        assert page.console_errors == []
