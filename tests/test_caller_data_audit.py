"""The audit of unmasked views of callers' data: who may read it, filters and their errors, pages,
the CSV download, the JSON endpoint, and the retention page."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from gridops.api.openapi import build_document
from gridops.extensions import db
from gridops.hotline.models import CallerDataView
from gridops.hotline.privacy import record_caller_view
from gridops.hotline.retention import purge_caller_data
from gridops.hotline.services import log_complaint
from gridops.hotline.settings import retention_days
from tests.case_factories import GRID1_XY, T0, make_world
from tests.test_openapi import Conformance

PHONE, OTHER = "13912345678", "0377-63123456"
ROLES = ["grid_worker", "hotline_operator", "intake_operator", "dispatcher", "shift_leader", "unit_staff",
         "area_lead", "leader", "evaluator"]


@pytest.fixture
def world(app):
    world = make_world()
    db.session.commit()
    return world


def complaint(world, phone=PHONE, now=T0):
    result = log_complaint(world.user("hotline_operator"), caller_name="赵大海", phone=phone, content="井盖丢了",
                           case_type="component", small_class_code="0101", x=GRID1_XY[0], y=GRID1_XY[1],
                           datum="gcj02", now=now)
    db.session.commit()
    return result


@pytest.fixture
def logged(world):
    """Two cases (one per caller) and views of them and of phone lookups, by three users over two days."""
    first, second = complaint(world), complaint(world, OTHER)
    operator, intake, shift = (world.user(role) for role in ("hotline_operator", "intake_operator", "shift_leader"))
    record_caller_view(operator, context="order_page", case_ids=[first.case.id], now=T0)
    record_caller_view(intake, context="api:order", case_ids=[second.case.id], now=T0 + timedelta(hours=1))
    record_caller_view(shift, context="api:caller", phone="+8613700000000", now=T0 + timedelta(days=1))
    record_caller_view(operator, context="api:caller", phone="+8613912345678", now=T0 + timedelta(days=1, hours=1))
    db.session.commit()
    return first, second


def page_of(client, **args):
    response = client.get("/admin/caller-views", query_string=args)
    return response, response.get_data(as_text=True)


def rows_in(page: str) -> int:
    """Rows of the log table (its "no view matches" row counts none)."""
    body = page.split('id="caller-views"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return body.count("<tr>") - body.count('colspan="5"')


# -- who may read it ------------------------------------------------------------------------------


def test_administrators_read_the_log_newest_first(client, auth, world, logged):
    first, second = logged
    auth.login("admin")
    response, page = page_of(client)
    assert response.status_code == 200
    assert rows_in(page) == 4 and 'role="status">' in page
    body = page.split('id="caller-views"', 1)[1]
    # Newest first: the lookup of the 2nd, then the shift leader's, then the two case views.
    assert body.index("139****5678") < body.index("137****0000") < body.index(second.case.number) < body.index(
        first.case.number)
    assert f'href="/hotline/cases/{first.case.number}"' in body
    assert "13912345678" not in page and "+8613912345678" not in page  # looked-up numbers stay masked
    assert "2026-06-01 10:00:00" in body  # city time
    assert 'href="/admin/caller-views"' in client.get("/admin/").get_data(as_text=True)  # in the admin navigation


@pytest.mark.parametrize("role", ROLES)
def test_every_other_role_is_refused(client, auth, world, logged, role):
    auth.login(role)
    assert client.get("/admin/caller-views").status_code == 403
    assert client.get("/admin/caller-views.csv").status_code == 403
    assert client.get("/admin/retention").status_code == 403
    assert client.get("/api/v1/hotline/caller-views").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client, world):
    response = client.get("/admin/caller-views")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_reading_the_log_logs_nothing(client, auth, world, logged):
    auth.login("admin")
    before = db.session.scalar(select(func.count()).select_from(CallerDataView))
    page_of(client)
    client.get("/admin/caller-views.csv").get_data()
    assert db.session.scalar(select(func.count()).select_from(CallerDataView)) == before


def test_the_role_shown_is_the_one_held_when_the_data_was_seen(client, auth, world, logged):
    world.user("intake_operator").role = "dispatcher"
    db.session.commit()
    auth.login("admin")
    _response, page = page_of(client, user="intake_operator")
    assert rows_in(page) == 1 and "受理员" in page and "派遣员" not in page.split('id="caller-views"', 1)[1]


def test_a_real_unmasked_view_reaches_the_log(client, auth, world):
    case = complaint(world).case
    auth.login("shift_leader")
    client.get(f"/hotline/cases/{case.number}")
    auth.logout()
    auth.login("admin")
    _response, page = page_of(client, case=case.number)
    assert rows_in(page) == 1 and "Shift_Leader" in page and "值班长" in page


# -- filters ---------------------------------------------------------------------------------------


def test_filter_by_user_case_phone_context_and_days(client, auth, world, logged):
    first, second = logged
    auth.login("admin")
    assert rows_in(page_of(client, user="HOTLINE_OPERATOR")[1]) == 2  # usernames match whatever the case
    assert rows_in(page_of(client, case=second.case.number)[1]) == 1
    # A number however typed: its lookups and the views of the cases it called about.
    page = page_of(client, phone="139 1234 5678")[1]
    assert rows_in(page) == 2 and first.case.number in page and "139****5678" in page
    assert rows_in(page_of(client, phone="(0377) 6312 3456")[1]) == 1
    assert rows_in(page_of(client, context="api:caller")[1]) == 2
    assert rows_in(page_of(client, **{"from": "2026-06-02"})[1]) == 2
    assert rows_in(page_of(client, to="2026-06-01")[1]) == 2
    assert rows_in(page_of(client, **{"from": "2026-06-01", "to": "2026-06-01", "user": "intake_operator"})[1]) == 1
    assert rows_in(page_of(client, user="leader")[1]) == 0


def test_days_are_the_citys_days(client, auth, world):
    operator = world.user("hotline_operator")
    # 1 June 2026, 00:30 in the city is 31 May, 16:30 UTC.
    record_caller_view(operator, context="api:caller", phone="+8613700000000",
                       now=datetime(2026, 5, 31, 16, 30, tzinfo=timezone.utc))
    db.session.commit()
    auth.login("admin")
    assert rows_in(page_of(client, **{"from": "2026-06-01", "to": "2026-06-01"})[1]) == 1
    assert rows_in(page_of(client, to="2026-05-31")[1]) == 0


@pytest.mark.parametrize(
    ("args", "field", "message"),
    [
        ({"from": "2026-13-01"}, "from", "must be a date, YYYY-MM-DD"),
        ({"to": "yesterday"}, "to", "must be a date, YYYY-MM-DD"),
        ({"from": "2026-06-02", "to": "2026-06-01"}, "to", "must not be before the start date"),
        ({"user": "nobody"}, "user", "no user has the username nobody"),
        ({"case": "20260601999999"}, "case", "no case has the number 20260601999999"),
        ({"phone": "12345"}, "phone", "must be a mainland mobile or landline number"),
        ({"context": "telepathy"}, "context", "must be one of"),
        ({"user": "x" * 65}, "user", "at most 64 characters"),
        ({"page": "zero"}, "page", "must be a whole number, 1 or more"),
        ({"page": "0"}, "page", "must be a whole number, 1 or more"),
        ({"page": "²"}, "page", "must be a whole number, 1 or more"),
        ({"from": "0001-01-01"}, "from", "must be a date from 1900 to 2200"),
        ({"to": "9999-12-31"}, "to", "must be a date from 1900 to 2200"),
    ],
)
def test_every_filter_error_is_shown_on_the_page(client, auth, world, logged, args, field, message):
    auth.login("admin")
    client.post("/language", data={"locale": "en", "next": "/"})
    response, page = page_of(client, **args)
    assert response.status_code == 422
    assert message in page and 'role="alert"' in page
    if field != "page":
        assert f'id="v-{field}-error"' in page and 'aria-invalid="true"' in page
    assert 'id="caller-views"' not in page


def test_several_bad_filters_are_all_named(client, auth, world, logged):
    auth.login("admin")
    client.post("/language", data={"locale": "en", "next": "/"})
    response, page = page_of(client, user="nobody", to="nope", phone="1")
    assert response.status_code == 422
    assert all(f'id="v-{name}-error"' in page for name in ("user", "to", "phone"))
    assert 'value="nobody"' in page  # what was typed stays in the form


# -- pages and CSV ------------------------------------------------------------------------------------


def test_the_log_is_paginated(client, auth, world):
    operator = world.user("hotline_operator")
    for minute in range(120):
        record_caller_view(operator, context="api:caller", phone="+8613700000000", now=T0 + timedelta(minutes=minute))
    db.session.commit()
    auth.login("admin")
    first = page_of(client)[1]
    assert rows_in(first) == 50 and "2026-06-01 11:59:00" in first  # the newest
    assert "page=2" in first
    third = page_of(client, page="3")[1]
    assert rows_in(third) == 20 and "2026-06-01 10:00:00" in third
    assert rows_in(page_of(client, page="99")[1]) == 20  # past the end: the last page
    filtered = page_of(client, user="hotline_operator")[1]
    assert "user=hotline_operator" in filtered.split('class="pager"', 1)[1]


def test_the_csv_download_holds_the_filtered_log(client, auth, world, logged):
    first, _second = logged
    world.user("hotline_operator").full_name = "=HYPERLINK(1)"
    db.session.commit()
    auth.login("admin")
    response = client.get("/admin/caller-views.csv", query_string={"user": "hotline_operator"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'attachment; filename="caller-views-' in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == ["viewed_at", "username", "full_name", "role", "context", "case_number", "phone_masked"]
    assert rows[1][1:] == ["hotline_operator", "'=HYPERLINK(1)", "hotline_operator", "api:caller", "", "139****5678"]
    assert rows[1][0] == "2026-06-02T11:00:00+08:00"
    assert rows[2][1:] == ["hotline_operator", "'=HYPERLINK(1)", "hotline_operator", "order_page",
                           first.case.number, ""]
    assert len(rows) == 3


def test_a_csv_with_bad_filters_is_the_page_with_its_errors(client, auth, world, logged):
    auth.login("admin")
    response = client.get("/admin/caller-views.csv", query_string={"from": "tomorrow"})
    assert response.status_code == 422 and response.mimetype == "text/html"
    assert 'id="v-from-error"' in response.get_data(as_text=True)


def test_erased_lookups_say_so(client, auth, world):
    record_caller_view(world.user("hotline_operator"), context="api:caller", phone="+8613700000000", now=T0)
    db.session.commit()
    purge_caller_data(T0 + timedelta(days=400))
    db.session.commit()
    auth.login("admin")
    client.post("/language", data={"locale": "en", "next": "/"})
    page = page_of(client)[1]
    assert "number erased after the retention period" in page and "137****0000" not in page


# -- the JSON endpoint ---------------------------------------------------------------------------------


def test_the_json_endpoint_pages_the_filtered_log_by_its_document(client, auth, world, logged, app):
    conform = Conformance(build_document(app))
    auth.login("admin")
    path = "/hotline/caller-views"
    response = client.get("/api/v1" + path, query_string={"limit": 2})
    body = conform.check(response, path, "get")
    assert response.status_code == 200 and body["total"] == 4 and len(body["items"]) == 2
    assert body["items"][0]["phone"] == "139****5678" and body["items"][0]["role"] == "hotline_operator"
    assert body["next"] and "offset=2" in body["next"]
    last = conform.check(client.get(body["next"]), path, "get")
    assert [item["case_number"] for item in last["items"]] == [logged[1].case.number, logged[0].case.number]
    assert last["next"] is None
    bad = client.get("/api/v1" + path, query_string={"to": "soon", "user": "nobody"})
    assert bad.status_code == 422 and set(conform.check(bad, path, "get")["fields"]) == {"to", "user"}
    twice = client.get("/api/v1" + path + "?case=1&case=2")
    assert twice.status_code == 422 and set(conform.check(twice, path, "get")["fields"]) == {"case"}
    auth.logout()
    auth.login("shift_leader")
    conform.check(client.get("/api/v1" + path), path, "get")


# -- the retention page -------------------------------------------------------------------------------


def test_the_retention_page_shows_runs_and_changes_the_period(client, auth, world):
    purge_caller_data(T0, origin="scheduler")
    db.session.commit()
    auth.login("admin")
    page = client.get("/admin/retention").get_data(as_text=True)
    assert 'id="purge-runs"' in page and 'value="365"' in page
    response = client.post("/admin/retention", data={"days": "90"})
    assert response.status_code == 303 and retention_days() == 90
    page = client.get("/admin/retention").get_data(as_text=True)
    assert 'value="90"' in page and "hotline_retention" not in page  # the history names the setting
    for bad in ("10", "abc", ""):
        response = client.post("/admin/retention", data={"days": bad})
        assert response.status_code == 422 and 'id="days-error"' in response.get_data(as_text=True)
    assert retention_days() == 90
