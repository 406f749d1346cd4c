"""The Falcon app that speaks S3."""
