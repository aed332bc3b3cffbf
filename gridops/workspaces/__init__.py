"""Workspaces: the command centre, the unit inbox and the leader view."""
