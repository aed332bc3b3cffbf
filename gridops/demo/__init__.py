"""The demo city: real Nanyang district boundaries, generated subdivisions, demo staff."""
