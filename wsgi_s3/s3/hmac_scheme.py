"""The seed's own signature scheme: `Authorization: S3-HMAC-SHA256 AccessKey=<id>,Signature=<sig>`.

The client signs, with HMAC-SHA256 under its secret key and base64 of the digest:

    METHOD \\n TARGET \\n DATE [\\n name:value for each x-amz-* header, sorted by name]

TARGET is the path as sent (still percent-encoded), followed by `?` and the query in SigV4's
canonical form (sorted, URI-encoded) when there is one; DATE is the request's Date header as sent,
either `20261201T120000Z` (the seed's example) or an HTTP date. Without a query and without x-amz-*
headers this is exactly the seed's `PUT\\n/mybucket/file.txt\\n$DATE`. The query and the x-amz-*
headers are covered so that a captured signature cannot be replayed as another operation (a copy
from another object, say). The body is not covered: send Content-MD5 to protect it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone

from wsgi_s3.s3 import errors
from wsgi_s3.s3.sigv4 import SignedRequest, canonical_query, parse_http_date

SCHEME = "S3-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)  # as SigV4 allows
_BASIC_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_FIELD = re.compile(r"\s*(AccessKey|Signature)=([^,\s]+)\s*")


def has_hmac(headers: Mapping[str, str]) -> bool:
    return headers.get("authorization", "").startswith(SCHEME + " ")


def parse(value: str) -> tuple[str, str]:
    """(access key, signature) of the header's value."""
    fields: dict[str, str] = {}
    for item in value[len(SCHEME) + 1 :].split(","):
        match = _FIELD.fullmatch(item)
        if not match or match.group(1) in fields:
            raise errors.AuthorizationHeaderMalformed()
        fields[match.group(1)] = match.group(2)
    if set(fields) != {"AccessKey", "Signature"}:
        raise errors.AuthorizationHeaderMalformed()
    return fields["AccessKey"], fields["Signature"]


def parse_date(value: str) -> datetime | None:
    """`20261201T120000Z` or an HTTP date, as an aware datetime; None if it is neither."""
    if _BASIC_DATE.fullmatch(value):
        try:
            return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            return None
    return parse_http_date(value) if value else None


def string_to_sign(req: SignedRequest) -> str:
    target = req.raw_path + ("?" + canonical_query(req.query) if req.query else "")
    amz = sorted((name, " ".join(value.split())) for name, value in req.headers.items() if name.startswith("x-amz-"))
    return "\n".join([req.method, target, req.headers.get("date", ""), *(f"{name}:{value}" for name, value in amz)])


def signature(secret: str, text: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8", "surrogateescape"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(req: SignedRequest, secret_for: Callable[[str], str | None], now: datetime, max_skew: timedelta = MAX_SKEW) -> str:
    """The access key of a correctly signed, timely request; an S3 error otherwise."""
    access_key, claimed = parse(req.headers["authorization"])
    when = parse_date(req.headers.get("date", ""))
    if when is None:
        raise errors.AccessDenied(f"{SCHEME} requires a valid Date header (e.g. 20261201T120000Z)")
    if abs(now - when) > max_skew:
        raise errors.RequestTimeTooSkewed(
            RequestTime=req.headers["date"],
            ServerTime=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            MaxAllowedSkewMilliseconds=str(int(max_skew.total_seconds() * 1000)),
        )
    secret = secret_for(access_key)
    if secret is None:
        raise errors.InvalidAccessKeyId()
    if not hmac.compare_digest(signature(secret, string_to_sign(req)).encode(), claimed.encode("utf-8", "surrogateescape")):
        raise errors.SignatureDoesNotMatch()
    return access_key
