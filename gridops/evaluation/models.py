"""Tables of the evaluation package."""
