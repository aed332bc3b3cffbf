"""Likely duplicates: same small class, open, within the city's radius and window, best first, in scope."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pyproj import Geod

from gridops.cases.duplicates import (
    DuplicateRules,
    distance_m,
    duplicate_rules,
    likely_duplicates,
    score,
    set_duplicate_rules,
)
from gridops.auth.tokens import issue_token
from gridops.catalogue.services import small_class_by_full_code
from gridops.errors import NotAllowed, ValidationFailed
from gridops.extensions import db
from gridops.territory.datum import convert
from tests.case_factories import GRID1_XY, T0, later, make_case, make_world
from tests.factories import DX, X0
from tests.test_api_cases import FreshContextClient

GEOD = Geod(ellps="WGS84")
GARBAGE = "E0102"


def moved(xy, metres, azimuth=90.0):
    """The position ``metres`` from ``xy`` towards ``azimuth`` (degrees from north)."""
    x, y, _ = GEOD.fwd(xy[0], xy[1], azimuth, metres)
    return x, y


def auth_headers(user) -> dict:
    return {"Authorization": f"Bearer {issue_token(user, 'test')[1]}"}


def search(world, xy, *, role="intake_operator", at=T0, datum="gcj02", code=GARBAGE, **kwargs):
    return likely_duplicates(
        small_class_id=small_class_by_full_code(code).id, x=xy[0], y=xy[1], datum=datum, at=at,
        user=world.user(role) if isinstance(role, str) else role, **kwargs,
    )


@pytest.fixture
def client(app):
    """A client whose requests each get their own app context (and so their own signed-in user)."""
    return FreshContextClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def world(app):
    """The small city with its staff, inside the app context."""
    return make_world()


def test_distance_is_geodesic_metres():
    # 0.001° of latitude at 33° N is 110.9 m on the WGS-84 ellipsoid; a degree of longitude shrinks by cos φ.
    assert distance_m(112.55, 33.0, 112.55, 33.001) == pytest.approx(110.9, abs=0.1)
    assert distance_m(112.55, 33.0, 112.551, 33.0) == pytest.approx(93.5, abs=0.2)


def test_open_cases_of_the_same_class_within_radius_and_window_only(world):
    near = make_case("reported", world=world, xy=moved(GRID1_XY, 30))
    make_case("reported", world=world, xy=moved(GRID1_XY, 70))  # too far
    make_case("reported", world=world, xy=moved(GRID1_XY, 10), small_class_code="0104")  # other class
    make_case("closed", world=world, xy=moved(GRID1_XY, 5))  # not open
    make_case("cancelled", world=world, xy=moved(GRID1_XY, 5))  # not open
    make_case("reported", world=world, xy=moved(GRID1_XY, 5), now=later(-25))  # a day and more before
    make_case("reported", world=world, xy=moved(GRID1_XY, 5), now=later(25))  # a day and more after
    found = search(world, GRID1_XY)
    assert [c.case.id for c in found] == [near.id]
    assert found[0].distance_m == pytest.approx(30, abs=0.5)
    assert found[0].hours_apart == 0 and found[0].same_grid


def test_every_open_state_counts(world):
    states = ["verifying", "reported", "registered", "dispatched", "handling", "suspended", "handled"]
    cases = {state: make_case(state, world=world, xy=moved(GRID1_XY, 3 * n)) for n, state in enumerate(states)}
    assert {c.case.id for c in search(world, GRID1_XY)} == {case.id for case in cases.values()}


def test_position_in_another_datum_is_converted_first(world):
    case = make_case("reported", world=world)
    wgs = convert(*GRID1_XY, "gcj02", "wgs84")
    # The raw GPS fix is hundreds of metres from the GCJ-02 numbers, yet the same spot.
    assert distance_m(*wgs, *GRID1_XY) > 200
    (found,) = search(world, wgs, datum="wgs84")
    assert found.case.id == case.id and found.distance_m < 0.5


def test_ranked_by_score_same_grid_beating_a_slightly_nearer_case_across_the_border(world):
    edge = (X0 + DX, GRID1_XY[1])  # the border between grid 1 and grid 2
    here = moved(edge, 10, 270)  # in grid 1, 10 m from the border
    same_grid = make_case("reported", world=world, xy=moved(here, 25, 270))
    across = make_case("reported", world=world, xy=moved(here, 20, 90))
    older = make_case("reported", world=world, xy=moved(here, 20, 90), now=later(-12))
    found = search(world, here)
    assert [c.case.id for c in found] == [same_grid.id, across.id, older.id]
    assert [c.same_grid for c in found] == [True, False, False]
    rules = DuplicateRules()
    assert found[0].score == pytest.approx(0.5 * (1 - 25 / 50) + 0.3 + 0.2, abs=0.01)
    assert found[1].score == pytest.approx(0.5 * (1 - 20 / 50) + 0.3, abs=0.01)
    assert found[2].hours_apart == 12
    assert found[2].score == pytest.approx(score(found[2].distance_m, 12, False, rules), abs=0.001)
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)


def test_limit_and_exclusion(world):
    cases = [make_case("reported", world=world, xy=moved(GRID1_XY, n)) for n in range(4)]
    assert len(search(world, GRID1_XY, limit=2)) == 2
    found = search(world, GRID1_XY, exclude_case_id=cases[0].id)
    assert cases[0].id not in {c.case.id for c in found} and len(found) == 3


def test_only_cases_the_user_may_see(world):
    case = make_case("reported", world=world)
    assert [c.case.id for c in search(world, GRID1_XY, role="intake_operator")] == [case.id]
    assert search(world, GRID1_XY, role=world.outsiders["intake_operator"]) == []
    assert search(world, GRID1_XY, role=world.outsiders["grid_worker"]) == []


def test_radius_and_window_are_city_settings(world):
    assert duplicate_rules() == DuplicateRules(50.0, 24.0)
    make_case("reported", world=world, xy=moved(GRID1_XY, 70), now=later(-30))
    assert search(world, GRID1_XY) == []
    set_duplicate_rules(world.user("admin"), radius_m=100, window_hours=48)
    assert duplicate_rules() == DuplicateRules(100.0, 48.0)
    assert len(search(world, GRID1_XY)) == 1
    with pytest.raises(NotAllowed):
        set_duplicate_rules(world.user("intake_operator"), radius_m=10)
    with pytest.raises(ValidationFailed) as refused:
        set_duplicate_rules(None, radius_m=0, window_hours=float("nan"))
    assert set(refused.value.fields) == {"radius_m"} or set(refused.value.fields) == {"radius_m", "window_hours"}


def test_bad_input_names_the_fields(world):
    with pytest.raises(ValidationFailed) as refused:
        likely_duplicates(small_class_id=1, x=float("inf"), y=33.0, datum="utm", at=T0.replace(tzinfo=None),
                          user=world.user("intake_operator"), limit=0)
    assert set(refused.value.fields) == {"x", "datum", "at", "limit"}


def test_api_lists_duplicates_best_first(client, world):
    near = make_case("reported", world=world, xy=moved(GRID1_XY, 5), now=T0)
    far = make_case("reported", world=world, xy=moved(GRID1_XY, 40), now=T0)
    headers = auth_headers(world.user("intake_operator"))
    outsider = auth_headers(world.outsiders["intake_operator"])
    db.session.commit()
    assert client.get("/api/v1/cases/duplicates?small_class=E0102&x=1&y=1").status_code == 401
    at = (T0 + timedelta(hours=1)).isoformat()
    response = client.get(
        "/api/v1/cases/duplicates",
        query_string={"small_class": GARBAGE, "x": GRID1_XY[0], "y": GRID1_XY[1], "datum": "gcj02", "at": at},
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [item["case"]["number"] for item in body["items"]] == [near.number, far.number]
    assert body["radius_m"] == 50 and body["window_hours"] == 24
    assert body["items"][0]["hours_apart"] == 1 and body["items"][0]["same_grid"] is True

    response = client.get(f"/api/v1/cases/{near.number}/duplicates", headers=headers)
    assert [item["case"]["number"] for item in response.get_json()["items"]] == [far.number]

    response = client.get("/api/v1/cases/duplicates", query_string={"small_class": "E0102", "x": "a", "y": 1},
                          headers=headers)
    assert response.status_code == 422 and "x" in response.get_json()["fields"]
    response = client.get(f"/api/v1/cases/{near.number}/duplicates", headers=outsider)
    assert response.status_code == 404


def test_duplicate_rules_command(runner, world):
    result = runner.invoke(args=["duplicate-rules"])
    assert result.exit_code == 0 and "radius 50 m, window 24 h" in result.output
    result = runner.invoke(args=["duplicate-rules", "--radius-m", "80"])
    assert result.exit_code == 0 and "radius 80 m, window 24 h" in result.output
    assert duplicate_rules().radius_m == 80
    result = runner.invoke(args=["duplicate-rules", "--window-hours", "0"])
    assert result.exit_code != 0 and "window_hours" in result.output
