"""The seam between S3 semantics and storage."""
