"""Translations: the Chinese catalogue is complete, compiled, in step with the sources, and chosen right."""

from __future__ import annotations

import io
import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from flask import session
from flask_babel import force_locale, gettext

from gridops.config import PROJECT_ROOT
from gridops.extensions import db
from gridops.i18n import html_lang, select_locale
from tests.factories import make_user

CATALOGUE = PROJECT_ROOT / "gridops" / "translations" / "zh" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")


def _read_po():
    with open(CATALOGUE / "messages.po", "rb") as handle:
        return read_po(handle, locale="zh")


def _messages(catalog):
    return [message for message in catalog if message.id]


def test_every_message_has_a_chinese_translation():
    catalog = _read_po()
    untranslated = [m.id for m in _messages(catalog) if not m.string or m.fuzzy]
    assert untranslated == []


def test_translations_keep_their_placeholders():
    catalog = _read_po()
    for message in _messages(catalog):
        assert sorted(PLACEHOLDER.findall(message.string)) == sorted(PLACEHOLDER.findall(message.id)), message.id


def test_compiled_catalogue_matches_the_po_file():
    """The committed .mo is exactly what compiling the committed .po gives."""
    compiled = io.BytesIO()
    write_mo(compiled, _read_po())
    assert (CATALOGUE / "messages.mo").read_bytes() == compiled.getvalue(), (
        "messages.mo is stale: run `pybabel compile -d gridops/translations -l zh`"
    )


def test_compiled_catalogue_loads():
    with open(CATALOGUE / "messages.mo", "rb") as handle:
        catalog = read_mo(handle)
    assert catalog.get("Sign in").string == "登录"


def test_every_source_string_is_in_the_catalogue():
    """Strings marked with _() / _l() in Python and templates all have an entry (see babel.cfg)."""
    with open(PROJECT_ROOT / "babel.cfg") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {"_": None, "_l": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2)}
    source_ids = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(PROJECT_ROOT), method_map, options_map, keywords=keywords
    ):
        source_ids.add(message[0] if isinstance(message, tuple) else message)
    catalogue_ids = {m.id if isinstance(m.id, str) else m.id[0] for m in _messages(_read_po())}
    missing = sorted(source_ids - catalogue_ids)
    assert missing == [], "run the extract/update commands at the top of babel.cfg and translate these"


def test_chinese_is_served(app):
    with app.test_request_context(), force_locale("zh"):
        assert gettext("Sign out") == "退出登录"
    with app.test_request_context(), force_locale("en"):
        assert gettext("Sign out") == "Sign out"


def test_html_lang_tags():
    assert html_lang("zh") == "zh-CN"
    assert html_lang("en") == "en"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [("en-GB,en;q=0.9", "en"), ("zh-CN,zh;q=0.9", "zh"), ("fr-FR", "zh"), (None, "zh")],
)
def test_browser_language_then_city_default(app, accept, expected):
    headers = {"Accept-Language": accept} if accept else {}
    with app.test_request_context(headers=headers):
        assert select_locale() == expected


def test_session_choice_beats_the_browser(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        session["locale"] = "zh"
        assert select_locale() == "zh"


def test_user_setting_beats_session_and_browser(app, client, auth):
    make_user(locale="en")
    db.session.commit()
    auth.login()
    with client.session_transaction() as sess:
        sess["locale"] = "zh"
    page = client.get("/login", headers={"Accept-Language": "zh"}, follow_redirects=True)
    assert '<html lang="en">' in page.get_data(as_text=True)
