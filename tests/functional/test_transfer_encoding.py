"""Bodies without a Content-Length (Transfer-Encoding: chunked) and Expect: 100-continue, over raw sockets."""

from __future__ import annotations

import base64
import http.client
import socket
import zlib

import pytest

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import ACCESS_KEY, REGION, SECRET_KEY

STREAMING_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


class PayloadModeSigner(S3SigV4Auth):
    """Signs the x-amz-content-sha256 the test chooses (botocore would put its own)."""

    def __init__(self, payload_hash: str) -> None:
        super().__init__(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION)
        self.payload_hash = payload_hash

    def payload(self, request: AWSRequest) -> str:
        return self.payload_hash


def signed(server, method: str, target: str, headers: dict[str, str], payload_hash: str = "UNSIGNED-PAYLOAD") -> dict[str, str]:
    request = AWSRequest(method=method, url=server.endpoint + target, headers=headers)
    PayloadModeSigner(payload_hash).add_auth(request)
    return {"Host": f"127.0.0.1:{server.port}", **dict(request.headers.items())}


def send_chunked(server, target: str, pieces: list[bytes], headers: dict[str, str], payload_hash: str = "UNSIGNED-PAYLOAD") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("PUT", target, skip_host=True, skip_accept_encoding=True)
    for name, value in signed(server, "PUT", target, {**headers, "Transfer-Encoding": "chunked"}, payload_hash).items():
        conn.putheader(name, value)
    conn.endheaders()
    for piece in pieces:
        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    conn.send(b"0\r\n\r\n")
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def aws_chunked(payload: bytes) -> bytes:
    crc = base64.b64encode(zlib.crc32(payload).to_bytes(4, "big")).decode()
    return b"%x\r\n%s\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n" % (len(payload), payload, crc.encode())


def test_plain_chunked_upload_needs_a_length(server, s3, bucket):
    status, body = send_chunked(server, f"/{bucket}/te", [b"hello ", b"world"], {})
    assert status == 411 and b"<Code>MissingContentLength</Code>" in body
    # A decoded length does not make a plain body measurable.
    status, body = send_chunked(server, f"/{bucket}/te", [b"hello ", b"world"], {"X-Amz-Decoded-Content-Length": "11"})
    assert status == 411 and b"<Code>MissingContentLength</Code>" in body
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_aws_chunked_inside_transfer_encoding_chunked(server, s3, bucket):
    payload = b"streamed without a content-length"
    framed = aws_chunked(payload)
    headers = {
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(len(payload)),
        "X-Amz-Trailer": "x-amz-checksum-crc32",
    }
    status, body = send_chunked(server, f"/{bucket}/te", [framed[:10], framed[10:]], headers, STREAMING_TRAILER)
    assert status == 200, body
    assert s3.get_object(Bucket=bucket, Key="te")["Body"].read() == payload


def test_body_longer_than_declared_is_refused(server, s3, bucket):
    payload = b"x" * 100
    headers = {
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": "10",
        "X-Amz-Trailer": "x-amz-checksum-crc32",
    }
    status, body = send_chunked(server, f"/{bucket}/long", [aws_chunked(payload)], headers, STREAMING_TRAILER)
    assert status == 400, body
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_expect_100_continue_is_answered_before_the_body(server, s3, bucket):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    target = f"/{bucket}/expect"
    conn.putrequest("PUT", target, skip_host=True, skip_accept_encoding=True)
    headers = signed(server, "PUT", target, {"Content-Length": "4", "Expect": "100-continue"})
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    interim = conn.sock.recv(64)  # nothing of the body has been sent yet
    assert interim.startswith(b"HTTP/1.1 100 Continue")
    conn.send(b"body")
    response = conn.getresponse()
    assert response.status == 200
    conn.close()
    assert s3.get_object(Bucket=bucket, Key="expect")["Body"].read() == b"body"


def first_answer_to_expect(server, headers: dict[str, str], target: str) -> tuple[bytes, http.client.HTTPResponse]:
    """Send a PUT's headers with Expect: 100-continue and no body; (first line received, the response)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    head = f"PUT {target} HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    sock.sendall(head.encode("latin-1"))
    response = http.client.HTTPResponse(sock, method="PUT")
    response.begin()  # reads the first status line: a 100 would be taken as the final answer here
    first = f"HTTP/1.1 {response.status} {response.reason}".encode()
    response.body = response.read() if response.status != 100 else b""
    sock.close()
    return first, response


@pytest.mark.parametrize(
    ("secret", "access_key", "code"),
    [(SECRET_KEY + "x", ACCESS_KEY, "SignatureDoesNotMatch"), (SECRET_KEY, "WS3NOSUCHKEY00000000", "InvalidAccessKeyId")],
)
def test_expect_100_continue_of_a_refused_request_gets_the_final_answer(server, s3, bucket, secret, access_key, code):
    """S3 does not invite the body of a request it refuses: the first answer is the error, and the
    connection closes, since the client will not send the body it announced."""
    target = f"/{bucket}/refused"
    request = AWSRequest(method="PUT", url=server.endpoint + target, headers={"Content-Length": "4", "Expect": "100-continue"})
    S3SigV4Auth(Credentials(access_key, secret), "s3", REGION).add_auth(request)
    first, response = first_answer_to_expect(server, {"Host": f"127.0.0.1:{server.port}", **dict(request.headers.items())}, target)
    assert first.startswith(b"HTTP/1.1 403"), first
    assert f"<Code>{code}</Code>".encode() in response.body
    assert response.getheader("Connection") == "close"
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_expect_100_continue_keeps_the_connection_once_the_body_is_read(server, s3, bucket):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    for key in ("first", "second"):  # the same connection serves both
        target = f"/{bucket}/{key}"
        conn.putrequest("PUT", target, skip_host=True, skip_accept_encoding=True)
        for name, value in signed(server, "PUT", target, {"Content-Length": "4", "Expect": "100-continue"}).items():
            conn.putheader(name, value)
        conn.endheaders()
        assert conn.sock.recv(64).startswith(b"HTTP/1.1 100 Continue")
        conn.send(key[:4].encode())
        response = conn.getresponse()
        response.read()
        assert response.status == 200 and response.getheader("Connection") != "close"
    conn.close()
    assert s3.get_object(Bucket=bucket, Key="second")["Body"].read() == b"seco"


def test_boto3_upload_that_expects_100_continue(s3, bucket):
    """botocore sends Expect: 100-continue with bodies over 1 MB and waits for the invitation."""
    body = bytes(range(256)) * 8192  # 2 MiB
    s3.put_object(Bucket=bucket, Key="large", Body=body)
    assert s3.get_object(Bucket=bucket, Key="large")["Body"].read() == body


def declare_only(server, target: str, length: int) -> tuple[int, bytes]:
    """Send a signed PUT's headers announcing `length` bytes, and read the answer without sending them."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("PUT", target, skip_host=True, skip_accept_encoding=True)
    for name, value in signed(server, "PUT", target, {"Content-Length": str(length)}).items():
        conn.putheader(name, value)
    conn.endheaders()
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


def test_oversized_upload_is_refused_before_its_body(server, s3, bucket):
    """A declared 5 GiB + 1 byte body is EntityTooLarge at once; the client never has to send it."""
    status, body = declare_only(server, f"/{bucket}/huge", 5 * 1024**3 + 1)
    assert status == 400 and b"<Code>EntityTooLarge</Code>" in body
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_part_larger_than_5_gib_is_refused(server, s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    status, body = declare_only(server, f"/{bucket}/big?partNumber=1&uploadId={upload_id}", 5 * 1024**3 + 1)
    assert status == 400 and b"<Code>EntityTooLarge</Code>" in body
    assert s3.list_parts(Bucket=bucket, Key="big", UploadId=upload_id).get("Parts", []) == []
