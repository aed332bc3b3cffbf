"""Running the periodic jobs exactly once, however many schedulers run and however late they fire.

- **Scheduler lock**: a lease row (``scheduler_lease``); the process holding an unexpired lease
  runs jobs, every other one stands by and takes over once the lease lapses.
- **Exactly once per fire time**: a run claims its job's latest scheduled fire time with one
  conditional UPDATE of ``job_state`` (``last_fire_at < fire``) in the same transaction as the
  job's effects, so a second scheduler's claim waits for the first and then finds nothing to do.
- **Catch-up**: the fire time claimed is the latest one due by now, so a scheduler that was down
  runs each missed job once when it comes back (``catch_up`` at start, and on every tick).
- A failed run rolls back its claim with its effects; the error is recorded and the next tick
  tries again.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from gridops.db import utcnow
from gridops.extensions import db
from gridops.jobs.schedule import JOBS, Job
from gridops.supervision.models import JobState, SchedulerLease

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
#: Interval jobs look back at most this far for a missed fire time (they act on "now" anyway).
INTERVAL_LOOKBACK = timedelta(hours=1)
#: Cron jobs look back this far for missed fire times when they have never run.
CRON_LOOKBACK = timedelta(days=100)
#: Fixed origin of interval triggers, so every process computes the same fire times.
INTERVAL_ORIGIN = datetime(2020, 1, 1, tzinfo=timezone.utc)


def make_trigger(job: Job, zone: ZoneInfo, overrides: dict | None = None):
    """The APScheduler trigger of ``job`` in the city's zone (a deployment's override wins)."""
    spec = (overrides or {}).get(job.id, job.trigger)
    if set(spec) <= {"weeks", "days", "hours", "minutes", "seconds"}:
        return IntervalTrigger(**spec, start_date=INTERVAL_ORIGIN, timezone=zone)
    return CronTrigger(**spec, timezone=zone)


def latest_fire(trigger, since: datetime | None, now: datetime, lookback: timedelta) -> datetime | None:
    """The latest fire time of ``trigger`` after ``since`` and at or before ``now`` (None: none)."""
    floor = now - lookback
    start = floor if since is None or since < floor else since
    if isinstance(trigger, IntervalTrigger):
        interval = trigger.interval
        count = (now - INTERVAL_ORIGIN) // interval
        fire = INTERVAL_ORIGIN + count * interval
        return fire if fire > start else None
    latest = None
    fire = trigger.get_next_fire_time(None, start + timedelta(microseconds=1))
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return latest.astimezone(timezone.utc) if latest is not None else None


def _insert(table):
    module = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(table)


@dataclass
class RunOutcome:
    job_id: str
    status: str  # ran / nothing_due / claimed_elsewhere / standby / failed
    fire_at: datetime | None = None
    result: object = None
    error: str = ""


class JobRunner:
    """Runs ``jobs`` for ``app`` under the scheduler lease, each fire time exactly once."""

    def __init__(self, app: Flask, jobs: list[Job] | None = None, *, holder: str | None = None,
                 lease_seconds: int = 90):
        self.app = app
        self.jobs = list(JOBS if jobs is None else jobs)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease = timedelta(seconds=lease_seconds)
        self.zone = ZoneInfo(app.config.get("GRIDOPS_TIMEZONE", "Asia/Shanghai"))
        self.overrides = app.config.get("GRIDOPS_JOB_TIMES") or {}
        self.triggers = {job.id: make_trigger(job, self.zone, self.overrides) for job in self.jobs}

    # -- the lease ----------------------------------------------------------------------------

    def acquire_lease(self, now: datetime | None = None) -> bool:
        """Take or renew the scheduler lease; False while another live scheduler holds it."""
        now = now or utcnow()
        table = SchedulerLease.__table__
        expires = now + self.lease
        renewed = db.session.execute(
            update(table)
            .where(table.c.name == LEASE_NAME, or_(table.c.holder == self.holder, table.c.expires_at < now))
            .values(holder=self.holder, expires_at=expires)
            .returning(table.c.name)
        ).first()
        if renewed is None:
            renewed = db.session.execute(
                _insert(table)
                .values(name=LEASE_NAME, holder=self.holder, expires_at=expires, acquired_at=now)
                .on_conflict_do_nothing()
                .returning(table.c.name)
            ).first()
        db.session.commit()
        return renewed is not None

    def release_lease(self) -> None:
        """Give the lease up (on shutdown) so a standby scheduler takes over at once."""
        with self.app.app_context():
            table = SchedulerLease.__table__
            db.session.execute(
                update(table).where(table.c.name == LEASE_NAME, table.c.holder == self.holder)
                .values(expires_at=INTERVAL_ORIGIN)
            )
            db.session.commit()

    # -- runs ---------------------------------------------------------------------------------

    def run(self, job: Job, now: datetime | None = None) -> RunOutcome:
        """Run ``job`` for its latest fire time due by ``now`` if no scheduler has yet."""
        with self.app.app_context():
            now = now or utcnow()
            try:
                if not self.acquire_lease(now):
                    return RunOutcome(job.id, "standby")
                return self._run(job, now)
            finally:
                db.session.remove()

    def _run(self, job: Job, now: datetime) -> RunOutcome:
        table = JobState.__table__
        db.session.execute(_insert(table).values(job_id=job.id, last_error="").on_conflict_do_nothing())
        db.session.commit()
        since = db.session.scalar(select(table.c.last_fire_at).where(table.c.job_id == job.id))
        lookback = INTERVAL_LOOKBACK if job.is_interval else CRON_LOOKBACK
        fire = latest_fire(self.triggers[job.id], since, now, lookback)
        if fire is None:
            db.session.rollback()
            return RunOutcome(job.id, "nothing_due")
        claimed = db.session.execute(
            update(table)
            .where(table.c.job_id == job.id, or_(table.c.last_fire_at.is_(None), table.c.last_fire_at < fire))
            .values(last_fire_at=fire, last_started_at=now)
            .returning(table.c.job_id)
        ).first()
        if claimed is None:
            db.session.rollback()
            return RunOutcome(job.id, "claimed_elsewhere", fire)
        try:
            result = job.run(now)
            db.session.execute(
                update(table).where(table.c.job_id == job.id)
                .values(last_completed_at=utcnow(), last_error="", last_result=result)
            )
            db.session.commit()
        except Exception as exc:  # a job's failure must not stop the scheduler
            db.session.rollback()
            log.exception("job %s failed for %s", job.id, fire.isoformat())
            db.session.execute(
                update(table).where(table.c.job_id == job.id).values(last_error=f"{type(exc).__name__}: {exc}"[:2000])
            )
            db.session.commit()
            return RunOutcome(job.id, "failed", fire, error=str(exc))
        return RunOutcome(job.id, "ran", fire, result)

    def catch_up(self, now: datetime | None = None) -> list[RunOutcome]:
        """Run every job whose latest fire time has not run yet (at start, after downtime)."""
        return [self.run(job, now) for job in self.jobs]

    # -- APScheduler ----------------------------------------------------------------------------

    def schedule(self, scheduler) -> None:
        """Add every job to an APScheduler scheduler (one instance each, missed ones coalesced)."""
        for job in self.jobs:
            scheduler.add_job(
                self.run, self.triggers[job.id], args=[job], id=job.id, name=job.description or job.id,
                max_instances=1, coalesce=True, misfire_grace_time=None, replace_existing=True,
            )
