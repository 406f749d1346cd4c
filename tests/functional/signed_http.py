"""SigV4-signed requests over http.client with any x-amz-content-sha256, for tests that send what no SDK would."""

from __future__ import annotations

import http.client
import xml.etree.ElementTree as ET

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import ACCESS_KEY, REGION, SECRET_KEY

STREAMING_UNSIGNED = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


class _Signer(S3SigV4Auth):
    """Signs the x-amz-content-sha256 the test chooses (botocore would put its own)."""

    def __init__(self, payload_hash: str) -> None:
        super().__init__(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION)
        self.payload_hash = payload_hash

    def payload(self, request: AWSRequest) -> str:
        return self.payload_hash


def signed_headers(server, method: str, target: str, headers: dict[str, str] | None = None, payload_hash: str = "UNSIGNED-PAYLOAD") -> dict[str, str]:
    """Every header of `headers` is signed; `target` ("/bucket/key?query") must be in canonical (AWS-encoded) form."""
    request = AWSRequest(method=method, url=server.endpoint + target, headers=dict(headers or {}))
    _Signer(payload_hash).add_auth(request)
    return {"Host": f"127.0.0.1:{server.port}", **dict(request.headers.items())}


def start(server, method: str, target: str, headers: dict[str, str], payload_hash: str = "UNSIGNED-PAYLOAD") -> http.client.HTTPConnection:
    """A connection with the signed request line and headers sent; the caller sends the body (or not)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    for name, value in signed_headers(server, method, target, headers, payload_hash).items():
        conn.putheader(name, value.encode("utf-8"))  # signed as text, sent as its UTF-8
    conn.endheaders()
    return conn


def request(
    server, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None, payload_hash: str = "UNSIGNED-PAYLOAD"
) -> tuple[int, dict[str, str], bytes]:
    """A whole signed request: (status, lower-case headers, body)."""
    conn = start(server, method, target, {**(headers or {}), "Content-Length": str(len(body))}, payload_hash)
    try:
        if body:
            conn.send(body)
        response = conn.getresponse()
        return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()
    finally:
        conn.close()


def error_code(status: int, body: bytes) -> str:
    """The Code of a well-formed S3 <Error> document (fails the test for anything else)."""
    assert status >= 400, status
    root = ET.fromstring(body)
    assert root.tag == "Error", body
    code = root.findtext("Code")
    assert code, body
    return code
