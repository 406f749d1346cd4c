"""Flexible checksums as boto3 sends them over https: aws-chunked bodies with an unsigned trailer.

Over TLS botocore stops signing streaming payloads and sends the checksum after the body instead
(`x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER`), for PutObject and UploadPart alike.
Each test checks that the SDK really did so, then that the server verified, stored and returned the
checksum; a wrong trailer, built by hand, must be BadDigest and leave nothing behind."""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import ssl
import uuid
import xml.etree.ElementTree as ET
import zlib

import pytest
from awscrt import checksums as crt
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.conftest import ACCESS_KEY, REGION, SECRET_KEY, make_client

ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
PART_SIZE = 5 * 1024 * 1024
TRAILER_PAYLOAD = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


def digest(algorithm: str, data: bytes) -> bytes:
    if algorithm == "CRC32":
        return zlib.crc32(data).to_bytes(4, "big")
    if algorithm == "CRC32C":
        return crt.crc32c(data).to_bytes(4, "big")
    if algorithm == "CRC64NVME":
        return crt.crc64nvme(data).to_bytes(8, "big")
    return hashlib.new(algorithm.lower(), data).digest()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def header(algorithm: str) -> str:
    return "x-amz-checksum-" + algorithm.lower()


@pytest.fixture
def tls(https_server, tls_files):
    """(client, sent): a boto3 client of the https server trusting its CA, and the headers of every
    request it sent, as (method, url, lower-case headers)."""
    client = make_client(https_server.endpoint, verify=str(tls_files.cert))
    sent: list[tuple[str, str, dict[str, str]]] = []

    def record(request, **_: object) -> None:
        headers = {name.lower(): value.decode() if isinstance(value, bytes) else value for name, value in request.headers.items()}
        sent.append((request.method, request.url, headers))

    client.meta.events.register("before-send.s3.*", record)
    yield client, sent
    client.close()


@pytest.fixture
def tls_bucket(tls) -> str:
    client, _ = tls
    name = "checksums-" + uuid.uuid4().hex[:12]
    client.create_bucket(Bucket=name)
    return name


def assert_trailer_sent(headers: dict[str, str], algorithm: str) -> None:
    """The SDK sent an aws-chunked body with this algorithm's checksum in an unsigned trailer."""
    assert headers.get("x-amz-content-sha256") == TRAILER_PAYLOAD, headers
    assert headers.get("x-amz-trailer") == header(algorithm), headers
    assert "aws-chunked" in headers.get("content-encoding", ""), headers


@pytest.mark.parametrize("algorithm", ALGORITHMS + (None,), ids=list(ALGORITHMS) + ["sdk-default"])
def test_put_object_with_trailing_checksum(tls, tls_bucket: str, algorithm: str | None) -> None:
    client, sent = tls
    data = os.urandom(300_000)  # more than one aws-chunked chunk
    extra = {"ChecksumAlgorithm": algorithm} if algorithm else {}
    put = client.put_object(Bucket=tls_bucket, Key="object", Body=data, **extra)
    algorithm = algorithm or "CRC32"  # what boto3 sends unasked since 2025
    assert_trailer_sent(sent[-1][2], algorithm)
    expected = b64(digest(algorithm, data))
    assert put["Checksum" + algorithm] == expected

    got = client.get_object(Bucket=tls_bucket, Key="object", ChecksumMode="ENABLED")
    assert got["Body"].read() == data  # botocore also verifies the body against the returned checksum
    assert got["Checksum" + algorithm] == expected
    assert got["ChecksumType"] == "FULL_OBJECT"
    head = client.head_object(Bucket=tls_bucket, Key="object", ChecksumMode="ENABLED")
    assert head["Checksum" + algorithm] == expected
    plain = client.head_object(Bucket=tls_bucket, Key="object")
    assert header(algorithm) not in plain["ResponseMetadata"]["HTTPHeaders"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_multipart_upload_with_trailing_checksums(tls, tls_bucket: str, algorithm: str) -> None:
    client, sent = tls
    bodies = [os.urandom(PART_SIZE), os.urandom(1_000_003)]
    upload = client.create_multipart_upload(Bucket=tls_bucket, Key="multi", ChecksumAlgorithm=algorithm)
    parts = []
    for number, body in enumerate(bodies, start=1):
        part = client.upload_part(
            Bucket=tls_bucket, Key="multi", UploadId=upload["UploadId"], PartNumber=number, Body=body, ChecksumAlgorithm=algorithm
        )
        assert_trailer_sent(sent[-1][2], algorithm)
        assert part["Checksum" + algorithm] == b64(digest(algorithm, body))
        parts.append({"PartNumber": number, "ETag": part["ETag"], "Checksum" + algorithm: part["Checksum" + algorithm]})
    listed = client.list_parts(Bucket=tls_bucket, Key="multi", UploadId=upload["UploadId"])
    assert [part["Checksum" + algorithm] for part in listed["Parts"]] == [part["Checksum" + algorithm] for part in parts]
    done = client.complete_multipart_upload(
        Bucket=tls_bucket, Key="multi", UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )

    composite = b64(digest(algorithm, b"".join(digest(algorithm, body) for body in bodies))) + f"-{len(bodies)}"
    whole = b64(digest(algorithm, b"".join(bodies)))
    # Without x-amz-checksum-type, S3 makes multipart checksums COMPOSITE, except CRC64NVME, which it
    # supports only as FULL_OBJECT.
    expected = ("FULL_OBJECT", whole) if algorithm == "CRC64NVME" else ("COMPOSITE", composite)
    assert (done["ChecksumType"], done["Checksum" + algorithm]) == expected
    head = client.head_object(Bucket=tls_bucket, Key="multi", ChecksumMode="ENABLED")
    assert (head["ChecksumType"], head["Checksum" + algorithm]) == (done["ChecksumType"], done["Checksum" + algorithm])
    got = client.get_object(Bucket=tls_bucket, Key="multi", ChecksumMode="ENABLED")
    assert got["Body"].read() == b"".join(bodies)
    assert got["Checksum" + algorithm] == done["Checksum" + algorithm]


class HandMade:
    """aws-chunked uploads with an unsigned trailer, framed and SigV4-signed by hand over TLS, so that
    the trailer can carry any value."""

    def __init__(self, server, cafile) -> None:
        self.server = server
        self.context = ssl.create_default_context(cafile=str(cafile))

    def put(self, target: str, data: bytes, algorithm: str, trailer_value: str) -> tuple[int, bytes]:
        """PUT `target` ("/bucket/key?query") with `data` in two chunks and `trailer_value` as the
        trailing x-amz-checksum-<algorithm>: (status, body)."""
        name = header(algorithm)
        middle = len(data) // 2
        body = b"".join(f"{len(chunk):X}\r\n".encode() + chunk + b"\r\n" for chunk in (data[:middle], data[middle:]) if chunk)
        body += f"0\r\n{name}:{trailer_value}\r\n\r\n".encode()
        headers = {
            "Content-Encoding": "aws-chunked",
            "Content-Length": str(len(body)),
            "X-Amz-Decoded-Content-Length": str(len(data)),
            "X-Amz-Trailer": name,
        }
        request = AWSRequest(method="PUT", url=self.server.endpoint + target, headers=headers)
        # botocore's signer puts STREAMING-UNSIGNED-PAYLOAD-TRAILER in x-amz-content-sha256 for a trailer.
        request.context["checksum"] = {"request_algorithm": {"in": "trailer", "name": name, "algorithm": algorithm.lower()}}
        request.context["client_config"] = Config()
        S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION).add_auth(request)
        assert request.headers["X-Amz-Content-SHA256"] == TRAILER_PAYLOAD
        conn = http.client.HTTPSConnection("127.0.0.1", self.server.port, context=self.context, timeout=60)
        try:
            conn.putrequest("PUT", target, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", f"127.0.0.1:{self.server.port}")
            for key, value in request.headers.items():
                conn.putheader(key, value)
            conn.endheaders()
            conn.send(body)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


def error_code(document: bytes) -> str | None:
    return ET.fromstring(document).findtext("Code")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_wrong_trailing_checksum_is_bad_digest_and_leaves_nothing(tls, tls_bucket: str, https_server, tls_files, algorithm: str) -> None:
    client, _ = tls
    hand = HandMade(https_server, tls_files.cert)
    data = b"the bytes the trailer should describe\n" * 1000
    wrong = b64(digest(algorithm, data + b"!"))  # well-formed, just not this body's

    # The same framing with the right value is accepted: what fails below is the checksum alone.
    status, answer = hand.put(f"/{tls_bucket}/control", data, algorithm, b64(digest(algorithm, data)))
    assert status == 200, answer
    got = client.get_object(Bucket=tls_bucket, Key="control", ChecksumMode="ENABLED")
    assert got["Body"].read() == data and got["Checksum" + algorithm] == b64(digest(algorithm, data))

    status, answer = hand.put(f"/{tls_bucket}/new", data, algorithm, wrong)
    assert (status, error_code(answer)) == (400, "BadDigest"), answer
    with pytest.raises(ClientError) as missing:
        client.head_object(Bucket=tls_bucket, Key="new")
    assert missing.value.response["Error"]["Code"] == "404"

    client.put_object(Bucket=tls_bucket, Key="existing", Body=b"old contents")
    status, answer = hand.put(f"/{tls_bucket}/existing", data, algorithm, wrong)
    assert (status, error_code(answer)) == (400, "BadDigest"), answer
    assert client.get_object(Bucket=tls_bucket, Key="existing")["Body"].read() == b"old contents"

    upload = client.create_multipart_upload(Bucket=tls_bucket, Key="multi", ChecksumAlgorithm=algorithm)["UploadId"]
    status, answer = hand.put(f"/{tls_bucket}/multi?partNumber=1&uploadId={upload}", data, algorithm, wrong)
    assert (status, error_code(answer)) == (400, "BadDigest"), answer
    assert client.list_parts(Bucket=tls_bucket, Key="multi", UploadId=upload).get("Parts", []) == []
    client.abort_multipart_upload(Bucket=tls_bucket, Key="multi", UploadId=upload)

    keys = [entry["Key"] for entry in client.list_objects_v2(Bucket=tls_bucket).get("Contents", [])]
    assert keys == ["control", "existing"]
