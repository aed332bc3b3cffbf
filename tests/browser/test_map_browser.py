"""The map in a real browser: sign in, draw the grids, tap to locate, switch language, tablet layouts."""

from __future__ import annotations

import pytest

from gridops.extensions import db
from tests.factories import PASSWORD, make_small_city, make_user

pytestmark = pytest.mark.browser

GRID_004 = "411302001001004"


@pytest.fixture
def city(app):
    """The tiny test city and a grid worker without a language setting, committed for the server."""
    make_small_city()
    make_user(full_name="王芳")
    db.session.commit()
    db.session.close()


def sign_in(page, next_path="/map"):
    page.goto(f"/login?next={next_path}")
    page.fill("#username", "worker")
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"**{next_path}*")


def wait_for_grids(page):
    """Wait until the unit grids of the tiny city are drawn and labelled (it fits at close zoom)."""
    page.wait_for_selector(".area-label-unit_grid span", state="attached")


def grid_label_center(page, short_code):
    box = page.locator(".area-label-unit_grid span", has_text=short_code).bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def point_outside_territory(page):
    """A pixel inside the map but outside the outermost drawn area."""
    outer = page.evaluate(
        """() => {
            const boxes = [...document.querySelectorAll('#map path.leaflet-interactive')]
                .map(p => p.getBoundingClientRect());
            return boxes.reduce((a, b) => (b.width * b.height > a.width * a.height ? b : a));
        }"""
    )
    frame = page.locator("#map").bounding_box()
    x = (outer["x"] + outer["width"] + frame["x"] + frame["width"]) / 2
    assert x > outer["x"] + outer["width"] + 5, "the map leaves room east of the territory"
    return x, outer["y"] + outer["height"] / 2


def test_sign_in_map_locate_and_outside(page_for, city, live_server, screenshot_dir):
    page = page_for(1280, 800)
    external = []
    page.on("request", lambda req: req.url.startswith(live_server) or external.append(req.url))
    sign_in(page)
    wait_for_grids(page)
    assert page.locator("h1#map-title").inner_text() == "辖区地图"

    page.mouse.click(*grid_label_center(page, "004"))
    chain = page.locator("#locate-result .chain")
    chain.wait_for()
    assert chain.locator(".chain-unit .chain-code").inner_text() == GRID_004
    codes = chain.locator(".chain-code").all_inner_texts()
    assert codes[-4:] == ["411302", "411302001", "411302001001", GRID_004]
    assert "测试社区" in chain.inner_text()
    assert "x=" in page.url and "y=" in page.url
    page.screenshot(path=str(screenshot_dir / "map-located-1280x800.png"))

    page.mouse.click(*point_outside_territory(page))
    alert = page.locator("#locate-result .notice-error")
    alert.wait_for()
    assert "该点位于辖区范围之外。" in alert.inner_text()
    assert page.locator("#locate-result .chain").count() == 0
    page.screenshot(path=str(screenshot_dir / "map-outside-1280x800.png"))

    assert external == [], "no request may leave the site (no CDN, no tile server by default)"
    assert page.console_errors == []


def test_locate_with_the_keyboard_form(page_for, city):
    page = page_for(1280, 800)
    sign_in(page)
    wait_for_grids(page)
    page.fill("#locate-x", "112.5505")
    page.fill("#locate-y", "33.0013")
    page.press("#locate-y", "Enter")
    page.locator("#locate-result .chain-unit").wait_for()
    assert page.locator("#locate-result .chain-unit .chain-code").inner_text() == "411302001001001"


def test_switch_language_to_chinese(page_for, city, screenshot_dir):
    page = page_for(1280, 800, locale="en-US")
    sign_in(page)
    wait_for_grids(page)
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1#map-title").inner_text() == "Territory map"
    assert page.locator(".mainnav a[href=\"/map\"]").inner_text() == "Territory map"

    page.click(".langform button")
    page.wait_for_selector('html[lang="zh-CN"]')
    wait_for_grids(page)
    assert page.locator("h1#map-title").inner_text() == "辖区地图"
    assert page.locator(".topbar-end button", has_text="退出登录").count() == 1
    assert page.locator(".whoami-role").inner_text() == "网格员"
    assert "单元网格" in page.locator(".legend").inner_text()

    page.mouse.click(*grid_label_center(page, "001"))
    page.locator("#locate-result .chain").wait_for()
    assert "单元网格" in page.locator("#locate-result .chain-unit").inner_text()
    page.screenshot(path=str(screenshot_dir / "map-zh-1280x800.png"))
    assert page.console_errors == []


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (800, 1280)])
def test_tablet_layout(page_for, city, screenshot_dir, width, height):
    page = page_for(width, height)
    page.goto("/login")
    page.screenshot(path=str(screenshot_dir / f"login-{width}x{height}.png"))
    sign_in(page)
    wait_for_grids(page)
    page.mouse.click(*grid_label_center(page, "002"))
    page.locator("#locate-result .chain").wait_for()
    page.screenshot(path=str(screenshot_dir / f"map-tablet-{width}x{height}.png"))

    frame = page.locator("#map").bounding_box()
    panel = page.locator(".map-panel").bounding_box()
    if width > height:
        assert panel["x"] >= frame["x"] + frame["width"] - 1, "landscape: the panel is beside the map"
        assert frame["width"] >= width * 0.6
    else:
        assert panel["y"] >= frame["y"] + frame["height"] - 1, "portrait: the panel is under the map"
        assert frame["height"] >= height * 0.45
    assert panel["y"] + panel["height"] <= height + 1, "map and panel fit the screen"

    small = page.evaluate(
        """() => [...document.querySelectorAll(
                'button, a.button, .mainnav a, input[type=text], input[type=password], .leaflet-bar a')]
            .filter(el => el.offsetParent !== null)
            .map(el => ({el: el.textContent.trim() || el.id || el.className, ...el.getBoundingClientRect().toJSON()}))
            .filter(r => r.height < 44 || r.width < 44)"""
    )
    assert small == [], "touch targets are at least 44 px"
    font_size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert font_size >= 16
    assert page.console_errors == []


def test_page_reflows_at_200_percent_zoom(page_for, city, screenshot_dir):
    """A 1280×800 screen at 200 % zoom leaves a 640×400 CSS-pixel window: nothing may overflow sideways."""
    page = page_for(640, 400)
    sign_in(page)
    wait_for_grids(page)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    page.screenshot(path=str(screenshot_dir / "map-zoom200.png"), full_page=True)


def test_keyboard_focus_is_visible(page_for, city):
    page = page_for(1280, 800)
    page.goto("/login")
    page.focus("#username")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    style = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth]; })()"
    )
    assert style[0] != "none" and float(style[1].rstrip("px")) >= 2
