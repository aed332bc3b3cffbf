"""The default catalogue of domain.md §4: seed data, editable afterwards by administrators.

Limits are (value, clock) with clock one of ``urgent_hours``, ``working_hours``,
``working_days``, ``natural_days``; ``unit`` is the department kind that handles the class
by default; ``nine`` is Nanyang's nine-word dimension (净绿亮齐便美通平清).
"""

from __future__ import annotations

NINE_WORDS = {
    "净": "clean",
    "绿": "green",
    "亮": "lit",
    "齐": "tidy",
    "便": "convenient",
    "美": "beautiful",
    "通": "passable",
    "平": "flat",
    "清": "clear",
}

CASE_TYPES = {
    "component": ("部件", "Component"),
    "event": ("事件", "Event"),
}

BIG_CLASSES = {
    "component": {
        "01": ("公用设施", "Public utilities"),
        "02": ("道路交通", "Roads and traffic"),
        "03": ("市容环境", "City appearance"),
        "04": ("园林绿化", "Landscaping"),
        "05": ("房屋土地", "Buildings and land"),
        "06": ("其他设施", "Other facilities"),
    },
    "event": {
        "01": ("市容环境", "City appearance"),
        "02": ("宣传广告", "Advertising"),
        "03": ("施工管理", "Construction"),
        "04": ("突发事件", "Emergencies"),
        "05": ("街面秩序", "Street order"),
        "06": ("扩展事件", "Local extensions"),
    },
}

WH, WD, UH = "working_hours", "working_days", "urgent_hours"

#: (type, code, zh, en, nine-word, default unit kind, [(standard zh, standard en, value, clock)])
SMALL_CLASSES: tuple[tuple[str, str, str, str, str, str, list[tuple[str, str, int, str]]], ...] = (
    ("event", "0101", "私搭乱建", "Illegal structure", "齐", "law_enforcement",
     [("在建", "Under construction: stop the work", 4, WH), ("已建成", "Finished: demolish", 20, WD)]),
    ("event", "0102", "暴露垃圾", "Exposed garbage", "净", "sanitation", [("", "", 4, WH)]),
    ("event", "0103", "建筑垃圾渣土", "Construction waste, muck piles", "净", "sanitation", [("", "", 4, WH)]),
    ("event", "0104", "道路不洁", "Dirty road surface", "净", "sanitation", [("", "", 2, WH)]),
    ("event", "0105", "水域不洁", "Dirty water surface", "清", "water_rivers", [("", "", 1, WD)]),
    ("event", "0106", "绿地脏乱", "Dirty green space", "绿", "landscaping", [("", "", 4, WH)]),
    ("event", "0107", "焚烧垃圾树叶", "Burning garbage or leaves", "净", "law_enforcement", [("", "", 2, UH)]),
    ("event", "0201", "非法小广告", "Illegal small ads, graffiti", "美", "sanitation", [("", "", 1, WD)]),
    ("event", "0202", "街头散发广告", "Handing out flyers", "美", "law_enforcement", [("", "", 4, WH)]),
    ("event", "0203", "违规户外广告", "Illegal outdoor advertising", "美", "law_enforcement", [("", "", 5, WD)]),
    ("event", "0301", "施工扰民", "Construction noise at night", "便", "law_enforcement", [("", "", 4, WH)]),
    ("event", "0302", "施工占道", "Construction occupying road", "通", "municipal_works", [("", "", 1, WD)]),
    ("event", "0303", "工地扬尘", "Construction site dust", "净", "housing_construction", [("", "", 4, WH)]),
    ("event", "0304", "施工废弃料", "Construction debris left", "净", "housing_construction", [("", "", 1, WD)]),
    ("event", "0401", "管道破裂", "Burst pipe", "通", "water_utility", [("", "", 2, UH)]),
    ("event", "0402", "路面塌陷", "Road collapse", "平", "municipal_works", [("", "", 2, UH)]),
    ("event", "0403", "道路积水", "Waterlogging", "通", "drainage", [("", "", 4, WH)]),
    ("event", "0501", "无照经营游商", "Unlicensed street vending", "齐", "law_enforcement", [("", "", 2, WH)]),
    ("event", "0502", "店外经营", "Shop spilling onto pavement", "齐", "law_enforcement", [("", "", 2, WH)]),
    ("event", "0503", "餐饮油烟", "Restaurant cooking fumes", "清", "environment", [("", "", 5, WD)]),
    ("event", "0504", "非机动车乱停放", "Bikes/e-scooters parked in disorder", "齐", "street_office",
     [("", "", 2, WH)]),
    ("component", "0101", "上水井盖", "Water manhole cover damaged/missing", "平", "water_utility",
     [("", "", 2, UH)]),
    ("component", "0102", "污水井盖", "Sewage manhole cover damaged/missing", "平", "drainage", [("", "", 2, UH)]),
    ("component", "0104", "雨水箅子", "Storm drain grate", "通", "drainage", [("", "", 1, WD)]),
    ("component", "0118", "路灯", "Street light out", "亮", "street_lighting", [("", "", 2, WD)]),
    ("component", "0206", "护栏", "Guardrail damaged", "齐", "municipal_works", [("", "", 2, WD)]),
    ("component", "0207", "交通标志牌", "Traffic sign damaged", "通", "traffic_police", [("", "", 2, WD)]),
    ("component", "0208", "公交站亭", "Bus shelter damaged", "便", "public_transport", [("", "", 2, WD)]),
    ("component", "0301", "公共厕所", "Public toilet dirty/broken", "便", "sanitation", [("", "", 4, WH)]),
    ("component", "0302", "果皮箱", "Litter bin full/damaged", "净", "sanitation", [("", "", 4, WH)]),
    ("component", "0303", "广告牌匾", "Signboard damaged/unsafe", "美", "law_enforcement", [("", "", 5, WD)]),
    ("component", "0401", "行道树", "Street tree fallen/dead", "绿", "landscaping",
     [("枯死或倾斜", "Dead or leaning", 1, WD), ("倒伏阻断道路", "Fallen across the road", 2, UH)]),
    ("component", "0402", "绿地", "Green space damaged", "绿", "landscaping", [("", "", 5, WD)]),
)
