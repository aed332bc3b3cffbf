"""`gridops catalogue …` and `gridops calendar …`: seed the catalogue, enter the working calendar."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from gridops.catalogue.services import seed_default_catalogue
from gridops.errors import DomainError
from gridops.extensions import db
from gridops.worktime.calendars import OFFICIAL_YEARS
from gridops.worktime.store import (
    clear_calendar_day,
    enter_calendar_year,
    get_city_clock,
    load_city_clock,
    set_calendar_day,
)

catalogue_cli = AppGroup("catalogue", help="The standards catalogue: classes, filing standards, limits.")
calendar_cli = AppGroup("calendar", help="The working calendar: holidays and adjusted working days.")


def _fail(exc: DomainError) -> click.ClickException:
    db.session.rollback()
    details = "".join(
        f"\n  {field}: {reason}" for field, reason in exc.fields.items() if f"{field}: {reason}" != exc.message
    )
    return click.ClickException(exc.message + details)


@catalogue_cli.command("seed")
def seed_command() -> None:
    """Create whatever of the default catalogue is missing (existing entries are kept as edited)."""
    result = seed_default_catalogue()
    db.session.commit()
    created = ", ".join(f"{key} {count}" for key, count in result.created.items())
    kept = ", ".join(f"{key} {count}" for key, count in result.kept.items())
    click.echo(f"created: {created}; kept: {kept}")


@calendar_cli.command("show")
@click.argument("year", type=int)
def show_command(year: int) -> None:
    """Where YEAR's working days come from, its overrides, and its non-working weekdays."""
    calendar = load_city_clock().calendar
    if year in OFFICIAL_YEARS:
        click.echo(f"{year}: official State Council calendar")
    elif calendar.is_provisional(year):
        click.echo(
            f"{year}: PROVISIONAL (Monday–Friday) — enter its holidays, "
            f"then `gridops calendar enter-year {year}`"
        )
    else:
        click.echo(f"{year}: entered by an administrator")
    for day, override in sorted(calendar.overrides.items()):
        if day.year == year:
            state = "working" if override.working else "day off"
            click.echo(f"  {day.isoformat()} {day.strftime('%a')} {state:<8} {override.note}")


@calendar_cli.command("set-day")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--working/--day-off", required=True, help="A working day (调休) or a day off (holiday).")
@click.option("--note", default="", help="Why, e.g. the festival's name.")
def set_day_command(day, working: bool, note: str) -> None:
    """Rule that DAY (YYYY-MM-DD) is a working day or a day off, overriding any other rule."""
    try:
        set_calendar_day(None, day.date(), working, note)
    except DomainError as exc:
        raise _fail(exc) from exc
    db.session.commit()
    click.echo(f"{day.date().isoformat()}: {'working day' if working else 'day off'}")


@calendar_cli.command("clear-day")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
def clear_day_command(day) -> None:
    """Remove DAY's override: the official (or Monday–Friday) rule applies again."""
    try:
        clear_calendar_day(None, day.date())
    except DomainError as exc:
        raise _fail(exc) from exc
    db.session.commit()
    click.echo(f"{day.date().isoformat()}: override removed")


@calendar_cli.command("enter-year")
@click.argument("year", type=int)
def enter_year_command(year: int) -> None:
    """Declare YEAR's holidays and adjusted working days entered: it stops being provisional."""
    try:
        years = enter_calendar_year(None, year)
    except DomainError as exc:
        raise _fail(exc) from exc
    db.session.commit()
    click.echo(f"entered years: {', '.join(map(str, years))}")


@calendar_cli.command("check")
def check_command() -> None:
    """Warn (exit status 1) if this year or next still runs on the provisional Monday–Friday rule."""
    years = get_city_clock().provisional_years()
    if not years:
        click.echo("the working calendar covers this year and next")
        return
    for year in years:
        click.echo(f"warning: {year} has no holiday calendar yet (provisional Monday–Friday); enter {year}'s holidays")
    click.get_current_context().exit(1)
