"""What browser tests share: signing in through the real form."""

from __future__ import annotations

from tests.factories import PASSWORD


def sign_in(page_for, username, width=1280, height=800, locale="zh-CN", next_path=None, javascript=True):
    """A new page of that size and locale, signed in as ``username`` (and gone on to ``next_path``)."""
    page = page_for(width, height, locale=locale, javascript=javascript)
    page.goto(f"/login?next={next_path}" if next_path else "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    if next_path:
        page.wait_for_url(f"**{next_path}")
    else:
        page.wait_for_load_state()
    return page
