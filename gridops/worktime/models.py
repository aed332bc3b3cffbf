"""The city's persisted working calendar: day overrides and keyed settings (office hours, thresholds)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from gridops.db import utcnow
from gridops.extensions import db


class CalendarDay(db.Model):
    """An administrator's ruling on one date (holiday, adjusted working day, or a year's entry)."""

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(primary_key=True)
    working: Mapped[bool]
    note: Mapped[str] = mapped_column(String(128), default="")
    changed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class CitySetting(db.Model):
    """One city-wide setting as JSON (office-hours schedule, warning thresholds, entered years)."""

    __tablename__ = "city_setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    changed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
