"""Bad input over plain HTTP gets Amazon's S3 error (code, status, XML body, request id) and loses nothing.

Requests are built by hand (signed with botocore's S3SigV4Auth, aws-chunked bodies framed and signed
here), so that each one can be wrong in exactly one way; the boto3 `s3` fixture then checks that no
write became visible and that the old object is intact.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import time
import uuid
import xml.etree.ElementTree as ET
import zlib
from datetime import datetime, timedelta, timezone
from unittest import mock
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import pytest
import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.conftest import ACCESS_KEY, REGION, SECRET_KEY, make_client

OLD = b"the old contents, which must survive every failed write"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# A generous bound, so that a hang (an XML bomb being expanded) fails the test instead of stalling the run.
HTTP = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=10, read=60))


# requests


class _Signer(S3SigV4Auth):
    """S3SigV4Auth that signs a given x-amz-content-sha256 (a streaming mode, or a deliberately wrong hash)."""

    def __init__(self, access_key: str, secret_key: str, payload_hash: str | None) -> None:
        super().__init__(Credentials(access_key, secret_key), "s3", REGION)
        self.payload_hash = payload_hash

    def payload(self, request: AWSRequest) -> str:
        return self.payload_hash or super().payload(request)


def sign(
    method: str,
    url: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    access_key: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
    payload_hash: str | None = None,
    when: datetime | None = None,
) -> dict[str, str]:
    """The headers of a SigV4-signed request (Host is added by the HTTP client, as botocore expects)."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    signer = _Signer(access_key, secret_key, payload_hash)
    with mock.patch("botocore.auth.get_current_datetime", return_value=(when or datetime.now(timezone.utc)).replace(tzinfo=None)):
        signer.add_auth(request)
    return dict(request.headers.items())


def send(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> urllib3.BaseHTTPResponse:
    # A body-less GET/HEAD/DELETE sends no Content-Length; writes always do, even when empty.
    payload = body if body or method in ("PUT", "POST") else None
    return HTTP.request(method, url, body=payload, headers=headers or {}, redirect=False)


def signed(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None, **options) -> urllib3.BaseHTTPResponse:
    return send(method, url, body, sign(method, url, body, headers, **options))


def object_url(server, bucket: str, key: str, query: str = "") -> str:
    return f"{server.endpoint}/{bucket}/{quote(key, safe='/~')}" + (f"?{query}" if query else "")


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def crc32(data: bytes) -> str:
    return b64(zlib.crc32(data).to_bytes(4, "big"))


# assertions


def assert_error(resp: urllib3.BaseHTTPResponse, status: int, code: str, resource: str) -> ET.Element:
    """Amazon's error shape: status, x-amz-request-id, <Error> with Code, Message, Resource and the same RequestId."""
    assert resp.status == status, resp.data[:500]
    request_id = resp.headers.get("x-amz-request-id")
    assert request_id
    root = ET.fromstring(resp.data)
    assert root.tag == "Error"
    assert [child.tag for child in root][:2] == ["Code", "Message"]
    assert root.findtext("Code") == code, root.findtext("Message")
    assert root.findtext("Message")
    assert root.findtext("Resource") == resource
    assert root.findtext("RequestId") == request_id
    return root


def assert_intact(s3, bucket: str, key: str, data: bytes = OLD) -> None:
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data


def assert_absent(s3, bucket: str, key: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key=key)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert key not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


@pytest.fixture
def old(s3, bucket: str) -> str:
    """A key holding OLD, for writes that must leave it alone."""
    s3.put_object(Bucket=bucket, Key="old", Body=OLD)
    return "old"


# authentication


def test_a_correctly_signed_put_works(server, s3, bucket):
    """The baseline every failure below differs from in one way."""
    resp = signed("PUT", object_url(server, bucket, "good"), b"new bytes")
    assert resp.status == 200, resp.data
    assert resp.headers["ETag"] == f'"{hashlib.md5(b"new bytes").hexdigest()}"'
    assert_intact(s3, bucket, "good", b"new bytes")


@pytest.mark.parametrize(
    ("options", "status", "code"),
    [
        ({"secret_key": "not-the-secret-key-at-all-0000000000000000"}, 403, "SignatureDoesNotMatch"),
        ({"access_key": "WS3UNKNOWNACCESSKEY0"}, 403, "InvalidAccessKeyId"),
        ({"when": datetime.now(timezone.utc) - timedelta(minutes=20)}, 403, "RequestTimeTooSkewed"),
    ],
    ids=["wrong-secret", "unknown-access-key", "dated-20-minutes-ago"],
)
def test_badly_signed_put_is_refused(server, s3, bucket, old, options, status, code):
    url = object_url(server, bucket, old)
    resp = signed("PUT", url, b"overwritten", **options)
    assert_error(resp, status, code, f"/{bucket}/{old}")
    assert_intact(s3, bucket, old)


def test_refusals_carry_amazons_details(server, bucket, old):
    """The extra elements clients and people debug with: the key id, the server's clock and skew allowance."""
    url = object_url(server, bucket, old)
    unknown = assert_error(signed("GET", url, access_key="WS3UNKNOWNACCESSKEY0"), 403, "InvalidAccessKeyId", f"/{bucket}/{old}")
    assert unknown.findtext("AWSAccessKeyId") == "WS3UNKNOWNACCESSKEY0"
    skewed = signed("GET", url, when=datetime.now(timezone.utc) - timedelta(minutes=20))
    root = assert_error(skewed, 403, "RequestTimeTooSkewed", f"/{bucket}/{old}")
    assert root.findtext("MaxAllowedSkewMilliseconds") == "900000"
    assert root.findtext("ServerTime") and root.findtext("RequestTime")
    wrong = assert_error(signed("GET", url, secret_key="x" * 40), 403, "SignatureDoesNotMatch", f"/{bucket}/{old}")
    assert wrong.findtext("AWSAccessKeyId") == ACCESS_KEY
    assert wrong.findtext("CanonicalRequest").startswith(f"GET\n/{bucket}/{old}\n")


def test_unsigned_put_is_access_denied(server, s3, bucket, old):
    resp = send("PUT", object_url(server, bucket, old), b"overwritten")
    assert_error(resp, 403, "AccessDenied", f"/{bucket}/{old}")
    assert_intact(s3, bucket, old)


def test_unsigned_get_is_access_denied(server, bucket, old):
    resp = send("GET", object_url(server, bucket, old))
    assert_error(resp, 403, "AccessDenied", f"/{bucket}/{old}")
    assert OLD not in resp.data


def test_header_changed_after_signing_does_not_match(server, s3, bucket, old):
    url = object_url(server, bucket, old)
    headers = sign("PUT", url, b"overwritten", {"x-amz-meta-colour": "blue"})
    headers["x-amz-meta-colour"] = "red"
    assert_error(send("PUT", url, b"overwritten", headers), 403, "SignatureDoesNotMatch", f"/{bucket}/{old}")
    assert_intact(s3, bucket, old)


def test_path_changed_after_signing_does_not_match(server, s3, bucket, old):
    signed_url, sent_url = object_url(server, bucket, "elsewhere"), object_url(server, bucket, old)
    headers = sign("PUT", signed_url, b"overwritten")
    assert_error(send("PUT", sent_url, b"overwritten", headers), 403, "SignatureDoesNotMatch", f"/{bucket}/{old}")
    assert_intact(s3, bucket, old)
    assert_absent(s3, bucket, "elsewhere")


def test_query_changed_after_signing_does_not_match(server, bucket, old):
    headers = sign("GET", object_url(server, bucket, old, "response-content-type=text%2Fplain"))
    resp = send("GET", object_url(server, bucket, old, "response-content-type=text%2Fhtml"), headers=headers)
    assert_error(resp, 403, "SignatureDoesNotMatch", f"/{bucket}/{old}")


@pytest.mark.parametrize(
    "authorization",
    [
        "AWS4-HMAC-SHA256 Credential=WS3TESTACCESSKEY0001/20250101/us-east-1/s3/aws4_request",
        "AWS4-HMAC-SHA256 Credential=WS3TESTACCESSKEY0001/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=WS3TESTACCESSKEY0001/{date}/us-east-1/s3/aws4_request, SignedHeaders=x-amz-date, Signature=00",
        "AWS4-HMAC-SHA256",
    ],
    ids=["no-signature", "short-credential", "host-not-signed", "nothing"],
)
def test_malformed_authorization_header(server, s3, bucket, old, authorization):
    url = object_url(server, bucket, old)
    headers = sign("PUT", url, b"overwritten")
    headers["Authorization"] = authorization.format(date=headers["X-Amz-Date"][:8])
    assert_error(send("PUT", url, b"overwritten", headers), 400, "AuthorizationHeaderMalformed", f"/{bucket}/{old}")
    assert_intact(s3, bucket, old)


# presigned URLs


@pytest.fixture(scope="module")
def v4(server) -> object:
    """A client that presigns with SigV4 (boto3's default for S3 presigning is still SigV2)."""
    return make_client(server.endpoint, signature_version="s3v4")


def test_sigv2_presigned_get_from_a_default_boto3_client(server, s3, bucket, old):
    """DESIGN.md: SigV2 query-string URLs (what boto3 and aws-cli v1 presign by default) are accepted."""
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": old}, ExpiresIn=300)
    assert "AWSAccessKeyId=" in url
    resp = send("GET", url)
    assert (resp.status, resp.data) == (200, OLD)


def test_presigned_get_works_with_a_plain_http_client(server, s3, v4, bucket, old):
    url = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": old}, ExpiresIn=300)
    resp = send("GET", url)
    assert resp.status == 200
    assert resp.data == OLD


def test_presigned_put_works_with_a_plain_http_client(server, s3, v4, bucket):
    url = v4.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "uploaded"}, ExpiresIn=300)
    resp = send("PUT", url, b"sent through a presigned URL")
    assert resp.status == 200, resp.data
    assert_intact(s3, bucket, "uploaded", b"sent through a presigned URL")


def test_expired_presigned_urls_are_access_denied(server, s3, v4, bucket, old):
    get_url = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": old}, ExpiresIn=1)
    put_url = v4.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": old}, ExpiresIn=1)
    time.sleep(2)
    get = send("GET", get_url)
    assert_error(get, 403, "AccessDenied", f"/{bucket}/{old}")
    assert OLD not in get.data
    assert_error(send("PUT", put_url, b"overwritten"), 403, "AccessDenied", f"/{bucket}/{old}")
    assert_intact(s3, bucket, old)


def _tamper(url: str, how: str, bucket: str, old: str) -> str:
    parts = urlsplit(url)
    if how == "path":
        return urlunsplit(parts._replace(path=f"/{bucket}/other"))
    if how == "expires":
        return urlunsplit(parts._replace(query=parts.query.replace("X-Amz-Expires=300", "X-Amz-Expires=600")))
    if how == "signature":
        query = parts.query
        index = query.index("X-Amz-Signature=") + len("X-Amz-Signature=")
        flipped = "0" if query[index] != "0" else "1"
        return urlunsplit(parts._replace(query=query[:index] + flipped + query[index + 1 :]))
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["path", "expires", "signature"])
def test_tampered_presigned_get_does_not_match(server, s3, v4, bucket, old, how):
    s3.put_object(Bucket=bucket, Key="other", Body=b"another object")
    url = _tamper(v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": old}, ExpiresIn=300), how, bucket, old)
    resp = send("GET", url)
    assert_error(resp, 403, "SignatureDoesNotMatch", unquote(urlsplit(url).path))
    assert OLD not in resp.data and b"another object" not in resp.data


@pytest.mark.parametrize("how", ["path", "expires", "signature"])
def test_tampered_presigned_put_stores_nothing(server, s3, v4, bucket, old, how):
    url = _tamper(v4.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": old}, ExpiresIn=300), how, bucket, old)
    assert_error(send("PUT", url, b"overwritten"), 403, "SignatureDoesNotMatch", unquote(urlsplit(url).path))
    assert_intact(s3, bucket, old)
    assert_absent(s3, bucket, "other")


# digests of a plain body


def test_content_sha256_that_does_not_match_the_body(server, s3, bucket, old):
    url = object_url(server, bucket, old)
    resp = signed("PUT", url, b"overwritten", payload_hash=hashlib.sha256(b"something else").hexdigest())
    assert_error(resp, 400, "XAmzContentSHA256Mismatch", f"/{bucket}/{old}")
    assert_intact(s3, bucket, old)


def test_content_sha256_mismatch_on_a_new_key_stores_nothing(server, s3, bucket):
    url = object_url(server, bucket, "new")
    resp = signed("PUT", url, b"new bytes", payload_hash=hashlib.sha256(b"new bytez").hexdigest())
    assert_error(resp, 400, "XAmzContentSHA256Mismatch", f"/{bucket}/new")
    assert_absent(s3, bucket, "new")


@pytest.mark.parametrize(
    ("header", "value", "code"),
    [
        ("Content-MD5", b64(hashlib.md5(b"something else").digest()), "BadDigest"),
        ("Content-MD5", "not base64!", "InvalidDigest"),
        ("Content-MD5", b64(b"too short"), "InvalidDigest"),
        ("x-amz-checksum-crc32", crc32(b"something else"), "BadDigest"),
        ("x-amz-checksum-sha256", b64(hashlib.sha256(b"something else").digest()), "BadDigest"),
    ],
    ids=["md5-wrong", "md5-not-base64", "md5-wrong-length", "crc32-wrong", "sha256-wrong"],
)
def test_wrong_digest_headers(server, s3, bucket, old, header, value, code):
    url = object_url(server, bucket, old)
    resp = signed("PUT", url, b"overwritten", {header: value})
    assert_error(resp, 400, code, f"/{bucket}/{old}")
    assert_intact(s3, bucket, old)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Content-MD5", b64(hashlib.md5(b"overwritten").digest())),
        ("x-amz-checksum-crc32", crc32(b"overwritten")),
        ("x-amz-checksum-sha256", b64(hashlib.sha256(b"overwritten").digest())),
    ],
    ids=["md5", "crc32", "sha256"],
)
def test_right_digest_headers_are_accepted(server, s3, bucket, old, header, value):
    """The other side of test_wrong_digest_headers: the same request with a matching digest writes."""
    resp = signed("PUT", object_url(server, bucket, old), b"overwritten", {header: value})
    assert resp.status == 200, resp.data
    assert_intact(s3, bucket, old, b"overwritten")


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("x-amz-checksum-crc32", "not base64!"),
        ("x-amz-checksum-crc32", b64(b"\x00" * 8)),
        ("x-amz-checksum-sha256", b64(b"\x00" * 4)),
    ],
    ids=["crc32-not-base64", "crc32-8-bytes", "sha256-4-bytes"],
)
def test_checksum_header_that_is_not_a_checksum(server, s3, bucket, old, header, value):
    """Amazon: InvalidRequest "Value for x-amz-checksum-... header is invalid." (it is not a digest at all)."""
    resp = signed("PUT", object_url(server, bucket, old), b"overwritten", {header: value})
    assert_error(resp, 400, "InvalidRequest", f"/{bucket}/{old}")
    assert_intact(s3, bucket, old)


# bodies that end early


def _raw_put(server, bucket: str, key: str, declared: int, sent: bytes) -> bytes:
    """A signed PUT that declares `declared` bytes, sends `sent`, then closes its write side; the raw answer."""
    url = object_url(server, bucket, key)
    headers = sign("PUT", url, b"", {"Content-Length": str(declared)}, payload_hash="UNSIGNED-PAYLOAD")
    head = f"PUT /{bucket}/{quote(key)} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(head.encode("ascii") + sent)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while data := sock.recv(65536):
            answer += data
    return answer


def _assert_incomplete(answer: bytes) -> None:
    # The server may close without answering; if it answers, it is Amazon's IncompleteBody.
    if answer:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 "), answer[:500]
        assert b"\r\nx-amz-request-id: " in head.lower()
        assert ET.fromstring(body).findtext("Code") == "IncompleteBody"


def test_truncated_body_stores_nothing(server, s3, bucket):
    _assert_incomplete(_raw_put(server, bucket, "truncated", 1000, b"x" * 500))
    assert_absent(s3, bucket, "truncated")
    assert s3.list_buckets()["Buckets"]  # the server still answers


def test_truncated_body_keeps_the_old_object(server, s3, bucket, old):
    _assert_incomplete(_raw_put(server, bucket, old, 1000, b"x" * 500))
    assert_intact(s3, bucket, old)


def test_raw_put_sends_what_it_declares(server, s3, bucket):
    """The helper above is sound: a complete body over the same raw path is stored."""
    answer = _raw_put(server, bucket, "complete", 1000, b"x" * 1000)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:500]
    assert_intact(s3, bucket, "complete", b"x" * 1000)


# aws-chunked bodies


def _signing_key(date: str) -> bytes:
    key = ("AWS4" + SECRET_KEY).encode()
    for part in (date, REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _hmac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _signed_stream(chunks: list[bytes], headers: dict[str, str], trailers: dict[str, str] | None = None) -> bytes:
    """An aws-chunked body whose chunks (and trailers) chain their signatures from the request's seed signature."""
    amz_date = headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    key = _signing_key(amz_date[:8])
    previous = headers["Authorization"].rsplit("Signature=", 1)[1]
    body = b""
    for data in [*chunks, b""]:
        to_sign = "\n".join(("AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, EMPTY_SHA256, hashlib.sha256(data).hexdigest()))
        previous = _hmac(key, to_sign)
        body += f"{len(data):x};chunk-signature={previous}\r\n".encode() + data + (b"\r\n" if data else b"")
    if trailers is None:
        return body + b"\r\n"
    canonical = "".join(f"{name}:{value}\n" for name, value in trailers.items())
    to_sign = "\n".join(("AWS4-HMAC-SHA256-TRAILER", amz_date, scope, previous, hashlib.sha256(canonical.encode()).hexdigest()))
    body += "".join(f"{name}:{value}\r\n" for name, value in trailers.items()).encode()
    return body + f"x-amz-trailer-signature:{_hmac(key, to_sign)}\r\n\r\n".encode()


def _stream_length(chunks: list[bytes], trailers: dict[str, str] | None = None) -> int:
    # Every signature is 64 hex digits, so the framing's length is known before the seed is signed.
    dummy = {"X-Amz-Date": "20250101T000000Z", "Authorization": "x Signature=" + "0" * 64}
    return len(_signed_stream(chunks, dummy, trailers))


def signed_chunked_put(
    server, bucket: str, key: str, chunks: list[bytes], *, trailers: dict[str, str] | None = None, decoded: int | None = None, tamper=None
) -> urllib3.BaseHTTPResponse:
    """PUT with STREAMING-AWS4-HMAC-SHA256-PAYLOAD (-TRAILER when `trailers` is given); `tamper` edits the framed body."""
    url = object_url(server, bucket, key)
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailers is not None else "")
    headers = {
        "Content-Encoding": "aws-chunked",
        "Content-Length": str(_stream_length(chunks, trailers)),
        "x-amz-decoded-content-length": str(sum(map(len, chunks)) if decoded is None else decoded),
    }
    if trailers is not None:
        headers["x-amz-trailer"] = ",".join(trailers)
    headers = sign("PUT", url, b"", headers, payload_hash=mode)
    body = _signed_stream(chunks, headers, trailers)
    assert len(body) == int(headers["Content-Length"])
    return send("PUT", url, tamper(body) if tamper else body, headers)


def unsigned_trailer_put(
    server, bucket: str, key: str, chunks: list[bytes], trailer_value: str, *, decoded: int | None = None, last_chunk: bool = True
) -> urllib3.BaseHTTPResponse:
    """PUT with STREAMING-UNSIGNED-PAYLOAD-TRAILER and an x-amz-checksum-crc32 trailer, as boto3 sends by default."""
    url = object_url(server, bucket, key)
    body = b"".join(f"{len(data):x}\r\n".encode() + data + b"\r\n" for data in chunks)
    if last_chunk:
        body += f"0\r\nx-amz-checksum-crc32:{trailer_value}\r\n\r\n".encode()
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-trailer": "x-amz-checksum-crc32",
        "x-amz-decoded-content-length": str(sum(map(len, chunks)) if decoded is None else decoded),
    }
    return signed("PUT", url, body, headers, payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")


CHUNKS = [b"a" * 65536, bytes(range(256)) * 40, b"tail"]
DATA = b"".join(CHUNKS)


def test_signed_chunked_put_stores_the_decoded_bytes(server, s3, bucket, old):
    resp = signed_chunked_put(server, bucket, old, CHUNKS)
    assert resp.status == 200, resp.data
    assert resp.headers["ETag"] == f'"{hashlib.md5(DATA).hexdigest()}"'
    assert_intact(s3, bucket, old, DATA)
    assert "aws-chunked" not in s3.head_object(Bucket=bucket, Key=old).get("ContentEncoding", "")


def test_signed_chunked_put_with_signed_trailer_stores_the_decoded_bytes(server, s3, bucket):
    resp = signed_chunked_put(server, bucket, "trailed", CHUNKS, trailers={"x-amz-checksum-crc32": crc32(DATA)})
    assert resp.status == 200, resp.data
    assert resp.headers["x-amz-checksum-crc32"] == crc32(DATA)
    assert_intact(s3, bucket, "trailed", DATA)


def _flip_second_chunk_signature(body: bytes) -> bytes:
    start = body.index(b"chunk-signature=", body.index(b"chunk-signature=") + 1) + len(b"chunk-signature=")
    return body[:start] + (b"0" if body[start : start + 1] != b"0" else b"1") + body[start + 1 :]


def _change_a_data_byte(body: bytes) -> bytes:
    index = body.index(b"\r\n") + 2 + 1000  # inside the first chunk's data
    return body[:index] + b"b" + body[index + 1 :]


def _flip_trailer_signature(body: bytes) -> bytes:
    start = body.index(b"x-amz-trailer-signature:") + len(b"x-amz-trailer-signature:")
    return body[:start] + (b"0" if body[start : start + 1] != b"0" else b"1") + body[start + 1 :]


@pytest.mark.parametrize("tamper", [_flip_second_chunk_signature, _change_a_data_byte], ids=["chunk-signature", "chunk-data"])
def test_tampered_signed_chunk_stores_nothing(server, s3, bucket, old, tamper):
    resp = signed_chunked_put(server, bucket, old, CHUNKS, tamper=tamper)
    assert_error(resp, 403, "SignatureDoesNotMatch", f"/{bucket}/{old}")
    assert_intact(s3, bucket, old)
    resp = signed_chunked_put(server, bucket, "new", CHUNKS, tamper=tamper)
    assert_error(resp, 403, "SignatureDoesNotMatch", f"/{bucket}/new")
    assert_absent(s3, bucket, "new")


def test_tampered_trailer_signature_stores_nothing(server, s3, bucket, old):
    resp = signed_chunked_put(server, bucket, old, CHUNKS, trailers={"x-amz-checksum-crc32": crc32(DATA)}, tamper=_flip_trailer_signature)
    assert_error(resp, 403, "SignatureDoesNotMatch", f"/{bucket}/{old}")
    assert_intact(s3, bucket, old)


def test_signed_trailer_with_wrong_checksum_is_bad_digest(server, s3, bucket, old):
    resp = signed_chunked_put(server, bucket, old, CHUNKS, trailers={"x-amz-checksum-crc32": crc32(b"other")})
    assert_error(resp, 400, "BadDigest", f"/{bucket}/{old}")
    assert_intact(s3, bucket, old)


def test_signed_chunked_body_shorter_than_decoded_length(server, s3, bucket, old):
    resp = signed_chunked_put(server, bucket, old, CHUNKS, decoded=len(DATA) + 100)
    assert_error(resp, 400, "IncompleteBody", f"/{bucket}/{old}")
    assert_intact(s3, bucket, old)


def test_unsigned_trailer_put_stores_the_decoded_bytes(server, s3, bucket):
    resp = unsigned_trailer_put(server, bucket, "unsigned", CHUNKS, crc32(DATA))
    assert resp.status == 200, resp.data
    assert resp.headers["x-amz-checksum-crc32"] == crc32(DATA)
    assert_intact(s3, bucket, "unsigned", DATA)
    assert s3.head_object(Bucket=bucket, Key="unsigned", ChecksumMode="ENABLED")["ChecksumCRC32"] == crc32(DATA)


def test_unsigned_trailer_with_wrong_checksum_is_bad_digest(server, s3, bucket, old):
    resp = unsigned_trailer_put(server, bucket, old, CHUNKS, crc32(DATA + b"!"))
    assert_error(resp, 400, "BadDigest", f"/{bucket}/{old}")
    assert_intact(s3, bucket, old)
    resp = unsigned_trailer_put(server, bucket, "new", CHUNKS, crc32(DATA + b"!"))
    assert_error(resp, 400, "BadDigest", f"/{bucket}/new")
    assert_absent(s3, bucket, "new")


def test_unsigned_trailer_that_is_not_a_checksum(server, s3, bucket, old):
    resp = unsigned_trailer_put(server, bucket, old, CHUNKS, "not base64!")
    assert_error(resp, 400, "InvalidRequest", f"/{bucket}/{old}")
    assert_intact(s3, bucket, old)


def test_unsigned_trailer_body_shorter_than_decoded_length(server, s3, bucket, old):
    resp = unsigned_trailer_put(server, bucket, old, CHUNKS, crc32(DATA), decoded=len(DATA) + 1)
    assert_error(resp, 400, "IncompleteBody", f"/{bucket}/{old}")
    assert_intact(s3, bucket, old)


def test_unsigned_trailer_body_without_its_last_chunk(server, s3, bucket, old):
    """The stream ends (Content-Length is honest) before the zero-size chunk and the trailer."""
    resp = unsigned_trailer_put(server, bucket, old, CHUNKS, crc32(DATA), last_chunk=False)
    assert_error(resp, 400, "IncompleteBody", f"/{bucket}/{old}")
    assert_intact(s3, bucket, old)


# XML documents


BOMB_ENTITIES = '<!ENTITY lol "lol">' + "".join(
    f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">' for n in range(1, 10)
)


def bomb(root: str, inner: str) -> bytes:
    """A billion-laughs document: nine levels of ten entity references each (10**9 "lol"s if expanded)."""
    return f'<?xml version="1.0"?>\n<!DOCTYPE {root} [{BOMB_ENTITIES}]>\n<{root}>{inner}</{root}>'.encode()


def _delete_objects(server, bucket: str, document: bytes, *, md5: bool = True) -> urllib3.BaseHTTPResponse:
    headers = {"Content-MD5": b64(hashlib.md5(document).digest())} if md5 else {}
    return signed("POST", f"{server.endpoint}/{bucket}?delete", document, headers)


def test_delete_objects_baseline_deletes(server, s3, bucket, old):
    """The valid request the DeleteObjects failures below are variations of."""
    resp = _delete_objects(server, bucket, f"<Delete><Object><Key>{old}</Key></Object></Delete>".encode())
    assert resp.status == 200, resp.data
    assert ET.fromstring(resp.data).find("{*}Deleted/{*}Key").text == old
    assert_absent(s3, bucket, old)


@pytest.mark.parametrize(
    "document",
    [
        b"this is not xml",
        b"<Delete><Object><Key>old</Key></Object>",
        b"<Delete></Delete>",
        b"<Other><Object><Key>old</Key></Object></Other>",
        b"<Delete>" + b"<Object><Key>old</Key></Object>" * 1001 + b"</Delete>",
    ],
    ids=["garbage", "unclosed", "no-objects", "wrong-root", "1001-objects"],
)
def test_delete_objects_with_bad_xml(server, s3, bucket, old, document):
    assert_error(_delete_objects(server, bucket, document), 400, "MalformedXML", f"/{bucket}")
    assert_intact(s3, bucket, old)


def test_delete_objects_xml_bomb(server, s3, bucket, old):
    resp = _delete_objects(server, bucket, bomb("Delete", "<Object><Key>&lol9;</Key></Object><Object><Key>old</Key></Object>"))
    assert_error(resp, 400, "MalformedXML", f"/{bucket}")
    assert_intact(s3, bucket, old)
    assert s3.list_buckets()["Buckets"]


def test_delete_objects_without_content_md5(server, s3, bucket, old):
    resp = _delete_objects(server, bucket, f"<Delete><Object><Key>{old}</Key></Object></Delete>".encode(), md5=False)
    root = assert_error(resp, 400, "InvalidRequest", f"/{bucket}")
    assert "Content-MD5" in root.findtext("Message")
    assert_intact(s3, bucket, old)


@pytest.mark.parametrize(
    ("header", "digest"),
    [("Content-MD5", lambda data: b64(hashlib.md5(data).digest())), ("x-amz-checksum-crc32", crc32)],
    ids=["content-md5", "crc32"],
)
def test_delete_objects_digests(server, s3, bucket, old, header, digest):
    """A wrong digest of the document is BadDigest and deletes nothing; the right one (without Content-MD5 for
    the checksum, as SDKs since 2025 send it) deletes."""
    document = f"<Delete><Object><Key>{old}</Key></Object></Delete>".encode()
    url = f"{server.endpoint}/{bucket}?delete"
    assert_error(signed("POST", url, document, {header: digest(document + b" ")}), 400, "BadDigest", f"/{bucket}")
    assert_intact(s3, bucket, old)
    assert signed("POST", url, document, {header: digest(document)}).status == 200
    assert_absent(s3, bucket, old)


@pytest.fixture
def upload(s3, bucket: str) -> str:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=b"part one")
    return upload_id


@pytest.mark.parametrize(
    "document",
    [
        b"garbage",
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>",
        b"<CompleteMultipartUpload></CompleteMultipartUpload>",
        bomb("CompleteMultipartUpload", "<Part><PartNumber>1</PartNumber><ETag>&lol9;</ETag></Part>"),
    ],
    ids=["garbage", "unclosed", "no-parts", "xml-bomb"],
)
def test_complete_multipart_upload_with_bad_xml(server, s3, bucket, upload, document):
    resp = signed("POST", object_url(server, bucket, "mp", f"uploadId={upload}"), document)
    assert_error(resp, 400, "MalformedXML", f"/{bucket}/mp")
    assert_absent(s3, bucket, "mp")
    # The upload is still there to be completed properly.
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload)["Parts"]] == [1]


def test_create_bucket_configuration_xml_bomb(server, s3):
    name = "bomb-" + uuid.uuid4().hex[:12]
    document = bomb("CreateBucketConfiguration", "<LocationConstraint>&lol9;</LocationConstraint>")
    assert_error(signed("PUT", f"{server.endpoint}/{name}", document), 400, "MalformedXML", f"/{name}")
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_create_bucket_configuration_garbage(server, s3):
    name = "garbage-" + uuid.uuid4().hex[:12]
    assert_error(signed("PUT", f"{server.endpoint}/{name}", b"<CreateBucketConfiguration>"), 400, "MalformedXML", f"/{name}")
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


# names


@pytest.mark.parametrize(
    "name", ["ab", "UPPER", "a_b", "192.168.1.1", "-abc", "abc-", "a..b", "a" * 64, "xn--abc", "abc.-def", "bucket-s3alias"]
)
def test_invalid_bucket_name(server, s3, name):
    assert_error(signed("PUT", f"{server.endpoint}/{name}"), 400, "InvalidBucketName", f"/{name}")
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


@pytest.mark.parametrize("length", [3, 63])
def test_valid_bucket_name_boundaries(server, s3, length):
    """The other side of test_invalid_bucket_name: the shortest and longest names are created."""
    name = ("v" + uuid.uuid4().hex + "-" + uuid.uuid4().hex)[:length] if length > 3 else uuid.uuid4().hex[:3]
    resp = signed("PUT", f"{server.endpoint}/{name}")
    assert resp.status == 200, resp.data
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]


@pytest.mark.parametrize("key", ["k" * 1025, "é" * 512 + "k"], ids=["1025-ascii", "1025-bytes-513-chars"])
def test_key_too_long(server, s3, bucket, key):
    resp = signed("PUT", object_url(server, bucket, key), b"data")
    assert_error(resp, 400, "KeyTooLongError", f"/{bucket}/{key}")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_key_of_1024_bytes_is_allowed(server, s3, bucket):
    key = "é" * 511 + "kk"
    assert len(key.encode()) == 1024
    assert signed("PUT", object_url(server, bucket, key), b"data").status == 200
    assert_intact(s3, bucket, key, b"data")


# reads


@pytest.fixture
def ten(s3, bucket: str) -> str:
    s3.put_object(Bucket=bucket, Key="ten", Body=b"0123456789")
    return "ten"


@pytest.mark.parametrize("byte_range", ["bytes=100-200", "bytes=10-", "bytes=-0"])
def test_unsatisfiable_range(server, bucket, ten, byte_range):
    resp = signed("GET", object_url(server, bucket, ten), headers={"Range": byte_range})
    root = assert_error(resp, 416, "InvalidRange", f"/{bucket}/{ten}")
    assert "Content-Range" not in resp.headers
    assert root.findtext("ActualObjectSize") == "10"


def test_satisfiable_range_still_works(server, bucket, ten):
    resp = signed("GET", object_url(server, bucket, ten), headers={"Range": "bytes=2-4"})
    assert (resp.status, resp.data, resp.headers["Content-Range"]) == (206, b"234", "bytes 2-4/10")


@pytest.mark.parametrize("number", ["0", "-1", "x", "10001"])
def test_get_with_invalid_part_number(server, bucket, ten, number):
    resp = signed("GET", object_url(server, bucket, ten, f"partNumber={number}"))
    assert_error(resp, 400, "InvalidArgument", f"/{bucket}/{ten}")


def test_get_of_a_part_that_does_not_exist(server, bucket, ten):
    assert_error(signed("GET", object_url(server, bucket, ten, "partNumber=2")), 416, "InvalidPartNumber", f"/{bucket}/{ten}")


def test_head_of_a_missing_key_is_404_without_body(server, bucket):
    resp = signed("HEAD", object_url(server, bucket, "missing"))
    assert resp.status == 404
    assert resp.data == b""
    assert resp.headers.get("x-amz-request-id")


def test_get_of_a_missing_key(server, bucket):
    root = assert_error(signed("GET", object_url(server, bucket, "missing")), 404, "NoSuchKey", f"/{bucket}/missing")
    assert root.findtext("Key") == "missing"


def test_get_in_a_missing_bucket(server):
    name = "missing-" + uuid.uuid4().hex[:12]
    assert_error(signed("GET", object_url(server, name, "k")), 404, "NoSuchBucket", f"/{name}/k")


# methods and sub-resources


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/{bucket}/{old}"), ("POST", "/{bucket}"), ("POST", "/"), ("PUT", "/"), ("DELETE", "/"), ("PATCH", "/{bucket}/{old}")],
)
def test_method_not_allowed(server, s3, bucket, old, method, path):
    path = path.format(bucket=bucket, old=old)
    resp = signed(method, server.endpoint + path, b"overwritten" if method in ("POST", "PATCH") else b"")
    assert_error(resp, 405, "MethodNotAllowed", path.rstrip("/") or "/")
    assert_intact(s3, bucket, old)


@pytest.mark.parametrize(("method", "query"), [("PUT", "acl"), ("PUT", "retention"), ("GET", "retention"), ("DELETE", "legal-hold")])
def test_unsupported_subresource_is_not_implemented(server, s3, bucket, old, method, query):
    resp = signed(method, object_url(server, bucket, old, query), b"<AccessControlPolicy/>" if method == "PUT" else b"")
    assert_error(resp, 501, "NotImplemented", f"/{bucket}/{old}")
    assert_intact(s3, bucket, old)


# the error document itself


def test_error_document_shape(server, bucket):
    """<Error><Code/><Message/>...<Resource/><RequestId/></Error>, RequestId equal to the header, a fresh id per request."""
    first = signed("GET", object_url(server, bucket, "missing"))
    second = signed("GET", object_url(server, bucket, "missing"))
    for resp in (first, second):
        assert resp.headers["Content-Type"] == "application/xml"
        assert resp.data.startswith(b"<?xml")
        root = assert_error(resp, 404, "NoSuchKey", f"/{bucket}/missing")
        assert root.attrib == {}
    assert first.headers["x-amz-request-id"] != second.headers["x-amz-request-id"]
