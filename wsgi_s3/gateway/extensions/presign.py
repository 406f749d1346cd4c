"""POST /presign: a SigV4 presigned URL for one object operation, signed with the caller's own
credential, that any HTTP client can use as it is (the seed's
`{"bucket","key","operation","expires"}` -> `{"url"}`)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from wsgi_s3.gateway.auth import Authenticator
from wsgi_s3.gateway.context import S3Context
from wsgi_s3.gateway.extensions import api
from wsgi_s3.s3 import errors, sigv4
from wsgi_s3.s3.names import check_bucket_name, check_key

METHODS = ("GET", "PUT", "DELETE", "HEAD")
DEFAULT_EXPIRES = 3600


def presign(ctx: S3Context, authenticator: Authenticator) -> None:
    document = api.read_json(ctx)
    bucket, key = api.text(document, "bucket"), api.text(document, "key")
    check_bucket_name(bucket)
    check_key(key)
    method = api.text(document, "operation")
    if method not in METHODS:
        raise errors.InvalidArgument(f"operation must be one of {', '.join(METHODS)}", ArgumentName="operation", ArgumentValue=method)
    # Longer than S3 allows is granted as S3's longest (a week), and the answer says so.
    expires = min(api.integer(document, "expires", minimum=1, default=DEFAULT_EXPIRES), sigv4.MAX_EXPIRES)
    # The URL may do exactly what the caller may do now (it is checked again when it is used).
    api.authorize(ctx, authenticator, method, bucket, key)
    credential = ctx.principal.credential
    if credential is None or not credential.access_key or not credential.secret_key:
        raise errors.AccessDenied("Presigning needs a credential with an access key and secret (anonymous requests and the -auth_token have none).")
    host = ctx.headers.get("host", "")
    if not host:
        raise errors.InvalidRequest("A presigned URL is made for the Host the request names; this one names none.")
    path = api.object_path(bucket, key)
    query = presigned_query(method, path, host, credential.access_key, credential.secret_key, ctx.region, expires, datetime.now(timezone.utc))
    api.answer(ctx, {"url": f"{ctx.req.scheme}://{host}{path}?{query}", "expires": expires})


def presigned_query(method: str, path: str, host: str, access_key: str, secret_key: str, region: str, expires: int, now: datetime) -> str:
    """The query string of a SigV4 presigned URL (host signed, payload unsigned), as the SDKs make it."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    scope = "/".join((amz_date[:8], region, sigv4.SERVICE, sigv4.TERMINATOR))
    pairs = [
        ("X-Amz-Algorithm", sigv4.ALGORITHM),
        ("X-Amz-Credential", f"{access_key}/{scope}"),
        ("X-Amz-Date", amz_date),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", "host"),
    ]
    query = sigv4.canonical_query(pairs)
    canonical_request = "\n".join((method, sigv4.canonical_uri(path), query, f"host:{host}\n", "host", sigv4.UNSIGNED_PAYLOAD))
    hashed = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    key = sigv4.signing_key(secret_key, amz_date[:8], region)
    signature = sigv4.sign(key, sigv4.string_to_sign(sigv4.ALGORITHM, amz_date, scope, hashed))
    return f"{query}&X-Amz-Signature={signature}"
