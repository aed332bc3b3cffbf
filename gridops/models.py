"""Imports every model so that metadata is complete (migrations, create_all)."""

from gridops.auth.models import ApiToken, User
from gridops.cases.models import Case, CaseEvent, CaseNumberCounter, CasePause, CasePhoto, CaseRequest
from gridops.catalogue.models import BigClass, CatalogueChange, FilingStandard, RoutingRule, SmallClass
from gridops.org.models import Department
from gridops.territory.models import Area, AreaLevel, GridLayer, ResponsibilityGrid

__all__ = [
    "ApiToken",
    "Area",
    "AreaLevel",
    "BigClass",
    "Case",
    "CaseEvent",
    "CaseNumberCounter",
    "CasePause",
    "CasePhoto",
    "CaseRequest",
    "CatalogueChange",
    "Department",
    "FilingStandard",
    "GridLayer",
    "ResponsibilityGrid",
    "RoutingRule",
    "SmallClass",
    "User",
]
