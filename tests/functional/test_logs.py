"""Logs over a real server: JSON lines (gunicorn's too), one access line per request with its request
id, the id on every other line written for a request (also with requests interleaved in one gevent
worker), the configured level, and no secret or signature anywhere."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from pathlib import Path

import pytest
import urllib3

from tests.conftest import ACCESS_KEY, SECRET_KEY, Server, free_port, make_client


def lines(server: Server) -> list[dict]:
    """Every line the server wrote, each parsed as JSON (a line that is not JSON fails the test)."""
    return [json.loads(line) for line in server.log().splitlines() if line.strip()]


def access_lines(server: Server) -> list[dict]:
    return [line for line in lines(server) if line["logger"] == "wsgi_s3.access"]


@pytest.fixture
def logged(tmp_path: Path):
    server = Server(tmp_path / "data", free_port(), env={"WSGI_S3_WORKERS": "1", "WSGI_S3_LOCK_TIMEOUT": "1"})
    server.start()
    yield server
    server.stop()


def test_one_json_access_line_per_request_with_its_id(logged: Server) -> None:
    s3 = make_client(logged.endpoint)
    bucket = "logs-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    put = s3.put_object(Bucket=bucket, Key="a/b.txt", Body=b"0123456789")
    got = s3.get_object(Bucket=bucket, Key="a/b.txt")
    assert got["Body"].read() == b"0123456789"
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="missing")
    by_id = {line["request_id"]: line for line in access_lines(logged)}
    put_line = by_id[put["ResponseMetadata"]["RequestId"]]
    assert put_line["msg"] == "request completed" and put_line["level"] == "info"
    assert (put_line["method"], put_line["operation"], put_line["bucket"], put_line["status"]) == ("PUT", "PutObject", bucket, 200)
    assert put_line["credential"] == ACCESS_KEY
    assert put_line["bytes_in"] >= 10 and put_line["bytes_out"] == 0
    assert put_line["duration_ms"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", put_line["time"])
    get_line = by_id[got["ResponseMetadata"]["RequestId"]]
    assert (get_line["operation"], get_line["status"], get_line["bytes_out"]) == ("GetObject", 200, 10)
    missing = [line for line in by_id.values() if line.get("error_code") == "NoSuchKey"]
    assert len(missing) == 1 and missing[0]["status"] == 404
    # gunicorn's own lines come out as JSON too (lines() parsed every line of the log).
    assert any(line["logger"] == "gunicorn.error" and "Booting worker" in line["msg"] for line in lines(logged))


def test_lines_written_while_serving_a_request_carry_its_id(logged: Server, tmp_path: Path) -> None:
    # /ready fails while another process holds the store's write lock, and logs why.
    blocker = sqlite3.connect(tmp_path / "data" / "meta.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        response = urllib3.request("GET", logged.endpoint + "/ready", retries=False)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert response.status == 503
    warnings = [line for line in lines(logged) if line["logger"] == "wsgi_s3.observability.status"]
    assert len(warnings) == 1
    assert warnings[0]["request_id"] == response.headers["x-amz-request-id"]
    assert warnings[0]["level"] == "warning" and "exception" in warnings[0]


def test_interleaved_requests_in_one_worker_keep_their_own_ids(logged: Server, raw_s3) -> None:
    s3 = make_client(logged.endpoint)
    bucket = "interleave-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    client = raw_s3(logged)
    first = client.start("PUT", f"/{bucket}/first", 8)
    first.send(b"1111")
    second = client.start("PUT", f"/{bucket}/second", 8)
    second.send(b"2222")
    first.send(b"1111")  # the first finishes while the second is still in the middle of its body
    first_response = first.getresponse()
    second.send(b"2222")
    second_response = second.getresponse()
    assert first_response.status == second_response.status == 200
    by_id = {line["request_id"]: line for line in access_lines(logged)}
    assert by_id[first_response.getheader("x-amz-request-id")]["path"] == f"/{bucket}/first"
    assert by_id[second_response.getheader("x-amz-request-id")]["path"] == f"/{bucket}/second"


def test_no_secret_or_signature_in_the_log(logged: Server) -> None:
    s3 = make_client(logged.endpoint, signature_version="s3v4")
    bucket = "secrets-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=300)
    signature = re.search(r"X-Amz-Signature=([0-9a-f]{64})", url).group(1)
    assert urllib3.request("GET", url, retries=False).status == 200
    # A wrong signature, in a header this time: refused, logged, counted.
    header = (
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20260101/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "ab" * 32
    )
    refused = urllib3.request(
        "GET", f"{logged.endpoint}/{bucket}/k", headers={"Authorization": header, "x-amz-date": "20260101T000000Z"}, retries=False
    )
    assert refused.status == 403
    log = logged.log()
    assert signature not in log and "ab" * 32 not in log and SECRET_KEY not in log
    presigned = [line for line in access_lines(logged) if "X-Amz-Signature" in line["path"]]
    assert len(presigned) == 1 and "X-Amz-Signature=REDACTED" in presigned[0]["path"]
    assert presigned[0]["credential"] == ACCESS_KEY


def test_the_configured_level_holds(tmp_path: Path) -> None:
    server = Server(tmp_path / "data", free_port(), env={"WSGI_S3_LOG_LEVEL": "warning"})
    server.start()
    try:
        make_client(server.endpoint).create_bucket(Bucket="quiet-" + uuid.uuid4().hex[:8])
        # A line is written before its response is sent. gunicorn's "Booting worker" is info: gone too.
        assert not [line for line in lines(server) if line["level"] in ("info", "debug")]
        urllib3.request("GET", server.endpoint + "/", retries=False)  # anonymous: refused, and no warning either
        assert not [line for line in lines(server) if line["logger"] == "wsgi_s3.access"]
    finally:
        server.stop()
