"""Catalogue tables: big/small classes, filing standards with time limits, routing rules."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridops.db import utcnow
from gridops.extensions import db

CASE_TYPE_CHECK = "case_type IN ('component', 'event')"
CLOCK_CHECK = "limit_clock IN ('urgent_hours', 'working_hours', 'working_days', 'natural_days')"
NINE_WORD_CHECK = "nine_word IS NULL OR nine_word IN ('净', '绿', '亮', '齐', '便', '美', '通', '平', '清')"


class BigClass(db.Model):
    """大类: a 2-digit class within the component or event type."""

    __tablename__ = "big_class"
    __table_args__ = (
        UniqueConstraint("case_type", "code"),
        CheckConstraint(CASE_TYPE_CHECK, name="case_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_type: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(2))
    name: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[Optional[str]] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(default=True)


class SmallClass(db.Model):
    """小类: what a case is about; carries its filing standards and default handling unit."""

    __tablename__ = "small_class"
    __table_args__ = (
        UniqueConstraint("case_type", "code"),
        CheckConstraint(CASE_TYPE_CHECK, name="case_type"),
        CheckConstraint(NINE_WORD_CHECK, name="nine_word"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    big_class_id: Mapped[int] = mapped_column(ForeignKey("big_class.id"), index=True)
    case_type: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(4))
    name: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[Optional[str]] = mapped_column(String(128))
    nine_word: Mapped[Optional[str]] = mapped_column(String(1))
    #: Department kind that handles this class unless a routing rule says otherwise.
    default_unit_kind: Mapped[Optional[str]] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)

    big_class: Mapped[BigClass] = relationship()
    standards: Mapped[list["FilingStandard"]] = relationship(
        back_populates="small_class", order_by="FilingStandard.sort"
    )

    @property
    def full_code(self) -> str:
        return f"{self.case_type[0].upper()}{self.code}"


class FilingStandard(db.Model):
    """立案条件: one filing condition of a small class, with its time limit and closing condition."""

    __tablename__ = "filing_standard"
    __table_args__ = (
        CheckConstraint(CLOCK_CHECK, name="limit_clock"),
        CheckConstraint("limit_value > 0", name="limit_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    small_class_id: Mapped[int] = mapped_column(ForeignKey("small_class.id"), index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    name_en: Mapped[Optional[str]] = mapped_column(String(128))
    limit_value: Mapped[int]
    limit_clock: Mapped[str] = mapped_column(String(16))
    closing_condition: Mapped[str] = mapped_column(Text, default="")
    sort: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    small_class: Mapped[SmallClass] = relationship(back_populates="standards")


class RoutingRule(db.Model):
    """(small class, area subtree) → handling unit, with a priority; None class: any class."""

    __tablename__ = "routing_rule"
    __table_args__ = (CheckConstraint("basis IN ('owner', 'territory')", name="basis"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    small_class_id: Mapped[Optional[int]] = mapped_column(ForeignKey("small_class.id"), index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    #: owner: the facility's owner (components first); territory: the area's government.
    basis: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(default=100)
    active: Mapped[bool] = mapped_column(default=True)

    small_class = relationship("SmallClass")
    area = relationship("Area")
    department = relationship("Department")


class CatalogueChange(db.Model):
    """History of every administrator edit to the catalogue and routing (never edited)."""

    __tablename__ = "catalogue_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(16))
    changed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    before: Mapped[Optional[dict]] = mapped_column(JSON)
    after: Mapped[Optional[dict]] = mapped_column(JSON)

    @classmethod
    def record(cls, entity: str, entity_id: int, action: str, actor, before, after) -> "CatalogueChange":
        """Add one history entry for an administrator's edit (``actor`` None: the system)."""
        change = cls(
            entity=entity,
            entity_id=entity_id,
            action=action,
            changed_by_id=actor.id if actor is not None else None,
            before=before,
            after=after,
        )
        db.session.add(change)
        return change
