"""The hotline desk in a real browser: a call found by place, merged into the likely duplicate, then a new one by map."""

from __future__ import annotations

import re

import pytest

from gridops.cases.services import file_case
from gridops.catalogue.services import seed_default_catalogue
from gridops.extensions import db
from gridops.hotline.gazetteer import import_gazetteer
from gridops.hotline.services import log_complaint
from tests.browser.helpers import sign_in as shared_sign_in
from tests.factories import DX, DY, X0, Y0, make_department, make_small_city, make_user

pytestmark = pytest.mark.browser

GRID1 = (X0 + 0.5 * DX, Y0 + 1.5 * DY)
PHONE = "13812345678"


@pytest.fixture
def world(app):
    """The tiny city with a road in grid 1, a patrol case of exposed garbage there, and an earlier call."""
    areas = make_small_city()
    seed_default_catalogue()
    make_department("SAN01", "环卫处", "sanitation", area=areas["district"])
    worker = make_user("worker", "grid_worker", area=areas["community"], full_name="王芳")
    operator = make_user("hotline", "hotline_operator", full_name="陈静")
    make_user("intake", "intake_operator", full_name="李明")
    make_user("dispatcher", "dispatcher", full_name="张伟")
    make_user("admin", "admin", full_name="周敏")
    import_gazetteer(None, f"name,kind,x,y,datum,aliases\n人民路,road,{GRID1[0]},{GRID1[1]},gcj02,人民大道\n"
                           f"人民公园,park,{GRID1[0] + 0.0002},{GRID1[1]},gcj02,\n", file_format="csv")
    existing = file_case(worker, source="patrol", case_type="event", small_class_code="0102",
                         x=GRID1[0] + 0.0001, y=GRID1[1], datum="gcj02", description="人民路口垃圾堆放",
                         address="人民路口")
    log_complaint(operator, caller_name="刘洋", phone=PHONE, content="上周路灯不亮", case_type="component",
                  small_class_code="0118", x=GRID1[0], y=GRID1[1], datum="gcj02")
    db.session.commit()
    number = existing.number
    db.session.close()
    return {"existing": number}


def sign_in(page_for, username, width=1280, height=800, locale="zh-CN", javascript=True):
    return shared_sign_in(page_for, username, width, height, locale, next_path="/hotline/", javascript=javascript)


def fill_caller(page, content):
    page.fill("#h-phone", PHONE)
    page.fill("#h-caller_name", "刘洋")
    page.fill("#h-content", content)
    page.select_option("#small_class", "event:0102")


def test_a_call_joins_its_duplicate_and_a_new_call_is_logged_answered_and_seen_unmasked(page_for, world, screenshot_dir):
    desk = sign_in(page_for, "hotline")
    fill_caller(desk, "人民路口垃圾又堆起来了")
    # The caller's earlier call shows as soon as the number is typed.
    desk.wait_for_selector("#caller-history li a.case-number")
    assert "上周路灯不亮" in desk.locator("#caller-history").inner_text()
    # Place search: the road by its alias; choosing it finds the patrol case nearby.
    desk.fill("#h-place_q", "人民大道")
    desk.wait_for_selector("#place-results button.place-hit")
    desk.click("#place-results button.place-hit")
    assert "人民路" in desk.locator("#place-chosen").inner_text()
    desk.wait_for_selector("#duplicates li.duplicate")
    assert world["existing"] in desk.locator("#duplicates").inner_text()
    desk.screenshot(path=str(screenshot_dir / "hotline-desk-1280x800.png"), full_page=True)
    desk.click(f"#duplicates button:has-text('{world['existing']}')")
    desk.wait_for_url(re.compile(rf".*/hotline/cases/{world['existing']}$"))
    assert "并入" in desk.locator(".flash-success").inner_text()
    assert desk.locator("#contacts tbody tr").count() == 1
    assert PHONE in desk.locator("#contacts").inner_text()
    desk.screenshot(path=str(screenshot_dir / "hotline-repeat-1280x800.png"), full_page=True)

    # A new call about something else: position by a click on the map, logged as a new case.
    desk.goto("/hotline/")
    fill_caller(desk, "小区门口有一堆建筑垃圾")
    desk.select_option("#small_class", "event:0103")
    desk.select_option("#h-reply_limit_kind", "emergency")
    desk.wait_for_selector("#hotline-map path", state="attached")
    box = desk.locator("#hotline-map").bounding_box()
    desk.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
    assert desk.input_value("#h-x") and desk.input_value("#h-datum") == "gcj02"
    desk.click("button:has-text('受理为新案件')")
    desk.wait_for_url(re.compile(r".*/hotline/cases/\d+$"))
    number = desk.url.rsplit("/", 1)[1]
    assert "待核实" in desk.locator("h1").inner_text() or desk.locator("h1 .state").count() == 1
    desk.fill("#reply-note", "已通知环卫部门两小时内清运")
    desk.click("button:has-text('记录答复')")
    desk.wait_for_selector(".flash-success")
    assert "已通知环卫部门" in desk.locator(".facts").inner_text()
    desk.screenshot(path=str(screenshot_dir / "hotline-order-1280x800.png"), full_page=True)
    desk.goto("/hotline/")
    assert number not in desk.locator("#reply-queue").inner_text() if desk.locator("#reply-queue").count() else True

    # The intake operator (supervision) sees the caller; the dispatcher sees the number masked.
    intake = sign_in(page_for, "intake")
    intake.goto(f"/hotline/cases/{number}")
    assert PHONE in intake.locator("#contacts").inner_text()
    dispatcher = sign_in(page_for, "dispatcher")
    dispatcher.goto(f"/hotline/cases/{number}")
    assert "138****5678" in dispatcher.locator("#contacts").inner_text()
    assert PHONE not in dispatcher.content()
    dispatcher.screenshot(path=str(screenshot_dir / "hotline-order-masked-1280x800.png"), full_page=True)
    for page in (desk, intake, dispatcher):
        assert page.console_errors == []


def test_the_desk_on_a_tablet_and_in_english(page_for, world, screenshot_dir):
    tablet = sign_in(page_for, "hotline", 800, 1280)
    assert tablet.locator("#h-phone").bounding_box()["height"] >= 44
    tablet.screenshot(path=str(screenshot_dir / "hotline-desk-800x1280.png"), full_page=True)
    english = sign_in(page_for, "hotline", 1280, 800, locale="en-US")
    assert english.locator("h1").inner_text() == "Hotline desk"
    english.keyboard.press("Tab")
    english.fill("#h-place_q", "411302001001")
    english.wait_for_selector("#place-results button.place-hit")
    english.keyboard.press("Enter")
    assert english.input_value("#h-area_code") == "411302001001"
    english.screenshot(path=str(screenshot_dir / "hotline-desk-en-1280x800.png"), full_page=True)
    assert tablet.console_errors == [] and english.console_errors == []


def test_the_desk_works_without_javascript(page_for, world, screenshot_dir):
    """A typed place name is looked up on submit; several matches come back as choices."""
    desk = sign_in(page_for, "hotline", javascript=False)
    desk.fill("#h-phone", "13700001111")
    desk.fill("#h-content", "公园门口井盖丢了")
    desk.select_option("#small_class", "component:0101")
    desk.fill("#h-place_q", "人民")
    desk.click("button:has-text('受理为新案件')")
    desk.wait_for_selector("#h-place_q-error")
    assert desk.locator("input[name=place_pick]").count() == 2
    assert desk.input_value("#h-content") == "公园门口井盖丢了"
    desk.screenshot(path=str(screenshot_dir / "hotline-desk-nojs-choices-1280x800.png"), full_page=True)
    desk.check("label:has-text('人民公园') input[name=place_pick]")
    desk.click("button:has-text('受理为新案件')")
    desk.wait_for_url(re.compile(r".*/hotline/cases/\d+$"))
    assert "人民公园" in desk.locator("main").inner_text()
    assert desk.console_errors == []


def test_an_administrator_corrects_and_retires_a_place_and_the_desk_no_longer_finds_it(page_for, world, screenshot_dir):
    admin = shared_sign_in(page_for, "admin", 1280, 800, "zh-CN", next_path="/hotline/gazetteer")
    admin.fill("#places-q", "人民大道")
    admin.press("#places-q", "Enter")
    admin.wait_for_url(re.compile(r".*/hotline/gazetteer\?q="))
    assert admin.locator("#places tbody tr").count() == 1
    admin.click("#places a:has-text('人民路')")
    admin.wait_for_url(re.compile(r".*/hotline/gazetteer/places/\d+$"))
    admin.fill("#h-x", "10")
    admin.fill("#h-y", "10")
    admin.select_option("#h-datum", "wgs84")
    admin.click("button:has-text('保存')")
    admin.wait_for_selector("#h-position-error")
    admin.screenshot(path=str(screenshot_dir / "gazetteer-place-error-1280x800.png"), full_page=True)
    admin.fill("#h-x", str(GRID1[0]))
    admin.fill("#h-y", str(GRID1[1]))
    admin.select_option("#h-datum", "gcj02")
    admin.fill("#h-name_en", "Renmin Road")
    admin.click("button:has-text('保存')")
    admin.wait_for_selector(".flash-success")
    assert "Renmin Road" in admin.locator(".history-table").inner_text()
    admin.click("button:has-text('停用该地点')")
    admin.wait_for_selector("button:has-text('恢复该地点')")
    assert "已停用" in admin.locator("h1").inner_text()
    admin.screenshot(path=str(screenshot_dir / "gazetteer-place-1280x800.png"), full_page=True)

    desk = sign_in(page_for, "hotline")
    desk.fill("#h-place_q", "人民")
    desk.wait_for_selector("#place-results button.place-hit")
    hits = desk.locator("#place-results").inner_text()
    assert "人民公园" in hits and "人民路" not in hits
    assert admin.console_errors == [] and desk.console_errors == []
