"""Every environment read, once: the app's configuration comes from here."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from gridops.errors import ConfigurationError

ENV_PREFIX = "GRIDOPS_"

#: Modes in which the app may run without a real SECRET_KEY.
INSECURE_OK_MODES = {"demo", "testing", "development"}

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be an integer, not {value!r}") from exc


def load_config(environ: dict[str, str] | None = None, instance_path: str | None = None) -> dict:
    """Build the Flask config mapping from environment variables (see README)."""
    env = os.environ if environ is None else environ
    mode = env.get("GRIDOPS_MODE", "production").strip().lower()
    instance = Path(instance_path or PROJECT_ROOT / "instance")
    database_url = env.get("GRIDOPS_DATABASE_URL") or f"sqlite:///{instance / 'gridops.sqlite3'}"
    cfg = {
        "GRIDOPS_MODE": mode,
        "SECRET_KEY": env.get("SECRET_KEY") or env.get("GRIDOPS_SECRET_KEY") or "",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(env.get("GRIDOPS_SECURE_COOKIES"), default=mode == "production"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool(env.get("GRIDOPS_SECURE_COOKIES"), default=mode == "production"),
        "PERMANENT_SESSION_LIFETIME": _int(
            "GRIDOPS_SESSION_HOURS", env.get("GRIDOPS_SESSION_HOURS"), 12
        ) * 3600,
        "WTF_CSRF_TIME_LIMIT": None,
        "RATELIMIT_STORAGE_URI": env.get("GRIDOPS_RATELIMIT_STORAGE_URL", "memory://"),
        "RATELIMIT_ENABLED": _bool(env.get("GRIDOPS_RATELIMIT_ENABLED"), default=True),
        "GRIDOPS_LOGIN_LIMIT": env.get("GRIDOPS_LOGIN_LIMIT", "10 per minute; 50 per hour"),
        "BABEL_DEFAULT_LOCALE": env.get("GRIDOPS_DEFAULT_LOCALE", "zh"),
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "GRIDOPS_LANGUAGES": ["zh", "en"],
        "GRIDOPS_TIMEZONE": env.get("GRIDOPS_TIMEZONE", "Asia/Shanghai"),
        "GRIDOPS_TILE_URL": env.get("GRIDOPS_TILE_URL", ""),
        "GRIDOPS_TILE_ATTRIBUTION": env.get("GRIDOPS_TILE_ATTRIBUTION", ""),
        "GRIDOPS_MEDIA_DIR": env.get("GRIDOPS_MEDIA_DIR", str(instance / "media")),
        "GRIDOPS_GRID_AREA_M2": _int("GRIDOPS_GRID_AREA_M2", env.get("GRIDOPS_GRID_AREA_M2"), 10_000),
    }
    if mode == "testing":
        cfg["TESTING"] = True
    return cfg


def check_config(cfg: dict) -> None:
    """Refuse to start in production with an unsafe configuration."""
    mode = cfg.get("GRIDOPS_MODE", "production")
    key = cfg.get("SECRET_KEY") or ""
    if mode not in INSECURE_OK_MODES and (len(key) < 16 or key in {"dev", "change-me", "secret"}):
        raise ConfigurationError(
            "SECRET_KEY must be set to a long random value outside demo and tests "
            "(e.g. SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))'))"
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
