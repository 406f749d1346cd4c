"""max_body_mb and max_inflight against real servers (embedded and a cluster's gateway): boto3 and plain HTTP."""

from __future__ import annotations

import http.client
import uuid
from collections.abc import Iterator

import pytest
import urllib3
from botocore.exceptions import ClientError

from tests.conftest import Server, free_port, make_cluster
from tests.functional import signed_http

MIB = 1024**2
# One worker, so that the two requests held open below are that worker's whole allowance.
LIMITS = ("--max-body-mb", "1", "--max-inflight", "2", "--workers", "1")


@pytest.fixture(scope="module", params=["embedded", "cluster"])
def limited(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("limits")
    if request.param == "cluster":
        cluster = make_cluster(base, gateway_flags=LIMITS)
        cluster.start()
        yield cluster.gateway
        cluster.stop()
    else:
        server = Server(base / "data", free_port(), list(LIMITS))
        server.start()
        yield server
        server.stop()


@pytest.fixture
def limited_bucket(limited: Server, client_for) -> str:
    name = "limits-" + uuid.uuid4().hex[:12]
    client_for(limited).create_bucket(Bucket=name)
    return name


def _code(exc: pytest.ExceptionInfo) -> tuple[str, int]:
    return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def _await_continue(conn: http.client.HTTPConnection) -> bytes:
    """The first bytes the server answers a request that sent `Expect: 100-continue` and no body yet."""
    return conn.sock.recv(len(b"HTTP/1.1 100 Continue\r\n\r\n"))


def test_boto3_put_and_part_past_max_body_are_entity_too_large(limited, limited_bucket, client_for):
    s3 = client_for(limited)  # no retries (conftest)
    s3.put_object(Bucket=limited_bucket, Key="exact", Body=b"x" * MIB)  # the cap itself is allowed
    assert s3.get_object(Bucket=limited_bucket, Key="exact")["ContentLength"] == MIB
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=limited_bucket, Key="over", Body=b"x" * (MIB + 1))
    assert _code(exc) == ("EntityTooLarge", 400)
    upload = s3.create_multipart_upload(Bucket=limited_bucket, Key="mp")["UploadId"]
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=limited_bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"y" * (MIB + 1))
    assert _code(exc) == ("EntityTooLarge", 400)
    s3.abort_multipart_upload(Bucket=limited_bucket, Key="mp", UploadId=upload)
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=limited_bucket, Key="over")
    assert _code(exc)[1] == 404  # nothing of the refused upload was stored


@pytest.mark.parametrize(
    "headers, payload_hash",
    [
        ({"Content-Length": str(2 * MIB)}, "UNSIGNED-PAYLOAD"),
        # A streamed body: gunicorn de-chunks it, and its decoded length is what counts.
        (
            {"Transfer-Encoding": "chunked", "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(MIB + 1),
             "x-amz-trailer": "x-amz-checksum-crc32"},
            signed_http.STREAMING_UNSIGNED,
        ),
    ],
    ids=["content-length", "aws-chunked"],
)
def test_declared_body_past_max_body_is_refused_before_it_is_read(limited, limited_bucket, headers, payload_hash):
    """No `100 Continue`: the client is told no before it sends a byte of the body."""
    conn = signed_http.start(limited, "PUT", f"/{limited_bucket}/declared", {**headers, "Expect": "100-continue"}, payload_hash)
    try:
        response = conn.getresponse()
        status, body = response.status, response.read()
    finally:
        conn.close()
    assert signed_http.error_code(status, body) == "EntityTooLarge"
    assert status == 400
    assert b"<MaxSizeAllowed>1048576</MaxSizeAllowed>" in body


def test_requests_past_max_inflight_get_slow_down_at_once(limited, limited_bucket, client_for):
    """Two uploads held open mid-request fill the worker's allowance of 2: a third request is answered
    503 SlowDown (not queued), and once they finish requests are served again."""
    held = []
    for index in range(2):
        conn = signed_http.start(
            limited, "PUT", f"/{limited_bucket}/held{index}", {"Content-Length": "5", "Expect": "100-continue"}
        )
        held.append(conn)
        # 100 Continue is sent on the application's first read of the body: the request is in flight.
        assert _await_continue(conn).startswith(b"HTTP/1.1 100")
    s3 = client_for(limited)  # no retries (conftest)
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=limited_bucket)
    assert _code(exc) == ("SlowDown", 503)
    with urllib3.PoolManager(retries=False) as pool:
        response = pool.request("GET", f"{limited.endpoint}/{limited_bucket}/held0")
    assert signed_http.error_code(response.status, response.data) == "SlowDown"
    assert response.headers["Connection"] == "close"
    # A small body sent along (no Expect) is read before the answer, so that the client gets it.
    status, headers, body = signed_http.request(limited, "PUT", f"/{limited_bucket}/small", b"s" * 4096)
    assert (signed_http.error_code(status, body), status) == ("SlowDown", 503)
    for index, conn in enumerate(held):
        conn.send(b"hello")
        response = conn.getresponse()
        assert response.status == 200, response.read()
        response.read()
        conn.close()
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=limited_bucket)["Contents"]]
    assert keys == ["held0", "held1"]  # nothing of the refused PUT was stored
