"""Administration pages: users, territory import, catalogue, routing, calendar."""
