"""Pages of the hotline package."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("hotline", __name__, url_prefix="/hotline")
