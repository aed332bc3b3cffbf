"""Territory pages: the grid map."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from gridops.errors import ValidationFailed
from gridops.extensions import db
from gridops.i18n import current_locale
from gridops.territory.locator import Location, locate
from gridops.territory.models import AreaLevel, GridLayer

bp = Blueprint("territory", __name__)

#: Zoom from which levels below the overview are fetched for the visible part of the map.
DETAIL_MIN_ZOOM = 14
#: Zoom from which unit grids are fetched (a full city holds ~200,000 of them).
UNIT_MIN_ZOOM = 16
#: Most features asked for in one request; the map says so when a view holds more.
FETCH_LIMIT = 2000
#: How many levels under the city are drawn whole at every zoom (districts, subdistricts).
OVERVIEW_LEVELS = 2
#: Zoom from which the second overview level (subdistricts) takes over the labels.
SECOND_LABEL_ZOOM = 13
#: Line styles per level, outermost first; the unit level always takes the last one.
LEVEL_STYLES = (
    {"color": "#111418", "weight": 5},
    {"color": "#0b5cad", "weight": 2.5, "dash": "10 6"},
    {"color": "#7b1fa2", "weight": 2},
    {"color": "#1b5e20", "weight": 1, "fill": 0.05},
)
#: Closest zoom of the map, and the zoom a typed-in position is shown at.
MAX_ZOOM = 19
LOCATE_ZOOM = 17


def current_layer() -> GridLayer | None:
    """The territory's grid layer (the first one, as the importer and the locator use it)."""
    return db.session.scalar(select(GridLayer).order_by(GridLayer.id).limit(1))


def _coordinate(raw: str, field: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValidationFailed.field(field, "a decimal number of degrees") from None


def locate_from_query(layer: GridLayer) -> tuple[Location | None, ValidationFailed | None]:
    """Locate ``?x=&y=`` (in the layer's datum) for the page itself, so the form works without scripts."""
    raw_x = request.args.get("x", "").strip()
    raw_y = request.args.get("y", "").strip()
    if not (raw_x or raw_y):
        return None, None
    try:
        return locate(_coordinate(raw_x, "x"), _coordinate(raw_y, "y"), layer.datum), None
    except ValidationFailed as exc:
        return None, exc


def map_levels(levels: list[AreaLevel], locale: str) -> list[dict]:
    """How the map draws each level under the city: from which zoom it is fetched and labelled.

    The hierarchy is data, so this works on whatever levels the city defines: the first
    ones are the overview, the unit level comes last and only close up.
    """
    drawn = [level for level in levels if level.rank > 0]
    plan = []
    for index, level in enumerate(drawn):
        if level.is_unit:
            min_zoom, label_zoom = UNIT_MIN_ZOOM, UNIT_MIN_ZOOM + 1
            style = LEVEL_STYLES[-1]
        elif index < OVERVIEW_LEVELS:
            min_zoom, label_zoom = 0, (0 if index == 0 else SECOND_LABEL_ZOOM)
            style = LEVEL_STYLES[index]
        else:
            min_zoom, label_zoom = DETAIL_MIN_ZOOM, DETAIL_MIN_ZOOM + 1
            style = LEVEL_STYLES[min(index, len(LEVEL_STYLES) - 2)]
        plan.append(
            {
                "key": level.key,
                "name": level.display_name(locale),
                "is_unit": level.is_unit,
                "min_zoom": min_zoom,
                "label_zoom": label_zoom,
                "by_view": min_zoom > 0,
                "style": style,
            }
        )
    return plan


def home_bounds(user) -> list[float] | None:
    """The bounding box of the user's own area, where the map opens (None: the whole city)."""
    area = user.area
    if area is None or area.min_x is None or area.parent_id is None:
        return None
    return [area.min_x, area.min_y, area.max_x, area.max_y]


@bp.route("/map")
@login_required
def map_page():
    """The territory map; its script draws the areas and locates points through the API."""
    locale = current_locale()
    layer = current_layer()
    location, locate_error = locate_from_query(layer) if layer else (None, None)
    levels = list(db.session.scalars(select(AreaLevel).order_by(AreaLevel.rank)))
    map_config = {
        "datum": layer.datum if layer else None,
        "locale": locale,
        "levels": map_levels(levels, locale),
        "levelNames": {level.key: level.display_name(locale) for level in levels},
        "fetchLimit": FETCH_LIMIT,
        "maxZoom": MAX_ZOOM,
        "locateZoom": LOCATE_ZOOM,
        "position": [location.x, location.y] if location else None,
        "home": home_bounds(current_user),
        "tileUrl": current_app.config["GRIDOPS_TILE_URL"],
        "tileAttribution": current_app.config["GRIDOPS_TILE_ATTRIBUTION"],
        "api": {
            "areas": url_for("api.list_areas"),
            "area": url_for("api.get_area", code="__code__"),
            "locate": url_for("api.locate"),
        },
    }
    return render_template(
        "territory/map.html",
        layer=layer,
        levels=map_config["levels"],
        level_names=map_config["levelNames"],
        location=location,
        locate_error=locate_error,
        map_config=map_config,
    )
