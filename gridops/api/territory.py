"""Territory endpoints: areas as GeoJSON, and locate."""
