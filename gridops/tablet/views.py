"""Pages of the tablet package."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("tablet", __name__, url_prefix="/tablet")
