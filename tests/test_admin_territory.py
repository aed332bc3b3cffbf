"""The urban-rural fringe flag through the territory importer and exporter."""

from __future__ import annotations

import json

from gridops.extensions import db
from gridops.territory.exporter import export_layer
from gridops.territory.importer import import_layer, validate_layer
from gridops.territory.services import set_urban_rural_fringe
from tests.test_territory_import import area, props, small_layer

COMMUNITY = "411302001001"


def _with_fringe(value) -> dict:
    collection = small_layer()
    for index, feature in enumerate(collection["features"]):
        if feature["properties"]["code"] == COMMUNITY:
            props(collection, index)["urban_rural_fringe"] = value
    return collection


def test_import_reads_the_fringe_flag(app):
    result = import_layer(_with_fringe(True))
    assert area(COMMUNITY).urban_rural_fringe is True
    assert area("411302001").urban_rural_fringe is False
    assert sum(result.created.values()) == 13


def test_a_non_boolean_fringe_flag_is_reported_and_rejected(app):
    problems = validate_layer(_with_fringe("yes"))
    assert [(p.code, p.reason) for p in problems if p.is_error] == [
        (COMMUNITY, "property 'urban_rural_fringe' must be true or false")
    ]


def test_export_and_import_round_trip_the_flag(app):
    import_layer(_with_fringe(True))
    db.session.commit()
    exported = json.loads(json.dumps(export_layer(), ensure_ascii=False))
    flags = {f["properties"]["code"]: f["properties"]["urban_rural_fringe"] for f in exported["features"]}
    assert flags[COMMUNITY] is True and list(flags.values()).count(True) == 1
    result = import_layer(exported)
    assert sum(result.updated.values()) == 0 and area(COMMUNITY).urban_rural_fringe is True


def test_a_file_without_the_property_keeps_the_stored_flag_and_false_clears_it(app):
    import_layer(small_layer())
    set_urban_rural_fringe(None, area(COMMUNITY), True)
    db.session.commit()
    result = import_layer(small_layer())
    assert area(COMMUNITY).urban_rural_fringe is True and sum(result.updated.values()) == 0
    result = import_layer(_with_fringe(False))
    assert area(COMMUNITY).urban_rural_fringe is False and result.updated == {"community": 1}
