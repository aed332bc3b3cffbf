"""Open311 GeoReport v2 for outside systems."""
