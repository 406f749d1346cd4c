"""Malformed numbers and strings from a correctly signing client get S3's 4xx, never a 500, and error
documents stay XML a client can parse; aws-chunked bodies that lie about their size are cut off at once."""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_client
from tests.functional.signed_http import STREAMING_UNSIGNED, error_code, request, start

MIB = 1024 * 1024
TEN = b"0123456789"
DIGITS = "9" * 5000  # int() refuses to convert more than 4,300 digits
HUGE = pytest.param(DIGITS, id="5000-digits")


@pytest.fixture
def ten(s3, bucket) -> str:
    s3.put_object(Bucket=bucket, Key="ten", Body=TEN)
    return "ten"


@pytest.fixture
def upload(s3, bucket, ten) -> str:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=b"part")
    return upload_id


def test_a_range_end_of_thousands_of_digits_is_the_object_end(server, bucket, ten):
    status, headers, body = request(server, "GET", f"/{bucket}/ten", headers={"Range": "bytes=0-" + DIGITS})
    assert (status, body, headers["content-range"]) == (206, TEN, "bytes 0-9/10")
    status, _, body = request(server, "GET", f"/{bucket}/ten", headers={"Range": "bytes=" + DIGITS + "-"})
    assert status == 416 and error_code(status, body) == "InvalidRange"
    # A range in other scripts' digits is malformed, so ignored, as S3 ignores malformed ranges.
    status, _, body = request(server, "GET", f"/{bucket}/ten", headers={"Range": "bytes=0-\u0661"})
    assert (status, body) == (200, TEN)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("partNumber=%C2%B2", "InvalidArgument"),  # '²', which str.isdigit() accepts
        ("partNumber=%D9%A1", "InvalidArgument"),  # Arabic-Indic one, which int() accepts
        pytest.param("partNumber=" + DIGITS, "InvalidArgument", id="partNumber=5000-digits"),
        ("versionId=%F4%8F%BF%BF", "InvalidArgument"),  # U+10FFFF
        ("versionId=%1B", "InvalidArgument"),
    ],
)
def test_object_reads_with_malformed_parameters(server, bucket, ten, query, code):
    for method in ("GET", "HEAD"):
        status, headers, body = request(server, method, f"/{bucket}/ten?{query}")
        assert status == 400 and "x-amz-version-id" not in headers
        if method == "GET":
            assert error_code(status, body) == code


@pytest.mark.parametrize(
    "query",
    ["list-type=2&max-keys=%C2%B2", "list-type=2&max-keys=2147483648", pytest.param("max-keys=" + DIGITS, id="max-keys=5000-digits"), "uploads=&max-uploads=%D9%A1", "max-keys=-1"],
)
def test_listing_limits(server, bucket, query):
    status, _, body = request(server, "GET", f"/{bucket}?{query}")
    assert status == 400 and error_code(status, body) == "InvalidArgument"


@pytest.mark.parametrize("marker", ["18446744073709551616", "2147483648", "%C2%B2", HUGE])
def test_list_parts_markers(server, s3, bucket, upload, marker):
    status, _, body = request(server, "GET", f"/{bucket}/mp?part-number-marker={marker}&uploadId={upload}")
    assert status == 400 and error_code(status, body) == "InvalidArgument"
    assert s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload, PartNumberMarker=2147483647).get("Parts", []) == []


@pytest.mark.parametrize("number", ["²", "١", HUGE, "18446744073709551616"])
def test_completion_with_a_malformed_part_number(server, s3, bucket, upload, number):
    document = f"<CompleteMultipartUpload><Part><PartNumber>{number}</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>"
    status, _, body = request(server, "POST", f"/{bucket}/mp?uploadId={upload}", document.encode())
    assert status == 400 and error_code(status, body) == "MalformedXML"
    assert len(s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload)["Parts"]) == 1


@pytest.mark.parametrize("range_header", ["bytes=0-\u0661", "bytes=+0-1", pytest.param("bytes=0-" + DIGITS, id="bytes=0-5000-digits")])
def test_copy_source_ranges(server, bucket, upload, range_header):
    headers = {"x-amz-copy-source": f"/{bucket}/ten", "x-amz-copy-source-range": range_header}
    status, _, body = request(server, "PUT", f"/{bucket}/mp?partNumber=2&uploadId={upload}", headers=headers)
    assert status in (400, 416) and error_code(status, body) in ("InvalidArgument", "InvalidRange")


def test_a_malformed_decoded_length_is_refused(server, s3, bucket):
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "\u00b2"}
    status, _, body = request(server, "PUT", f"/{bucket}/k", b"1\r\nx\r\n0\r\n\r\n", headers, STREAMING_UNSIGNED)
    assert status == 400 and error_code(status, body) == "InvalidArgument"
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


@pytest.mark.parametrize("constraint", ["١٢٣", "US-EAST-1", "us east 1", "x" * 100])
def test_implausible_location_constraints_are_refused(server, s3, constraint):
    document = f"<CreateBucketConfiguration><LocationConstraint>{constraint}</LocationConstraint></CreateBucketConfiguration>"
    status, _, body = request(server, "PUT", "/no-such-region", document.encode())
    assert status == 400 and error_code(status, body) == "InvalidLocationConstraint"
    with pytest.raises(ClientError) as caught:
        s3.head_bucket(Bucket="no-such-region")
    assert caught.value.response["Error"]["Code"] == "404"


def test_a_malformed_version_id_is_never_echoed_or_stored(server, s3, bucket, ten):
    status, headers, body = request(server, "DELETE", f"/{bucket}/ten?versionId=%F4%8F%BF%BF")
    assert status == 400 and error_code(status, body) == "InvalidArgument" and "x-amz-version-id" not in headers
    assert ET.fromstring(body).findtext("Message") == "Invalid version id specified"
    copy = {"x-amz-copy-source": f"/{bucket}/ten?versionId=%1B"}
    status, _, body = request(server, "PUT", f"/{bucket}/copy", headers=copy)
    assert status == 400 and error_code(status, body) == "InvalidArgument"
    assert s3.get_object(Bucket=bucket, Key="ten")["Body"].read() == TEN
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["ten"]


def test_delete_objects_refuses_a_malformed_version_id_per_key(s3, bucket, ten):
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "ten", "VersionId": "\U0010ffff"}]})
    assert [(e["Key"], e["Code"]) for e in result["Errors"]] == [("ten", "InvalidArgument")]
    assert s3.get_object(Bucket=bucket, Key="ten")["Body"].read() == TEN


@pytest.mark.parametrize(("path", "code"), [("/{bucket}/esc%1B%5B31m-nul%00", "NoSuchKey"), ("/nul%00-esc%1B", "NoSuchBucket")])
def test_error_documents_with_control_characters_parse(server, bucket, path, code):
    status, _, body = request(server, "GET", path.format(bucket=bucket))
    assert status == 404 and error_code(status, body) == code
    assert "\ufffd" in ET.fromstring(body).findtext("Resource")


# Bodies that lie about their size. Each test sends only the start of the body it declares: the
# answer must come without the rest (a server still reading would time the test out).


@pytest.fixture
def own(start_server):
    server = start_server()
    client = make_client(server.endpoint)
    client.create_bucket(Bucket="lies")
    yield server
    client.close()


def _answer_before_the_rest(conn) -> tuple[int, bytes]:
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def _send_chunked(conn, data: bytes) -> None:
    """`data` as one chunk of a Transfer-Encoding: chunked body, which stays open."""
    conn.send(b"%x\r\n%s\r\n" % (len(data), data))


def test_a_put_declaring_one_byte_stops_at_the_first_larger_chunk(own):
    """Without a Content-Length (gunicorn de-chunks the body) only the declared decoded size bounds it."""
    headers = {"Transfer-Encoding": "chunked", "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "1"}
    conn = start(own, "PUT", "/lies/k", headers, STREAMING_UNSIGNED)
    _send_chunked(conn, b"%x\r\n" % (40 * MIB) + b"x" * 70000)  # gunicorn hands out 64 KiB reads whole
    status, body = _answer_before_the_rest(conn)
    assert status == 400 and error_code(status, body) == "IncompleteBody"
    assert list((own.data_dir / "tmp").iterdir()) == []
    client = make_client(own.endpoint)
    assert client.list_objects_v2(Bucket="lies")["KeyCount"] == 0


def test_a_put_whose_framing_would_outweigh_its_data_is_refused_before_its_body(own):
    headers = {"Content-Length": str(40 * MIB), "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "1"}
    status, body = _answer_before_the_rest(start(own, "PUT", "/lies/k", headers, STREAMING_UNSIGNED))
    assert status == 400 and error_code(status, body) == "EntityTooLarge"


DELETE_MD5 = base64.b64encode(hashlib.md5(b"").digest()).decode()


def test_a_delete_document_declaring_100_bytes_stops_at_a_120_mib_chunk(own):
    headers = {"Transfer-Encoding": "chunked", "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "100", "Content-MD5": DELETE_MD5}
    conn = start(own, "POST", "/lies?delete=", headers, STREAMING_UNSIGNED)
    _send_chunked(conn, b"%x\r\n<Delete>" % (120 * MIB) + b" " * 70000)
    status, body = _answer_before_the_rest(conn)
    assert status == 400 and error_code(status, body) == "IncompleteBody"


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Length": str(5 * MIB)},
        {"Content-Length": str(120 * MIB), "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "100"},
    ],
    ids=["plain", "aws-chunked"],
)
def test_an_oversized_document_is_refused_before_its_body(own, headers):
    payload_hash = STREAMING_UNSIGNED if "x-amz-decoded-content-length" in headers else "UNSIGNED-PAYLOAD"
    conn = start(own, "POST", "/lies?delete=", {**headers, "Content-MD5": DELETE_MD5}, payload_hash)
    status, body = _answer_before_the_rest(conn)
    assert status == 400 and error_code(status, body) == "MaxMessageLengthExceeded"
