"""Before a report is sent, open cases of the same class close by are offered: the worker
either drops the report (already reported) or sends it as a new problem."""

from __future__ import annotations

import pytest
from PIL import Image
from sqlalchemy import func, select

from gridops.cases.models import Case
from gridops.db import utcnow
from gridops.extensions import db
from tests.browser.test_tablet_pages import GRID1_GPS, open_tablet
from tests.case_factories import make_case, make_world

pytestmark = pytest.mark.browser


@pytest.fixture
def existing(app):
    """An exposed-garbage case filed a moment ago where the worker stands; its number."""
    world = make_world()
    case = make_case("reported", world=world, now=utcnow(), description="垃圾桶旁堆放垃圾")
    db.session.commit()
    number = case.number
    db.session.close()
    return number


def case_count() -> int:
    db.session.close()
    return db.session.scalar(select(func.count()).select_from(Case))


def test_nearby_duplicates_are_offered_before_sending(page_for, existing, tmp_path, screenshot_dir):
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (800, 600), (90, 90, 90)).save(photo, "JPEG")
    page = open_tablet(page_for, 1280, 800, gps=GRID1_GPS)
    page.goto("/tablet/report")
    page.wait_for_function("document.getElementById('grid-status').textContent.includes('411302001001001')")

    def fill_in():
        page.click("label[for^=class-]:has-text('暴露垃圾')")
        page.set_input_files("#report-photos", str(photo))
        page.click("#report-send")
        page.wait_for_selector("#duplicates:not([hidden])")

    fill_in()
    assert existing in page.inner_text("#duplicates-list")
    assert "米" in page.inner_text("#duplicates-list")
    page.screenshot(path=str(screenshot_dir / "tablet-duplicates-1280x800.png"), full_page=True)
    page.click("#duplicates-drop")
    assert "未发送" in page.inner_text("#report-problems")
    assert page.locator(".outbox-item").count() == 0
    assert case_count() == 1

    # The form still holds the report: sending it as a new problem files it.
    page.click("#report-send")
    page.wait_for_selector("#duplicates:not([hidden])")
    page.click("#duplicates-send")
    page.wait_for_selector(".outbox-sent")
    assert case_count() == 2
    assert page.console_errors == []
