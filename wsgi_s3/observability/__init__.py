"""Metrics and logs shared by every role (beside model: imports nothing above it)."""
