"""Authorization over real servers: what a signature covers, what a key may read, what anonymous callers may do."""

from __future__ import annotations

import base64
import hashlib
import hmac
import sqlite3
import time
import uuid
from email.utils import formatdate
from urllib.parse import quote

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import ACCESS_KEY, REGION, SECRET_KEY, make_client
from tests.functional.test_errors_http import OLD, assert_error, assert_intact, object_url, old, send, sign  # noqa: F401 - old is a fixture
from wsgi_s3.gateway.auth import Credential, CredentialStore, generate_credential

SECRET = b"the secret object a presigned upload must not reach"


@pytest.fixture
def secret_source(s3) -> str:
    """An object in a bucket of its own, as "/bucket/key" for x-amz-copy-source."""
    name = "private-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="secret", Body=SECRET)
    return f"/{name}/secret"


def error_code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


# every x-amz-* header must be signed


def test_presigned_put_with_an_added_copy_source_is_refused(server, s3, bucket, secret_source):
    v4 = make_client(server.endpoint, signature_version="s3v4")
    url = v4.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "target"}, ExpiresIn=300)
    assert "X-Amz-SignedHeaders=host&" in url
    resp = send("PUT", url, b"", {"x-amz-copy-source": secret_source})
    error = assert_error(resp, 403, "AccessDenied", f"/{bucket}/target")
    assert error.findtext("Message") == "There were headers present in the request which were not signed"
    assert error.findtext("HeadersNotSigned") == "x-amz-copy-source"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="target")
    # The URL itself still works as it was meant to.
    assert send("PUT", url, b"uploaded").status == 200
    assert_intact(s3, bucket, "target", b"uploaded")


@pytest.mark.parametrize(
    "name, value", [("x-amz-meta-x", "added"), ("x-amz-copy-source", None), ("x-amz-decoded-content-length", "3")]
)
def test_replayed_request_with_an_added_unsigned_header_is_refused(server, s3, bucket, old, secret_source, name, value):
    url = object_url(server, bucket, old)
    headers = sign("PUT", url, b"replayed")
    headers[name] = value or secret_source
    error = assert_error(send("PUT", url, b"replayed", headers), 403, "AccessDenied", f"/{bucket}/{old}")
    assert error.findtext("HeadersNotSigned") == name
    assert_intact(s3, bucket, old)
    # The captured request as it was signed is accepted.
    del headers[name]
    assert send("PUT", url, b"replayed", headers).status == 200


# copy needs read on the source


def key_with(server, *permissions: str):
    fresh = generate_credential()
    CredentialStore(str(server.data_dir / "credentials.json")).add(Credential(fresh.access_key, fresh.secret_key, frozenset(permissions)))
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=fresh.access_key,
        aws_secret_access_key=fresh.secret_key,
        region_name=REGION,
        config=Config(retries={"max_attempts": 1}),
    )


def test_write_only_key_cannot_copy_what_it_cannot_read(server, s3, bucket, secret_source):
    writer = key_with(server, "write")
    writer.put_object(Bucket=bucket, Key="own", Body=b"written")  # it can write
    with pytest.raises(ClientError) as exc:
        writer.copy_object(Bucket=bucket, Key="stolen", CopySource=secret_source)
    assert error_code(exc) == "AccessDenied"
    upload = writer.create_multipart_upload(Bucket=bucket, Key="stolen")["UploadId"]
    # A range past the end would give InvalidRange (and so the size) if the source were looked at first.
    for source_range in ("bytes=0-0", "bytes=1000000-1000001", None):
        extra = {"CopySourceRange": source_range} if source_range else {}
        with pytest.raises(ClientError) as exc:
            writer.upload_part_copy(Bucket=bucket, Key="stolen", UploadId=upload, PartNumber=1, CopySource=secret_source, **extra)
        assert error_code(exc) == "AccessDenied"
    assert s3.list_parts(Bucket=bucket, Key="stolen", UploadId=upload).get("Parts", []) == []
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="stolen")


def test_read_write_key_copies(server, s3, bucket, secret_source):
    copier = key_with(server, "read", "write")
    copier.copy_object(Bucket=bucket, Key="copied", CopySource=secret_source)
    assert_intact(s3, bucket, "copied", SECRET)
    upload = copier.create_multipart_upload(Bucket=bucket, Key="part-copied")["UploadId"]
    part = copier.upload_part_copy(
        Bucket=bucket, Key="part-copied", UploadId=upload, PartNumber=1, CopySource=secret_source, CopySourceRange="bytes=0-2"
    )
    assert part["CopyPartResult"]["ETag"] == f'"{hashlib.md5(SECRET[:3]).hexdigest()}"'


# SigV2 input that used to be a 500


def v2_signature(text: str) -> str:
    return base64.b64encode(hmac.new(SECRET_KEY.encode(), text.encode(), hashlib.sha1).digest()).decode()


@pytest.mark.parametrize("expires", ["²", "9" * 5000, "1" * 13], ids=["superscript-two", "5000-digits", "milliseconds"])
def test_sigv2_expires_that_is_not_seconds(server, bucket, old, expires):
    query = f"AWSAccessKeyId={ACCESS_KEY}&Expires={quote(expires)}&Signature=abc"
    resp = send("GET", object_url(server, bucket, old, query))
    assert_error(resp, 403, "AccessDenied", f"/{bucket}/{old}")
    assert OLD not in resp.data


def test_sigv2_non_ascii_signature(server, bucket, old):
    expires = str(int(time.time()) + 300)
    query = f"AWSAccessKeyId={ACCESS_KEY}&Expires={expires}&Signature={quote('sïgnature')}"
    assert_error(send("GET", object_url(server, bucket, old, query)), 403, "SignatureDoesNotMatch", f"/{bucket}/{old}")
    date = formatdate(usegmt=True)
    headers = {"Date": date, "Authorization": f"AWS {ACCESS_KEY}:sïgnature".encode().decode("latin-1")}
    assert_error(send("GET", object_url(server, bucket, old), b"", headers), 403, "SignatureDoesNotMatch", f"/{bucket}/{old}")


def test_sigv2_date_with_unknown_zone_is_gmt(server, bucket, old):
    # RFC 2822's "-0000" (zone unknown) made a naive datetime that could not be compared with the clock.
    date = formatdate(usegmt=True).replace("GMT", "-0000")
    string_to_sign = f"GET\n\n\n{date}\n/{bucket}/{old}"
    headers = {"Date": date, "Authorization": f"AWS {ACCESS_KEY}:{v2_signature(string_to_sign)}"}
    resp = send("GET", object_url(server, bucket, old), b"", headers)
    assert resp.status == 200 and resp.data == OLD
    headers["Authorization"] = f"AWS {ACCESS_KEY}:{v2_signature('something else')}"
    assert_error(send("GET", object_url(server, bucket, old), b"", headers), 403, "SignatureDoesNotMatch", f"/{bucket}/{old}")


# anonymous access


@pytest.fixture
def anonymous_server(start_server, tmp_path):
    ini = tmp_path / "anonymous.ini"
    ini.write_text("[auth]\nallow_anonymous = true\n")
    server = start_server("--config", str(ini))
    owner = make_client(server.endpoint)
    owner.create_bucket(Bucket="public")
    owner.put_object(Bucket="public", Key="page", Body=b"<script>alert(1)</script>", ContentType="text/plain")
    owner.create_multipart_upload(Bucket="public", Key="in-progress")
    return server


def test_anonymous_requests_cannot_override_response_headers(anonymous_server):
    url = f"{anonymous_server.endpoint}/public/page"
    assert send("GET", url).status == 200
    for query in ("response-content-type=text/html", "response-content-disposition=inline", "response-cache-control=no-cache"):
        resp = send("GET", f"{url}?{query}")
        error = assert_error(resp, 400, "InvalidRequest", "/public/page")
        assert error.findtext("Message") == "Request specific response headers cannot be used for anonymous GET requests."
    # A signed request may.
    owner = make_client(anonymous_server.endpoint)
    assert owner.get_object(Bucket="public", Key="page", ResponseContentType="text/html")["ContentType"] == "text/html"


def test_anonymous_requests_cannot_list_uploads(anonymous_server):
    anonymous = boto3.client("s3", endpoint_url=anonymous_server.endpoint, region_name=REGION, config=Config(signature_version=UNSIGNED))
    assert [o["Key"] for o in anonymous.list_objects_v2(Bucket="public")["Contents"]] == ["page"]
    with pytest.raises(ClientError) as exc:
        anonymous.list_multipart_uploads(Bucket="public")
    assert error_code(exc) == "AccessDenied"
    assert [u["Key"] for u in make_client(anonymous_server.endpoint).list_multipart_uploads(Bucket="public")["Uploads"]] == ["in-progress"]


# public answers carry no internals


def test_ready_says_not_ready_without_details(start_server):
    server = start_server("--lock-timeout", "1")
    assert send("GET", f"{server.endpoint}/ready").data == b"READY"
    db = sqlite3.connect(server.data_dir / "meta.db", isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")  # another writer holds the store: writes would time out
        resp = send("GET", f"{server.endpoint}/ready")
    finally:
        db.close()
    assert (resp.status, resp.data) == (503, b"NOT READY")
    assert "stayed locked" in server.log()  # the operator still learns why
