"""Verification of AWS Signature Version 2 (HMAC-SHA1), in the Authorization header or a query string.

Still sent by aws-cli v1's `aws s3 presign` (unless configured for s3v4) and by older s3cmd setups.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime, timedelta

from wsgi_s3.s3 import errors
from wsgi_s3.s3.numbers import parse_uint
from wsgi_s3.s3.sigv4 import SignedRequest, parse_http_date

# Query parameters that are part of the signed resource (botocore's HmacV1Auth list; Amazon's docs).
SUB_RESOURCES = frozenset(
    {
        "accelerate", "acl", "analytics", "cors", "defaultObjectAcl", "delete", "inventory", "lifecycle", "location",
        "logging", "metrics", "notification", "object-lock", "partNumber", "policy", "replication", "requestPayment",
        "response-cache-control", "response-content-disposition", "response-content-encoding",
        "response-content-language", "response-content-type", "response-expires", "restore", "select",
        "select-type", "storageClass", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning",
        "versions", "website",
    }
)
# Seconds since the epoch; ten digits last until 2286, and a longer value is a client sending milliseconds.


def has_v2_header(req: SignedRequest) -> bool:
    return req.headers.get("authorization", "").startswith("AWS ")


def is_presigned_v2(req: SignedRequest) -> bool:
    names = {name for name, _ in req.query}
    return "AWSAccessKeyId" in names and "Signature" in names


def canonical_resource(req: SignedRequest, virtual_bucket: str | None) -> str:
    resource = ("/" + virtual_bucket if virtual_bucket else "") + req.raw_path
    signed = sorted(((name, value) for name, value in req.query if name in SUB_RESOURCES), key=lambda pair: pair[0])
    if signed:
        resource += "?" + "&".join(f"{name}={value}" if value else name for name, value in signed)
    return resource


def string_to_sign(req: SignedRequest, date_or_expires: str, virtual_bucket: str | None) -> str:
    # Values are trimmed, not collapsed inside (botocore's HmacV1Auth and Amazon's examples agree).
    amz = sorted((name, value.strip()) for name, value in req.headers.items() if name.startswith("x-amz-"))
    lines = [
        req.method,
        req.headers.get("content-md5", ""),
        req.headers.get("content-type", ""),
        date_or_expires,
    ]
    return "\n".join(lines) + "\n" + "".join(f"{name}:{value}\n" for name, value in amz) + canonical_resource(req, virtual_bucket)


def signature(secret: str, text: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), text.encode("utf-8", "surrogateescape"), hashlib.sha1).digest()).decode()


def verify(
    req: SignedRequest,
    secret_for: Callable[[str], str | None],
    now: datetime,
    *,
    virtual_bucket: str | None = None,
    max_skew: timedelta = timedelta(minutes=15),
) -> str:
    """Check a SigV2 request; returns the access key. `now` must be timezone-aware."""
    if has_v2_header(req):
        access_key, _, provided = req.headers["authorization"][4:].strip().rpartition(":")
        if not access_key or not provided:
            raise errors.AccessDenied("AWS authentication requires a valid Date or x-amz-date header")
        # With x-amz-date, the Date line is empty and x-amz-date is signed among the x-amz headers.
        raw_date = req.headers.get("x-amz-date") or req.headers.get("date", "")
        moment = parse_http_date(raw_date)
        if moment is None:
            raise errors.AccessDenied("AWS authentication requires a valid Date or x-amz-date header")
        if abs(now - moment) > max_skew:
            raise errors.RequestTimeTooSkewed(RequestTime=raw_date, ServerTime=now.strftime("%Y-%m-%dT%H:%M:%SZ"))
        text = string_to_sign(req, "" if "x-amz-date" in req.headers else req.headers.get("date", ""), virtual_bucket)
    else:
        query = dict(req.query)
        access_key, provided, expires = query["AWSAccessKeyId"], query["Signature"], query.get("Expires", "")
        if not expires:
            raise errors.AccessDenied("Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters")
        # Seconds, not milliseconds: ten digits at most.
        expires_at = parse_uint(
            expires, name="Expires", maximum=9_999_999_999, error=errors.AccessDenied("Invalid date (should be seconds since epoch)")
        )
        if now.timestamp() > expires_at:
            raise errors.AccessDenied("Request has expired", Expires=expires, ServerTime=now.strftime("%Y-%m-%dT%H:%M:%SZ"))
        text = string_to_sign(req, expires, virtual_bucket)
    secret = secret_for(access_key)
    if secret is None:
        raise errors.InvalidAccessKeyId(AWSAccessKeyId=access_key)
    # Bytes, because compare_digest refuses non-ASCII str and the signature is whatever the client sent.
    provided_bytes = provided.encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(signature(secret, text).encode(), provided_bytes):
        raise errors.SignatureDoesNotMatch(
            AWSAccessKeyId=access_key, StringToSign=text, SignatureProvided=provided_bytes.decode("utf-8", "replace")
        )
    return access_key
