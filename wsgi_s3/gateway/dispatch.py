"""The S3 entry point: target (bucket, key) from the raw URI, operation, authentication, handler."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, quote, unquote

import falcon

from wsgi_s3.backend.base import Backend
from wsgi_s3.gateway.admission import admit
from wsgi_s3.gateway.auth import Authenticator
from wsgi_s3.gateway.body import MAX_PUT_SIZE
from wsgi_s3.gateway.context import S3Context
from wsgi_s3.gateway.extensions import ENDPOINTS
from wsgi_s3.gateway.extensions.api import find
from wsgi_s3.gateway.handlers import acl, attributes, buckets, lifecycle, listing, multipart, objects, service, tagging, versioning
from wsgi_s3.model.versions import HybridClock
from wsgi_s3.s3 import errors
from wsgi_s3.s3.headers import from_wire
from wsgi_s3.s3.operations import resolve
from wsgi_s3.s3.sigv4 import SignedRequest

HANDLERS: dict[str, Callable[[S3Context], None]] = {
    "ListBuckets": service.list_buckets,
    "CreateBucket": buckets.create_bucket,
    "HeadBucket": buckets.head_bucket,
    "DeleteBucket": buckets.delete_bucket,
    "GetBucketLocation": buckets.get_bucket_location,
    "GetBucketVersioning": versioning.get_bucket_versioning,
    "PutBucketVersioning": versioning.put_bucket_versioning,
    "GetBucketAcl": acl.get_bucket_acl,
    "PutBucketAcl": acl.put_bucket_acl,
    "ListObjects": listing.list_objects,
    "ListObjectsV2": listing.list_objects_v2,
    "PutObject": objects.put_object,
    "GetObject": objects.get_object,
    "HeadObject": objects.head_object,
    "GetObjectTagging": tagging.get_object_tagging,
    "GetObjectAttributes": attributes.get_object_attributes,
    "GetObjectAcl": acl.get_object_acl,
    "PutObjectAcl": acl.put_object_acl,
    "DeleteObject": objects.delete_object,
    "DeleteObjects": objects.delete_objects,
    "CopyObject": objects.copy_object,
    "CreateMultipartUpload": multipart.create_multipart_upload,
    "UploadPart": multipart.upload_part,
    "UploadPartCopy": multipart.upload_part_copy,
    "CompleteMultipartUpload": multipart.complete_multipart_upload,
    "AbortMultipartUpload": multipart.abort_multipart_upload,
    "ListParts": multipart.list_parts,
    "ListMultipartUploads": multipart.list_multipart_uploads,
    "PutObjectTagging": tagging.put_object_tagging,
    "DeleteObjectTagging": tagging.delete_object_tagging,
    "GetBucketTagging": tagging.get_bucket_tagging,
    "PutBucketTagging": tagging.put_bucket_tagging,
    "DeleteBucketTagging": tagging.delete_bucket_tagging,
    "ListObjectVersions": listing.list_object_versions,
    "RestoreObjectVersion": versioning.restore_object_version,
    "GetBucketVersionStats": versioning.get_bucket_version_stats,
    "PutBucketLifecycleConfiguration": lifecycle.put_bucket_lifecycle_configuration,
    "GetBucketLifecycleConfiguration": lifecycle.get_bucket_lifecycle_configuration,
    "DeleteBucketLifecycle": lifecycle.delete_bucket_lifecycle,
}


def request_headers(env: dict) -> dict[str, str]:
    headers = {name[5:].replace("_", "-").lower(): value for name, value in env.items() if name.startswith("HTTP_")}
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if env.get(name):
            headers[name.replace("_", "-").lower()] = env[name]
    return headers


def raw_target(env: dict) -> tuple[str, str]:
    """(raw path, raw query) exactly as the client sent them; SigV4 signs these bytes."""
    raw = env.get("RAW_URI") or env.get("REQUEST_URI")
    if not raw:
        path = quote(env.get("PATH_INFO", "/").encode("latin-1"), safe="/")
        return path, env.get("QUERY_STRING", "")
    if raw.startswith(("http://", "https://")):  # absolute-form request target
        raw = "/" + raw.split("://", 1)[1].partition("/")[2]
    path, _, query = raw.partition("?")
    return path, query


def split_target(host: str, raw_path: str, domain: str) -> tuple[str, str, bool]:
    """(bucket, key, virtual) from virtual-hosted style (<bucket>.<domain>) or path style."""
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    try:
        path = unquote(raw_path, errors="strict")
    except UnicodeDecodeError as exc:
        raise errors.InvalidArgument("The request path is not valid UTF-8") from exc
    if domain and hostname.endswith("." + domain):
        return hostname[: -len(domain) - 1], path[1:], True
    bucket, _, key = path[1:].partition("/")
    return bucket, key, False


class S3Dispatcher:
    """Falcon sink for every S3 request."""

    def __init__(self, backend: Backend, authenticator: Authenticator, *, domain: str, region: str, max_body: int = MAX_PUT_SIZE) -> None:
        self.max_body = max_body  # bytes: one PutObject or one part (max_body_mb)
        self.backend = backend
        self.authenticator = authenticator
        self.domain = domain
        self.region = region
        self.clock = HybridClock()  # one per worker process: its pid is part of the origin

    def __call__(self, req: falcon.Request, resp: falcon.Response, **_: str) -> None:
        env = req.env
        raw_path, raw_query = (from_wire(part) for part in raw_target(env))
        headers = request_headers(env)
        pairs = parse_qsl(raw_query, keep_blank_values=True)
        query = dict(pairs)
        bucket, key, virtual = split_target(headers.get("host", ""), raw_path, self.domain)
        req.context["resource"] = "/" + bucket + ("/" + key if key else "") if bucket else "/"
        # The seed's JSON endpoints (POST /batch, ...): never a request that S3 serves.
        endpoint = None if virtual else find(ENDPOINTS, req.method, raw_path, raw_query, headers)
        operation = endpoint.operation if endpoint else resolve(req.method, bucket or None, key or None, query, headers)
        req.context["operation"] = operation.name
        principal = self.authenticator.authenticate(
            SignedRequest(req.method, raw_path, pairs, {name: from_wire(value) for name, value in headers.items()}),
            bucket if virtual else None,
        )
        req.context["principal"] = principal  # for the access log and the auth metrics
        if endpoint is not None:
            # Each object it names is admitted as the S3 request on it would be (extensions/api.py).
            endpoint.handler(S3Context(req, resp, self.backend, operation, principal, "", "", query, headers, self.region, self.clock), self.authenticator)
            return
        admit(self.backend, self.authenticator, principal, operation, query, bucket, key)
        if operation.name in acl.OPERATIONS_WITH_ACL:
            acl.check_acl_headers(headers)
        ctx = S3Context(req, resp, self.backend, operation, principal, bucket, key, query, headers, self.region, self.clock, self.max_body)
        HANDLERS[operation.name](ctx)
