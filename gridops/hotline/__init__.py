"""The 12345 hotline desk: callers' contacts, replies, follow-up calls, the gazetteer."""
