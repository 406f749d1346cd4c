"""The vocabulary every floor shares; no I/O."""
