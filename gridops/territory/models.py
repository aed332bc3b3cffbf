"""Areas of the nested territory grid, the grid layer they belong to, responsibility grids."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridops.db import Base, utcnow
from gridops.extensions import db

DATUMS = ("wgs84", "gcj02")


class AreaLevel(db.Model):
    """One level of the hierarchy (city, district, …, unit grid): names and depth are data."""

    __tablename__ = "area_level"

    rank: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(64))
    #: Exact code length at this level (e.g. 6 for districts, 15 for unit grids); None: any.
    code_length: Mapped[Optional[int]]
    #: True for the leaf level that cases are located in (the unit grid).
    is_unit: Mapped[bool] = mapped_column(default=False)

    def display_name(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_zh


class GridLayer(db.Model):
    """The territory's geometry layer: its datum, and a version bumped by every import."""

    __tablename__ = "grid_layer"
    __table_args__ = (CheckConstraint("datum IN ('wgs84', 'gcj02')", name="datum"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    datum: Mapped[str] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(default=0)
    imported_at: Mapped[Optional[datetime]]
    imported_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    source_name: Mapped[Optional[str]] = mapped_column(String(255))
    feature_count: Mapped[int] = mapped_column(default=0)


class Area(db.Model):
    """A node of the territory: city, district, subdistrict, community or unit grid.

    Geometry is kept as WKB with its bounding box so that any database can hold it; the
    locator builds its spatial index in memory. Areas are never deleted (cases point at
    them): an import that no longer contains an area retires it.
    """

    __tablename__ = "area"
    __table_args__ = (
        Index("ix_area_level_active", "level_rank", "active"),
        Index("ix_area_bbox", "min_x", "min_y", "max_x", "max_y"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[Optional[str]] = mapped_column(String(128))
    level_rank: Mapped[int] = mapped_column(ForeignKey("area_level.rank"))
    parent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("area.id"), index=True)
    #: Materialised path of ids, "/1/5/23/", for subtree queries on any database.
    path: Mapped[str] = mapped_column(String(255), index=True)
    geometry_wkb: Mapped[Optional[bytes]] = mapped_column(LargeBinary, deferred=True)
    min_x: Mapped[Optional[float]] = mapped_column(Float)
    min_y: Mapped[Optional[float]] = mapped_column(Float)
    max_x: Mapped[Optional[float]] = mapped_column(Float)
    max_y: Mapped[Optional[float]] = mapped_column(Float)
    area_m2: Mapped[Optional[float]] = mapped_column(Float)
    #: Generated (synthetic) area, e.g. the demo city's subdivisions.
    generated: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    #: Urban-rural fringe (城乡结合部): cases here and below get the longer registration limit.
    urban_rural_fringe: Mapped[bool] = mapped_column(default=False, index=True)
    layer_version: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    # Read from the session's few levels when first touched (a many-to-one by primary key:
    # no query once the level is loaded), not joined into every area query.
    level: Mapped[AreaLevel] = relationship()
    parent: Mapped[Optional["Area"]] = relationship(remote_side="Area.id")

    def __repr__(self) -> str:
        return f"<Area {self.code} {self.name}>"

    def display_name(self, locale: str) -> str:
        return (self.name_en or self.name) if locale == "en" else self.name

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part]


responsibility_grid_area = Table(
    "responsibility_grid_area",
    Base.metadata,
    Column("responsibility_grid_id", ForeignKey("responsibility_grid.id", ondelete="CASCADE"), primary_key=True),
    #: A unit grid belongs to at most one responsibility grid.
    Column("area_id", ForeignKey("area.id"), primary_key=True, unique=True),
)


class ResponsibilityGrid(db.Model):
    """A set of unit grids assigned to one grid worker, led by a grid chief (网格长)."""

    __tablename__ = "responsibility_grid"
    __table_args__ = (UniqueConstraint("code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    community_id: Mapped[Optional[int]] = mapped_column(ForeignKey("area.id"))
    worker_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"), index=True)
    chief_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"), index=True)

    community: Mapped[Optional[Area]] = relationship(foreign_keys=[community_id])
    unit_grids: Mapped[list[Area]] = relationship(secondary=responsibility_grid_area)
    worker = relationship("User", foreign_keys=[worker_id])
    chief = relationship("User", foreign_keys=[chief_id])
