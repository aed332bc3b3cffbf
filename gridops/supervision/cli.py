"""``gridops supervision``: show or change the escalation policy (city data)."""

from __future__ import annotations

import json
from dataclasses import asdict

import click
from flask.cli import with_appcontext

from gridops.errors import ValidationFailed
from gridops.extensions import db
from gridops.supervision.policy import escalation_policy, reset_escalation_policy, set_escalation_policy


@click.group("supervision")
def supervision_cli() -> None:
    """Escalation and supervision orders."""


@supervision_cli.command("policy")
@click.option("--set", "changes", multiple=True, metavar="KEY=JSON",
              help='Change one setting, e.g. --set level3_working_days=5 or --set \'reply_hours={"timeout1": 2}\'.')
@click.option("--reset", is_flag=True, help="Go back to the published defaults (before any --set).")
@with_appcontext
def policy_command(changes: tuple[str, ...], reset: bool) -> None:
    """Print the escalation policy as JSON; with --reset and/or --set, change it first (kept in the history)."""
    data = {}
    for change in changes:
        key, sep, value = change.partition("=")
        if not sep:
            raise click.BadParameter(f"{change!r} is not KEY=JSON", param_hint="--set")
        try:
            data[key.strip()] = json.loads(value)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not JSON", param_hint="--set") from None
    if reset:
        reset_escalation_policy(None)
    if data:
        try:
            set_escalation_policy(None, data)
        except ValidationFailed as exc:
            details = "".join(f"\n  {field}: {reason}" for field, reason in exc.fields.items())
            raise click.ClickException(exc.message + details) from exc
    if reset or data:
        db.session.commit()
    click.echo(json.dumps(asdict(escalation_policy()), indent=2, ensure_ascii=False))
