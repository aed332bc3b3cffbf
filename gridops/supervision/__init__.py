"""Supervision: the scheduler's jobs, warnings, timeout supervision orders, the inbox."""
