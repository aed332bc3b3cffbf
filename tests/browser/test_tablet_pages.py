"""The tablet pages in a real browser: landscape and portrait, Chinese and English, 200 % zoom, keyboard."""

from __future__ import annotations

import pytest
from PIL import Image
from sqlalchemy import select

from gridops.cases.models import Case
from gridops.extensions import db
from gridops.territory.datum import convert
from tests.case_factories import GRID1_XY, make_case, make_world
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

#: The GPS fix (WGS-84) that lands in unit grid 1, whose polygons are drawn in GCJ-02.
GRID1_GPS = convert(*GRID1_XY, "gcj02", "wgs84")


@pytest.fixture
def world(app):
    """The staffed small city with a check and a verification waiting for the grid worker, committed."""
    world = make_world()
    make_case("handled", world=world)
    make_case("verifying", world=world)
    db.session.commit()
    db.session.close()
    return world


def open_tablet(page_for, width=1280, height=800, locale="zh-CN", gps=GRID1_GPS):
    """A grid worker signed in on a tablet whose GPS reports ``gps`` (longitude, latitude)."""
    page = page_for(width, height, locale=locale)
    if gps is not None:
        page.context.grant_permissions(["geolocation"])
        page.context.set_geolocation({"longitude": gps[0], "latitude": gps[1], "accuracy": 8})
    page.goto("/login")
    page.fill("#username", "grid_worker")
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    # Wherever the start page is, signing in leaves the sign-in page.
    page.wait_for_url(lambda url: "/login" not in url)
    wanted = "en" if locale.startswith("en") else "zh"
    switch = page.locator(f"button[name=locale][value={wanted}]")
    if switch.count():
        switch.click()
    page.goto("/tablet/")
    return page


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_home_shows_grids_tasks_and_position(page_for, world, screenshot_dir):
    page = open_tablet(page_for)
    page.wait_for_selector("#tablet-map path.leaflet-interactive", state="attached")
    page.wait_for_function("document.getElementById('gps-status').textContent.includes('8')")
    assert page.locator(".task").count() == 2
    # Least time left first: the check (2 working hours) before the verification (24 hours).
    assert "现场核查" in page.locator(".task").first.inner_text()
    assert page.locator("#tablet-map path.leaflet-interactive").count() >= 2
    page.screenshot(path=str(screenshot_dir / "tablet-home-1280x800.png"), full_page=True)
    assert page.console_errors == []


def test_report_screen_in_english_and_portrait(page_for, world, screenshot_dir):
    page = open_tablet(page_for, 800, 1280, locale="en-GB")
    page.click("text=Report a problem")
    page.wait_for_url("**/tablet/report")
    page.wait_for_function("document.getElementById('grid-status').textContent.includes('411302001001001')")
    assert "Grid:" in page.inner_text("#grid-status")
    page.fill("#class-search", "garbage")
    visible = page.locator(".class-tile:visible")
    assert 1 <= visible.count() < 10
    assert "Exposed garbage" in visible.all_inner_texts()[0] or "garbage" in " ".join(visible.all_inner_texts()).lower()
    page.screenshot(path=str(screenshot_dir / "tablet-report-800x1280-en.png"), full_page=True)
    assert no_horizontal_overflow(page)
    assert page.console_errors == []


def test_report_screen_is_keyboard_usable_and_labelled(page_for, world, screenshot_dir):
    page = open_tablet(page_for)
    page.goto("/tablet/report")
    page.wait_for_selector(".class-tile")
    # Every control has a label (or an accessible name) the screen reader announces.
    unlabelled = page.evaluate(
        """() => Array.from(document.querySelectorAll('input, select, textarea, button'))
             .filter(e => e.type !== 'hidden')
             .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim()
                          && !e.getAttribute('title'))
             .map(e => e.outerHTML)"""
    )
    assert unlabelled == []
    # A category is chosen from the keyboard: focus the first tile, move with the arrows.
    page.focus(".class-tile input")
    page.keyboard.press("ArrowRight")
    checked = page.locator('input[name="small_class"]:checked')
    assert checked.count() == 1
    assert page.evaluate("document.activeElement.name") == "small_class"
    page.screenshot(path=str(screenshot_dir / "tablet-report-1280x800-keyboard.png"), full_page=True)


@pytest.mark.parametrize("path", ["/tablet/", "/tablet/report"])
def test_pages_survive_200_percent_zoom(page_for, world, screenshot_dir, path):
    # 200 % zoom of a 1280-pixel-wide screen lays the page out in 640 CSS pixels.
    page = open_tablet(page_for, 640, 400)
    page.goto(path)
    page.wait_for_selector(".tablet-map .leaflet-pane", state="attached")
    assert no_horizontal_overflow(page)
    name = path.strip("/").replace("/", "-")
    page.screenshot(path=str(screenshot_dir / f"{name}-zoom200.png"), full_page=True)


#: Text whose contrast with its background is below WCAG AA (4.5:1; 3:1 for large text).
LOW_CONTRAST_JS = """() => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(',').map(parseFloat);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = parse(getComputedStyle(el).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const low = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!node.textContent.trim() || !el.getClientRects().length || el.closest('.leaflet-control-attribution, .visually-hidden, [disabled]')) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || parseFloat(style.opacity) === 0) continue;
    const a = luminance(parse(style.color)), b = luminance(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const large = parseFloat(style.fontSize) >= 24 || (parseFloat(style.fontSize) >= 18.66 && parseInt(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) low.push(`${node.textContent.trim().slice(0, 40)}: ${ratio.toFixed(2)}`);
  }
  return low;
}"""


@pytest.mark.parametrize("path", ["/tablet/", "/tablet/report"])
def test_text_contrast_meets_wcag_aa(page_for, world, path):
    page = open_tablet(page_for)
    page.goto(path)
    page.wait_for_selector(".tablet-map .leaflet-pane", state="attached")
    assert page.evaluate(LOW_CONTRAST_JS) == []


def test_signing_out_forgets_the_pages_kept_for_offline_use(page_for, world):
    page = open_tablet(page_for)
    page.evaluate("navigator.serviceWorker.ready")
    page.wait_for_function("caches.has('gridops-tablet-pages')")
    page.click("form[action$='/logout'] button")
    page.wait_for_url("**/login**")
    assert page.evaluate("caches.has('gridops-tablet-pages')") is False


def test_the_pin_is_set_by_tapping_the_map_or_from_the_keyboard(page_for, world, tmp_path):
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (640, 480), (60, 90, 60)).save(photo, "JPEG")
    page = open_tablet(page_for)
    page.goto("/tablet/report")
    page.wait_for_function("document.getElementById('grid-status').textContent.includes('411302001001001')")
    # The grid outlines are drawn in code order: the second is unit grid 2 (north-east).
    box = page.locator("#report-map path.leaflet-interactive").nth(1).bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function("document.getElementById('grid-status').textContent.includes('411302001001002')")
    assert "已在地图上设定位置" in page.inner_text("#gps-status")

    page.click("#use-gps")
    page.wait_for_function("document.getElementById('grid-status').textContent.includes('411302001001001')")
    page.focus("#pin-centre")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('gps-status').textContent.includes('已在地图上设定位置')")

    # A report from a tapped position is sent in the layer's datum and lands in the tapped grid.
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function("document.getElementById('grid-status').textContent.includes('411302001001002')")
    page.click("label[for^=class-]:has-text('暴露垃圾')")
    page.set_input_files("#report-photos", str(photo))
    page.click("#report-send")
    page.wait_for_selector(".outbox-sent")
    db.session.close()
    case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert (case.datum, case.accuracy_m, case.unit_grid.code) == ("gcj02", None, "411302001001002")
    assert page.console_errors == []


@pytest.mark.parametrize("path", ["/tablet/", "/tablet/tasks/{number}"])
def test_portrait_tablet_in_english(page_for, world, screenshot_dir, path):
    number = db.session.scalar(select(Case.number).where(Case.state == "handled"))
    db.session.close()
    page = open_tablet(page_for, 800, 1280, locale="en-GB")
    page.goto(path.format(number=number))
    page.wait_for_selector(".tablet-map .leaflet-pane", state="attached")
    assert "My tasks" in page.inner_text(".tablet-tabs")
    if "tasks" in path:
        assert "Check on site" in page.inner_text("h1")
        assert page.locator("form.answer-check_pass").count() == 1
    else:
        assert "Check on site" in page.inner_text(".task-list")
    assert no_horizontal_overflow(page)
    name = "tablet-task" if "tasks" in path else "tablet-home"
    page.screenshot(path=str(screenshot_dir / f"{name}-800x1280-en.png"), full_page=True)
    assert page.console_errors == []


def test_chromium_finds_the_app_installable(page_for, world):
    page = open_tablet(page_for)
    page.evaluate("navigator.serviceWorker.ready")
    cdp = page.context.new_cdp_session(page)
    assert cdp.send("Page.getAppManifest")["errors"] == []
    # Test browsers are private windows, which never install apps; nothing else may stand in the way.
    errors = {error["errorId"] for error in cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]}
    assert errors <= {"in-incognito"}
