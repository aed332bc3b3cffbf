"""``gridops scheduler``: the dedicated scheduler process (never started by the web app)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from gridops.jobs.runner import JobRunner


def start_background_scheduler(app) -> object:
    """Run the jobs inside this process in a background thread (the demo's single process only)."""
    from apscheduler.schedulers.background import BackgroundScheduler

    runner = JobRunner(app)
    scheduler = BackgroundScheduler(timezone=runner.zone)
    runner.schedule(scheduler)
    scheduler.add_job(runner.catch_up, id="catch_up", name="catch up after downtime")
    scheduler.start()
    return scheduler


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Run every job whose time has come (catch-up) once, then exit.")
@click.option("--lease-seconds", default=90, show_default=True, type=click.IntRange(10, 3600),
              help="How long the scheduler lock lasts without renewal; a standby scheduler takes over after it.")
@with_appcontext
def scheduler_command(once: bool, lease_seconds: int) -> None:
    """Run the periodic jobs (escalation sweep, notifications, notices) until stopped.

    Start one per deployment; a second one stands by and takes over if the first stops.
    """
    from apscheduler.schedulers.blocking import BlockingScheduler

    app = current_app._get_current_object()
    runner = JobRunner(app, lease_seconds=lease_seconds)
    for outcome in runner.catch_up():
        click.echo(f"{outcome.job_id:<24} {outcome.status}{' ' + outcome.error if outcome.error else ''}")
    if once:
        return
    scheduler = BlockingScheduler(timezone=runner.zone)
    runner.schedule(scheduler)
    click.echo(f"Scheduler {runner.holder} running {len(runner.jobs)} jobs (Ctrl+C to stop)")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        runner.release_lease()
