"""Pages: sign-in, the layout, language switching, CSRF refusals, error pages, the map page."""

from __future__ import annotations

import json
import re

import flask_babel
import pytest

from gridops.extensions import db
from gridops.territory.levels import ensure_levels
from gridops.territory.views import DETAIL_MIN_ZOOM, UNIT_MIN_ZOOM, map_levels
from tests.factories import DX, DY, X0, Y0, make_small_city, make_user

CSRF_MESSAGE_EN = "This form has expired or did not come from this site. Reload the page and try again."
CSRF_MESSAGE_ZH = "表单已过期或并非来自本站。请刷新页面后重试。"


def _text(response) -> str:
    return response.get_data(as_text=True)


def _map_config(response) -> dict:
    match = re.search(r'<script type="application/json" id="map-config">(.*?)</script>', _text(response), re.S)
    assert match, "the map page carries its configuration"
    return json.loads(match.group(1))


def _switch_language(client, locale: str):
    response = client.post("/language", data={"locale": locale, "next": "/map"})
    # The test client shares the fixture's app context (and so Flask-Babel's cached locale)
    # across requests; a real server starts every request afresh.
    flask_babel.refresh()
    return response


def _csrf_token(response) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', _text(response))
    assert match
    return match.group(1)


@pytest.fixture
def city(app):
    """The tiny test city and a grid worker, committed."""
    areas = make_small_city()
    make_user(full_name="Wang Fang")
    db.session.commit()
    return areas


def test_login_page_renders_in_chinese_by_default(client):
    page = client.get("/login")
    html = _text(page)
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in html
    assert "<h1 id=\"login-title\">登录</h1>" in html
    assert '<label for="username">用户名</label>' in html
    assert '<label for="password">密码</label>' in html
    assert '<meta name="csrf-token"' in html


def test_login_page_follows_an_english_browser(client):
    html = _text(client.get("/login", headers={"Accept-Language": "en-US,en;q=0.8"}))
    assert '<html lang="en">' in html
    assert '<label for="username">Username</label>' in html


@pytest.mark.parametrize("path", ["/", "/map"])
def test_pages_need_a_signed_in_user(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_login_redirect_flashes_a_translated_hint(client):
    page = client.get("/map", follow_redirects=True)
    assert '<p class="flash flash-info" role="status">请先登录再查看此页面。</p>' in _text(page)


def test_wrong_password_is_an_error_flash(client, auth, city):
    response = auth.login(password="not-the-password")
    assert response.status_code == 401
    assert '<p class="flash flash-error" role="alert">用户名或密码错误。</p>' in _text(response)


def test_map_page_for_a_signed_in_user(client, auth, city):
    auth.login()
    page = client.get("/map")
    html = _text(page)
    assert page.status_code == 200
    assert '<span class="whoami-name">Wang Fang</span>' in html
    assert '<span class="whoami-role">网格员</span>' in html
    assert 'aria-current="page"' in html
    assert "vendor/leaflet/leaflet.js" in html and "js/map.js" in html
    config = _map_config(page)
    assert config["datum"] == "gcj02"
    assert [level["key"] for level in config["levels"]] == ["district", "subdistrict", "community", "unit_grid"]
    assert config["levelNames"]["unit_grid"] == "单元网格"
    assert config["api"]["locate"] == "/api/v1/locate"
    assert config["api"]["areas"] == "/api/v1/areas"
    assert config["strings"]["outside"] == "该点位于辖区范围之外。"
    assert config["tileUrl"] == ""


def test_map_page_passes_the_configured_tile_layer(app, client, auth, city):
    app.config.update(
        GRIDOPS_TILE_URL="https://tiles.example/{z}/{x}/{y}.png", GRIDOPS_TILE_ATTRIBUTION="© Example"
    )
    try:
        auth.login()
        config = _map_config(client.get("/map"))
    finally:
        app.config.update(GRIDOPS_TILE_URL="", GRIDOPS_TILE_ATTRIBUTION="")
    assert config["tileUrl"] == "https://tiles.example/{z}/{x}/{y}.png"
    assert config["tileAttribution"] == "© Example"


def test_map_page_without_a_territory_says_so(client, auth, app):
    make_user()
    db.session.commit()
    auth.login()
    page = client.get("/map")
    assert page.status_code == 200
    assert "尚未导入辖区网格数据。" in _text(page)
    assert _map_config(page)["datum"] is None


def test_map_page_locates_a_typed_position_without_scripts(client, auth, city):
    auth.login()
    x, y = X0 + 1.5 * DX, Y0 + 0.5 * DY  # south-east cell of the 2×2 block: grid 004
    html = _text(client.get(f"/map?x={x}&y={y}"))
    assert '<code class="chain-code">411302001001004</code>' in html
    assert '<code class="chain-code">411302</code>' in html
    assert '<span class="chain-name">测试社区</span>' in html


def test_map_page_flags_a_coverage_gap(client, auth, city):
    auth.login()
    html = _text(client.get(f"/map?x={X0 + 2.5 * DX}&y={Y0 + DY}"))
    assert "网格覆盖空白" in html
    assert '<code class="chain-code">411302001001</code>' in html


def test_map_page_refuses_a_position_outside_the_territory(client, auth, city):
    auth.login()
    page = client.get(f"/map?x={X0 - 1}&y={Y0}")
    assert page.status_code == 200
    assert "该点位于辖区范围之外。" in _text(page)


def test_map_page_explains_unreadable_coordinates(client, auth, city):
    auth.login()
    page = client.get("/map?x=east&y=33")
    assert page.status_code == 200
    assert "无法按这些坐标定位。" in _text(page)


def test_language_switch_changes_lang_and_strings(client, auth, city):
    auth.login()
    assert '<html lang="zh-CN">' in _text(client.get("/map"))
    response = _switch_language(client, "en")
    assert response.status_code == 302 and response.headers["Location"] == "/map"
    html = _text(client.get("/map"))
    assert '<html lang="en">' in html
    assert ">Sign out</button>" in html
    assert '<span class="whoami-role">Grid worker</span>' in html
    assert _map_config(client.get("/map"))["levelNames"]["unit_grid"] == "Unit grid"
    _switch_language(client, "zh")
    assert ">退出登录</button>" in _text(client.get("/map"))


def test_language_choice_is_remembered_on_the_user(client, auth, city):
    from gridops.auth.models import User

    auth.login()
    client.post("/language", data={"locale": "en", "next": "/map"})
    assert db.session.scalar(db.select(User.locale).where(User.username == "worker")) == "en"


def test_language_switch_before_signing_in_uses_the_session(client):
    client.post("/language", data={"locale": "en", "next": "/login"})
    assert '<html lang="en">' in _text(client.get("/login"))


def test_form_post_without_csrf_token_is_refused_clearly(app, client, city):
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/login", data={"username": "worker", "password": "correct-horse-battery"})
    assert response.status_code == 400
    assert CSRF_MESSAGE_ZH in _text(response)


def test_csrf_refusal_in_english_and_as_json(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/language", data={"locale": "zh"}, headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert CSRF_MESSAGE_EN in _text(response)
    response = client.post("/language", data={"locale": "zh"}, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "csrf_failed"


def test_form_post_with_the_page_csrf_token_goes_through(app, client, city):
    app.config["WTF_CSRF_ENABLED"] = True
    token = _csrf_token(client.get("/login"))
    response = client.post(
        "/login", data={"username": "worker", "password": "correct-horse-battery", "csrf_token": token}
    )
    assert response.status_code == 302


def test_unknown_page_has_a_translated_error_page(client):
    page = client.get("/no-such-page")
    html = _text(page)
    assert page.status_code == 404
    assert "页面不存在" in html
    assert "此地址没有对应页面" in html
    assert "requested URL was not found" not in html


def test_unknown_page_in_english(client):
    html = _text(client.get("/no-such-page", headers={"Accept-Language": "en"}))
    assert "Page not found" in html
    assert "There is no page at this address" in html


def test_map_levels_follow_the_level_data(app):
    plan = map_levels(ensure_levels(), "en")
    by_key = {level["key"]: level for level in plan}
    assert "city" not in by_key
    assert by_key["district"]["min_zoom"] == 0 and not by_key["district"]["by_view"]
    assert by_key["subdistrict"]["min_zoom"] == 0
    assert by_key["community"]["min_zoom"] == DETAIL_MIN_ZOOM and by_key["community"]["by_view"]
    assert by_key["unit_grid"]["min_zoom"] == UNIT_MIN_ZOOM
    assert by_key["unit_grid"]["name"] == "Unit grid"
    assert by_key["district"]["label_zoom"] < by_key["subdistrict"]["label_zoom"]
    assert by_key["community"]["label_zoom"] < by_key["unit_grid"]["label_zoom"]


def test_map_page_shows_messages_in_the_side_panel(client, auth, city):
    auth.login()
    response = client.post("/language", data={"locale": "fr"}, headers={"Referer": "/map"})
    assert response.status_code == 302
    html = _text(client.get("/map"))
    panel = html[html.index('<aside class="map-panel"'):html.index("</aside>")]
    assert 'class="flash flash-error" role="alert"' in panel
    assert html.count('class="flash ') == 1
