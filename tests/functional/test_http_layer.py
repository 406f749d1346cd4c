"""The HTTP layer under the S3 protocol, over raw sockets: malformed HTTP and failures gunicorn itself
answers get S3 <Error> documents, and response headers carry exactly what HTTP can carry."""

from __future__ import annotations

import gzip
import http.client
import socket
import xml.etree.ElementTree as ET
from urllib.parse import quote

import pytest

from tests.functional.test_transfer_encoding import STREAMING_TRAILER, aws_chunked, send_chunked, signed
from wsgi_s3 import gunicorn_conf


def exchange(server, data: bytes) -> http.client.HTTPResponse:
    """Send raw bytes, return the (read) response: the test writes exactly the bytes it means."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(data)
    response = http.client.HTTPResponse(sock, method=data.split(b" ", 1)[0].decode("latin-1"))
    response.begin()
    response.body = response.read()
    sock.close()
    return response


def assert_s3_error(response: http.client.HTTPResponse, status: int, code: str) -> ET.Element:
    """An S3 error document: status, XML <Error> with Code, Message and the RequestId of the headers."""
    assert response.status == status, response.body[:500]
    assert response.getheader("Content-Type") == "application/xml"
    root = ET.fromstring(response.body)
    assert root.tag == "Error" and root.findtext("Code") == code, response.body[:500]
    assert root.findtext("Message")
    assert root.findtext("RequestId") == response.getheader("x-amz-request-id") != ""
    return root


HOST = b"Host: 127.0.0.1\r\n"


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(b"GET /b/k HTTP/1.1\r\n" + HOST + b"X-Test: a\x00b\r\n\r\n", id="NUL in a header value"),
        pytest.param(b"GET /b/k HTTP/1.1\r\n" + HOST + b"X-Test: a\rb\r\n\r\n", id="CR in a header value"),
        pytest.param(b"GET /b/k HTTP/1.1\r\n" + HOST + b"X Test: a\r\n\r\n", id="space in a header name"),
        pytest.param(b"get /b/k HTTP/1.1\r\n" + HOST + b"\r\n", id="lowercase method"),
        pytest.param(b"GET /b/k HTTP/9.9\r\n" + HOST + b"\r\n", id="unknown HTTP version"),
        pytest.param(b"GET /b/k\x01 HTTP/1.1\r\n" + HOST + b"\r\n", id="control character in the target"),
        pytest.param(b"PUT /b/k HTTP/1.1\r\n" + HOST + b"Content-Length: 1x\r\n\r\n", id="bad Content-Length"),
        pytest.param(b"PUT /b/k HTTP/1.1\r\n" + HOST + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\n", id="two Content-Lengths"),
        pytest.param(b"PUT /b/k HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: gzip\r\n\r\n", id="body of unknown length"),
        pytest.param(b"PUT /b/k HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", id="chunked and a length"),
    ],
)
def test_malformed_http_gets_an_s3_error(server, request_bytes):
    assert_s3_error(exchange(server, request_bytes), 400, "BadRequest")


def test_unknown_transfer_coding_is_not_implemented(server):
    response = exchange(server, b"PUT /b/k HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: br, chunked\r\n\r\n")
    assert assert_s3_error(response, 501, "NotImplemented").findtext("Header") == "Transfer-Encoding"


def test_malformed_http_to_a_head_request_has_no_body(server):
    response = exchange(server, b"HEAD /b/k HTTP/1.1\r\n" + HOST + b"X-Test: a\x00b\r\n\r\n")
    assert response.status == 400 and response.body == b""
    assert response.getheader("x-amz-request-id")


def test_invalid_chunked_framing_is_a_bad_request(server, s3, bucket):
    """Framing that breaks while the application reads the body: the client's fault, not a 500."""
    headers = {"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "5", "X-Amz-Trailer": "x-amz-checksum-crc32"}
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("PUT", f"/{bucket}/framing", skip_host=True, skip_accept_encoding=True)
    for name, value in signed(server, "PUT", f"/{bucket}/framing", {**headers, "Transfer-Encoding": "chunked"}, STREAMING_TRAILER).items():
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(b"zz\r\nhello\r\n0\r\n\r\n")  # "zz" is no chunk size
    response = conn.getresponse()
    response.body = response.read()
    conn.close()
    assert_s3_error(response, 400, "BadRequest")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def _get_with_request_line(server, length: int) -> http.client.HTTPResponse:
    """A GET whose request line (without CRLF) is `length` bytes long."""
    prefix, suffix = b"GET /", b" HTTP/1.1"
    return exchange(server, prefix + b"a" * (length - len(prefix) - len(suffix)) + suffix + b"\r\n" + HOST + b"\r\n")


def test_the_configured_request_line_limit_is_the_one_applied(server):
    """gunicorn lowers a limit above its ceiling without a word: the configured value must be the real one."""
    limit = gunicorn_conf.limit_request_line
    # At the limit the request reaches S3 (and is refused there, unsigned, with AccessDenied).
    assert_s3_error(_get_with_request_line(server, limit), 403, "AccessDenied")
    root = assert_s3_error(_get_with_request_line(server, limit + 1), 400, "RequestHeaderSectionTooLarge")
    assert root.findtext("MaxSizeAllowed") == str(limit)


def test_oversized_header_gets_an_s3_error(server):
    field = b"X-Test: " + b"a" * gunicorn_conf.limit_request_field_size + b"\r\n"
    assert_s3_error(exchange(server, b"GET /b/k HTTP/1.1\r\n" + HOST + field + b"\r\n"), 400, "RequestHeaderSectionTooLarge")


def test_exception_escaping_the_application_is_an_s3_internal_error(start_server, tmp_path):
    """Whatever fails around the application (here a gunicorn hook) is InternalError, not gunicorn's HTML page."""
    config = tmp_path / "failing.conf.py"
    config.write_text(
        "from wsgi_s3.gunicorn_conf import *  # noqa: F403\n\n\n"
        "def pre_request(worker, req):\n"
        "    if req.path == '/fail':\n"
        "        raise RuntimeError('failing on purpose')\n"
    )
    server = start_server("--gunicorn-config", str(config))
    assert_s3_error(exchange(server, b"GET /fail HTTP/1.1\r\n" + HOST + b"\r\n"), 500, "InternalError")
    assert exchange(server, b"GET /health HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n").status == 200


# response headers from client-chosen strings


@pytest.fixture
def stored(s3, bucket: str) -> str:
    s3.put_object(Bucket=bucket, Key="obj", Body=b"data")
    return "obj"


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("response-content-type", "€"),
        ("response-content-type", "text/plain\x01"),
        ("response-content-disposition", "attachment\r\nSet-Cookie: x=y"),
        ("response-content-language", "en\nX: y"),
        ("response-cache-control", "no-cache\x00"),
        ("response-expires", "\U0010ffff"),
    ],
)
def test_override_that_http_cannot_carry_is_invalid_argument(server, raw_s3, bucket, stored, param, value):
    status, _, body = raw_s3(server).request("GET", f"/{bucket}/{stored}?{param}={quote(value, safe='')}")
    assert status == 400, body
    root = ET.fromstring(body)
    assert root.findtext("Code") == "InvalidArgument" and root.findtext("ArgumentName") == param


def test_latin1_override_is_sent_as_is(server, raw_s3, bucket, stored):
    status, headers, _ = raw_s3(server).request("GET", f"/{bucket}/{stored}?response-content-disposition={quote('attachment; filename=®.txt')}")
    assert status == 200
    assert headers["content-disposition"].encode("latin-1") == b"attachment; filename=\xae.txt"


def test_delete_of_a_version_id_http_cannot_carry(server, raw_s3, s3, bucket, stored):
    status, _, body = raw_s3(server).request("DELETE", f"/{bucket}/{stored}?versionId={quote(chr(0x10FFFF))}")
    assert status == 400, body
    assert ET.fromstring(body).findtext("Code") == "InvalidArgument"
    assert s3.get_object(Bucket=bucket, Key=stored)["Body"].read() == b"data"


# user metadata and content encodings


def _put_with_utf8_header(server, raw_s3, target: str, name: str, value: str) -> int:
    """A signed PUT whose `name` header goes out as the UTF-8 bytes of `value` (which is what it signs)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("PUT", target, skip_host=True, skip_accept_encoding=True)
    for header, text in raw_s3(server).signed_headers("PUT", target, {name: value, "Content-Length": "4"}).items():
        conn.putheader(header, text.encode("utf-8"))  # http.client would send str values as latin-1
    conn.endheaders(b"data")
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status


@pytest.mark.parametrize("value", ["é", "日本語 ✓", "=?UTF-8?B?w6k=?="])
def test_utf8_metadata_comes_back_as_the_same_bytes(server, raw_s3, bucket, value):
    assert _put_with_utf8_header(server, raw_s3, f"/{bucket}/meta", "x-amz-meta-note", value) == 200
    status, headers, _ = raw_s3(server).request("HEAD", f"/{bucket}/meta")
    assert status == 200
    assert headers["x-amz-meta-note"].encode("latin-1") == value.encode("utf-8")


@pytest.mark.parametrize("written", ["aws-chunked,gzip", "gzip,aws-chunked", "gzip, AWS-Chunked"])
def test_aws_chunked_is_dropped_from_the_stored_content_encoding(server, raw_s3, bucket, written):
    payload = gzip.compress(b"compressed contents")
    headers = {
        "Content-Encoding": written,
        "X-Amz-Decoded-Content-Length": str(len(payload)),
        "X-Amz-Trailer": "x-amz-checksum-crc32",
    }
    status, body = send_chunked(server, f"/{bucket}/gz", [aws_chunked(payload)], headers, STREAMING_TRAILER)
    assert status == 200, body
    status, response_headers, data = raw_s3(server).request("GET", f"/{bucket}/gz")
    assert status == 200
    assert response_headers["content-encoding"] == "gzip"
    assert gzip.decompress(data) == b"compressed contents"
