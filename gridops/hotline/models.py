"""Tables of the hotline package."""
