"""Territory: the area hierarchy, grid layers, import/validation/export and the locator."""
