"""Imports every model so that metadata is complete (migrations, create_all)."""

from gridops.auth.models import ApiToken, User
from gridops.cases.models import Case, CaseEvent, CaseNumberCounter, CasePause, CasePhoto, CaseRequest
from gridops.catalogue.models import BigClass, CatalogueChange, FilingStandard, RoutingRule, SmallClass
from gridops.org.models import Department
from gridops.territory.models import Area, AreaLevel, GridLayer, ResponsibilityGrid
from gridops.worktime.models import CalendarDay, CitySetting

__all__ = [
    "ApiToken",
    "Area",
    "AreaLevel",
    "BigClass",
    "CalendarDay",
    "Case",
    "CaseEvent",
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
