"""Evaluation (综合评价): indicators, scores, snapshots, notices, early warnings, campaigns."""
