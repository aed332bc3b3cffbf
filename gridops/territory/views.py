"""Territory pages: the grid map."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("territory", __name__)


@bp.route("/map")
@login_required
def map_page():
    return render_template("territory/map.html")
