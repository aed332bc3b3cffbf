"""The report screen's category tiles: every active small class with an icon, recent ones first."""

from __future__ import annotations

from gridops.catalogue.models import BigClass, SmallClass

#: Icon of each big class (``templates/tablet/_icons.html``), by (type, big class code).
BIG_CLASS_ICONS = {
    ("component", "01"): "manhole",
    ("component", "02"): "sign",
    ("component", "03"): "bin",
    ("component", "04"): "tree",
    ("component", "05"): "house",
    ("event", "01"): "litter",
    ("event", "02"): "poster",
    ("event", "03"): "cone",
    ("event", "04"): "alert",
    ("event", "05"): "stall",
}
DEFAULT_ICON = "dots"


def catalogue_tiles(classes: list[tuple[SmallClass, BigClass]], recent_ids: list[int], locale: str) -> list[dict]:
    """One tile per small class, the user's recent classes first (latest first), then by code.

    Each tile carries what the report sends (type, code), what the worker reads (name in
    their language, full code, big class) and the words the search box matches.
    """
    rank = {class_id: index for index, class_id in enumerate(recent_ids)}
    tiles = []
    for small, big in classes:
        name = (small.name_en or small.name) if locale == "en" else small.name
        big_name = (big.name_en or big.name) if locale == "en" else big.name
        tiles.append(
            {
                "id": small.id,
                "case_type": small.case_type,
                "code": small.code,
                "full_code": small.full_code,
                "name": name,
                "big_name": big_name,
                "icon": BIG_CLASS_ICONS.get((small.case_type, big.code), DEFAULT_ICON),
                "recent": small.id in rank,
                "search": " ".join(filter(None, (small.full_code, small.name, small.name_en, big.name, big.name_en))).lower(),
            }
        )
    return sorted(tiles, key=lambda tile: (rank.get(tile["id"], len(rank)), tile["case_type"], tile["full_code"]))
