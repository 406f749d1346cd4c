"""One node's storage engine: SQLite metadata plus immutable blob files."""
