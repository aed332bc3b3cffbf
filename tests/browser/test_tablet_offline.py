"""Offline: a report made without network is kept on the tablet, survives a reload and a
relaunch of the app, and becomes exactly one case when the network returns."""

from __future__ import annotations

import pytest
from PIL import Image
from sqlalchemy import func, select

from gridops.cases.models import Case
from gridops.catalogue.models import SmallClass
from gridops.extensions import db
from tests.browser.test_tablet_pages import GRID1_GPS, open_tablet
from tests.case_factories import make_world
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def world(app):
    """The staffed small city, committed."""
    make_world()
    db.session.commit()
    db.session.close()


@pytest.fixture
def photos(tmp_path):
    """A before and an after photo, as the camera hands them over."""
    paths = []
    for name, colour in (("before.jpg", (120, 110, 90)), ("after.jpg", (200, 200, 190))):
        Image.new("RGB", (1200, 900), colour).save(tmp_path / name, "JPEG")
        paths.append(str(tmp_path / name))
    return paths


def case_count() -> int:
    db.session.close()
    return db.session.scalar(select(func.count()).select_from(Case))


def installed(page) -> None:
    """Wait until the service worker controls the page (it keeps the shell from then on)."""
    page.evaluate("navigator.serviceWorker.ready")
    if not page.evaluate("Boolean(navigator.serviceWorker.controller)"):
        page.reload()
    page.wait_for_function("Boolean(navigator.serviceWorker.controller)")


def report(page, tile_text, photo, after=None):
    page.click(f"label[for^=class-]:has-text('{tile_text}')")
    page.set_input_files("#report-photos", photo)
    if after:
        page.check("#report-fixed")
        page.set_input_files("#report-after", after)
    page.click("#report-send")


def test_a_report_made_offline_is_sent_once_when_the_network_returns(page_for, world, photos, screenshot_dir):
    page = open_tablet(page_for, 1280, 800, gps=GRID1_GPS)
    page.goto("/tablet/report")
    installed(page)
    context = page.context

    context.set_offline(True)
    page.wait_for_selector("#tablet-net:not([hidden])")
    report(page, "暴露垃圾", photos[0])
    report(page, "果皮箱", photos[0], after=photos[1])
    waiting = page.locator(".outbox-waiting")
    waiting.nth(1).wait_for()
    assert waiting.count() == 2
    assert page.inner_text("#outbox-count") == "2"
    page.screenshot(path=str(screenshot_dir / "tablet-offline-1-waiting-1280x800.png"), full_page=True)

    # Still offline: the page reloads from the service worker, the reports from IndexedDB.
    page.reload()
    page.wait_for_selector(".outbox-waiting >> nth=1")
    # Relaunching the app (a new window on its start page) finds them too.
    relaunched = context.new_page()
    relaunched.console_errors = []
    relaunched.goto("/tablet/")
    relaunched.wait_for_selector(".outbox-waiting >> nth=1")
    assert relaunched.locator("#tablet-net").is_visible()
    relaunched.screenshot(path=str(screenshot_dir / "tablet-offline-2-relaunched-1280x800.png"), full_page=True)
    relaunched.close()
    assert case_count() == 0

    context.set_offline(False)
    page.wait_for_selector(".outbox-sent >> nth=1")
    assert page.locator(".outbox-waiting").count() == 0
    assert page.locator("#outbox-count").is_hidden()
    page.screenshot(path=str(screenshot_dir / "tablet-offline-3-sent-1280x800.png"), full_page=True)
    assert case_count() == 2
    # Another attempt (the other tab, a timer, a lost answer) files nothing more.
    page.evaluate("window.gridopsOutbox.sync()")
    page.reload()
    page.wait_for_selector(".outbox-sent >> nth=1")
    assert case_count() == 2

    cases = db.session.scalars(select(Case).order_by(Case.id)).all()
    assert [(case.small_class.code, case.state, case.self_handled) for case in cases] == [
        ("0102", "reported", False),
        ("0302", "closed", True),
    ]
    assert all(case.idempotency_key.startswith("tablet-") for case in cases)
    assert [event.action for event in cases[1].events] == ["file", "self_close"]
    assert page.console_errors == []


def test_a_report_the_server_refuses_is_shown_and_not_retried(page_for, world, photos):
    page = open_tablet(page_for, 1280, 800, gps=GRID1_GPS)
    page.goto("/tablet/report")
    installed(page)
    page.context.set_offline(True)
    report(page, "暴露垃圾", photos[0])
    page.wait_for_selector(".outbox-waiting")
    # Meanwhile the class is retired from the catalogue: the report can never be filed as it is.
    db.session.close()
    db.session.scalar(select(SmallClass).where(SmallClass.case_type == "event", SmallClass.code == "0102")).active = False
    db.session.commit()
    page.context.set_offline(False)
    refused = page.locator(".outbox-refused")
    refused.wait_for()
    assert "small_class" in refused.inner_text()
    page.evaluate("window.gridopsOutbox.sync()")
    assert page.locator(".outbox-refused").count() == 1
    assert case_count() == 0
    # The worker removes it (it was never sent, so the tablet asks first).
    page.once("dialog", lambda dialog: dialog.accept())
    refused.locator(".outbox-remove").click()
    page.wait_for_selector(".outbox-item", state="detached")


def test_reports_wait_for_a_new_sign_in_when_the_session_has_ended(page_for, world, photos):
    page = open_tablet(page_for, 1280, 800, gps=GRID1_GPS)
    page.goto("/tablet/report")
    installed(page)
    context = page.context
    context.set_offline(True)
    report(page, "暴露垃圾", photos[0])
    page.wait_for_selector(".outbox-waiting")
    context.clear_cookies()
    context.set_offline(False)
    page.wait_for_selector(".outbox .notice-warning")
    assert "重新登录" in page.inner_text(".outbox")
    assert page.locator(".outbox-waiting").count() == 1
    assert case_count() == 0

    page.goto("/login")
    page.fill("#username", "grid_worker")
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto("/tablet/")
    page.wait_for_selector(".outbox-sent")
    assert case_count() == 1


KEPT_PHOTO_SIZES_JS = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open('gridops-tablet', 1);
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const all = open.result.transaction('reports').objectStore('reports').getAll();
    all.onsuccess = async () => {
      const sizes = [];
      for (const record of all.result) {
        for (const blob of record.photos) {
          const bitmap = await createImageBitmap(blob);
          sizes.push([bitmap.width, bitmap.height, blob.type]);
        }
      }
      resolve(sizes);
    };
  };
})"""


def test_camera_photos_are_kept_at_the_size_the_server_stores(page_for, world, tmp_path):
    big = tmp_path / "IMG_4032.jpg"
    Image.effect_noise((4032, 3024), 60).convert("RGB").save(big, "JPEG", quality=95)
    page = open_tablet(page_for, 1280, 800, gps=GRID1_GPS)
    page.goto("/tablet/report")
    page.context.set_offline(True)
    report(page, "暴露垃圾", str(big))
    page.wait_for_selector(".outbox-waiting")
    assert page.evaluate(KEPT_PHOTO_SIZES_JS) == [[2048, 1536, "image/jpeg"]]
    page.context.set_offline(False)
    page.wait_for_selector(".outbox-sent")
    assert case_count() == 1
