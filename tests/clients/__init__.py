"""Real S3 clients (aws-cli v1 and v2, rclone, s3cmd, boto3, the JavaScript SDK v3) against real servers."""
