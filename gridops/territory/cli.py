"""`gridops grids …`: import and export the territory layer."""

from flask.cli import AppGroup

grids_cli = AppGroup("grids", help="Import and export the territory grid layer.")
