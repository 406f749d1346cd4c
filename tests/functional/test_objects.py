"""Object operations through boto3 against a real embedded server."""

from __future__ import annotations

import hashlib
import io
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError


def error_code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def status(exc: pytest.ExceptionInfo) -> int:
    return exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_put_get_roundtrip_keeps_bytes_headers_and_metadata(s3, bucket):
    body = bytes(range(256)) * 100
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/file.bin",
        Body=body,
        ContentType="application/x-test",
        ContentDisposition="attachment; filename=x.bin",
        CacheControl="max-age=60",
        ContentLanguage="en",
        Metadata={"colour": "blue", "shape": "round"},
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert "VersionId" not in put
    got = s3.get_object(Bucket=bucket, Key="dir/file.bin")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/x-test"
    assert got["ContentDisposition"] == "attachment; filename=x.bin"
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentLanguage"] == "en"
    assert got["Metadata"] == {"colour": "blue", "shape": "round"}
    assert got["ETag"] == put["ETag"]
    assert got["ContentLength"] == len(body)
    assert "x-amz-version-id" not in got["ResponseMetadata"]["HTTPHeaders"]


def test_default_content_type_and_empty_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    head = s3.head_object(Bucket=bucket, Key="empty")
    assert head["ContentLength"] == 0
    assert head["ContentType"] == "binary/octet-stream"
    assert head["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert s3.get_object(Bucket=bucket, Key="empty")["Body"].read() == b""


def test_overwrite_replaces_the_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"first")
    s3.put_object(Bucket=bucket, Key="k", Body=b"second")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"second"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]


@pytest.mark.parametrize("key", ["a b (1).txt", "plus+sign", "ünïcödé/ключ", "../../etc/passwd", "a//b/", "x" * 1024, "%2F%00", "~!*'();:@&=$,?#[]"])
def test_unusual_keys_are_opaque(s3, bucket, key):
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
    s3.delete_object(Bucket=bucket, Key=key)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_key_longer_than_1024_bytes_is_refused(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="é" * 513, Body=b"x")
    assert error_code(exc) == "KeyTooLongError"


def test_missing_key_and_bucket(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="nope")
    assert error_code(exc) == "NoSuchKey" and status(exc) == 404
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket="no-such-bucket-here", Key="k", Body=b"x")
    assert error_code(exc) == "NoSuchBucket"


@pytest.mark.parametrize(
    ("header", "expected", "code"),
    [
        ("bytes=0-3", b"0123", 206),
        ("bytes=4-", b"456789", 206),
        ("bytes=-3", b"789", 206),
        ("bytes=8-100", b"89", 206),
        ("bytes=-100", b"0123456789", 206),
        ("bytes=5-2", b"0123456789", 200),
        ("chars=1-2", b"0123456789", 200),
    ],
)
def test_ranges(s3, bucket, header, expected, code):
    s3.put_object(Bucket=bucket, Key="digits", Body=b"0123456789")
    got = s3.get_object(Bucket=bucket, Key="digits", Range=header)
    assert got["Body"].read() == expected
    assert got["ResponseMetadata"]["HTTPStatusCode"] == code
    if code == 206:
        assert got["ContentRange"].endswith("/10")


def test_unsatisfiable_range(s3, bucket):
    s3.put_object(Bucket=bucket, Key="digits", Body=b"0123456789")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="digits", Range="bytes=10-20")
    assert error_code(exc) == "InvalidRange" and status(exc) == 416


def test_conditional_reads(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"data")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"data"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0000"')
    assert status(exc) == 412
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert status(exc) == 304
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    past = datetime.now(timezone.utc) - timedelta(hours=1)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=future)
    assert status(exc) == 304
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=past)
    assert status(exc) == 412
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=past)["Body"].read() == b"data"


def test_response_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="o", Body=b"x", ContentType="text/plain")
    got = s3.get_object(Bucket=bucket, Key="o", ResponseContentType="image/png", ResponseContentDisposition="inline")
    assert got["ContentType"] == "image/png"
    assert got["ContentDisposition"] == "inline"


def test_conditional_create_if_none_match(s3, bucket):
    s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*")
    assert status(exc) == 412
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"first"


def test_wrong_content_md5_is_bad_digest_and_keeps_old_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="m", Body=b"old")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="m", Body=b"new", ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg==")
    assert error_code(exc) == "BadDigest"
    assert s3.get_object(Bucket=bucket, Key="m")["Body"].read() == b"old"


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_flexible_checksums_are_stored_and_returned(s3, bucket, algorithm):
    put = s3.put_object(Bucket=bucket, Key="sum", Body=b"checksummed", ChecksumAlgorithm=algorithm)
    head = s3.head_object(Bucket=bucket, Key="sum", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == put[f"Checksum{algorithm}"]
    got = s3.get_object(Bucket=bucket, Key="sum", ChecksumMode="ENABLED")
    assert got["Body"].read() == b"checksummed"


def test_delete_is_idempotent(s3, bucket):
    s3.put_object(Bucket=bucket, Key="d", Body=b"x")
    assert s3.delete_object(Bucket=bucket, Key="d")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_object(Bucket=bucket, Key="d")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_delete_objects_reports_each_key(s3, bucket):
    for key in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "missing"}]})
    assert sorted(d["Key"] for d in result["Deleted"]) == ["a", "b", "missing"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "c"}], "Quiet": True})
    assert "Deleted" not in quiet
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_copy_object_copies_or_replaces_metadata(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"payload", ContentType="text/x-src", Metadata={"m": "1"})
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert copied["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"payload").hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == b"payload" and got["ContentType"] == "text/x-src" and got["Metadata"] == {"m": "1"}
    s3.copy_object(
        Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"}, MetadataDirective="REPLACE", ContentType="text/new", Metadata={"n": "2"}
    )
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["ContentType"] == "text/new" and got["Metadata"] == {"n": "2"}


def test_copy_onto_itself_needs_replace(s3, bucket):
    s3.put_object(Bucket=bucket, Key="self", Body=b"x", Metadata={"v": "1"})
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"})
    assert error_code(exc) == "InvalidRequest"
    s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"}, MetadataDirective="REPLACE", Metadata={"v": "2"})
    got = s3.get_object(Bucket=bucket, Key="self")
    assert got["Metadata"] == {"v": "2"} and got["Body"].read() == b"x"
    # A storage-class change is a change too (rclone settier).
    s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"}, StorageClass="STANDARD")
    assert s3.get_object(Bucket=bucket, Key="self")["Metadata"] == {"v": "2"}


def test_copy_source_conditions(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"x")["ETag"]
    s3.copy_object(Bucket=bucket, Key="ok", CopySource={"Bucket": bucket, "Key": "src"}, CopySourceIfMatch=etag)
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="no", CopySource={"Bucket": bucket, "Key": "src"}, CopySourceIfNoneMatch=etag)
    assert status(exc) == 412
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="no", CopySource={"Bucket": bucket, "Key": "src"}, CopySourceIfMatch='"abc"')
    assert status(exc) == 412


def test_large_object_streams_through(s3, bucket):
    body = io.BytesIO(b"0123456789abcdef" * (1 << 20))  # 16 MiB, below boto3's multipart threshold when sent with put_object
    s3.put_object(Bucket=bucket, Key="large", Body=body)
    got = s3.get_object(Bucket=bucket, Key="large")
    digest = hashlib.md5()
    for chunk in got["Body"].iter_chunks(1 << 20):
        digest.update(chunk)
    assert digest.hexdigest() == hashlib.md5(b"0123456789abcdef" * (1 << 20)).hexdigest()
