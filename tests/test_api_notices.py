"""Notices and campaigns API: what each caller reads."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from gridops.auth.tokens import issue_token
from gridops.evaluation.campaigns import create_campaign
from gridops.evaluation.notices import generate_notice, publish_notice
from gridops.evaluation.periods import Period
from gridops.extensions import db
from tests.case_factories import T0, make_case, make_world
from tests.test_api_cases import FreshContextClient

WEEK = Period.parse("2026-W23")
AFTER_WEEK = WEEK.end_utc + timedelta(hours=9)


@pytest.fixture
def client(app):
    """A client whose requests each get their own app context (so each token is read afresh)."""
    return FreshContextClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def world(app):
    """A week with one overdue case, its notice published, a campaign, and tokens for three readers."""
    world = make_world()
    world.case = make_case("handling", world=world, now=T0)
    evaluator = world.user("evaluator")
    world.notice = generate_notice("weekly", WEEK, now=AFTER_WEEK, actor=evaluator)
    publish_notice(world.notice, evaluator, now=AFTER_WEEK)
    world.draft = generate_notice("weekly", WEEK.next(), now=AFTER_WEEK, actor=evaluator)
    create_campaign(evaluator, name="垃圾清零", starts_on=date(2026, 6, 1), ends_on=date(2026, 6, 30), target_count=4)
    world.tokens = {
        name: issue_token(user, "api test")[1]
        for name, user in (("leader", world.user("leader")), ("lead", world.outsiders["area_lead"]),
                           ("worker", world.user("grid_worker")))
    }
    db.session.commit()
    return world


def _get(client, world, who, path):
    return client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {world.tokens[who]}"})


def test_leader_reads_every_notice_and_its_figures(client, world):
    listed = _get(client, world, "leader", "/notices").get_json()["items"]
    assert [(n["period"], n["status"]) for n in listed] == [("2026-W24", "draft"), ("2026-W23", "published")]
    assert [n["period"] for n in _get(client, world, "leader", "/notices?period=2026-W23").get_json()["items"]] == [
        "2026-W23"]
    body = _get(client, world, "leader", f"/notices/{world.notice.id}").get_json()
    assert body["content"]["units"][0]["overdue"][0]["number"] == world.case.number


def test_an_area_lead_elsewhere_reads_published_notices_without_our_cases(client, world):
    listed = _get(client, world, "lead", "/notices").get_json()["items"]
    assert [n["id"] for n in listed] == [world.notice.id]
    body = _get(client, world, "lead", f"/notices/{world.notice.id}").get_json()
    assert body["content"]["units"] == [] and body["content"]["narrowed"] is True
    assert _get(client, world, "lead", f"/notices/{world.draft.id}").status_code == 404


def test_campaigns_with_progress_and_refusals(client, world):
    [campaign] = _get(client, world, "leader", "/campaigns").get_json()["items"]
    assert campaign["name"] == "垃圾清零" and campaign["progress"]["found"] == 1
    assert campaign["progress"]["target"] == 4 and campaign["small_classes"] == []
    assert _get(client, world, "worker", "/campaigns").status_code == 403
    assert _get(client, world, "worker", "/notices").status_code == 403
    assert _get(client, world, "leader", "/notices?kind=daily").status_code == 422
