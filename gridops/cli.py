"""The `gridops` command: Flask's CLI with the app factory, plus gridops's own commands."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup

from gridops.config import PROJECT_ROOT, demo_secret_key


def _create_app() -> Flask:
    from gridops.app import create_app
    from gridops.errors import ConfigurationError

    try:
        return create_app()
    except ConfigurationError as exc:
        # A short message, not a traceback: the environment needs fixing, not the code.
        raise click.ClickException(str(exc)) from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False, load_dotenv=False)
def main() -> None:
    """gridops: grid-based urban management dispatch."""


@main.command("demo", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to serve on.")
@click.option(
    "--full-grids",
    is_flag=True,
    help="Generate unit grids over both whole districts (~200,000) instead of the central core.",
)
@click.option("--no-serve", is_flag=True, help="Only create/upgrade the database and load the demo.")
@click.option(
    "--database-url",
    default=None,
    help="Use this database instead of the embedded SQLite file in the instance folder.",
)
def demo_command(host: str, port: int, full_grids: bool, no_serve: bool, database_url: str | None) -> None:
    """Create or upgrade the demo database, load the demo city and users, and serve the app."""
    from flask_migrate import upgrade
    from werkzeug.serving import run_simple

    from gridops.app import create_app
    from gridops.demo import load_demo
    from gridops.errors import DomainError

    instance = Path(PROJECT_ROOT / "instance")
    config = {
        "GRIDOPS_MODE": "demo",
        "SECRET_KEY": demo_secret_key(str(instance)),
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        "SQLALCHEMY_DATABASE_URI": database_url or f"sqlite:///{instance / 'gridops.sqlite3'}",
    }
    app = create_app(config)
    with app.app_context():
        upgrade(directory=str(PROJECT_ROOT / "migrations"))
        try:
            logins = load_demo(full_grids=full_grids, echo=click.echo)
        except DomainError as exc:
            details = "".join(f"\n  {field}: {reason}" for field, reason in exc.fields.items())
            raise click.ClickException(exc.message + details) from exc
    click.echo("")
    click.echo("Demo logins (username / password — role):")
    for login in logins:
        click.echo(f"  {login.username:<16} {login.password:<16} {login.role_label}")
    if no_serve:
        return
    from gridops.jobs.cli import start_background_scheduler

    # The demo's single process also runs the periodic jobs (escalation, notices).
    start_background_scheduler(app)
    click.echo(f"\nServing gridops on http://{host}:{port}/  (Ctrl+C to stop)")
    # Flask's app.run() refuses to serve from inside the `flask` CLI, so serve directly.
    run_simple(host, port, app, use_reloader=False, threaded=True)


def register_cli(app: Flask) -> None:
    """Attach the admin command groups to the app's CLI."""
    from gridops.auth.cli import tokens_cli, users_cli
    from gridops.cases.cli import duplicate_rules_command
    from gridops.catalogue.cli import calendar_cli, catalogue_cli
    from gridops.evaluation.cli import notices_cli
    from gridops.hotline.cli import caller_data_cli, gazetteer_cli
    from gridops.jobs.cli import scheduler_command
    from gridops.supervision.cli import supervision_cli
    from gridops.territory.cli import grids_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(grids_cli)
    app.cli.add_command(catalogue_cli)
    app.cli.add_command(calendar_cli)
    app.cli.add_command(notices_cli)
    app.cli.add_command(gazetteer_cli)
    app.cli.add_command(caller_data_cli)
    app.cli.add_command(scheduler_command)
    app.cli.add_command(supervision_cli)
    app.cli.add_command(duplicate_rules_command)
