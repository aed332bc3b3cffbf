"""Handling units: city departments, their sub-units and district counterparts."""

from __future__ import annotations

from typing import Optional

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridops.extensions import db


class Department(db.Model):
    """A unit that handles cases (处置单位), or an office that owns such units."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[Optional[str]] = mapped_column(String(128))
    #: What it does: sanitation, municipal_works, landscaping, law_enforcement, …
    kind: Mapped[str] = mapped_column(String(32))
    parent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("department.id"), index=True)
    #: The territory it serves (a district counterpart serves its district).
    area_id: Mapped[Optional[int]] = mapped_column(ForeignKey("area.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)

    parent: Mapped[Optional["Department"]] = relationship(remote_side="Department.id")
    area = relationship("Area")

    def display_name(self, locale: str) -> str:
        return (self.name_en or self.name) if locale == "en" else self.name
