"""The S3 protocol: auth, XML, errors, headers; no Falcon, no storage, no sockets."""
