"""Case lists as CSV, XLSX and GeoJSON, written row by row so that any number of cases fits in memory.

Rows are read as plain columns in batches (``yield_per``: a server-side cursor on PostgreSQL),
each batch garbage once written; CSV and GeoJSON are generated while the response is sent, XLSX goes
through openpyxl's write-only workbook into an anonymous temporary file that is then streamed.
Only case fields are written, never personal data of callers.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, tzinfo
from typing import IO

import geojson
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import RowMapping, Select
from sqlalchemy.orm import aliased

from gridops.cases.models import Case
from gridops.cases.queries import overdue_clause
from gridops.cases.serializers import EXPORT_COLUMNS, export_row
from gridops.catalogue.models import SmallClass
from gridops.extensions import db
from gridops.org.models import Department
from gridops.territory.models import Area

BATCH_SIZE = 1000
#: Text a spreadsheet would run as a formula (CSV injection); such cells get a leading apostrophe.
_FORMULA_START = re.compile(r"^[=+\-@\t\r]")


def export_columns(now: datetime) -> tuple[list, tuple]:
    """The labelled columns an export reads: case fields and the codes/names of what they point at."""
    area, grid, holder = aliased(Area), aliased(Area), aliased(Department)
    columns = [
        getattr(Case, name).label(name)
        for name in (
            "number", "state", "source", "case_type", "description", "address", "urgency",
            "located_in_gap", "supervised", "self_handled", "reported_at", "registered_at",
            "dispatched_at", "handled_at", "closed_at", "handle_due_at", "closed_on_time",
            "dispatch_count", "return_count", "rework_count", "extension_count", "x", "y", "datum",
            "layer_x", "layer_y",
        )
    ]
    columns += [
        SmallClass.code.label("small_class_code"),
        SmallClass.name.label("small_class_name"),
        area.code.label("area_code"),
        area.name.label("area_name"),
        grid.code.label("unit_grid_code"),
        holder.code.label("holder_unit_code"),
        holder.name.label("holder_unit_name"),
        overdue_clause(now).label("overdue"),
    ]
    return columns, (area, grid, holder)


def export_rows(stmt: Select, now: datetime) -> Iterator[RowMapping]:
    """The rows of ``stmt`` (cases, already scoped and filtered), newest first, in batches.

    Plain columns rather than ORM objects: nothing is kept in the session, and each batch
    is garbage once written.
    """
    columns, (area, grid, holder) = export_columns(now)
    stmt = (
        stmt.with_only_columns(*columns, maintain_column_froms=False)
        .select_from(Case)
        .join(SmallClass, Case.small_class_id == SmallClass.id)
        .outerjoin(area, Case.area_id == area.id)
        .outerjoin(grid, Case.unit_grid_id == grid.id)
        .outerjoin(holder, Case.holder_department_id == holder.id)
        .order_by(None)
        .order_by(Case.reported_at.desc(), Case.id.desc())
        .execution_options(yield_per=BATCH_SIZE)
    )
    result = db.session.execute(stmt)
    try:
        yield from result.mappings()
    finally:
        result.close()


def _cell(value):
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if _FORMULA_START.match(value):
            return "'" + value
    return value


def _rows(rows: Iterator[RowMapping], zone: tzinfo) -> Iterator[list]:
    for values in rows:
        row = export_row(values, zone)
        yield [row[name] for name in EXPORT_COLUMNS]


def csv_stream(header: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    """CSV text in chunks of about a batch, with a BOM so that spreadsheet programs read UTF-8.

    None is an empty cell, a time is ISO 8601 (with its offset), text a spreadsheet would run
    as a formula gets a leading apostrophe. Any tabular download streams through here.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(header)
    for count, row in enumerate(rows, 1):
        writer.writerow(["" if v is None else (v.isoformat() if isinstance(v, datetime) else _cell(v)) for v in row])
        if count % BATCH_SIZE == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_chunks(rows: Iterator[RowMapping], zone: tzinfo) -> Iterator[str]:
    """The cases of ``rows`` as CSV text in chunks (``csv_stream``)."""
    return csv_stream(EXPORT_COLUMNS, _rows(rows, zone))


def write_xlsx(rows: Iterator[RowMapping], zone: tzinfo) -> IO[bytes]:
    """An XLSX workbook in an anonymous temporary file, rewound; times are the city's local time."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("cases")
    sheet.append(list(EXPORT_COLUMNS))
    for row in _rows(rows, zone):
        # Excel has no time zones: write the city's wall-clock time.
        sheet.append([v.replace(tzinfo=None) if isinstance(v, datetime) else _cell(v) for v in row])
    target = tempfile.TemporaryFile(suffix=".xlsx")
    try:
        workbook.save(target)
    except BaseException:
        target.close()
        raise
    target.seek(0)
    return target


def geojson_chunks(rows: Iterator[RowMapping], zone: tzinfo, datum: str | None) -> Iterator[str]:
    """A FeatureCollection of points (the layer's datum), written feature by feature."""
    yield '{"type": "FeatureCollection", "datum": ' + geojson.dumps(datum) + ', "features": ['
    for count, values in enumerate(rows):
        row = export_row(values, zone)
        properties = {
            name: (value.isoformat() if isinstance(value, datetime) else value)
            for name, value in row.items()
            if name not in ("x", "y", "datum")
        }
        x, y = values["layer_x"], values["layer_y"]
        point = geojson.Point((x, y)) if x is not None and y is not None else None
        feature = geojson.Feature(id=values["number"], geometry=point, properties=properties)
        yield ("," if count else "") + geojson.dumps(feature, ensure_ascii=False)
    yield "]}"
