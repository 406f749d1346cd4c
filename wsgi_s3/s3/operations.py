"""The route table: request shape (method, target, sub-resource) -> AWS operation and permission."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from wsgi_s3.s3 import errors


@dataclass(frozen=True)
class Operation:
    name: str  # the AWS API name, e.g. "PutObject"
    permission: str  # "read", "write" or "delete"
    source_permission: str | None = None  # also needed on the copy source (x-amz-copy-source)


@dataclass(frozen=True)
class _Rule:
    target: str  # "service", "bucket" or "object"
    method: str
    operation: Operation
    query: str | None = None  # a query parameter that must be present
    header: str | None = None  # a header that must be present


def _rule(
    target: str, method: str, name: str, permission: str, query: str | None = None, header: str | None = None, source: str | None = None
) -> _Rule:
    return _Rule(target, method, Operation(name, permission, source), query, header)


# First match wins, so rules with a sub-resource come before the plain form of the same method.
RULES: tuple[_Rule, ...] = (
    _rule("service", "GET", "ListBuckets", "read"),
    _rule("bucket", "GET", "GetBucketLocation", "read", query="location"),
    _rule("bucket", "GET", "GetBucketVersioning", "read", query="versioning"),
    _rule("bucket", "GET", "GetBucketAcl", "read", query="acl"),
    _rule("bucket", "GET", "GetBucketTagging", "read", query="tagging"),
    _rule("bucket", "GET", "ListMultipartUploads", "read", query="uploads"),
    _rule("bucket", "GET", "ListObjectVersions", "read", query="versions"),
    _rule("bucket", "GET", "GetBucketVersionStats", "read", query="version-stats"),  # the seed's, JSON
    _rule("bucket", "GET", "GetBucketLifecycleConfiguration", "read", query="lifecycle"),
    _rule("bucket", "GET", "ListObjectsV2", "read", query="list-type"),
    _rule("bucket", "GET", "ListObjects", "read"),
    _rule("bucket", "HEAD", "HeadBucket", "read"),
    _rule("bucket", "PUT", "PutBucketAcl", "write", query="acl"),
    _rule("bucket", "PUT", "PutBucketTagging", "write", query="tagging"),
    _rule("bucket", "PUT", "PutBucketVersioning", "write", query="versioning"),
    _rule("bucket", "PUT", "PutBucketLifecycleConfiguration", "write", query="lifecycle"),
    _rule("bucket", "PUT", "CreateBucket", "write"),
    _rule("bucket", "DELETE", "DeleteBucketTagging", "write", query="tagging"),
    # Removing the rules changes a configuration (S3's s3:PutLifecycleConfiguration), deletes no data.
    _rule("bucket", "DELETE", "DeleteBucketLifecycle", "write", query="lifecycle"),
    _rule("bucket", "DELETE", "DeleteBucket", "delete"),
    _rule("bucket", "POST", "DeleteObjects", "delete", query="delete"),
    _rule("object", "GET", "ListParts", "read", query="uploadId"),
    _rule("object", "GET", "GetObjectTagging", "read", query="tagging"),
    _rule("object", "GET", "GetObjectAttributes", "read", query="attributes"),
    _rule("object", "GET", "GetObjectAcl", "read", query="acl"),
    _rule("object", "GET", "GetObject", "read"),
    _rule("object", "HEAD", "HeadObject", "read"),
    _rule("object", "PUT", "PutObjectAcl", "write", query="acl"),
    _rule("object", "PUT", "PutObjectTagging", "write", query="tagging"),
    _rule("object", "PUT", "UploadPartCopy", "write", query="uploadId", header="x-amz-copy-source", source="read"),
    _rule("object", "PUT", "UploadPart", "write", query="uploadId"),
    _rule("object", "PUT", "CopyObject", "write", header="x-amz-copy-source", source="read"),
    _rule("object", "PUT", "PutObject", "write"),
    _rule("object", "POST", "CreateMultipartUpload", "write", query="uploads"),
    _rule("object", "POST", "CompleteMultipartUpload", "write", query="uploadId"),
    _rule("object", "POST", "RestoreObjectVersion", "write", query="restore"),  # the seed's: a version made current
    _rule("object", "DELETE", "AbortMultipartUpload", "delete", query="uploadId"),
    _rule("object", "DELETE", "DeleteObjectTagging", "write", query="tagging"),
    _rule("object", "DELETE", "DeleteObject", "delete"),
)

# Sub-resources of S3 that we do not serve yet: answering them as a plain GET/PUT would be wrong.
UNSUPPORTED_SUBRESOURCES = frozenset(
    {
        "accelerate", "acl", "analytics", "cors", "encryption", "intelligent-tiering", "inventory", "lifecycle",
        "logging", "metrics", "notification", "object-lock", "ownershipControls", "policy", "policyStatus",
        "publicAccessBlock", "replication", "requestPayment", "restore", "retention", "legal-hold", "select",
        "tagging", "torrent", "versions", "website", "attributes",
    }
)


def resolve(method: str, bucket: str | None, key: str | None, query: Mapping[str, str], headers: Mapping[str, str]) -> Operation:
    target = "object" if key else "bucket" if bucket else "service"
    # A sub-resource served for some methods only (GET ?tagging) is still unsupported for the others.
    served = {rule.query for rule in RULES if rule.target == target and rule.method == method}
    for name in query:
        if name in UNSUPPORTED_SUBRESOURCES and name not in served:
            raise errors.NotImplemented_(f"The '{name}' sub-resource is not implemented.")
    for rule in RULES:
        if (
            rule.target == target
            and rule.method == method
            and (rule.query is None or rule.query in query)
            and (rule.header is None or rule.header in headers)
        ):
            return rule.operation
    raise errors.MethodNotAllowed(Method=method, ResourceType=target.upper())
