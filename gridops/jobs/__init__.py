"""The scheduler process and its periodic jobs (thin: each calls one service)."""
