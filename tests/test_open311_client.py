"""An existing GeoReport v2 client library (PyPI ``georeport``) reads the endpoint unchanged, in JSON and XML.

The library speaks HTTP through ``requests``; a transport adapter hands its requests to the
app in-process instead of a socket, so the library's own URL building and parsing
(``xmltodict`` for XML) are what is tested.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.models import Response

from gridops.db import utcnow
from gridops.extensions import db
from tests.case_factories import make_case, make_world
from tests.test_api_cases import FreshContextClient

georeport = pytest.importorskip("georeport")

ROOT = "http://city.example/open311/v2"


class AppAdapter(BaseAdapter):
    """A requests transport that answers from the Flask app instead of the network."""

    def __init__(self, app):
        super().__init__()
        self.client = FreshContextClient(app, app.response_class)

    def send(self, request, **kwargs):
        answer = self.client.open(request.path_url, method=request.method, headers=dict(request.headers),
                                  data=request.body, base_url="http://city.example")
        response = Response()
        response.status_code = answer.status_code
        response.headers.update(answer.headers)
        response._content = answer.data
        response.url = request.url
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self):
        pass


@pytest.fixture
def library(app, monkeypatch):
    """georeport's requests calls, answered by the app."""
    session = requests.Session()
    session.mount("http://city.example", AppAdapter(app))
    for verb in ("get", "post"):
        monkeypatch.setattr(requests, verb, getattr(session, verb))
    yield georeport.GeoReport
    session.close()


@pytest.fixture
def cases(app):
    world = make_world()
    now = utcnow()
    made = [make_case("dispatched", world=world, now=now - timedelta(hours=2)),
            make_case("closed", world=world, now=now - timedelta(hours=1))]
    db.session.commit()
    return made


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_library_reads_services_and_definitions(library, cases, fmt):
    client = library(ROOT, output_format=fmt)
    services = client.get_service_list()
    by_code = {s["service_code"]: s for s in services}
    assert by_code["E0102"]["group"] == "市容环境"
    definition = client.get_service_definition("E0101")
    attributes = definition["attributes"]
    if fmt == "xml":  # xmltodict: <attributes><attribute>…</attribute></attributes>
        attributes = [attributes["attribute"]]
    assert attributes[0]["code"] == "standard"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_library_reads_requests(library, cases, fmt):
    client = library(ROOT, output_format=fmt)
    listed = client.get_service_requests(status="open,closed")
    assert {r["service_request_id"] for r in listed} == {case.number for case in cases}
    assert [r["status"] for r in listed] == ["closed", "open"]  # newest first
    one = client.get_service_request(cases[0].number)
    if fmt == "xml":
        assert one["service_request_id"] == cases[0].number and one["status"] == "open"
    else:
        assert one["service_request_id"] == cases[0].number and one["agency_responsible"] == "环卫处"
    only = client.get_service_requests(service_request_id=cases[1].number)
    if fmt == "xml":
        assert only["status"] == "closed"  # one request: xmltodict gives the element itself
    else:
        assert [r["status"] for r in only] == ["closed"]


def test_library_raises_on_the_specs_errors(library, cases):
    client = library(ROOT)
    with pytest.raises(requests.HTTPError) as raised:
        client.get_service_definition("E9999")
    assert raised.value.response.status_code == 404
    assert raised.value.response.json()[0]["code"] == 404
