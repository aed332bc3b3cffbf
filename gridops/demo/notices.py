"""Demo notices: the last week's supervision list and last month's notice, made and published on load."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gridops.evaluation.notices import generate_notice, publish_notice_as_system
from gridops.evaluation.periods import Period

#: The notices the demo shows: (notice kind, period kind).
DEMO_NOTICES = (("weekly", "week"), ("monthly", "month"))


@dataclass(frozen=True)
class DemoNotices:
    made: list[str]
    kept: list[str]


def ensure_demo_notices(now: datetime) -> DemoNotices:
    """Make (once) and publish the city's notices of the last closed week and month from the demo's data."""
    made, kept = [], []
    for kind, period_kind in DEMO_NOTICES:
        period = Period.last_closed(period_kind, now)
        notice = generate_notice(kind, period, now=now)
        label = f"{kind} {period.key}"
        if notice.status == "draft":
            publish_notice_as_system(notice, now=now)
            made.append(label)
        else:
            kept.append(label)
    return DemoNotices(made, kept)
