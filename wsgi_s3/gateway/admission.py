"""Whether a principal may do an operation on a bucket and key: the checks every S3 request passes
before its handler runs, shared with the JSON endpoints that act on many objects (extensions/)."""

from __future__ import annotations

from collections.abc import Mapping

from wsgi_s3.backend.base import Backend
from wsgi_s3.gateway.auth import Authenticator, Principal
from wsgi_s3.s3 import errors
from wsgi_s3.s3.names import check_bucket_name, check_key
from wsgi_s3.s3.operations import Operation


def admit(
    backend: Backend, authenticator: Authenticator, principal: Principal, operation: Operation, query: Mapping[str, str], bucket: str, key: str
) -> None:
    named = bool(bucket) and operation.name != "CreateBucket"
    if named:
        # An invalid name can name no existing bucket (nor the internal ones, named ".…").
        try:
            check_bucket_name(bucket)
        except errors.InvalidBucketName:
            raise errors.NoSuchBucket(BucketName=bucket) from None
    try:
        authenticator.authorize(principal, operation, query, bucket, key)
    except errors.AccessDenied:
        # S3 says that a bucket does not exist before it says who may not use it.
        if named:
            backend.get_bucket(bucket)
        raise
    if key:
        check_key(key)
