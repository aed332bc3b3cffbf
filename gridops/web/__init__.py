"""Pages shared by every role: home, language switch, health check."""
