"""Tables of the evaluation package."""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridops.db import utcnow
from gridops.extensions import db

# ---------------------------------------------------------------------------------------------
# Indicators and scores

#: The groupings indicators are computed for (see gridops.evaluation.indicators).
GROUP_BYS = ("city", "district", "subdistrict", "community", "grid", "unit", "post", "worker")


def _in(column: str, values) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class ScoreScheme(db.Model):
    """A way of turning indicators into scores and grades (考核办法): items, deductions, bands.

    ``parameters`` holds the whole rule set (see gridops.evaluation.scores); a snapshot keeps
    a copy of the parameters it was scored with, so editing a scheme never changes the past.
    """

    __tablename__ = "score_scheme"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[Optional[str]] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(String(1000), default="")
    parameters: Mapped[dict] = mapped_column(JSON)
    #: The scheme used when none is named (exactly one, kept so by the services).
    is_default: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    #: Bumped by every edit, so readers can tell which version of the rules they saw.
    revision: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))

    def display_name(self, locale: str) -> str:
        return (self.name_en or self.name) if locale == "en" else self.name


class IndicatorSnapshot(db.Model):
    """The frozen figures and scores of one closed period, grouping and scheme (考核快照).

    Written once when the period closes; reads of that period come from here, so a published
    notice never changes afterwards. ``scheme_parameters`` are the rules as they were then.
    """

    __tablename__ = "indicator_snapshot"
    __table_args__ = (
        UniqueConstraint("period_key", "group_by", "scheme_id", name="uq_indicator_snapshot_period_group_scheme"),
        CheckConstraint(_in("group_by", GROUP_BYS), name="group_by"),
        CheckConstraint(_in("period_kind", ("week", "month", "quarter", "year", "custom")), name="period_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period_key: Mapped[str] = mapped_column(String(32))
    period_kind: Mapped[str] = mapped_column(String(8))
    group_by: Mapped[str] = mapped_column(String(16))
    scheme_id: Mapped[int] = mapped_column(ForeignKey("score_scheme.id"), index=True)
    scheme_revision: Mapped[int]
    scheme_parameters: Mapped[dict] = mapped_column(JSON)
    #: One entry per row: its figures (IndicatorRow) and its score, grade and rank.
    rows: Mapped[list] = mapped_column(JSON)
    frozen_at: Mapped[datetime] = mapped_column(default=utcnow)

    scheme: Mapped[ScoreScheme] = relationship()


# ---- Notices, early warnings, assistance plans and special campaigns ----

NOTICE_KINDS = ("weekly", "monthly", "quarterly")
NOTICE_STATUSES = ("draft", "published")
WARNING_GROUPS = ("unit", "district", "subdistrict", "community")


def _one_of(column: str, values) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Notice(db.Model):
    """A weekly supervision list, monthly notice or quarterly review: its figures frozen as JSON.

    Exactly one per kind, period and scope (the unique key); once published its content never
    changes again.
    """

    __tablename__ = "notice"
    __table_args__ = (
        UniqueConstraint("kind", "period_key", "scope_key"),
        CheckConstraint(_one_of("kind", NOTICE_KINDS), name="kind"),
        CheckConstraint(_one_of("status", NOTICE_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    period_key: Mapped[str] = mapped_column(String(16), index=True)
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    #: "city", or "area:<id>" for a notice limited to one area's subtree.
    scope_key: Mapped[str] = mapped_column(String(32), default="city")
    scope_area_id: Mapped[Optional[int]] = mapped_column(ForeignKey("area.id"))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    content: Mapped[dict] = mapped_column(JSON)
    generated_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: None: the scheduler.
    generated_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    published_at: Mapped[Optional[datetime]]
    published_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))

    scope_area = relationship("Area")
    generated_by = relationship("User", foreign_keys=[generated_by_id])
    published_by = relationship("User", foreign_keys=[published_by_id])


class EarlyWarning(db.Model):
    """A unit or area flagged for an interview (预警约谈): bottom of its group or under the threshold."""

    __tablename__ = "early_warning"
    __table_args__ = (
        UniqueConstraint("group_by", "subject_key", "period_key"),
        CheckConstraint(_one_of("group_by", WARNING_GROUPS), name="group_by"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_by: Mapped[str] = mapped_column(String(16))
    subject_key: Mapped[str] = mapped_column(String(64))
    subject_label: Mapped[str] = mapped_column(String(255))
    department_id: Mapped[Optional[int]] = mapped_column(ForeignKey("department.id"), index=True)
    area_id: Mapped[Optional[int]] = mapped_column(ForeignKey("area.id"), index=True)
    #: The last period of the run of bad periods.
    period_key: Mapped[str] = mapped_column(String(16), index=True)
    period_kind: Mapped[str] = mapped_column(String(8))
    #: One entry per period of the run: score, rank, group size, which rule flagged it.
    evidence: Mapped[list] = mapped_column(JSON)
    flagged_at: Mapped[datetime] = mapped_column(default=utcnow)

    department = relationship("Department")
    area = relationship("Area")
    interviews: Mapped[list["WarningInterview"]] = relationship(
        back_populates="warning", order_by="WarningInterview.held_on"
    )
    plan: Mapped[Optional["AssistancePlan"]] = relationship(back_populates="warning", uselist=False)


class WarningInterview(db.Model):
    """The record of an early-warning interview: who came, what was found, what was agreed."""

    __tablename__ = "warning_interview"

    id: Mapped[int] = mapped_column(primary_key=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("early_warning.id"), index=True)
    held_on: Mapped[date]
    attendees: Mapped[str] = mapped_column(Text)
    findings: Mapped[str] = mapped_column(Text)
    measures: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    warning: Mapped[EarlyWarning] = relationship(back_populates="interviews")
    recorded_by = relationship("User")


class AssistancePlan(db.Model):
    """Targeted assistance (精准帮扶) for a flagged subject: its top problems and the targets to reach."""

    __tablename__ = "assistance_plan"
    __table_args__ = (
        CheckConstraint("target_on_time_rate >= 0 AND target_on_time_rate <= 100", name="target_rate"),
        CheckConstraint("tracked_periods >= 1 AND tracked_periods <= 12", name="tracked_periods"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("early_warning.id"), unique=True)
    #: The subject's most frequent small classes and unit grids in the flagged periods (computed).
    top_classes: Mapped[list] = mapped_column(JSON)
    top_grids: Mapped[list] = mapped_column(JSON)
    #: On-time closure rate (percent) the subject must reach in each tracked period.
    target_on_time_rate: Mapped[float]
    tracked_periods: Mapped[int] = mapped_column(default=3)
    measures: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    warning: Mapped[EarlyWarning] = relationship(back_populates="plan")


campaign_small_class = Table(
    "campaign_small_class",
    db.Model.metadata,
    Column("campaign_id", ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True),
    Column("small_class_id", ForeignKey("small_class.id"), primary_key=True),
)

campaign_area = Table(
    "campaign_area",
    db.Model.metadata,
    Column("campaign_id", ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True),
    Column("area_id", ForeignKey("area.id"), primary_key=True),
)


class Campaign(db.Model):
    """A special campaign (专项整治): small classes and areas in scope, a period and a target count."""

    __tablename__ = "campaign"
    __table_args__ = (
        CheckConstraint("target_count > 0", name="target_positive"),
        CheckConstraint("ends_on >= starts_on", name="period_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    #: First and last day (city calendar), both included.
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    target_count: Mapped[int]
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    small_classes = relationship("SmallClass", secondary=campaign_small_class, order_by="SmallClass.code")
    areas = relationship("Area", secondary=campaign_area, order_by="Area.code")
    created_by = relationship("User")
