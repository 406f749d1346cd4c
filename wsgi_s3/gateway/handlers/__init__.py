"""One module per S3 resource family; each function is named after its AWS operation."""
