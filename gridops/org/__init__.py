"""Organisation: handling units (departments and their sub-units)."""
