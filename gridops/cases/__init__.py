"""Cases: the closed-loop workflow from report to closure (domain.md §5)."""
