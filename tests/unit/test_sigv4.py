"""SigV4 verification against signatures made by botocore (and the AWS documentation's examples)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from unittest import mock
from urllib.parse import parse_qsl, quote, urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from wsgi_s3.s3 import errors, sigv4
from wsgi_s3.s3.sigv4 import SignedRequest

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
WHEN = datetime(2026, 11, 26, 2, 43, 0, tzinfo=timezone.utc)
ENDPOINT = "http://s3.example.test:8080"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def secret_for(access_key: str) -> str | None:
    return {ACCESS_KEY: SECRET}.get(access_key)


def to_signed(method: str, url: str, headers: dict[str, str | bytes]) -> SignedRequest:
    """What a WSGI front end would hand over for this request as sent on the wire."""
    parts = urlsplit(url)
    lowered = {name.lower(): value.decode() if isinstance(value, bytes) else value for name, value in headers.items()}
    lowered.setdefault("host", parts.netloc)
    return SignedRequest(method, parts.path, parse_qsl(parts.query, keep_blank_values=True), lowered)


def sign_header(
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    *,
    when: datetime = WHEN,
    service: str = "s3",
    region: str = "us-east-1",
    secret: str = SECRET,
) -> SignedRequest:
    request = AWSRequest(method=method, url=url, headers=headers or {}, data=body)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when.replace(tzinfo=None)):
        S3SigV4Auth(Credentials(ACCESS_KEY, secret), service, region).add_auth(request)
    return to_signed(method, request.url, dict(request.headers))


def presign(
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    *,
    expires: int = 3600,
    when: datetime = WHEN,
    auth: type[S3SigV4QueryAuth] = S3SigV4QueryAuth,
) -> SignedRequest:
    request = AWSRequest(method=method, url=url, headers=headers or {})
    with mock.patch("botocore.auth.get_current_datetime", return_value=when.replace(tzinfo=None)):
        auth(Credentials(ACCESS_KEY, SECRET), "s3", "us-east-1", expires=expires).add_auth(request)
    return to_signed(method, request.url, dict(request.headers))


def replace(req: SignedRequest, **changes: object) -> SignedRequest:
    fields = {"method": req.method, "raw_path": req.raw_path, "query": req.query, "headers": req.headers}
    fields.update(changes)
    return SignedRequest(**fields)  # type: ignore[arg-type]


def with_header(req: SignedRequest, name: str, value: str | None) -> SignedRequest:
    headers = dict(req.headers)
    if value is None:
        del headers[name]
    else:
        headers[name] = value
    return replace(req, headers=headers)


# --- header form ----------------------------------------------------------------------------


def test_header_form_result() -> None:
    req = sign_header("PUT", f"{ENDPOINT}/bucket/key", {"x-amz-meta-a": "b"}, b"hello")
    result = sigv4.verify(req, secret_for, WHEN, region="us-east-1")
    assert result.access_key == ACCESS_KEY
    assert result.region == "us-east-1"
    assert result.amz_date == "20261126T024300Z"
    assert result.scope == "20261126/us-east-1/s3/aws4_request"
    assert result.payload_hash == hashlib.sha256(b"hello").hexdigest()
    assert req.headers["authorization"].endswith("Signature=" + result.seed_signature)
    assert result.signing_key == sigv4.signing_key(SECRET, "20261126", "us-east-1")
    assert sigv4.has_v4_header(req) and not sigv4.is_presigned_v4(req)


def test_aws_documentation_get_object_example() -> None:
    # "Example: GET Object" of the AWS documentation page sig-v4-header-based-auth.
    signature = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    req = SignedRequest(
        "GET",
        "/test.txt",
        [],
        {
            "host": "examplebucket.s3.amazonaws.com",
            "range": "bytes=0-9",
            "x-amz-content-sha256": EMPTY_SHA256,
            "x-amz-date": "20130524T000000Z",
            "authorization": f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20130524/us-east-1/s3/aws4_request,"
            f"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature={signature}",
        },
    )
    result = sigv4.verify(req, secret_for, datetime(2013, 5, 24, 0, 1, tzinfo=timezone.utc))
    assert result.seed_signature == signature


KEYS = [
    "plain.txt",
    "with space",
    "a+b",
    "tilde~x",
    "ünïcødé/文件.txt",
    "literal%2Fpercent",
    "paren(s)",
    "eq=ual",
    "bang!",
    "star*",
    "it's",
    "dir/sub dir/file",
    "semi;colon,comma:colon@at$dollar&amp",
]


@pytest.mark.parametrize("key", KEYS)
def test_keys_as_botocore_sends_them(key: str) -> None:
    # botocore puts the key on the wire with quote(key, safe="/~") and signs that path unchanged.
    req = sign_header("GET", f"{ENDPOINT}/bucket/{quote(key, safe='/~')}")
    sigv4.verify(req, secret_for, WHEN)


@pytest.mark.parametrize("key", KEYS)
def test_keys_left_unencoded_by_the_client(key: str) -> None:
    # A client that signs the encoded path but sends sub-delimiters (and UTF-8) raw.
    req = sign_header("GET", f"{ENDPOINT}/bucket/{quote(key, safe='/~')}")
    raw = "/bucket/" + "".join(c if not c.isascii() else quote(c, safe="/~!$&'()*+,;=:@") for c in key)
    assert sigv4.canonical_uri(raw) == req.raw_path
    sigv4.verify(replace(req, raw_path=raw), secret_for, WHEN)


def test_raw_utf8_and_non_utf8_bytes_in_path() -> None:
    # A WSGI server decodes the request line as latin-1; the caller re-decodes it (SignedRequest's contract).
    signed = sign_header("GET", f"{ENDPOINT}/bucket/%C3%BC%E9")
    wire = "/bucket/".encode() + "ü".encode() + b"\xe9"
    raw = wire.decode("latin-1").encode("latin-1").decode("utf-8", "surrogateescape")
    sigv4.verify(replace(signed, raw_path=raw), secret_for, WHEN)


def test_canonical_uri_keeps_escapes_and_slashes() -> None:
    assert sigv4.canonical_uri("/b/a%2Fb//c/./d/../e") == "/b/a%2Fb//c/./d/../e"
    assert sigv4.canonical_uri("/b/100%") == "/b/100%25"
    assert sigv4.canonical_uri("") == "/"


def test_query_parameters_from_a_real_client() -> None:
    captured = capture_boto3(lambda client: client.list_objects_v2(Bucket="bucket", Prefix="a b/ü+", Delimiter="/"))
    assert ("prefix", "a b/ü+") in captured.query
    sigv4.verify(captured, secret_for, datetime.now(timezone.utc), region="us-east-1")


def test_query_parameters_encoding_and_order() -> None:
    query = [("uploads", ""), ("prefix", "a b~*"), ("max-keys", "2"), ("prefix", "a")]
    assert sigv4.canonical_query(query) == "max-keys=2&prefix=a&prefix=a%20b~%2A&uploads="
    url = f"{ENDPOINT}/bucket?" + "&".join(f"{quote(n, safe='-_.~')}={quote(v, safe='-_.~')}" for n, v in query)
    sigv4.verify(sign_header("GET", url), secret_for, WHEN)


def test_put_object_from_a_real_client() -> None:
    key = "dir/a b+c(d)!*'=~ü%2F.txt"
    captured = capture_boto3(
        lambda client: client.put_object(Bucket="bucket", Key=key, Body=b"hello", Metadata={"k": "v  w"})
    )
    result = sigv4.verify(captured, secret_for, datetime.now(timezone.utc), region="us-east-1")
    assert result.payload_hash == hashlib.sha256(b"hello").hexdigest()


def test_streaming_upload_from_a_real_client() -> None:
    captured = capture_boto3(
        lambda client: client.put_object(Bucket="bucket", Key="k", Body=b"x" * 100, ChecksumAlgorithm="CRC32"),
        endpoint="https://s3.example.test",
    )
    result = sigv4.verify(captured, secret_for, datetime.now(timezone.utc))
    assert result.payload_hash == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


def test_header_values_are_trimmed_and_collapsed() -> None:
    req = sign_header("PUT", f"{ENDPOINT}/bucket/key", {"x-amz-meta-a": "  one   two  three "})
    sigv4.verify(req, secret_for, WHEN)
    sigv4.verify(with_header(req, "x-amz-meta-a", "one two three"), secret_for, WHEN)


def test_date_header_instead_of_x_amz_date() -> None:
    req = sign_header("GET", f"{ENDPOINT}/bucket/key", {"Date": "whatever"})
    assert "x-amz-date" not in req.headers
    result = sigv4.verify(req, secret_for, WHEN + timedelta(minutes=3))
    assert result.amz_date == "20261126T024300Z"


def test_tampering() -> None:
    req = sign_header("PUT", f"{ENDPOINT}/bucket/key?tagging=", {"x-amz-meta-a": "b"}, b"hello")
    sigv4.verify(req, secret_for, WHEN)
    tampered = [
        with_header(req, "x-amz-meta-a", "c"),
        with_header(req, "x-amz-content-sha256", hashlib.sha256(b"other").hexdigest()),
        with_header(req, "host", "other.example.test"),
        replace(req, raw_path="/bucket/key2"),
        replace(req, method="POST"),
        replace(req, query=[("tagging", "x")]),
        replace(req, query=[]),
    ]
    for bad in tampered:
        with pytest.raises(errors.SignatureDoesNotMatch):
            sigv4.verify(bad, secret_for, WHEN)


def test_wrong_secret() -> None:
    req = sign_header("GET", f"{ENDPOINT}/bucket/key", secret="not the secret")
    with pytest.raises(errors.SignatureDoesNotMatch) as raised:
        sigv4.verify(req, secret_for, WHEN)
    assert raised.value.status == 403
    assert raised.value.extra["AWSAccessKeyId"] == ACCESS_KEY
    assert raised.value.extra["CanonicalRequest"].startswith("GET\n/bucket/key\n")


def test_unknown_access_key() -> None:
    req = sign_header("GET", f"{ENDPOINT}/bucket/key")
    with pytest.raises(errors.InvalidAccessKeyId):
        sigv4.verify(req, lambda key: None, WHEN)


@pytest.mark.parametrize("offset", [timedelta(minutes=16), -timedelta(minutes=16), timedelta(days=1)])
def test_clock_skew(offset: timedelta) -> None:
    req = sign_header("GET", f"{ENDPOINT}/bucket/key")
    with pytest.raises(errors.RequestTimeTooSkewed):
        sigv4.verify(req, secret_for, WHEN + offset)
    sigv4.verify(req, secret_for, WHEN + offset, max_skew=abs(offset) + timedelta(seconds=1))


def test_small_skew_is_accepted() -> None:
    req = sign_header("GET", f"{ENDPOINT}/bucket/key")
    sigv4.verify(req, secret_for, WHEN + timedelta(minutes=14))
    sigv4.verify(req, secret_for, WHEN - timedelta(minutes=14))


def test_wrong_region() -> None:
    req = sign_header("GET", f"{ENDPOINT}/bucket/key", region="us-west-2")
    with pytest.raises(errors.AuthorizationHeaderMalformed) as raised:
        sigv4.verify(req, secret_for, WHEN, region="us-east-1")
    assert "the region 'us-west-2' is wrong; expecting 'us-east-1'" in raised.value.message
    assert raised.value.extra == {"Region": "us-east-1"}
    assert sigv4.verify(req, secret_for, WHEN).region == "us-west-2"


def test_wrong_service() -> None:
    req = sign_header("GET", f"{ENDPOINT}/bucket/key", service="ec2")
    with pytest.raises(errors.AuthorizationHeaderMalformed, match='incorrect service "ec2"'):
        sigv4.verify(req, secret_for, WHEN)


def test_scope_date_must_match_request_date() -> None:
    req = sign_header("GET", f"{ENDPOINT}/bucket/key")
    next_day = with_header(req, "x-amz-date", "20261127T024300Z")
    with pytest.raises(errors.AuthorizationHeaderMalformed, match="Invalid credential date"):
        sigv4.verify(next_day, secret_for, WHEN + timedelta(days=1))


def test_host_must_be_signed() -> None:
    req = sign_header("GET", f"{ENDPOINT}/bucket/key")
    authorization = req.headers["authorization"].replace("SignedHeaders=host;", "SignedHeaders=")
    with pytest.raises(errors.AuthorizationHeaderMalformed):
        sigv4.verify(with_header(req, "authorization", authorization), secret_for, WHEN)


def test_missing_content_sha256() -> None:
    req = sign_header("GET", f"{ENDPOINT}/bucket/key")
    with pytest.raises(errors.InvalidRequest, match="Missing required header for this request: x-amz-content-sha256"):
        sigv4.verify(with_header(req, "x-amz-content-sha256", None), secret_for, WHEN)


def test_missing_or_bad_date() -> None:
    req = sign_header("GET", f"{ENDPOINT}/bucket/key")
    for value in (None, "2026-11-26T02:43:00Z", "20261126T0243Z", "20261326T024300Z"):
        with pytest.raises(errors.AccessDenied, match="valid Date or x-amz-date"):
            sigv4.verify(with_header(req, "x-amz-date", value), secret_for, WHEN)


@pytest.mark.parametrize(
    "authorization",
    [
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261126/us-east-1/s3/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261126/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261126/us-east-1/s3, SignedHeaders=host, Signature=ab",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261126/us-east-1/s3/aws4, SignedHeaders=host, "
        "Signature=ab",
        "AWS4-HMAC-SHA1 Credential=AKIAIOSFODNN7EXAMPLE/20261126/us-east-1/s3/aws4_request, SignedHeaders=host, "
        "Signature=ab",
    ],
)
def test_malformed_authorization(authorization: str) -> None:
    req = with_header(sign_header("GET", f"{ENDPOINT}/bucket/key"), "authorization", authorization)
    with pytest.raises(errors.AuthorizationHeaderMalformed):
        sigv4.verify(req, secret_for, WHEN)


def test_non_ascii_signature_and_header_bytes_are_a_mismatch() -> None:
    req = sign_header("GET", f"{ENDPOINT}/bucket/key", {"x-amz-meta-a": "b"})
    authorization = req.headers["authorization"][:-1] + "é"
    with pytest.raises(errors.SignatureDoesNotMatch):
        sigv4.verify(with_header(req, "authorization", authorization), secret_for, WHEN)
    with pytest.raises(errors.SignatureDoesNotMatch) as raised:
        sigv4.verify(with_header(req, "x-amz-meta-a", "b\udcff"), secret_for, WHEN)
    assert "x-amz-meta-a:b\ufffd" in raised.value.extra["CanonicalRequest"]


# --- presigned form -------------------------------------------------------------------------


def test_presigned_result() -> None:
    req = presign("GET", f"{ENDPOINT}/bucket/a%20b%2Bc")
    assert sigv4.is_presigned_v4(req) and not sigv4.has_v4_header(req)
    result = sigv4.verify(req, secret_for, WHEN + timedelta(minutes=59), region="us-east-1")
    assert result.payload_hash == "UNSIGNED-PAYLOAD"
    assert result.amz_date == "20261126T024300Z"
    assert ("X-Amz-Signature", result.seed_signature) in req.query


def test_aws_documentation_presigned_example() -> None:
    # "Example: GET Object" of the AWS documentation page sigv4-query-string-auth.
    signature = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    query = (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2F"
        "aws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        f"&X-Amz-Signature={signature}"
    )
    req = SignedRequest("GET", "/test.txt", parse_qsl(query), {"host": "examplebucket.s3.amazonaws.com"})
    sigv4.verify(req, secret_for, datetime(2013, 5, 24, 12, tzinfo=timezone.utc))


def test_presigned_url_from_a_real_client() -> None:
    client = boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="eu-west-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    url = client.generate_presigned_url(
        "put_object", Params={"Bucket": "bucket", "Key": "a b/(ü)*!'", "ContentType": "text/plain"}, ExpiresIn=60
    )
    req = to_signed("PUT", url, {"content-type": "text/plain"})
    result = sigv4.verify(req, secret_for, datetime.now(timezone.utc), region="eu-west-1")
    assert result.region == "eu-west-1"
    with pytest.raises(errors.SignatureDoesNotMatch):
        sigv4.verify(with_header(req, "content-type", "text/html"), secret_for, datetime.now(timezone.utc))


def test_presigned_with_signed_headers_and_query() -> None:
    url = f"{ENDPOINT}/bucket/key?versionId=3&response-content-type=text%2Fplain"
    req = presign("GET", url, {"range": "bytes=0-9"})
    sigv4.verify(req, secret_for, WHEN)
    with pytest.raises(errors.SignatureDoesNotMatch):
        sigv4.verify(with_header(req, "range", "bytes=0-99"), secret_for, WHEN)
    with pytest.raises(errors.SignatureDoesNotMatch):
        sigv4.verify(replace(req, query=[(n, "4" if n == "versionId" else v) for n, v in req.query]), secret_for, WHEN)
    with pytest.raises(errors.SignatureDoesNotMatch):
        sigv4.verify(replace(req, raw_path="/bucket/other"), secret_for, WHEN)


def test_presigned_expiry() -> None:
    req = presign("GET", f"{ENDPOINT}/bucket/key", expires=60)
    sigv4.verify(req, secret_for, WHEN + timedelta(seconds=60))
    with pytest.raises(errors.AccessDenied, match="Request has expired") as raised:
        sigv4.verify(req, secret_for, WHEN + timedelta(seconds=61))
    assert raised.value.extra["X-Amz-Expires"] == "60"


def test_presigned_not_valid_yet() -> None:
    req = presign("GET", f"{ENDPOINT}/bucket/key")
    sigv4.verify(req, secret_for, WHEN - timedelta(minutes=14))
    with pytest.raises(errors.AccessDenied, match="not valid yet"):
        sigv4.verify(req, secret_for, WHEN - timedelta(minutes=16))


def test_presigned_expires_limits() -> None:
    sigv4.verify(presign("GET", f"{ENDPOINT}/bucket/key", expires=604800), secret_for, WHEN)
    with pytest.raises(errors.AuthorizationQueryParametersError, match="less than a week"):
        sigv4.verify(presign("GET", f"{ENDPOINT}/bucket/key", expires=604801), secret_for, WHEN)
    req = presign("GET", f"{ENDPOINT}/bucket/key")
    bad = [(n, "-1" if n == "X-Amz-Expires" else v) for n, v in req.query]
    with pytest.raises(errors.AuthorizationQueryParametersError, match="should be a number"):
        sigv4.verify(replace(req, query=bad), secret_for, WHEN)
    huge = [(n, "9" * 5000 if n == "X-Amz-Expires" else v) for n, v in req.query]
    with pytest.raises(errors.AuthorizationQueryParametersError, match="less than a week"):
        sigv4.verify(replace(req, query=huge), secret_for, WHEN)


def test_presigned_wrong_region_and_unknown_key() -> None:
    req = presign("GET", f"{ENDPOINT}/bucket/key")
    with pytest.raises(errors.AuthorizationQueryParametersError) as raised:
        sigv4.verify(req, secret_for, WHEN, region="eu-west-1")
    assert "the region 'us-east-1' is wrong; expecting 'eu-west-1'" in raised.value.message
    with pytest.raises(errors.InvalidAccessKeyId):
        sigv4.verify(req, lambda key: None, WHEN)


def test_presigned_missing_parameter() -> None:
    req = presign("GET", f"{ENDPOINT}/bucket/key")
    for name in ("X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"):
        with pytest.raises(errors.AuthorizationQueryParametersError):
            sigv4.verify(replace(req, query=[(n, v) for n, v in req.query if n != name]), secret_for, WHEN)


def test_presigned_wrong_signature() -> None:
    req = presign("GET", f"{ENDPOINT}/bucket/key")
    bad = [(n, "0" * 64 if n == "X-Amz-Signature" else v) for n, v in req.query]
    with pytest.raises(errors.SignatureDoesNotMatch):
        sigv4.verify(replace(req, query=bad), secret_for, WHEN)


class _ContentSha256QueryAuth(S3SigV4QueryAuth):
    """A presigner that puts a payload hash in the query, as some SDKs do when the body is known."""

    def payload(self, request: AWSRequest) -> str:
        return hashlib.sha256(b"body").hexdigest()


def test_presigned_with_content_sha256_in_query() -> None:
    digest = hashlib.sha256(b"body").hexdigest()
    req = presign("PUT", f"{ENDPOINT}/bucket/key?X-Amz-Content-Sha256={digest}", auth=_ContentSha256QueryAuth)
    assert sigv4.verify(req, secret_for, WHEN).payload_hash == digest


def test_presigned_and_authorization_header_together() -> None:
    req = presign("GET", f"{ENDPOINT}/bucket/key")
    with pytest.raises(errors.InvalidArgument, match="Only one auth mechanism"):
        sigv4.verify(with_header(req, "authorization", "AWS4-HMAC-SHA256 x"), secret_for, WHEN)


# --- every x-amz-* header must be signed ----------------------------------------------------


@pytest.mark.parametrize(
    "name, value",
    [("x-amz-copy-source", "/other/secret"), ("x-amz-meta-x", "1"), ("x-amz-decoded-content-length", "5")],
)
def test_unsigned_amz_header_added_to_a_signed_request(name: str, value: str) -> None:
    req = sign_header("PUT", f"{ENDPOINT}/bucket/key", {"x-amz-meta-a": "b"}, b"hello")
    sigv4.verify(req, secret_for, WHEN)
    with pytest.raises(errors.AccessDenied, match="headers present in the request which were not signed") as raised:
        sigv4.verify(with_header(req, name, value), secret_for, WHEN)
    assert raised.value.extra == {"HeadersNotSigned": name}


def test_unsigned_amz_headers_added_to_a_presigned_url() -> None:
    req = presign("PUT", f"{ENDPOINT}/bucket/key")
    added = with_header(with_header(req, "x-amz-copy-source", "/other/secret"), "x-amz-acl", "public-read")
    with pytest.raises(errors.AccessDenied) as raised:
        sigv4.verify(added, secret_for, WHEN)
    assert raised.value.extra == {"HeadersNotSigned": "x-amz-acl, x-amz-copy-source"}
    # x-amzn-trace-id (note the "n") is not an S3 header: SDKs leave it unsigned.
    sigv4.verify(with_header(req, "x-amzn-trace-id", "Root=1-abc"), secret_for, WHEN)


def test_signed_amz_headers_on_a_presigned_url() -> None:
    req = presign("PUT", f"{ENDPOINT}/bucket/key", {"x-amz-meta-a": "b", "x-amz-acl": "private"})
    sigv4.verify(req, secret_for, WHEN)


def test_unsigned_content_sha256_only_when_it_is_the_signed_payload_hash() -> None:
    req = presign("PUT", f"{ENDPOINT}/bucket/key")
    sigv4.verify(with_header(req, "x-amz-content-sha256", "UNSIGNED-PAYLOAD"), secret_for, WHEN)
    # A streaming mode would change how the body is read: that must be signed.
    with pytest.raises(errors.AccessDenied) as raised:
        sigv4.verify(with_header(req, "x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), secret_for, WHEN)
    assert raised.value.extra == {"HeadersNotSigned": "x-amz-content-sha256"}


# --- helpers shared with chunked.py ---------------------------------------------------------


def test_signing_key_and_string_to_sign() -> None:
    # The seed of the AWS documentation's sigv4-streaming example, from its string to sign.
    key = sigv4.signing_key(SECRET, "20130524", "us-east-1")
    canonical_request = "\n".join(
        [
            "PUT",
            "/examplebucket/chunkObject.txt",
            "",
            "content-encoding:aws-chunked\ncontent-length:66824\nhost:s3.amazonaws.com\n"
            "x-amz-content-sha256:STREAMING-AWS4-HMAC-SHA256-PAYLOAD\nx-amz-date:20130524T000000Z\n"
            "x-amz-decoded-content-length:66560\nx-amz-storage-class:REDUCED_REDUNDANCY\n",
            "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
            "x-amz-storage-class",
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        ]
    )
    text = sigv4.string_to_sign(
        "AWS4-HMAC-SHA256",
        "20130524T000000Z",
        "20130524/us-east-1/s3/aws4_request",
        hashlib.sha256(canonical_request.encode()).hexdigest(),
    )
    assert sigv4.sign(key, text) == "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"


# --- capturing what boto3 really sends ------------------------------------------------------


class _Sent(Exception):
    pass


def capture_boto3(call, endpoint: str = ENDPOINT) -> SignedRequest:  # type: ignore[no-untyped-def]
    """The request a boto3 client would send, stopped just before it reaches the network."""
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    sent: list[SignedRequest] = []

    def before_send(request, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(to_signed(request.method, request.url, dict(request.headers)))
        raise _Sent

    client.meta.events.register("before-send", before_send)
    with pytest.raises(_Sent):
        call(client)
    return sent[0]


@pytest.fixture(autouse=True)
def _no_aws_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Keep a developer's ~/.aws settings (checksum mode, profile) out of the signed requests.
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    yield
