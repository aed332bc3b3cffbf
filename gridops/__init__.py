"""gridops: grid-based urban management dispatch."""

from gridops.app import create_app

__all__ = ["create_app"]
