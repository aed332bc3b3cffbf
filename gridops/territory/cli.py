"""`gridops grids …`: import and export the territory layer."""

from __future__ import annotations

import json
import os
import time

import click
from flask.cli import AppGroup

from gridops.errors import NotFound
from gridops.extensions import db
from gridops.territory.exporter import export_layer
from gridops.territory.importer import (
    ImportRejected,
    ImportResult,
    Problem,
    import_layer,
    read_collection,
    validate_layer,
)
from gridops.territory.models import DATUMS

grids_cli = AppGroup("grids", help="Import and export the territory grid layer.")


def _echo_problems(problems: list[Problem]) -> None:
    for problem in problems:
        click.echo(str(problem))


def _counts(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    if not total:
        return "0"
    return f"{total} (" + ", ".join(f"{key} {count}" for key, count in counts.items()) + ")"


def _summary(result: ImportResult) -> str:
    return (
        f"layer version {result.layer_version} ({result.datum}), {result.feature_count} features: "
        f"created {_counts(result.created)}, updated {_counts(result.updated)}, "
        f"unchanged {_counts(result.unchanged)}, retired {_counts(result.retired)}, "
        f"{len(result.warnings)} warning(s)"
    )


@grids_cli.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--datum", type=click.Choice(DATUMS), help="Datum of the file (default: its \"datum\" member).")
@click.option("--dry-run", is_flag=True, help="Validate and count what would change, then write nothing.")
def import_command(file, datum: str | None, dry_run: bool) -> None:
    """Import FILE (GeoJSON) as the whole territory layer: all or nothing."""
    started = time.perf_counter()
    try:
        collection = read_collection(file.read())
        result = import_layer(collection, datum=datum, source_name=os.path.basename(file.name))
    except ImportRejected as exc:
        db.session.rollback()
        _echo_problems(exc.problems)
        raise click.ClickException(exc.message) from exc
    _echo_problems(result.warnings)
    if dry_run:
        db.session.rollback()
        click.echo(f"dry run, nothing written: {_summary(result)}")
        return
    db.session.commit()
    click.echo(f"imported in {time.perf_counter() - started:.1f} s: {_summary(result)}")


@grids_cli.command("validate")
@click.argument("file", type=click.File("rb"))
@click.option("--datum", type=click.Choice(DATUMS), help="Datum of the file (default: its \"datum\" member).")
def validate_command(file, datum: str | None) -> None:
    """Check FILE and list every problem; write nothing."""
    try:
        problems = validate_layer(read_collection(file.read()), datum=datum)
    except ImportRejected as exc:
        problems = exc.problems
    db.session.rollback()
    _echo_problems(problems)
    errors = sum(problem.is_error for problem in problems)
    warnings = len(problems) - errors
    if errors:
        raise click.ClickException(f"{errors} error(s), {warnings} warning(s): the file would be rejected")
    click.echo(f"valid: 0 errors, {warnings} warning(s)")


@grids_cli.command("export")
@click.option(
    "-o", "--output", type=click.File("w", encoding="utf-8"), default="-",
    help="File to write (default: stdout).",
)
@click.option("--include-retired", is_flag=True, help="Also write retired areas (marked \"active\": false).")
def export_command(output, include_retired: bool) -> None:
    """Write the territory layer as GeoJSON."""
    try:
        collection = export_layer(include_retired=include_retired)
    except NotFound as exc:
        raise click.ClickException(exc.message) from exc
    output.write(json.dumps(collection, ensure_ascii=False) + "\n")
