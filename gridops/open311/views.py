"""Open311 GeoReport v2 endpoints at /open311/v2/, each in JSON and XML.

JSON collections, the single request and the POST answer are arrays; XML uses the spec's
root elements (``discovery``, ``services``, ``service_definition``, ``service_requests``,
``errors``) built with ElementTree. Errors are the spec's error list with 400, 403 or 404.
A ``jurisdiction_id`` other than this city's (discovery announces it) is a 404, as the spec
has it for an unknown jurisdiction; none given means this city.
Outside systems call these without a session, so the blueprint is exempt from CSRF; the
api_key of a POST is what authenticates it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping

from flask import Blueprint, Response, json, request, url_for
from flask_babel import gettext as _

from gridops.cases.photos import discard_photos, store_photos
from gridops.db import utcnow
from gridops.errors import DomainError
from gridops.extensions import csrf, db
from gridops.open311 import georeport
from gridops.open311.georeport import Open311Error

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
csrf.exempt(bp)

FORMATS = "any(json, xml)"
MEDIA_TYPES = {"json": "application/json", "xml": "text/xml; charset=utf-8"}
#: The element name of a list's items in XML, by the list's own element name.
XML_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
    "timeline": "event",
}


# -- rendering ------------------------------------------------------------------------------------


def _xml_value(parent: ET.Element, name: str, value) -> None:
    element = ET.SubElement(parent, name)
    _fill(element, name, value)


def _fill(element: ET.Element, name: str, value) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        element.text = "true" if value else "false"
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _xml_value(element, key, item)
    elif isinstance(value, list):
        for item in value:
            _xml_value(element, XML_ITEMS[name], item)
    else:
        element.text = str(value)


def render(fmt: str, root: str, data, status: int = 200) -> Response:
    """``data`` as JSON, or as XML under the element ``root`` (lists get the spec's item names)."""
    if fmt == "xml":
        element = ET.Element(root)
        _fill(element, root, data)
        body = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    else:
        body = json.dumps(data, ensure_ascii=False)
    response = Response(body, status=status, mimetype=MEDIA_TYPES[fmt].split(";")[0])
    response.headers["Content-Type"] = MEDIA_TYPES[fmt]
    return response


def render_error(fmt: str, error: Open311Error) -> Response:
    """The spec's error list: one entry per problem, each with the HTTP code."""
    items = [{"code": error.status, "description": text} for text in error.descriptions]
    return render(fmt, "errors", items, error.status)


def _format_of(path: str) -> str:
    return "xml" if path.endswith(".xml") else "json"


@bp.errorhandler(Open311Error)
def handle_open311_error(error: Open311Error):
    db.session.rollback()
    return render_error(_format_of(request.path), error)


@bp.errorhandler(DomainError)
def handle_domain_error(error: DomainError):
    db.session.rollback()
    return render_error(_format_of(request.path), Open311Error.from_domain(error))


@bp.before_request
def refuse_nul_characters():
    """No database stores a NUL character in text: refuse it in any parameter before it gets there."""
    values = [*request.args.values(), *(request.view_args or {}).values()]
    if request.method == "POST":
        values += list(request.form.values())
    if any(isinstance(value, str) and "\x00" in value for value in values):
        raise Open311Error(400, _("parameters must not contain NUL characters"))


@bp.before_request
def refuse_other_jurisdictions():
    """A jurisdiction_id names the city an endpoint serves: another city's is not found here (404)."""
    given = request.args.getlist("jurisdiction_id")
    if request.method == "POST":
        given += request.form.getlist("jurisdiction_id")
    for value in given:
        georeport.check_jurisdiction(value, request.host)


# -- endpoints ------------------------------------------------------------------------------------


def _base_url() -> str:
    return request.url_root.rstrip("/") + (bp.url_prefix or "")


@bp.get(f"/discovery.<{FORMATS}:fmt>")
def discovery(fmt: str):
    """Where the endpoint is, which specification and formats it serves."""
    return render(fmt, "discovery", georeport.discovery(_base_url(), request.host))


@bp.get(f"/services.<{FORMATS}:fmt>")
def services(fmt: str):
    """The service list: every active small class, grouped by big class."""
    return render(fmt, "services", georeport.service_list())


@bp.get(f"/services/<code>.<{FORMATS}:fmt>")
def service_definition(code: str, fmt: str):
    """A service's extra inputs (a filing standard to choose, where there are several)."""
    return render(fmt, "service_definition", georeport.service_definition(georeport.find_service(code)))


def _fields() -> dict:
    """The POST's fields, from a urlencoded or multipart body (and the query string, as the spec allows)."""
    fields = {key: value for key, value in request.args.items()}
    fields.update({key: value for key, value in request.form.items()})
    if header_key := request.headers.get("Idempotency-Key", "").strip():
        fields["idempotency_key"] = header_key
    return fields


@bp.post(f"/requests.<{FORMATS}:fmt>")
def create_request(fmt: str):
    """File a public report (api_key required); answers with its service_request_id and a token."""
    fields = _fields()
    reporter = georeport.reporter_for(fields.get("api_key"))
    files = [f for f in request.files.getlist("media") if f.filename or f.content_length]
    stored = []
    try:
        stored = store_photos(files) if files else []
        filed = georeport.submit_request(reporter, fields, stored)
        answer = georeport.submitted(filed)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        discard_photos(stored)
        raise
    if not filed.created:
        discard_photos(stored)
    return render(fmt, "service_requests", [answer], 201 if filed.created else 200)


def _extensions() -> bool:
    return request.args.get("extensions", "").strip().lower() in ("true", "1", "yes")


@bp.get(f"/requests.<{FORMATS}:fmt>")
def list_requests(fmt: str):
    """Requests by id list, or by service code, date range and status, newest first, in pages."""
    query = georeport.parse_query(request.args, utcnow())
    cases = georeport.find_requests(query)
    return render(fmt, "service_requests", georeport.service_requests(cases, extensions=_extensions()))


@bp.get(f"/requests/<number>.<{FORMATS}:fmt>")
def get_request(number: str, fmt: str):
    """One request, as a one-item array (JSON) or list (XML), as the spec has it."""
    case = georeport.find_request(number)
    return render(fmt, "service_requests", georeport.service_requests([case], extensions=_extensions()))


@bp.get(f"/tokens/<token>.<{FORMATS}:fmt>")
def token(token: str, fmt: str):
    """The service_request_id a POST's token stands for."""
    case = georeport.request_for_token(token)
    return render(fmt, "service_requests", [georeport.token_answer(case, token)])


@bp.route("/<path:rest>", methods=["GET", "POST"])
def unknown(rest: str):
    """Anything else under /open311/v2/: the spec's 404 (in XML if the path asks for it)."""
    raise Open311Error(404, _("%(path)s is not a GeoReport v2 resource; see %(discovery)s",
                              path="/" + rest[:200], discovery=url_for(".discovery", fmt="json")))
