"""The default four-level grid under the city (domain.md §2); a city may store others."""

from __future__ import annotations

from sqlalchemy import func, select

from gridops.extensions import db
from gridops.territory.models import AreaLevel

#: (rank, key, Chinese name, English name, code length, is the unit level)
DEFAULT_LEVELS: tuple[tuple[int, str, str, str, int | None, bool], ...] = (
    (0, "city", "市", "City", 6, False),
    (1, "district", "区", "District", 6, False),
    (2, "subdistrict", "街道/乡镇", "Subdistrict / town", 9, False),
    (3, "community", "社区/村", "Community / village", 12, False),
    (4, "unit_grid", "单元网格", "Unit grid", 15, True),
)


def ensure_levels() -> list[AreaLevel]:
    """Seed the default levels when none are defined; return the levels by rank."""
    if not db.session.scalar(select(func.count()).select_from(AreaLevel)):
        for rank, key, name_zh, name_en, code_length, is_unit in DEFAULT_LEVELS:
            db.session.add(
                AreaLevel(
                    rank=rank, key=key, name_zh=name_zh, name_en=name_en,
                    code_length=code_length, is_unit=is_unit,
                )
            )
        db.session.flush()
    return list(db.session.scalars(select(AreaLevel).order_by(AreaLevel.rank)))
