"""Language choice: the user's setting, then the session's, then the browser's, then the city default."""

from __future__ import annotations

from flask import current_app, has_request_context, request, session
from flask_login import current_user

#: The value of ``<html lang>`` for each interface language.
HTML_LANG = {"zh": "zh-CN", "en": "en"}


def select_locale() -> str:
    if not has_request_context():  # CLI commands and jobs speak the city default
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    languages = current_app.config["GRIDOPS_LANGUAGES"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    if session.get("locale") in languages:
        return session["locale"]
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def current_locale() -> str:
    from flask_babel import get_locale

    locale = get_locale()
    return locale.language if locale else "zh"


def html_lang(locale: str) -> str:
    """The BCP 47 tag for a page in ``locale`` (screen readers and CJK fonts rely on it)."""
    return HTML_LANG.get(locale, locale)
