"""Verification of AWS Signature Version 4 requests, in the Authorization header or a presigned query."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import quote

from wsgi_s3.s3 import errors

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "s3"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_EXPIRES = 604800  # one week, Amazon's limit for X-Amz-Expires
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_AMZ_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
# A percent escape is kept as sent; any other character outside the unreserved set and "/" is one
# the client left unencoded, and gets encoded as every SDK does in its canonical URI.
_PATH_TOKEN = re.compile(r"%[0-9A-Fa-f]{2}|[^A-Za-z0-9\-._~/]")


@dataclass(frozen=True)
class SignedRequest:
    """What verification needs of an HTTP request, independent of any web framework.

    Strings are text: bytes that are not UTF-8 travel as surrogate escapes (PEP 383), which is what a WSGI
    caller gets from `value.encode("latin-1").decode("utf-8", "surrogateescape")`; the signature then
    covers exactly the bytes the client sent.
    """

    method: str
    raw_path: str  # as sent, before "?", still percent-encoded
    query: list[tuple[str, str]]  # decoded (name, value) pairs in order, blank values kept
    headers: Mapping[str, str]  # lower-case names; repeated headers joined with ","


@dataclass(frozen=True)
class SigV4Result:
    """A verified request's identity and the signing context that aws-chunked bodies chain from."""

    access_key: str
    region: str
    amz_date: str  # e.g. 20261126T024300Z
    scope: str  # e.g. 20261126/us-east-1/s3/aws4_request
    signing_key: bytes
    seed_signature: str
    payload_hash: str


def is_presigned_v4(req: SignedRequest) -> bool:
    """Whether the request carries a SigV4 signature in its query string."""
    return any(name == "X-Amz-Algorithm" for name, _ in req.query)


def has_v4_header(req: SignedRequest) -> bool:
    """Whether the request carries a SigV4 Authorization header."""
    return req.headers.get("authorization", "").startswith(ALGORITHM)


def signing_key(secret: str, date: str, region: str, service: str = SERVICE) -> bytes:
    """The derived key for one day, region and service (date as YYYYMMDD)."""
    key = ("AWS4" + secret).encode("utf-8")
    for part in (date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def string_to_sign(algorithm: str, amz_date: str, scope: str, *hashes: str) -> str:
    """The string to sign: algorithm, date and scope, then the variant's own lines (hashes, previous signature)."""
    return "\n".join((algorithm, amz_date, scope, *hashes))


def sign(key: bytes, text: str) -> str:
    """The hex HMAC-SHA256 of `text` under a signing key."""
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def canonical_uri(raw_path: str) -> str:
    """The path as S3 signs it: as sent (no normalising, no double encoding), unencoded characters encoded."""
    encoded = _PATH_TOKEN.sub(lambda m: m[0] if len(m[0]) == 3 else _quote(m[0], ""), raw_path)
    return encoded or "/"


def canonical_query(query: list[tuple[str, str]], *, exclude: str | None = None) -> str:
    """The query as SigV4 signs it: every pair URI-encoded, sorted by name then value."""
    pairs = sorted((_quote(name, "-_.~"), _quote(value, "-_.~")) for name, value in query if name != exclude)
    return "&".join(f"{name}={value}" for name, value in pairs)


def verify(
    req: SignedRequest,
    secret_for: Callable[[str], str | None],
    now: datetime,
    *,
    region: str | None = None,
    max_skew: timedelta = timedelta(minutes=15),
) -> SigV4Result:
    """Check a SigV4 request (header or presigned form) and return its signing context; raise an S3Error if it fails.

    `now` must be timezone-aware. `region`, when given, is the only region accepted in the credential scope.
    """
    if is_presigned_v4(req):
        if "authorization" in req.headers:
            raise errors.InvalidArgument(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string "
                "parameter or the Authorization header should be specified"
            )
        return _verify_query(req, secret_for, now, region, max_skew)
    return _verify_header(req, secret_for, now, region, max_skew)


def _verify_header(
    req: SignedRequest,
    secret_for: Callable[[str], str | None],
    now: datetime,
    region: str | None,
    max_skew: timedelta,
) -> SigV4Result:
    fields = _parse_authorization(req.headers.get("authorization", ""))
    amz_date, when = _header_date(req.headers)
    if abs(now - when) > max_skew:
        raise errors.RequestTimeTooSkewed(
            RequestTime=req.headers.get("x-amz-date") or req.headers["date"],
            ServerTime=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            MaxAllowedSkewMilliseconds=str(int(max_skew.total_seconds() * 1000)),
        )
    payload_hash = req.headers.get("x-amz-content-sha256")
    if payload_hash is None:
        raise errors.InvalidRequest("Missing required header for this request: x-amz-content-sha256")
    return _check(
        req,
        secret_for,
        credential=fields["Credential"],
        signed_headers=fields["SignedHeaders"],
        signature=fields["Signature"],
        amz_date=amz_date,
        region=region,
        payload_hash=payload_hash,
        query=canonical_query(req.query),
        malformed=errors.AuthorizationHeaderMalformed,
        prefix="The authorization header is malformed; ",
    )


def _verify_query(
    req: SignedRequest,
    secret_for: Callable[[str], str | None],
    now: datetime,
    region: str | None,
    max_skew: timedelta,
) -> SigV4Result:
    params: dict[str, str] = {}
    for name, value in req.query:
        params.setdefault(name, value)
    required = (
        "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires"
    )
    if any(name not in params for name in required):
        raise errors.AuthorizationQueryParametersError(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, "
            "X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
        )
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise errors.AuthorizationQueryParametersError(f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    amz_date = params["X-Amz-Date"]
    when = _parse_amz_date(amz_date)
    if when is None:
        raise errors.AuthorizationQueryParametersError(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
        )
    expires = params["X-Amz-Expires"]
    if not re.fullmatch(r"[0-9]+", expires):
        raise errors.AuthorizationQueryParametersError("X-Amz-Expires should be a number")
    # The length test first: int() refuses strings of thousands of digits.
    if len(expires) > 10 or int(expires) > MAX_EXPIRES:
        raise errors.AuthorizationQueryParametersError(
            f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_EXPIRES}"
        )
    # The clock skew allowance also covers a client whose clock is ahead of ours.
    if when - now > max_skew:
        raise errors.AccessDenied("Request is not valid yet")
    if now > when + timedelta(seconds=int(expires)):
        raise errors.AccessDenied(
            "Request has expired",
            **{
                "X-Amz-Expires": expires,
                "Expires": (when + timedelta(seconds=int(expires))).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "ServerTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        )
    return _check(
        req,
        secret_for,
        credential=params["X-Amz-Credential"],
        signed_headers=params["X-Amz-SignedHeaders"],
        signature=params["X-Amz-Signature"],
        amz_date=amz_date,
        region=region,
        # A presigned URL cannot know its body, so it signs this constant unless the client chose a hash.
        payload_hash=next((v for n, v in req.query if n.lower() == "x-amz-content-sha256"), UNSIGNED_PAYLOAD),
        query=canonical_query(req.query, exclude="X-Amz-Signature"),
        malformed=errors.AuthorizationQueryParametersError,
        prefix="Error parsing the X-Amz-Credential parameter; ",
    )


def _check(
    req: SignedRequest,
    secret_for: Callable[[str], str | None],
    *,
    credential: str,
    signed_headers: str,
    signature: str,
    amz_date: str,
    region: str | None,
    payload_hash: str,
    query: str,
    malformed: type[errors.S3Error],
    prefix: str,
) -> SigV4Result:
    """The part both forms share: scope checks, canonical request, signature comparison."""
    parts = credential.split("/")
    if len(parts) != 5 or not all(parts):
        raise malformed(
            prefix + 'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
        )
    access_key, date, scope_region, service, terminator = parts
    if date != amz_date[:8]:
        raise malformed(prefix + "Invalid credential date. Date is not the same as X-Amz-Date.")
    if region is not None and scope_region != region:
        raise malformed(prefix + f"the region '{scope_region}' is wrong; expecting '{region}'", Region=region)
    if service != SERVICE:
        raise malformed(prefix + f'incorrect service "{service}". This endpoint belongs to "{SERVICE}".')
    if terminator != TERMINATOR:
        raise malformed(prefix + f'incorrect terminal "{terminator}". This endpoint uses "{TERMINATOR}".')
    names = signed_headers.split(";")
    if "host" not in names:
        raise malformed(prefix + "the host header must be signed.")
    _check_all_amz_signed(req.headers, names, payload_hash)
    secret = secret_for(access_key)
    if secret is None:
        raise errors.InvalidAccessKeyId(AWSAccessKeyId=access_key)

    canonical_request = "\n".join(
        (
            req.method,
            canonical_uri(req.raw_path),
            query,
            "".join(f"{name}:{_trim(req.headers.get(name, ''))}\n" for name in names),
            signed_headers,
            payload_hash,
        )
    )
    scope = "/".join((date, scope_region, SERVICE, TERMINATOR))
    hashed = hashlib.sha256(_wire(canonical_request)).hexdigest()
    to_sign = string_to_sign(ALGORITHM, amz_date, scope, hashed)
    key = signing_key(secret, date, scope_region)
    expected = sign(key, to_sign)
    # Bytes, because compare_digest refuses non-ASCII str and the signature is whatever the client sent.
    if not hmac.compare_digest(expected.encode(), _wire(signature)):
        # Amazon shows these so that client authors can see where their canonical request differs.
        raise errors.SignatureDoesNotMatch(
            AWSAccessKeyId=access_key,
            StringToSign=to_sign,
            SignatureProvided=_wire(signature).decode("utf-8", "replace"),
            CanonicalRequest=_wire(canonical_request).decode("utf-8", "replace"),
        )
    return SigV4Result(
        access_key=access_key,
        region=scope_region,
        amz_date=amz_date,
        scope=scope,
        signing_key=key,
        seed_signature=expected,
        payload_hash=payload_hash,
    )


def _check_all_amz_signed(headers: Mapping[str, str], signed: list[str], payload_hash: str) -> None:
    """Refuse x-amz-* headers the signature does not cover, as S3 does: they change what a request does
    (x-amz-copy-source turns a PUT into a copy), so an unsigned one could be added to a captured request
    or a presigned URL. x-amz-content-sha256 may go unsigned when it carries the payload hash that the
    canonical request signs anyway (always so in the header form)."""
    unsigned = [
        name for name in sorted(headers)
        if name.startswith("x-amz-") and name not in signed
        and not (name == "x-amz-content-sha256" and headers[name] == payload_hash)
    ]
    if unsigned:
        raise errors.AccessDenied(
            "There were headers present in the request which were not signed", HeadersNotSigned=", ".join(unsigned)
        )


def _parse_authorization(value: str) -> dict[str, str]:
    algorithm, _, rest = value.partition(" ")
    if algorithm != ALGORITHM:
        raise errors.AuthorizationHeaderMalformed()
    fields: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, field = item.strip().partition("=")
        if sep:
            fields[name] = field.strip()
    if not all(fields.get(name) for name in ("Credential", "SignedHeaders", "Signature")):
        raise errors.AuthorizationHeaderMalformed()
    return fields


def _header_date(headers: Mapping[str, str]) -> tuple[str, datetime]:
    """The request time (x-amz-date, else Date) as signed (basic ISO 8601) and as a datetime."""
    amz = headers.get("x-amz-date")
    when: datetime | None = None
    if amz is not None:
        when = _parse_amz_date(amz)
    elif "date" in headers:
        when = parse_http_date(headers["date"])
    if when is None:
        raise errors.AccessDenied("AWS authentication requires a valid Date or x-amz-date header")
    return when.astimezone(timezone.utc).strftime(_AMZ_DATE_FORMAT), when


def parse_http_date(value: str) -> datetime | None:
    """An HTTP Date (RFC 1123 and the older forms) as an aware datetime; None if it is not one."""
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    # A date without a zone, or with "-0000" ("zone unknown"), comes back naive; HTTP dates are GMT.
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when


def _parse_amz_date(value: str) -> datetime | None:
    # strptime alone would accept one-digit fields and non-ASCII digits.
    if not _AMZ_DATE.fullmatch(value):
        return None
    try:
        return datetime.strptime(value, _AMZ_DATE_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _wire(text: str) -> bytes:
    # Surrogate escapes stand for the client's non-UTF-8 bytes (see SignedRequest).
    return text.encode("utf-8", "surrogateescape")


def _quote(text: str, safe: str) -> str:
    # AWS URI-encoding: %XX upper-case over the UTF-8 bytes (surrogate escapes give back the bytes as sent).
    return quote(text, safe=safe, errors="surrogateescape")


def _trim(value: str) -> str:
    # SigV4's Trimall: no outer whitespace, inner runs of spaces collapsed to one.
    return " ".join(value.split())
