"""Special campaigns (专项整治): a period, a scope of small classes and areas, a target count.

Progress is counted from the cases when read (never stored), so the page is always live:
cases in scope reported during the campaign ("found") and closed during it ("closed");
completion rate = closed / target (it may pass 100 %, as real campaigns report).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, false, func, or_, select

from gridops.auth import permissions
from gridops.auth.models import User
from gridops.cases.models import Case
from gridops.cases.states import State
from gridops.catalogue.models import CatalogueChange, SmallClass
from gridops.errors import NotAllowed, ValidationFailed
from gridops.evaluation.models import Campaign
from gridops.extensions import db
from gridops.territory.models import Area

MAX_NAME = 128
MAX_TEXT = 2000


@dataclass(frozen=True)
class CampaignProgress:
    """How far a campaign has got at ``as_of``."""

    found: int
    closed: int
    target: int
    as_of: datetime

    @property
    def completion_rate(self) -> float:
        """Closed cases as a percentage of the target, one decimal (may exceed 100)."""
        return round(100.0 * self.closed / self.target, 1) if self.target else 0.0

    def as_dict(self) -> dict:
        return {
            "found": self.found,
            "closed": self.closed,
            "target": self.target,
            "completion_rate": self.completion_rate,
            "as_of": self.as_of.isoformat(),
        }


def city_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["GRIDOPS_TIMEZONE"])


def day_start(day: date) -> datetime:
    """The instant a city calendar day begins."""
    return datetime.combine(day, time.min, tzinfo=city_zone())


def campaign_window(campaign: Campaign) -> tuple[datetime, datetime]:
    """[start, end) of the campaign: from the first day's midnight to the day after the last."""
    return day_start(campaign.starts_on), day_start(campaign.ends_on + timedelta(days=1))


def create_campaign(
    actor: User,
    *,
    name: str,
    starts_on: date | None,
    ends_on: date | None,
    target_count,
    small_class_ids=(),
    area_ids=(),
    description: str = "",
) -> Campaign:
    """Open a special campaign; classes and areas left empty mean every class / the whole city."""
    _require_manager(actor)
    values = _validated(name, description, starts_on, ends_on, target_count, small_class_ids, area_ids)
    campaign = Campaign(created_by_id=actor.id)
    _assign(campaign, values)
    db.session.add(campaign)
    db.session.flush()
    CatalogueChange.record("campaign", campaign.id, "create", actor, None, campaign_record(campaign))
    return campaign


def update_campaign(
    actor: User,
    campaign: Campaign,
    *,
    name: str,
    starts_on: date | None,
    ends_on: date | None,
    target_count,
    small_class_ids=(),
    area_ids=(),
    description: str = "",
) -> Campaign:
    """Change a campaign's name, period, target or scope (the same rules as opening one); recorded.

    Progress is counted when read, so every figure follows the new period and scope at once;
    notices already made keep the figures they were made with.
    """
    _require_manager(actor)
    values = _validated(name, description, starts_on, ends_on, target_count, small_class_ids, area_ids)
    before = campaign_record(campaign)
    _assign(campaign, values)
    after = campaign_record(campaign)
    if after != before:
        db.session.flush()
        CatalogueChange.record("campaign", campaign.id, "update", actor, before, after)
    return campaign


def close_campaign(actor: User, campaign: Campaign, *, today: date, reason: str) -> Campaign:
    """End a running campaign early: ``today`` becomes its last day; the reason is recorded."""
    _require_manager(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed.field("reason", _("required"))
    if len(reason) > MAX_TEXT:
        raise ValidationFailed.field("reason", _("at most %(n)d characters", n=MAX_TEXT))
    if campaign.starts_on > today:
        raise ValidationFailed.field("ends_on", _("the campaign has not started yet: change its dates instead"))
    if campaign.ends_on <= today:
        raise ValidationFailed.field("ends_on", _("the campaign ends today or has ended already"))
    before = campaign_record(campaign)
    campaign.ends_on = today
    db.session.flush()
    CatalogueChange.record("campaign", campaign.id, "close", actor, before, {**campaign_record(campaign), "reason": reason})
    return campaign


def campaign_record(campaign: Campaign) -> dict:
    """The campaign's fields as its history records them."""
    return {
        "name": campaign.name,
        "description": campaign.description,
        "starts_on": campaign.starts_on.isoformat(),
        "ends_on": campaign.ends_on.isoformat(),
        "target_count": campaign.target_count,
        "small_classes": [c.full_code for c in campaign.small_classes],
        "areas": [a.code for a in campaign.areas],
    }


def _require_manager(actor: User) -> None:
    if not permissions.can_manage_campaigns(actor):
        raise NotAllowed(_("Only evaluators and administrators run special campaigns."))


def _validated(name, description, starts_on, ends_on, target_count, small_class_ids, area_ids) -> dict:
    """The campaign's values checked: every problem named by its field."""
    problems: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        problems["name"] = _("required")
    elif len(name) > MAX_NAME:
        problems["name"] = _("at most %(n)d characters", n=MAX_NAME)
    if len(description or "") > MAX_TEXT:
        problems["description"] = _("at most %(n)d characters", n=MAX_TEXT)
    if starts_on is None:
        problems["starts_on"] = _("required")
    if ends_on is None:
        problems["ends_on"] = _("required")
    elif starts_on is not None and ends_on < starts_on:
        problems["ends_on"] = _("must not be before the first day")
    try:
        target = int(target_count)
    except (TypeError, ValueError):
        target = 0
    if target <= 0 or target > 10_000_000:
        problems["target_count"] = _("a whole number from 1 to 10,000,000")
    classes = _load(SmallClass, small_class_ids, "small_classes", problems)
    areas = _load(Area, area_ids, "areas", problems)
    if problems:
        raise ValidationFailed(_("The campaign cannot be saved."), problems)
    return dict(name=name, description=(description or "").strip(), starts_on=starts_on, ends_on=ends_on,
                target_count=target, small_classes=classes, areas=areas)


def _assign(campaign: Campaign, values: dict) -> None:
    for name, value in values.items():
        setattr(campaign, name, value)


def _load(model, ids, field: str, problems: dict) -> list:
    try:
        wanted = sorted({int(i) for i in ids})
    except (TypeError, ValueError):
        problems[field] = _("unknown entries")
        return []
    if not wanted:
        return []
    rows = list(db.session.scalars(select(model).where(model.id.in_(wanted))))
    if len(rows) != len(wanted):
        problems[field] = _("unknown entries")
    return rows


def scope_clause(campaign: Campaign):
    """WHERE clause: a case is in the campaign's scope of classes and areas (merged cases never)."""
    clauses = [Case.state != State.MERGED.value]
    if campaign.small_classes:
        clauses.append(Case.small_class_id.in_([c.id for c in campaign.small_classes]))
    if campaign.areas:
        clauses.append(or_(*(Case.area_path.startswith(a.path, autoescape=True) for a in campaign.areas)))
    return and_(*clauses)


def campaign_progress(campaign: Campaign, *, now: datetime) -> CampaignProgress:
    """Found and closed counts of ``campaign`` up to ``now`` (or its end, whichever is first)."""
    start, end = campaign_window(campaign)
    as_of = min(now, end)
    if as_of <= start:
        return CampaignProgress(found=0, closed=0, target=campaign.target_count, as_of=as_of)
    found_in = and_(Case.reported_at >= start, Case.reported_at < as_of)
    closed_in = and_(
        Case.state == State.CLOSED.value, Case.closed_at >= start, Case.closed_at < as_of
    )
    found, closed = db.session.execute(
        select(
            func.count().filter(found_in),
            func.count().filter(closed_in),
        ).where(scope_clause(campaign), or_(found_in, closed_in))
    ).one()
    return CampaignProgress(found=found, closed=closed, target=campaign.target_count, as_of=as_of)


def campaigns_overlapping(start: datetime, end: datetime) -> list[Campaign]:
    """Campaigns running at some time in [start, end), oldest first."""
    zone = city_zone()
    first_day = start.astimezone(zone).date()
    last_day = (end - timedelta(microseconds=1)).astimezone(zone).date()
    return list(
        db.session.scalars(
            select(Campaign)
            .where(Campaign.starts_on <= last_day, Campaign.ends_on >= first_day)
            .order_by(Campaign.starts_on, Campaign.id)
        )
    )


def visible_campaigns(user: User | None):
    """The campaigns list for ``user`` (every campaign, for those who may see campaigns)."""
    stmt = select(Campaign).order_by(Campaign.starts_on.desc(), Campaign.id.desc())
    return stmt if permissions.can_view_campaigns(user) else stmt.where(false())
