"""Editing the gazetteer on its pages: the list, a place's page, retiring and restoring, the history."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from gridops.auth.tokens import issue_token
from gridops.catalogue.models import CatalogueChange
from gridops.extensions import db
from gridops.hotline.gazetteer import import_gazetteer, list_places, search_places
from gridops.hotline.models import GazetteerPlace
from tests.case_factories import GAP_XY, GRID1_XY, GRID4_XY, make_world
from tests.test_api_cases import FreshContextClient

PREFIX = "/api/v1"


@pytest.fixture
def world(app):
    world = make_world()
    for user in world.users.values():
        user.locale = "en"
    db.session.commit()
    return world


def load(rows: str, source: str = "roads.csv") -> None:
    import_gazetteer(None, "name,kind,x,y,datum,aliases\n" + rows, file_format="csv", source_name=source)
    db.session.commit()


@pytest.fixture
def road(world) -> GazetteerPlace:
    load(f"建设路,road,{GRID1_XY[0]},{GRID1_XY[1]},gcj02,老建设路\n"
         f"人民公园,park,{GRID4_XY[0]},{GRID4_XY[1]},gcj02,\n")
    return db.session.scalar(select(GazetteerPlace).where(GazetteerPlace.name == "建设路"))


def form(**overrides) -> dict:
    data = {"name": "建设路", "name_en": "Jianshe Road", "aliases": "老建设路", "kind": "road",
            "x": str(GRID1_XY[0]), "y": str(GRID1_XY[1]), "datum": "gcj02"}
    data.update(overrides)
    return data


def fresh(place_id: int) -> GazetteerPlace:
    db.session.expire_all()
    return db.session.get(GazetteerPlace, place_id)


def changes(place_id: int) -> list[CatalogueChange]:
    return db.session.scalars(select(CatalogueChange).where(
        CatalogueChange.entity == "gazetteer_place", CatalogueChange.entity_id == place_id,
    ).order_by(CatalogueChange.id)).all()


def operator_headers(world) -> dict:
    token = issue_token(world.user("hotline_operator"), "desk")[1]
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def names(client, query: str, role_headers) -> list[str]:
    """The places the desk's search API finds (a client of its own: a token, no session)."""
    client = FreshContextClient(client.application, client.application.response_class, use_cookies=False)
    items = client.get(f"{PREFIX}/hotline/places?q={query}", headers=role_headers).get_json()["items"]
    return [item["name"] for item in items if item["type"] == "place"]


# -- the list ---------------------------------------------------------------------------------------


def test_the_gazetteer_page_lists_places_with_kind_area_and_status(client, auth, road, world):
    auth.login("admin")
    page = client.get("/hotline/gazetteer").get_data(as_text=True)
    assert 'id="places"' in page
    assert f'href="/hotline/gazetteer/places/{road.id}"' in page and "人民公园" in page
    assert world.areas["grid1"].code in page and "Road" in page and "Park" in page and "Active" in page


def test_the_list_searches_names_english_names_and_aliases(client, auth, road):
    auth.login("admin")
    page = client.get("/hotline/gazetteer?q=老建设").get_data(as_text=True)
    assert "建设路" in page and "人民公园" not in page
    page = client.get("/hotline/gazetteer?q=%25").get_data(as_text=True)  # a literal %, matching nothing
    assert "No place matches" in page and "人民公园" not in page


def test_the_list_pages_by_name_and_a_page_past_the_end_is_the_last(client, auth, world):
    load("".join(f"路{n:03d},road,{GRID1_XY[0]},{GRID1_XY[1]},gcj02,\n" for n in range(120)))
    first = list_places(page=1)
    assert (first.total, first.pages, len(first.places)) == (120, 3, 50)
    assert first.places[0].name == "路000" and list_places(page=2).places[0].name == "路050"
    auth.login("admin")
    page = client.get("/hotline/gazetteer?page=3").get_data(as_text=True)
    assert "路119" in page and "路000" not in page and "Page 3 of 3" in page
    assert "路119" in client.get("/hotline/gazetteer?page=99").get_data(as_text=True)
    assert "路000" in client.get("/hotline/gazetteer?page=abc").get_data(as_text=True)
    assert 'href="/hotline/gazetteer?q=%E8%B7%AF&amp;page=2"' in client.get("/hotline/gazetteer?q=路").get_data(
        as_text=True)


# -- editing ----------------------------------------------------------------------------------------


def test_a_place_is_renamed_and_moved_and_relocated_in_its_grid(client, auth, road, world):
    auth.login("admin")
    page = client.get(f"/hotline/gazetteer/places/{road.id}").get_data(as_text=True)
    assert 'value="建设路"' in page and 'id="history-title"' in page
    response = client.post(f"/hotline/gazetteer/places/{road.id}", data=form(
        name="新建设路", aliases="建设大道|老建设路", kind="landmark", x=str(GRID4_XY[0]), y=str(GRID4_XY[1])))
    assert response.status_code == 303
    place = fresh(road.id)
    assert (place.name, place.name_en, place.aliases, place.kind) == ("新建设路", "Jianshe Road", "建设大道|老建设路",
                                                                     "landmark")
    grid4 = world.areas["grid4"]
    assert place.unit_grid_id == grid4.id and place.area_id == grid4.id
    (change,) = changes(road.id)
    assert change.action == "update" and change.before["name"] == "建设路" and change.after["name"] == "新建设路"
    assert change.before["unit_grid"] == world.areas["grid1"].code and change.after["unit_grid"] == grid4.code
    page = client.get(f"/hotline/gazetteer/places/{road.id}").get_data(as_text=True)
    assert "Gazetteer place #" in page and "新建设路" in page and "changed" in page


def test_a_position_in_another_datum_is_located_as_an_import_would(client, auth, road, world):
    from gridops.territory.datum import convert

    x, y = convert(*GRID1_XY, "gcj02", "wgs84")
    auth.login("admin")
    assert client.post(f"/hotline/gazetteer/places/{road.id}", data=form(x=str(x), y=str(y), datum="wgs84")
                       ).status_code == 303
    place = fresh(road.id)
    assert place.datum == "wgs84" and place.unit_grid_id == world.areas["grid1"].id


def test_a_position_in_a_gap_keeps_the_place_with_its_area_and_no_grid(client, auth, road):
    auth.login("admin")
    response = client.post(f"/hotline/gazetteer/places/{road.id}", data=form(x=str(GAP_XY[0]), y=str(GAP_XY[1])))
    assert response.status_code == 303
    place = fresh(road.id)
    assert place.unit_grid_id is None and place.area_id is not None
    assert "a gap between grids" in client.get(f"/hotline/gazetteer/places/{road.id}").get_data(as_text=True)


@pytest.mark.parametrize("field, value, message", [
    ("name", "", "a name of 1 to 128 characters is required"),
    ("name", "x" * 129, "a name of 1 to 128 characters is required"),
    ("name", "两\n行", "a name of 1 to 128 characters is required"),
    ("name_en", "y" * 129, "at most 128 characters on one line"),
    ("aliases", "z" * 256, "at most 255 characters on one line"),
    ("kind", "river", "must be one of road, landmark"),
    ("x", "east", "must be a finite number"),
    ("y", "nan", "must be a finite number"),
    ("x", "", "must be a finite number"),
    ("datum", "utm", "must be one of wgs84, gcj02, bd09"),
    ("position", None, "lies outside the territory"),
])
def test_each_bad_field_is_named_beside_it_and_nothing_is_saved(client, auth, road, field, value, message):
    data = form(x="10.0", y="10.0", datum="wgs84") if field == "position" else form(**{field: value})
    auth.login("admin")
    response = client.post(f"/hotline/gazetteer/places/{road.id}", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(rf'id="h-{field}-error">[^<]*{re.escape(message)}', page), page
    assert "Nothing was saved" in page
    place = fresh(road.id)
    assert place.name == "建设路" and place.name_en is None and place.kind == "road" and place.datum == "gcj02"
    assert changes(road.id) == []


def test_several_bad_fields_are_all_named_and_the_typed_values_kept(client, auth, road):
    auth.login("admin")
    page = client.post(f"/hotline/gazetteer/places/{road.id}",
                       data=form(name="", x="east", kind="river", name_en="Kept")).get_data(as_text=True)
    for field in ("name", "x", "kind"):
        assert f'id="h-{field}-error"' in page
    assert 'value="Kept"' in page and 'value="east"' in page


def test_a_name_taken_by_a_place_of_the_same_kind_in_the_same_area_is_refused(client, auth, road):
    park = db.session.scalar(select(GazetteerPlace).where(GazetteerPlace.name == "人民公园"))
    auth.login("admin")
    response = client.post(f"/hotline/gazetteer/places/{road.id}", data=form(
        name="人民公园", kind="park", x=str(park.x), y=str(park.y)))
    assert response.status_code == 422 and 'id="h-name-error"' in response.get_data(as_text=True)
    assert client.post(f"/hotline/gazetteer/places/{road.id}", data=form(
        name="人民公园", kind="road", x=str(park.x), y=str(park.y))).status_code == 303  # another kind: fine


def test_saving_without_a_change_records_nothing(client, auth, road):
    auth.login("admin")
    data = {"name": "建设路", "name_en": "", "aliases": "老建设路", "kind": "road", "x": str(road.x),
            "y": str(road.y), "datum": "gcj02"}
    assert client.post(f"/hotline/gazetteer/places/{road.id}", data=data).status_code == 303
    assert changes(road.id) == []


# -- retiring and restoring -------------------------------------------------------------------------


def test_a_retired_place_is_no_longer_found_by_the_desk_and_comes_back_when_restored(client, auth, road, world):
    operator = operator_headers(world)
    assert [hit.name for hit in search_places("建设")] == ["建设路"]
    assert names(client, "建设", operator) == ["建设路"]
    auth.login("admin")
    assert client.post(f"/hotline/gazetteer/places/{road.id}/retire").status_code == 303
    assert fresh(road.id).active is False
    assert [hit for hit in search_places("建设") if hit.type == "place"] == []
    assert names(client, "老建设", operator) == []
    page = client.get(f"/hotline/gazetteer/places/{road.id}").get_data(as_text=True)
    assert "Retired" in page and "Bring the place back" in page and "deactivated" in page
    assert "Retired" in client.get("/hotline/gazetteer?q=建设").get_data(as_text=True)
    assert client.post(f"/hotline/gazetteer/places/{road.id}/restore").status_code == 303
    assert fresh(road.id).active is True and names(client, "建设", operator) == ["建设路"]
    assert [change.action for change in changes(road.id)] == ["deactivate", "activate"]
    assert client.post(f"/hotline/gazetteer/places/{road.id}/restore").status_code == 303
    assert len(changes(road.id)) == 2  # already active: nothing to record


def test_a_complaint_cannot_be_filed_at_a_retired_place(client, auth, road, world):
    auth.login("admin")
    client.post(f"/hotline/gazetteer/places/{road.id}/retire")
    api = FreshContextClient(client.application, client.application.response_class, use_cookies=False)
    response = api.post(f"{PREFIX}/hotline/complaints", headers=operator_headers(world), json={
        "phone": "13912345678", "caller_name": "赵大海", "content": "路灯不亮", "case_type": "component",
        "small_class": "0118", "place_id": road.id})
    assert response.status_code == 422 and "place_id" in response.get_json()["fields"]


def test_a_reimport_updates_an_edited_place_in_place_and_brings_a_retired_one_back(client, auth, road):
    auth.login("admin")
    client.post(f"/hotline/gazetteer/places/{road.id}", data=form(name_en="Jianshe Road"))
    client.post(f"/hotline/gazetteer/places/{road.id}/retire")
    load(f"建设路,road,{GRID1_XY[0]},{GRID1_XY[1]},gcj02,建设大道\n", source="again.csv")
    assert db.session.scalar(select(func.count()).select_from(GazetteerPlace)) == 2
    place = fresh(road.id)
    assert place.active is True and place.aliases == "建设大道" and place.source_name == "again.csv"
    assert place.name_en is None  # the file has no English name: the import sets what the file says
    last = changes(road.id)[-1]
    assert last.action == "import" and last.before["active"] is False and last.after["active"] is True
    assert last.changed_by_id is None
    load(f"建设路,road,{GRID1_XY[0]},{GRID1_XY[1]},gcj02,建设大道\n", source="again.csv")
    assert changes(road.id)[-1].id == last.id  # nothing changed: nothing recorded


# -- who may, and the CSRF token --------------------------------------------------------------------


def test_a_place_is_added_by_hand_located_in_its_grid_and_found_by_the_desk(client, auth, road, world):
    auth.login("admin")
    page = client.get("/hotline/gazetteer").get_data(as_text=True)
    assert 'href="/hotline/gazetteer/places/new"' in page
    assert client.get("/hotline/gazetteer/places/new").status_code == 200
    response = client.post("/hotline/gazetteer/places/new", data=form(
        name="新华路", name_en="Xinhua Road", aliases="新华大道", x=str(GRID4_XY[0]), y=str(GRID4_XY[1])))
    assert response.status_code == 303
    place = db.session.scalar(select(GazetteerPlace).where(GazetteerPlace.name == "新华路"))
    assert response.headers["Location"].endswith(f"/hotline/gazetteer/places/{place.id}")
    assert place.active and place.unit_grid is not None and place.unit_grid.code == world.areas["grid4"].code
    assert [c.action for c in changes(place.id)] == ["create"]
    assert "新华路" in [hit.name for hit in search_places("新华大道")]
    assert "新华路" in names(client, "新华", operator_headers(world))


@pytest.mark.parametrize(("data", "field"), [
    (form(name=""), "name"),
    (form(kind="river"), "kind"),
    (form(x="east"), "x"),
    (form(x="10.0", y="10.0", datum="wgs84"), "position"),
    (form(name="建设路"), "name"),  # a road of that name already lies in that area
])
def test_a_place_added_by_hand_is_checked_like_an_edit(client, auth, road, data, field):
    auth.login("admin")
    before = db.session.scalar(select(func.count()).select_from(GazetteerPlace))
    response = client.post("/hotline/gazetteer/places/new", data=data)
    assert response.status_code == 422 and f'id="h-{field}-error"' in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(GazetteerPlace)) == before


def test_only_those_who_may_import_add_places(client, auth, road):
    auth.login("hotline_operator")
    assert client.get("/hotline/gazetteer/places/new").status_code == 403
    assert client.post("/hotline/gazetteer/places/new", data=form(name="新华路")).status_code == 403
    assert db.session.scalar(select(GazetteerPlace).where(GazetteerPlace.name == "新华路")) is None


@pytest.mark.parametrize("role", ["hotline_operator", "intake_operator", "leader"])
def test_only_those_who_may_import_edit_places(client, auth, road, role):
    auth.login(role)
    assert client.get(f"/hotline/gazetteer/places/{road.id}").status_code == 403
    assert client.post(f"/hotline/gazetteer/places/{road.id}", data=form(name="改名")).status_code == 403
    assert client.post(f"/hotline/gazetteer/places/{road.id}/retire").status_code == 403
    assert client.post(f"/hotline/gazetteer/places/{road.id}/restore").status_code == 403
    place = fresh(road.id)
    assert place.name == "建设路" and place.active is True and changes(road.id) == []


def test_signed_out_goes_to_sign_in_and_an_unknown_place_is_404(client, auth, road):
    response = client.get(f"/hotline/gazetteer/places/{road.id}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post(f"/hotline/gazetteer/places/{road.id}/retire").status_code == 302
    assert fresh(road.id).active is True
    auth.login("admin")
    assert client.get("/hotline/gazetteer/places/99999").status_code == 404
    assert client.post("/hotline/gazetteer/places/99999/retire").status_code == 404


def test_the_forms_need_the_page_s_csrf_token(client, auth, road, app, monkeypatch):
    auth.login("admin")
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    for path in (f"/hotline/gazetteer/places/{road.id}", f"/hotline/gazetteer/places/{road.id}/retire"):
        assert client.post(path, data=form(name="改名")).status_code == 400, path
    place = fresh(road.id)
    assert place.name == "建设路" and place.active is True
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get(f"/hotline/gazetteer/places/{road.id}").get_data(as_text=True))[1]
    assert client.post(f"/hotline/gazetteer/places/{road.id}", data=form(name="改名", csrf_token=token)
                       ).status_code == 303
    assert client.post(f"/hotline/gazetteer/places/{road.id}/retire", data={"csrf_token": token}).status_code == 303
    place = fresh(road.id)
    assert place.name == "改名" and place.active is False


def test_the_place_page_speaks_chinese(client, auth, road, world):
    world.user("admin").locale = "zh"
    db.session.commit()
    auth.login("admin")
    client.post(f"/hotline/gazetteer/places/{road.id}/retire")
    page = client.get(f"/hotline/gazetteer/places/{road.id}", headers={"Accept-Language": "zh"}).get_data(
        as_text=True)
    assert "已停用" in page and "恢复该地点" in page and "位置" in page and "变更记录" in page
    listing = client.get("/hotline/gazetteer", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "道路" in listing and "公园" in listing
