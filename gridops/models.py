"""Imports every model so that metadata is complete (migrations, create_all)."""

from gridops.auth.models import ApiToken, User
from gridops.cases.models import (
    Case,
    CaseEvent,
    CaseMerge,
    CaseNumberCounter,
    CasePause,
    CasePhoto,
    CaseRequest,
)
from gridops.catalogue.models import BigClass, CatalogueChange, FilingStandard, RoutingRule, SmallClass
from gridops.org.models import Department
from gridops.territory.models import Area, AreaLevel, GridLayer, ResponsibilityGrid
from gridops.worktime.models import CalendarDay, CitySetting

# Packages whose tables are listed by module (each keeps its own names).
from gridops.evaluation import models as evaluation_models  # noqa: F401
from gridops.hotline import models as hotline_models  # noqa: F401
from gridops.supervision import models as supervision_models  # noqa: F401

__all__ = [
    "ApiToken",
    "Area",
    "AreaLevel",
    "BigClass",
    "CalendarDay",
    "Case",
    "CaseEvent",
    "CaseMerge",
    "CaseNumberCounter",
    "CasePause",
    "CasePhoto",
    "CaseRequest",
    "CatalogueChange",
    "CitySetting",
    "Department",
    "FilingStandard",
    "GridLayer",
    "ResponsibilityGrid",
    "RoutingRule",
    "SmallClass",
    "User",
]
