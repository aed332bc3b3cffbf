"""Notice and campaign pages: wiring, downloads and who may see and do what."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from gridops.evaluation.models import Campaign, Notice
from gridops.evaluation.notices import generate_notice, publish_notice
from gridops.evaluation.periods import Period
from gridops.extensions import db
from tests.case_factories import T0, make_case, make_world

WEEK = Period.parse("2026-W23")
AFTER_WEEK = WEEK.end_utc + timedelta(hours=9)


@pytest.fixture
def world(app):
    """A small city with one case overdue in week 23 of 2026, committed."""
    world = make_world()
    world.case = make_case("handling", world=world, now=T0)
    db.session.commit()
    return world


def _notice(world, *, published=False) -> Notice:
    notice = generate_notice("weekly", WEEK, now=AFTER_WEEK, actor=world.user("evaluator"))
    if published:
        publish_notice(notice, world.user("evaluator"), now=AFTER_WEEK)
    db.session.commit()
    return notice


def test_evaluator_makes_a_notice_once_from_the_list(client, auth, world):
    auth.login("evaluator")
    page = client.get("/evaluation/notices")
    assert page.status_code == 200 and 'name="period"' in page.text
    made = client.post("/evaluation/notices", data={"kind": "weekly", "period": "2026-W23", "scope": "city"})
    assert made.status_code == 303
    again = client.post("/evaluation/notices", data={"kind": "weekly", "period": "2026-W23", "scope": "city"})
    assert again.headers["Location"] == made.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(Notice)) == 1
    shown = client.get(made.headers["Location"])
    assert world.case.number in shown.text and "环卫处" in shown.text and "<svg" in shown.text
    assert "2026-W23" in client.get("/evaluation/notices").text


def test_a_bad_period_is_explained_not_a_500(client, auth, world):
    auth.login("evaluator")
    response = client.post("/evaluation/notices", data={"kind": "monthly", "period": "2026-W23", "scope": "city"})
    assert response.status_code == 200 and "flash-error" in response.text
    response = client.post("/evaluation/notices", data={"kind": "weekly", "period": "someday", "scope": "city"})
    assert response.status_code == 200 and "flash-error" in response.text
    assert db.session.scalar(select(func.count()).select_from(Notice)) == 0


def test_print_view_and_downloads_carry_the_same_figures(client, auth, world):
    notice = _notice(world)
    auth.login("leader")
    printed = client.get(f"/evaluation/notices/{notice.id}/print")
    assert printed.status_code == 200 and 'class="ev-print"' in printed.text
    assert world.case.number in printed.text and "ev-actions" not in printed.text

    xlsx = client.get(f"/evaluation/notices/{notice.id}/export.xlsx")
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(xlsx.data))
    overdue = next(s for s in book.worksheets if s["A1"].value.startswith("Overdue cases") or "超期" in s["A1"].value)
    assert overdue.cell(row=3, column=1).value == world.case.number
    summary = book.worksheets[0]
    assert [c.value for c in summary[3]] == [1, 1, 0]

    text = client.get(f"/evaluation/notices/{notice.id}/export.csv").data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert [world.case.number] == [r[0] for r in rows if r and r[0] == world.case.number]
    assert any(r[:3] == ["1", "1", "0"] for r in rows)


def test_publishing_freezes_the_page(client, auth, world):
    notice = _notice(world)
    auth.login("evaluator")
    assert client.post(f"/evaluation/notices/{notice.id}/publish").status_code == 303
    db.session.expire_all()
    assert db.session.get(Notice, notice.id).status == "published"
    client.post(f"/evaluation/notices/{notice.id}/refresh")
    page = client.get(f"/evaluation/notices/{notice.id}")
    assert "flash-error" in page.text and "/refresh" not in page.text


def test_readers_and_their_scope(client, auth, world):
    notice = _notice(world)
    for role in ("area_lead", "unit_staff"):
        auth.login(role)
        assert client.get(f"/evaluation/notices/{notice.id}").status_code == 403  # a draft
        assert client.get(f"/evaluation/notices/{notice.id}/export.csv").status_code == 403
        auth.logout()
    auth.login("dispatcher")
    assert client.get("/evaluation/notices").status_code == 403
    auth.logout()
    publish_notice(notice, world.user("evaluator"), now=AFTER_WEEK)
    db.session.commit()
    auth.login("area_lead")
    assert world.case.number in client.get(f"/evaluation/notices/{notice.id}").text
    assert client.post(f"/evaluation/notices/{notice.id}/refresh").status_code == 403
    auth.logout()
    auth.login("outside_area_lead")
    page = client.get(f"/evaluation/notices/{notice.id}")
    assert page.status_code == 200 and world.case.number not in page.text
    assert world.case.number not in client.get(f"/evaluation/notices/{notice.id}/export.csv").text
    auth.logout()
    auth.login("unit_staff")
    assert client.post("/evaluation/notices", data={"kind": "weekly", "period": "2026-W24",
                                                    "scope": "city"}).status_code == 403


def test_campaign_is_opened_and_followed(client, auth, world):
    auth.login("evaluator")
    made = client.post("/evaluation/campaigns", data={
        "name": "井盖专项整治", "starts_on": "2026-06-01", "ends_on": "2026-06-30", "target_count": "4",
        "small_classes": [str(world.case.small_class_id)], "areas": [str(world.areas["district"].id)],
    })
    assert made.status_code == 303
    campaign = db.session.scalar(select(Campaign))
    assert [c.code for c in campaign.small_classes] == ["0102"]
    page = client.get(made.headers["Location"])
    assert "井盖专项整治" in page.text and "宛城区" in page.text
    bad = client.post("/evaluation/campaigns", data={"name": "x", "starts_on": "2026-06-30",
                                                     "ends_on": "2026-06-01", "target_count": "0"})
    assert bad.status_code == 422 and db.session.scalar(select(func.count()).select_from(Campaign)) == 1
    auth.logout()
    auth.login("leader")
    listing = client.get("/evaluation/campaigns")
    assert "井盖专项整治" in listing.text and 'name="target_count"' not in listing.text
    assert client.post("/evaluation/campaigns", data={"name": "y"}).status_code == 403
    auth.logout()
    auth.login("unit_staff")
    assert client.get("/evaluation/campaigns").status_code == 403


def test_the_workspace_is_in_the_navigation_of_its_readers(client, auth, world):
    auth.login("evaluator")
    assert re.search(r'href="/evaluation/"', client.get("/cases").text)
    assert client.get("/evaluation/").status_code == 302
    auth.logout()
    auth.login("dispatcher")
    assert 'href="/evaluation/"' not in client.get("/cases").text
    assert client.get("/evaluation/").status_code == 403


def test_monthly_and_quarterly_pages_show_rankings_and_trends(client, auth, world):
    monthly = generate_notice("monthly", Period.parse("2026-06"), now=AFTER_WEEK + timedelta(days=30))
    quarterly = generate_notice("quarterly", Period.parse("2026-Q2"), now=AFTER_WEEK + timedelta(days=30))
    db.session.commit()
    auth.login("leader")
    page = client.get(f"/evaluation/notices/{monthly.id}").text
    assert 'id="t-ranking-unit"' in page and 'id="t-best-district"' in page and 'id="chart-trend-caption"' in page
    assert "环卫处" in page
    book = load_workbook(io.BytesIO(client.get(f"/evaluation/notices/{monthly.id}/export.xlsx").data))
    assert len(book.sheetnames) == len(set(book.sheetnames)) >= 10
    page = client.get(f"/evaluation/notices/{quarterly.id}").text
    assert 'id="t-recurring"' in page and 'id="chart-months-caption"' in page


def test_campaign_is_changed_and_ended_early_with_history(client, auth, world, monkeypatch):
    auth.login("evaluator")
    made = client.post("/evaluation/campaigns", data={
        "name": "井盖专项整治", "starts_on": "2026-06-01", "ends_on": "2026-06-30", "target_count": "4",
        "small_classes": [str(world.case.small_class_id)],
    })
    campaign = db.session.scalar(select(Campaign))
    page = client.get(made.headers["Location"]).text
    assert 'value="井盖专项整治"' in page and 'name="reason"' not in page  # not running: June 2026 is over
    changed = client.post(f"/evaluation/campaigns/{campaign.id}/edit", data={
        "name": "井盖专项整治（延长）", "starts_on": "2026-06-01", "ends_on": "2026-07-15", "target_count": "6",
        "small_classes": [str(world.case.small_class_id)],
    })
    assert changed.status_code == 303
    db.session.expire_all()
    assert (campaign.name, campaign.ends_on.isoformat(), campaign.target_count) == ("井盖专项整治（延长）", "2026-07-15", 6)
    page = client.get(f"/evaluation/campaigns/{campaign.id}").text
    assert "2026-06-30" in page and "2026-07-15" in page  # the history shows before → after
    bad = client.post(f"/evaluation/campaigns/{campaign.id}/edit", data={
        "name": "", "starts_on": "2026-06-10", "ends_on": "2026-06-01", "target_count": "0",
    })
    assert bad.status_code == 422 and 'id="c-name-error"' in bad.text
    db.session.expire_all()
    assert campaign.name == "井盖专项整治（延长）"

    # Running now: it can be ended today, with a reason, and only once.
    from gridops.evaluation import views as evaluation_views
    from datetime import datetime, timezone
    monkeypatch.setattr(evaluation_views, "_now", lambda: datetime(2026, 7, 6, 4, 0, tzinfo=timezone.utc))
    assert 'name="reason"' in client.get(f"/evaluation/campaigns/{campaign.id}").text
    no_reason = client.post(f"/evaluation/campaigns/{campaign.id}/close", data={"reason": ""})
    assert no_reason.status_code == 422 and 'id="c-reason-error"' in no_reason.text
    ended = client.post(f"/evaluation/campaigns/{campaign.id}/close", data={"reason": "汛期提前结束"})
    assert ended.status_code == 303
    db.session.expire_all()
    assert campaign.ends_on.isoformat() == "2026-07-06"
    page = client.get(f"/evaluation/campaigns/{campaign.id}").text
    assert "汛期提前结束" in page and 'name="reason"' not in page
    assert client.post(f"/evaluation/campaigns/{campaign.id}/close", data={"reason": "again"}).status_code == 422

    auth.logout()
    auth.login("leader")
    page = client.get(f"/evaluation/campaigns/{campaign.id}").text
    assert 'name="target_count"' not in page and "汛期提前结束" not in page
    assert client.post(f"/evaluation/campaigns/{campaign.id}/edit", data={"name": "x"}).status_code == 403
    assert client.post(f"/evaluation/campaigns/{campaign.id}/close", data={"reason": "x"}).status_code == 403
