"""The seed's non-S3 endpoints and the gateway's wrappers around them, one module each."""
