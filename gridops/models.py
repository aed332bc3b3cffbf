"""Imports every model so that metadata is complete (migrations, create_all)."""

from gridops.auth.models import ApiToken, User
from gridops.org.models import Department
from gridops.territory.models import Area, AreaLevel, GridLayer, ResponsibilityGrid

__all__ = ["ApiToken", "Area", "AreaLevel", "Department", "GridLayer", "ResponsibilityGrid", "User"]
