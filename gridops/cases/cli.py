"""Case commands: the duplicate rules (radius and time window of likely duplicates)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from gridops.cases.duplicates import duplicate_rules, reset_duplicate_rules, set_duplicate_rules
from gridops.errors import ValidationFailed
from gridops.extensions import db


@click.command("duplicate-rules")
@click.option("--radius-m", type=float, default=None, help="Distance within which reports look alike (metres).")
@click.option("--window-hours", type=float, default=None, help="Time either side within which they look alike.")
@click.option("--reset", is_flag=True, help="Go back to the defaults, 50 m and 24 h (before any change given).")
@with_appcontext
def duplicate_rules_command(radius_m: float | None, window_hours: float | None, reset: bool) -> None:
    """Show the duplicate rules; change them with --reset, --radius-m and/or --window-hours (kept in the history)."""
    if reset:
        reset_duplicate_rules(None)
    if radius_m is not None or window_hours is not None:
        try:
            set_duplicate_rules(None, radius_m=radius_m, window_hours=window_hours)
        except ValidationFailed as exc:
            raise click.ClickException("; ".join(f"{k}: {v}" for k, v in exc.fields.items())) from None
    if reset or radius_m is not None or window_hours is not None:
        db.session.commit()
    rules = duplicate_rules()
    click.echo(f"radius {rules.radius_m:g} m, window {rules.window_hours:g} h")
