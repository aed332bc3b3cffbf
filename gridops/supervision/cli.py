"""``gridops supervision``: show or change the escalation policy (city data)."""

from __future__ import annotations

import json
from dataclasses import asdict

import click
from flask.cli import with_appcontext

from gridops.errors import ValidationFailed
from gridops.extensions import db
from gridops.supervision.policy import escalation_policy, set_escalation_policy


@click.group("supervision")
def supervision_cli() -> None:
    """Escalation and supervision orders."""


@supervision_cli.command("policy")
@click.option("--set", "changes", multiple=True, metavar="KEY=JSON",
              help='Change one setting, e.g. --set level3_working_days=5 or --set \'reply_hours={"timeout1": 2}\'.')
@with_appcontext
def policy_command(changes: tuple[str, ...]) -> None:
    """Print the escalation policy as JSON; with --set, change it first."""
    if changes:
        data = {}
        for change in changes:
            key, sep, value = change.partition("=")
            if not sep:
                raise click.BadParameter(f"{change!r} is not KEY=JSON", param_hint="--set")
            try:
                data[key.strip()] = json.loads(value)
            except ValueError:
                raise click.BadParameter(f"{value!r} is not JSON", param_hint="--set") from None
        try:
            set_escalation_policy(data)
        except ValidationFailed as exc:
            details = "".join(f"\n  {field}: {reason}" for field, reason in exc.fields.items())
            raise click.ClickException(exc.message + details) from exc
        db.session.commit()
    click.echo(json.dumps(asdict(escalation_policy()), indent=2, ensure_ascii=False))
