"""Every environment read, once: the app's configuration comes from here.

Environment variables (all optional except SECRET_KEY in production):

``GRIDOPS_MODE``
    production (default), development, demo or testing.
``SECRET_KEY`` / ``GRIDOPS_SECRET_KEY``
    Signs sessions and CSRF tokens; required (16+ characters) outside demo, testing
    and development.
``GRIDOPS_DATABASE_URL``
    SQLAlchemy URL; default a SQLite file in the instance folder.
``GRIDOPS_DB_CONNECT_TIMEOUT``
    Seconds to wait for PostgreSQL to accept a connection (default 5), so that
    ``/healthz`` answers 503 instead of hanging when the database is away.
``GRIDOPS_SECURE_COOKIES``
    Send session and remember cookies only over HTTPS; default on except in demo and
    testing.
``GRIDOPS_SESSION_HOURS``
    Lifetime of a sign-in session (default 12).
``GRIDOPS_REMEMBER_DAYS``
    Lifetime of the "keep me signed in" cookie (default 14).
``GRIDOPS_SESSION_PROTECTION``
    ``basic`` (default: a session seen from a new address or browser is marked not
    fresh; tablets roaming between mobile networks stay signed in) or ``strong`` (such
    a session is ended).
``GRIDOPS_LOGIN_LIMIT``
    Failed sign-in attempts allowed per client address and, separately, per username,
    in the ``limits`` notation (default ``10 per minute; 50 per hour``).
``GRIDOPS_RATELIMIT_STORAGE_URL``
    Where attempts are counted: ``memory://`` (default, one process only) or, when
    several web workers or instances serve the app, a shared store such as
    ``redis://host:6379/0`` (needs the ``redis`` package).
``GRIDOPS_RATELIMIT_ENABLED``
    Switch sign-in throttling off (default on).
``GRIDOPS_PROXY_HOPS``
    Number of reverse proxies in front of the app whose ``X-Forwarded-*`` headers are
    trusted (default 0); without it every client behind nginx shares one address.
``GRIDOPS_DEFAULT_LOCALE``, ``GRIDOPS_TIMEZONE``, ``GRIDOPS_TILE_URL``,
``GRIDOPS_TILE_ATTRIBUTION``, ``GRIDOPS_MEDIA_DIR``, ``GRIDOPS_GRID_AREA_M2``
    Interface language, the city's time zone, the base map, uploads, nominal grid size.
``GRIDOPS_OPEN311_CONTACT``, ``GRIDOPS_OPEN311_KEY_SERVICE``
    Contact and API-key instructions published in the Open311 discovery document.
``GRIDOPS_OPEN311_JURISDICTION``
    The Open311 ``jurisdiction_id`` this city answers to (default: the host name the
    request was addressed to, e.g. ``12345.luoyang.gov.cn``).
``GRIDOPS_MAX_REQUEST_MB``
    Largest request body accepted, in MB (default 100: nine 10 MB photos and their form).
``GRIDOPS_NOTIFY_GATEWAY``, ``GRIDOPS_NOTIFY_WEBHOOK_URL``, ``GRIDOPS_NOTIFY_WEBHOOK_TOKEN``
    Where supervision orders are also sent: ``off`` (default: the in-app inbox only) or
    ``webhook`` (JSON POSTed to the URL, bearer token optional; an SMS/e-mail platform).
``GRIDOPS_JOB_TIMES``
    JSON overriding periodic jobs' times, job id → cron fields or an interval, e.g.
    ``{"weekly_supervision": {"day_of_week": "mon", "hour": 9}}`` (city time zone).
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from limits import parse_many
from limits.storage import SCHEMES as RATELIMIT_STORAGE_SCHEMES

from gridops.errors import ConfigurationError

MODES = ("production", "development", "demo", "testing")

#: Modes in which the app may run without a real SECRET_KEY.
INSECURE_OK_MODES = {"demo", "testing", "development"}

#: Modes served over plain HTTP on purpose (a laptop demo, the test client).
PLAIN_HTTP_MODES = {"demo", "testing"}

MIN_SECRET_KEY_LENGTH = 16

PROJECT_ROOT = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _bool(name: str, value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be one of 1/0, true/false, yes/no, on/off, not {value!r}")


def _int(name: str, value: str | None, default: int, minimum: int = 0) -> int:
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a whole number, not {value!r}") from exc
    if number < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, not {number}")
    return number


def _choice(name: str, value: str | None, choices: tuple[str, ...], default: str) -> str:
    if value is None or value.strip() == "":
        return default
    word = value.strip().lower()
    if word not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return word


def _rate_limit(name: str, value: str | None, default: str) -> str:
    if value is None or value.strip() == "":
        return default
    try:
        parse_many(value)
    except ValueError as exc:
        raise ConfigurationError(
            f"{name} must be a rate such as '10 per minute; 50 per hour', not {value!r}"
        ) from exc
    return value.strip()


def _storage_url(name: str, value: str | None, default: str) -> str:
    if value is None or value.strip() == "":
        return default
    scheme = urlsplit(value.strip()).scheme
    if scheme not in RATELIMIT_STORAGE_SCHEMES:
        raise ConfigurationError(
            f"{name} must be a storage URL such as memory:// or redis://host:6379/0, not {value!r}"
        )
    return value.strip()


def _engine_options(database_url: str, connect_timeout: int) -> dict:
    options: dict = {"pool_pre_ping": True}
    if database_url.startswith("postgresql"):
        options["connect_args"] = {"connect_timeout": connect_timeout}
    return options


def load_config(environ: dict[str, str] | None = None, instance_path: str | None = None) -> dict:
    """Build the Flask config mapping from environment variables (see the module docstring)."""
    env = os.environ if environ is None else environ
    mode = _choice("GRIDOPS_MODE", env.get("GRIDOPS_MODE"), MODES, "production")
    instance = Path(instance_path or PROJECT_ROOT / "instance")
    database_url = env.get("GRIDOPS_DATABASE_URL") or f"sqlite:///{instance / 'gridops.sqlite3'}"
    secure_cookies = _bool(
        "GRIDOPS_SECURE_COOKIES", env.get("GRIDOPS_SECURE_COOKIES"), default=mode not in PLAIN_HTTP_MODES
    )
    cfg = {
        "GRIDOPS_MODE": mode,
        "SECRET_KEY": env.get("SECRET_KEY") or env.get("GRIDOPS_SECRET_KEY") or "",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(
            database_url,
            _int("GRIDOPS_DB_CONNECT_TIMEOUT", env.get("GRIDOPS_DB_CONNECT_TIMEOUT"), 5, minimum=1),
        ),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure_cookies,
        "SESSION_PROTECTION": _choice(
            "GRIDOPS_SESSION_PROTECTION", env.get("GRIDOPS_SESSION_PROTECTION"), ("basic", "strong"), "basic"
        ),
        "PERMANENT_SESSION_LIFETIME": timedelta(
            hours=_int("GRIDOPS_SESSION_HOURS", env.get("GRIDOPS_SESSION_HOURS"), 12, minimum=1)
        ),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": secure_cookies,
        "REMEMBER_COOKIE_DURATION": timedelta(
            days=_int("GRIDOPS_REMEMBER_DAYS", env.get("GRIDOPS_REMEMBER_DAYS"), 14, minimum=1)
        ),
        # The CSRF token lives as long as the session that holds it: a form left open on a
        # tablet during a long patrol still submits.
        "WTF_CSRF_TIME_LIMIT": None,
        "RATELIMIT_STORAGE_URI": _storage_url(
            "GRIDOPS_RATELIMIT_STORAGE_URL", env.get("GRIDOPS_RATELIMIT_STORAGE_URL"), "memory://"
        ),
        "RATELIMIT_ENABLED": _bool("GRIDOPS_RATELIMIT_ENABLED", env.get("GRIDOPS_RATELIMIT_ENABLED"), True),
        "GRIDOPS_LOGIN_LIMIT": _rate_limit(
            "GRIDOPS_LOGIN_LIMIT", env.get("GRIDOPS_LOGIN_LIMIT"), "10 per minute; 50 per hour"
        ),
        "GRIDOPS_PROXY_HOPS": _int("GRIDOPS_PROXY_HOPS", env.get("GRIDOPS_PROXY_HOPS"), 0),
        "BABEL_DEFAULT_LOCALE": _choice(
            "GRIDOPS_DEFAULT_LOCALE", env.get("GRIDOPS_DEFAULT_LOCALE"), ("zh", "en"), "zh"
        ),
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "GRIDOPS_LANGUAGES": ["zh", "en"],
        "GRIDOPS_TIMEZONE": env.get("GRIDOPS_TIMEZONE", "Asia/Shanghai"),
        "GRIDOPS_TILE_URL": env.get("GRIDOPS_TILE_URL", ""),
        "GRIDOPS_OPEN311_CONTACT": env.get("GRIDOPS_OPEN311_CONTACT", ""),
        "GRIDOPS_OPEN311_KEY_SERVICE": env.get("GRIDOPS_OPEN311_KEY_SERVICE", ""),
        "GRIDOPS_OPEN311_JURISDICTION": env.get("GRIDOPS_OPEN311_JURISDICTION", "").strip().lower(),
        "GRIDOPS_TILE_ATTRIBUTION": env.get("GRIDOPS_TILE_ATTRIBUTION", ""),
        "GRIDOPS_MEDIA_DIR": env.get("GRIDOPS_MEDIA_DIR", str(instance / "media")),
        "GRIDOPS_GRID_AREA_M2": _int(
            "GRIDOPS_GRID_AREA_M2", env.get("GRIDOPS_GRID_AREA_M2"), 10_000, minimum=1
        ),
        # Nine photos of up to 10 MB each, plus the form around them.
        "MAX_CONTENT_LENGTH": _int(
            "GRIDOPS_MAX_REQUEST_MB", env.get("GRIDOPS_MAX_REQUEST_MB"), 100, minimum=1
        ) * 1024 * 1024,
        "GRIDOPS_NOTIFY_GATEWAY": _choice(
            "GRIDOPS_NOTIFY_GATEWAY", env.get("GRIDOPS_NOTIFY_GATEWAY"), ("off", "webhook"), "off"
        ),
        "GRIDOPS_NOTIFY_WEBHOOK_URL": env.get("GRIDOPS_NOTIFY_WEBHOOK_URL", ""),
        "GRIDOPS_NOTIFY_WEBHOOK_TOKEN": env.get("GRIDOPS_NOTIFY_WEBHOOK_TOKEN", ""),
        "GRIDOPS_JOB_TIMES": _job_times(env.get("GRIDOPS_JOB_TIMES")),
    }
    if cfg["GRIDOPS_NOTIFY_GATEWAY"] == "webhook" and urlsplit(cfg["GRIDOPS_NOTIFY_WEBHOOK_URL"]).scheme not in (
        "http", "https"
    ):
        raise ConfigurationError("GRIDOPS_NOTIFY_WEBHOOK_URL must be an http(s) URL when the gateway is webhook")
    if mode == "testing":
        cfg["TESTING"] = True
    return cfg


def _job_times(value: str | None) -> dict:
    """``GRIDOPS_JOB_TIMES``: a JSON object of job id → trigger fields (checked when the scheduler starts)."""
    if not value:
        return {}
    try:
        data = json.loads(value)
    except ValueError:
        raise ConfigurationError("GRIDOPS_JOB_TIMES must be a JSON object") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ConfigurationError("GRIDOPS_JOB_TIMES must map job ids to objects of trigger fields")
    return data


def check_config(cfg: dict) -> None:
    """Refuse to start with an unknown mode, or outside demo/tests without a real SECRET_KEY."""
    mode = cfg.get("GRIDOPS_MODE", "production")
    if mode not in MODES:
        raise ConfigurationError(f"GRIDOPS_MODE must be one of {', '.join(MODES)}, not {mode!r}")
    key = cfg.get("SECRET_KEY") or ""
    if mode not in INSECURE_OK_MODES and len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigurationError(
            f"SECRET_KEY must be set to a long random value ({MIN_SECRET_KEY_LENGTH}+ characters) "
            f"in {mode} mode, e.g. SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))')"
        )


def demo_secret_key(instance_path: str) -> str:
    """A per-instance random key for the demo, kept in the instance folder across restarts."""
    path = Path(instance_path) / "demo-secret-key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
