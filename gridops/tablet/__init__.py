"""The grid worker's tablet app (installable, works offline)."""
