"""并单 in a real browser: the intake operator sees the likely duplicates on a case page, merges, and undoes it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from gridops.db import utcnow
from gridops.extensions import db
from tests.case_factories import GRID4_XY, make_case, make_world
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def cases(app):
    """A registered master, a fresh duplicate beside it and a report in another grid, committed."""
    world = make_world()
    now = utcnow()
    master = make_case("registered", world=world, now=now - timedelta(hours=3))
    duplicate = make_case("reported", world=world, now=now - timedelta(minutes=10))
    elsewhere = make_case("reported", world=world, xy=GRID4_XY, now=now - timedelta(minutes=5))
    numbers = master.number, duplicate.number, elsewhere.number
    db.session.commit()
    db.session.close()
    return numbers


def test_merge_a_duplicate_from_its_page_and_undo_it(page_for, cases, screenshot_dir):
    master, duplicate, elsewhere = cases
    page = page_for(1280, 900, locale="en-GB")
    page.goto("/login?next=/cases")
    page.fill("#username", "intake_operator")
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/cases")
    page.goto(f"/cases/{duplicate}")
    form = page.locator(f'form[action="/cases/{duplicate}/actions/merge"]')
    candidates = form.locator(".merge-candidates li")
    assert candidates.count() == 1 and master in candidates.first.inner_text()
    assert "same grid" in candidates.first.inner_text()
    page.screenshot(path=str(screenshot_dir / "case-merge-1280x900.png"), full_page=True)
    form.locator("input[name=merge-master]").fill(master)
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(rf".*/cases/{duplicate}$"))
    assert "Merged" in page.locator(".case-status").inner_text()
    assert page.locator(f'a[href="/cases/{master}"]').count() >= 1

    # A report in another grid asks for the confirmation box first.
    page.goto(f"/cases/{elsewhere}")
    form = page.locator(f'form[action="/cases/{elsewhere}/actions/merge"]')
    form.locator("input[name=merge-master]").fill(master)
    form.locator("button[type=submit]").click()
    assert "confirm" in page.locator(".flash").first.inner_text().lower()
    form = page.locator(f'form[action="/cases/{elsewhere}/actions/merge"]')
    form.locator("input[name=merge-master]").fill(master)
    form.locator("input[type=checkbox][name=merge-confirm]").check()
    form.locator("button[type=submit]").click()
    assert "Merged" in page.locator(".case-status").inner_text()

    page.goto(f"/cases/{master}")
    merged_in = page.locator("dd", has=page.locator(f'a[href="/cases/{duplicate}"]'))
    assert merged_in.count() == 1
    page.screenshot(path=str(screenshot_dir / "case-merged-master-1280x900.png"), full_page=True)

    page.goto(f"/cases/{duplicate}")
    page.locator(f'form[action="/cases/{duplicate}/actions/unmerge"] button[type=submit]').click()
    page.wait_for_url(re.compile(rf".*/cases/{duplicate}$"))
    assert "Reported" in page.locator(".case-status").inner_text()
    assert page.console_errors == []
