"""The demo gazetteer: real road names at generated positions inside the demo worker's grids."""

from __future__ import annotations

from sqlalchemy import select

from gridops import demo
from gridops.auth.models import User
from gridops.cases.services import responsible_grid_ids
from gridops.demo.gazetteer import DEMO_PLACES
from gridops.extensions import db
from gridops.hotline.gazetteer import search_places
from gridops.hotline.models import GazetteerPlace
from gridops.hotline.services import log_complaint


def test_demo_places_lie_in_the_demo_workers_grids_and_load_once(app):
    lines: list[str] = []
    demo.load_demo(echo=lines.append)
    assert f"Gazetteer: {len(DEMO_PLACES)} demo places created, 0 updated." in lines
    worker = db.session.scalar(select(User).where(User.username == "worker"))
    grids = responsible_grid_ids(worker)
    places = db.session.scalars(select(GazetteerPlace)).all()
    assert len(places) == len(DEMO_PLACES)
    assert all(place.unit_grid_id in grids for place in places)
    (hit,) = [h for h in search_places("火车站") if h.type == "place"]
    operator = db.session.scalar(select(User).where(User.username == "hotline"))
    complaint = log_complaint(operator, phone="13812345678", content="站前广场垃圾", case_type="event",
                              small_class_code="0102", place_id=hit.id)
    assert complaint.case.unit_grid_id in grids and complaint.order.located_by == "place"
    lines.clear()
    demo.load_demo(echo=lines.append)
    assert f"Gazetteer: 0 demo places created, {len(DEMO_PLACES)} updated." in lines
