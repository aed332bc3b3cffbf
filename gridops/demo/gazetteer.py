"""A small demo gazetteer: real Nanyang road and landmark names at generated positions in the demo grids.

The names are real; the positions are not. Each place is put in one of the unit grids of the
demo grid worker's responsibility grids, so that a hotline complaint about it lands where the
demo worker can verify it.
"""

from __future__ import annotations

import json

import shapely
from sqlalchemy import select

from gridops.auth.models import User
from gridops.extensions import db
from gridops.hotline.gazetteer import GazetteerImport, import_gazetteer
from gridops.territory.models import Area, GridLayer, ResponsibilityGrid, responsibility_grid_area

#: (name, English name, kind, aliases): roads are drawn as short lines, the rest as points.
DEMO_PLACES = (
    ("人民路", "Renmin Road", "road", "人民大道"),
    ("中州路", "Zhongzhou Road", "road", ""),
    ("工业路", "Gongye Road", "road", ""),
    ("新华路", "Xinhua Road", "road", "新华东路|新华西路"),
    ("建设路", "Jianshe Road", "road", ""),
    ("仲景路", "Zhongjing Road", "road", "仲景北路|仲景南路"),
    ("张衡路", "Zhangheng Road", "road", ""),
    ("滨河路", "Binhe Road", "road", "滨河大道"),
    ("南阳火车站", "Nanyang Railway Station", "landmark", "火车站|老火车站"),
    ("白河湿地公园", "Baihe Wetland Park", "park", "白河公园"),
    ("南阳市中心医院", "Nanyang Central Hospital", "building", "中心医院"),
    ("武侯祠", "Wuhou Temple", "landmark", "卧龙岗"),
)


def _demo_grids(worker_username: str, count: int) -> list[Area]:
    """``count`` unit grids of the worker's responsibility grids, spread over them (by code)."""
    grids = list(
        db.session.scalars(
            select(Area)
            .join(responsibility_grid_area, responsibility_grid_area.c.area_id == Area.id)
            .join(ResponsibilityGrid, ResponsibilityGrid.id == responsibility_grid_area.c.responsibility_grid_id)
            .join(User, User.id == ResponsibilityGrid.worker_id)
            .where(User.username == worker_username, Area.active.is_(True), Area.geometry_wkb.is_not(None))
            .order_by(Area.code)
        )
    )
    if not grids:
        return []
    step = max(len(grids) // count, 1)
    return [grids[(i * step) % len(grids)] for i in range(count)]


def demo_gazetteer_collection(worker_username: str = "worker") -> dict | None:
    """The demo places as a GeoJSON FeatureCollection in the layer's datum (None without grids)."""
    datum = db.session.scalar(select(GridLayer.datum).order_by(GridLayer.id).limit(1))
    grids = _demo_grids(worker_username, len(DEMO_PLACES))
    if not grids or datum is None:
        return None
    features = []
    for (name, name_en, kind, aliases), grid in zip(DEMO_PLACES, grids):
        polygon = shapely.from_wkb(grid.geometry_wkb)
        centre = polygon.representative_point()
        if kind == "road":
            half = (polygon.bounds[2] - polygon.bounds[0]) * 0.3
            geometry = {"type": "LineString", "coordinates": [[centre.x - half, centre.y], [centre.x, centre.y],
                                                              [centre.x + half, centre.y]]}
        else:
            geometry = {"type": "Point", "coordinates": [centre.x, centre.y]}
        features.append({"type": "Feature", "geometry": geometry,
                         "properties": {"name": name, "name_en": name_en, "kind": kind, "aliases": aliases}})
    return {"type": "FeatureCollection", "datum": datum, "features": features}


def ensure_demo_gazetteer(worker_username: str = "worker") -> GazetteerImport | None:
    """Import the demo places (again: they are updated in place); None when the demo worker has no grids."""
    collection = demo_gazetteer_collection(worker_username)
    if collection is None:
        return None
    return import_gazetteer(None, json.dumps(collection), file_format="geojson",
                            source_name="gridops demo gazetteer (generated positions)")
