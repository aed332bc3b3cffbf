"""`gridops gazetteer …` (roads and landmarks callers name) and `gridops caller-data …` (retention and purge)."""

from __future__ import annotations

import os

import click
from flask.cli import AppGroup

from gridops.db import utcnow
from gridops.errors import ValidationFailed
from gridops.extensions import db
from gridops.hotline.gazetteer import import_gazetteer
from gridops.hotline.retention import purge_caller_data
from gridops.hotline.settings import MAX_RETENTION_DAYS, MIN_RETENTION_DAYS, retention_days, set_retention_days
from gridops.territory.datum import INPUT_DATUMS
from gridops.web.templating import local_time

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


caller_data_cli = AppGroup("caller-data", help="Callers' personal data: the retention period and the purge.")


@caller_data_cli.command("retention")
@click.option("--days", type=int, help=f"Keep callers' data this many days ({MIN_RETENTION_DAYS}–{MAX_RETENTION_DAYS}) "
                                        "after their last case is finished.")
def retention_command(days: int | None) -> None:
    """Show the retention period, or change it with --days."""
    if days is not None:
        try:
            set_retention_days(None, days)
        except ValidationFailed as exc:
            db.session.rollback()
            raise click.ClickException("; ".join(f"{k}: {v}" for k, v in exc.fields.items())) from None
        db.session.commit()
    click.echo(f"Callers' personal data is kept {retention_days()} days after their last case is finished.")


@caller_data_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what would be erased; change nothing.")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 10000),
              help="Contacts examined per transaction.")
def purge_command(dry_run: bool, batch_size: int) -> None:
    """Erase now the personal data of callers kept past the retention period (the daily job does it too)."""
    result = purge_caller_data(utcnow(), dry_run=dry_run, origin="command", batch_size=batch_size,
                               after_batch=None if dry_run else db.session.commit)
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    counts = (f"{result.callers} callers, {result.contacts} contacts, "
              f"{result.views} entries of the unmasked-view log")
    period = (f"retention {result.retention_days} days: callers whose cases were all finished, with nothing "
              f"done on them since, before {local_time(result.cutoff_at)}")
    if dry_run:
        click.echo(f"Dry run, nothing changed. Would erase {counts} ({period}).")
    else:
        click.echo(f"Erased {counts} ({period}); run {result.run_id}.")
