"""`gridops gazetteer …`: import roads and landmarks that callers name instead of a position."""

from __future__ import annotations

import os

import click
from flask.cli import AppGroup

from gridops.errors import ValidationFailed
from gridops.extensions import db
from gridops.hotline.gazetteer import import_gazetteer
from gridops.territory.datum import INPUT_DATUMS

gazetteer_cli = AppGroup("gazetteer", help="Import the gazetteer of roads and landmarks.")


@gazetteer_cli.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--format", "file_format", type=click.Choice(["csv", "geojson"]),
              help="File format (default: from the file name's extension).")
@click.option("--datum", type=click.Choice(INPUT_DATUMS), help="Datum of positions without their own.")
def import_command(file, file_format: str | None, datum: str | None) -> None:
    """Import FILE (CSV: name,kind,x,y[,datum,name_en,aliases]; or GeoJSON): all or nothing."""
    name = os.path.basename(file.name)
    if file_format is None:
        file_format = "csv" if name.lower().endswith(".csv") else "geojson"
    try:
        result = import_gazetteer(None, file.read(), file_format=file_format, datum=datum, source_name=name)
    except ValidationFailed as exc:
        db.session.rollback()
        details = "".join(f"\n  {field}: {reason}" for field, reason in exc.fields.items())
        raise click.ClickException(exc.message + details) from exc
    db.session.commit()
    click.echo(
        f"Gazetteer: {result.created} places created, {result.updated} updated"
        f" ({result.in_gap} in a coverage gap, located to their enclosing area)."
    )
