"""``gridops notices``: make notices and evaluate early warnings by hand (the scheduler does both too)."""

from __future__ import annotations

from datetime import datetime, timezone

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from gridops.errors import DomainError
from gridops.evaluation.models import NOTICE_KINDS
from gridops.extensions import db


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _fail(exc: DomainError):
    details = "".join(f"\n  {field}: {reason}" for field, reason in exc.fields.items())
    return click.ClickException(exc.message + details)


@click.group("notices")
def notices_cli() -> None:
    """Weekly supervision, monthly notices, quarterly reviews and early warnings."""


@notices_cli.command("generate")
@click.option("--kind", type=click.Choice(NOTICE_KINDS), required=True, help="Which notice.")
@click.option("--period", required=True, help="2026-W47 (weekly), 2026-11 (monthly) or 2026-Q4 (quarterly).")
@click.option("--area", "area_code", default=None, help="Limit the notice to this area's code (default: the city).")
@click.option("--publish", is_flag=True, help="Publish it at once (its period must have ended).")
@with_appcontext
def generate_command(kind: str, period: str, area_code: str | None, publish: bool) -> None:
    """Make the notice of KIND for PERIOD (once: an existing one is shown, not remade)."""
    from gridops.evaluation.notices import generate_notice, publish_notice_as_system
    from gridops.evaluation.periods import Period
    from gridops.territory.models import Area

    now = _now()
    try:
        area = None
        if area_code:
            area = db.session.scalar(select(Area).where(Area.code == area_code))
            if area is None:
                raise click.ClickException(f"no area with code {area_code}")
        notice = generate_notice(kind, Period.parse(period), now=now, scope_area=area)
        if publish and notice.status != "published":
            publish_notice_as_system(notice, now=now)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise _fail(exc) from exc
    click.echo(f"notice {notice.id}: {notice.kind} {notice.period_key} {notice.scope_key} ({notice.status})")


@notices_cli.command("due")
@with_appcontext
def due_command() -> None:
    """Make every scheduled notice whose time has come and that is missing."""
    from gridops.evaluation.notices import generate_due_notices

    made = generate_due_notices(_now())
    db.session.commit()
    for notice in made:
        click.echo(f"notice {notice.id}: {notice.kind} {notice.period_key}")
    click.echo(f"{len(made)} notice(s) made.")


@notices_cli.command("warnings")
@with_appcontext
def warnings_command() -> None:
    """Evaluate early warnings over the last closed periods."""
    from gridops.evaluation.warnings import evaluate_early_warnings

    made = evaluate_early_warnings(_now())
    db.session.commit()
    for warning in made:
        click.echo(f"warning {warning.id}: {warning.group_by} {warning.subject_key} {warning.subject_label} "
                   f"({warning.period_key})")
    click.echo(f"{len(made)} early warning(s) raised.")
