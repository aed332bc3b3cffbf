"""The periodic jobs, declared once with stable ids: the scheduler process and the demo run these.

Each job is thin: it calls one service with an explicit ``now`` and returns what it did (the
runner commits and records it). Times are in the city's time zone; each job's trigger can be
changed per deployment with ``GRIDOPS_JOB_TIMES`` (JSON: job id → APScheduler cron fields, or
``{"minutes": n}`` for an interval), e.g. ``{"weekly_supervision": {"day_of_week": "mon",
"hour": 9}}``. The database makes every run happen once (see ``gridops.jobs.runner``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Job:
    """A periodic job: stable id, the thin function it runs, and its default trigger."""

    id: str
    run: Callable[[datetime], Any]
    #: APScheduler cron fields ({"day_of_week": "mon", "hour": 8}) or an interval ({"minutes": 1}).
    trigger: dict = field(default_factory=dict)
    description: str = ""

    @property
    def is_interval(self) -> bool:
        return set(self.trigger) <= {"weeks", "days", "hours", "minutes", "seconds"}


def escalation_sweep(now: datetime) -> dict:
    """Warnings and timeout supervision orders that have come due."""
    from gridops.supervision.services import sweep_escalations

    return sweep_escalations(now).as_dict()


def deliver_notifications(now: datetime) -> dict:
    """Send the outbox's due messages through the gateway (with retries and backoff)."""
    from gridops.supervision.notify import deliver_due

    return deliver_due(now).as_dict()


def due_notices(now: datetime) -> dict:
    """The weekly supervision, monthly notice and quarterly review whose time has come (and missed ones)."""
    from gridops.evaluation.notices import generate_due_notices

    notices = generate_due_notices(now)
    return {"made": [f"{n.kind}:{n.period_key}" for n in notices]}


def freeze_indicators(now: datetime) -> dict:
    """Freeze the figures of the week, month, quarter and year that last ended (once each)."""
    from gridops.evaluation.snapshots import freeze_closed_periods

    snapshots = freeze_closed_periods(now)
    return {"snapshots": sorted({f"{s.period_key}:{s.group_by}" for s in snapshots})}


def early_warnings(now: datetime) -> dict:
    """Flag units and areas bad for consecutive closed periods (预警约谈)."""
    from gridops.evaluation.warnings import evaluate_early_warnings

    warnings = evaluate_early_warnings(now)
    return {"flagged": [f"{w.group_by}:{w.subject_key}:{w.period_key}" for w in warnings]}


def purge_caller_data(now: datetime) -> dict:
    """Erase callers' personal data kept past the retention period, committing batch by batch.

    Each batch commits (with the first, the runner's claim of this fire time), so a large backlog
    holds no lock for long; a run that stops part-way is finished by the next day's (erasing is
    idempotent).
    """
    from gridops.extensions import db
    from gridops.hotline.retention import purge_caller_data as purge

    return purge(now, origin="scheduler", after_batch=db.session.commit).as_dict()


JOBS: list[Job] = [
    Job("escalation_sweep", escalation_sweep, {"minutes": 1},
        "Yellow warnings and timeout supervision orders, levels 1–3"),
    Job("deliver_notifications", deliver_notifications, {"minutes": 1},
        "Outbox: send new orders through the e-mail/SMS gateway, with retries"),
    Job("weekly_supervision", due_notices, {"day_of_week": "mon", "hour": 8, "minute": 0},
        "Weekly supervision (周督查), Monday 08:00"),
    Job("monthly_notice", due_notices, {"day": 1, "hour": 8, "minute": 0},
        "Monthly notice (月通报), the 1st at 08:00"),
    Job("quarterly_review", due_notices, {"month": "1,4,7,10", "day": 1, "hour": 8, "minute": 5},
        "Quarterly review (季讲评), the first day of each quarter"),
    Job("freeze_indicators", freeze_indicators, {"hour": 0, "minute": 30},
        "Freeze the indicators of the periods that have just ended (考核快照), daily 00:30"),
    Job("purge_caller_data", purge_caller_data, {"hour": 3, "minute": 15},
        "Erase callers' personal data kept past the retention period, daily 03:15"),
    Job("early_warnings", early_warnings, {"day": 1, "hour": 9, "minute": 0},
        "Early warnings (预警约谈) over the last closed months, the 1st at 09:00"),
]


def job_by_id(job_id: str) -> Job:
    for job in JOBS:
        if job.id == job_id:
            return job
    raise KeyError(job_id)
