"""The standards catalogue: types, big and small classes, filing standards, routing."""
