"""Pages of the workspaces package."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("workspaces", __name__, url_prefix="/work")
