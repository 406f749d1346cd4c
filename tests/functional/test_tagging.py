"""Object and bucket tagging against real servers (embedded and a three-node cluster's gateway):
boto3 for the operations and S3's limits, the aws CLI once, plain HTTP for documents no SDK sends."""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError

from tests.functional.signed_http import request

TAGS = [{"Key": "project", "Value": "blue sky"}, {"Key": "cost-center", "Value": "42"}, {"Key": "empty", "Value": ""}]


def code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def tag_set(s3, bucket: str, key: str, **version) -> list[dict[str, str]]:
    return s3.get_object_tagging(Bucket=bucket, Key=key, **version)["TagSet"]


def simple(count: int) -> list[dict[str, str]]:
    return [{"Key": f"key{i}", "Value": f"value{i}"} for i in range(count)]


def test_put_get_and_delete_object_tagging_and_the_tag_count_on_reads(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    assert tag_set(s3, bucket, "k") == []
    assert "TagCount" not in s3.head_object(Bucket=bucket, Key="k")
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": TAGS})
    assert tag_set(s3, bucket, "k") == TAGS
    assert s3.head_object(Bucket=bucket, Key="k")["TagCount"] == 3
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["TagCount"] == 3 and got["Body"].read() == b"data"
    # A new tag set replaces the old one whole.
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "only", "Value": "one"}]})
    assert tag_set(s3, bucket, "k") == [{"Key": "only", "Value": "one"}]
    deleted = s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert tag_set(s3, bucket, "k") == []
    assert "TagCount" not in s3.head_object(Bucket=bucket, Key="k")
    # Tagging changed no data and made no version.
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"


def test_tags_of_a_missing_object_are_no_such_key(s3, bucket):
    for call in (
        lambda: s3.get_object_tagging(Bucket=bucket, Key="absent"),
        lambda: s3.put_object_tagging(Bucket=bucket, Key="absent", Tagging={"TagSet": TAGS}),
        lambda: s3.delete_object_tagging(Bucket=bucket, Key="absent"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert code(exc) == "NoSuchKey"


def test_each_version_has_its_own_tags(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"one", Tagging="v=1")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    put = s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=first, Tagging={"TagSet": [{"Key": "v", "Value": "first"}]})
    assert put["VersionId"] == first
    assert tag_set(s3, bucket, "k", VersionId=first) == [{"Key": "v", "Value": "first"}]
    latest = s3.get_object_tagging(Bucket=bucket, Key="k")
    assert latest["TagSet"] == [] and latest["VersionId"] == second
    assert s3.head_object(Bucket=bucket, Key="k", VersionId=first)["TagCount"] == 1
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": TAGS})
    assert tag_set(s3, bucket, "k", VersionId=second) == TAGS
    assert s3.delete_object_tagging(Bucket=bucket, Key="k", VersionId=first)["VersionId"] == first
    assert tag_set(s3, bucket, "k", VersionId=first) == []
    assert tag_set(s3, bucket, "k") == TAGS
    # Updating tags made no version of its own.
    assert s3.head_object(Bucket=bucket, Key="k")["VersionId"] == second


def test_deleting_a_version_drops_its_tags(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"one", Tagging="a=1")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="k", VersionId=first)
    with pytest.raises(ClientError) as exc:
        s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=first)
    assert code(exc) == "NoSuchVersion"


def test_tags_of_a_delete_marker_answer_as_a_get_does(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"one", Tagging="a=1")
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    with pytest.raises(ClientError) as exc:
        s3.get_object_tagging(Bucket=bucket, Key="k")
    assert code(exc) == "NoSuchKey"
    with pytest.raises(ClientError) as exc:
        s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=marker, Tagging={"TagSet": TAGS})
    assert code(exc) == "MethodNotAllowed"


def test_the_null_version_rewritten_starts_without_the_old_tags(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"one", Tagging="a=1")
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": TAGS})
    s3.put_object(Bucket=bucket, Key="k", Body=b"two")
    assert tag_set(s3, bucket, "k") == []


def test_x_amz_tagging_on_put_object_is_url_encoded(s3, bucket):
    header = "&".join(f"{quote(t['Key'], safe='')}={quote(t['Value'], safe='')}" for t in TAGS + [{"Key": "é/ü @x", "Value": "a+b=c"}])
    s3.put_object(Bucket=bucket, Key="k", Body=b"data", Tagging=header)
    assert tag_set(s3, bucket, "k") == TAGS + [{"Key": "é/ü @x", "Value": "a+b=c"}]
    assert s3.head_object(Bucket=bucket, Key="k")["TagCount"] == 4


def test_x_amz_tagging_on_multipart_upload_tags_the_completed_object(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="stage=raw&owner=team%20a")["UploadId"]
    first = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"a" * (5 * 1024 * 1024))["ETag"]
    second = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=2, Body=b"tail")["ETag"]
    with pytest.raises(ClientError) as exc:
        s3.get_object_tagging(Bucket=bucket, Key="mp")
    assert code(exc) == "NoSuchKey"
    parts = [{"PartNumber": 1, "ETag": first}, {"PartNumber": 2, "ETag": second}]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": parts})
    assert tag_set(s3, bucket, "mp") == [{"Key": "stage", "Value": "raw"}, {"Key": "owner", "Value": "team a"}]
    assert s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)["TagCount"] == 2


def test_multipart_upload_with_bad_tags_is_refused_at_creation(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="a%23b=v")
    assert code(exc) == "InvalidTag"
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_copy_keeps_the_source_tags_or_replaces_them(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"data", Tagging="from=source")
    s3.put_object_tagging(Bucket=bucket, Key="src", Tagging={"TagSet": TAGS})  # the copy sees the update
    s3.copy_object(Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": "src"})
    assert tag_set(s3, bucket, "copied") == TAGS
    s3.copy_object(Bucket=bucket, Key="explicit", CopySource={"Bucket": bucket, "Key": "src"}, TaggingDirective="COPY", Tagging="ignored=1")
    assert tag_set(s3, bucket, "explicit") == TAGS
    s3.copy_object(Bucket=bucket, Key="replaced", CopySource={"Bucket": bucket, "Key": "src"}, TaggingDirective="REPLACE", Tagging="new=tag")
    assert tag_set(s3, bucket, "replaced") == [{"Key": "new", "Value": "tag"}]
    s3.copy_object(Bucket=bucket, Key="untagged", CopySource={"Bucket": bucket, "Key": "src"}, TaggingDirective="REPLACE")
    assert tag_set(s3, bucket, "untagged") == []
    assert tag_set(s3, bucket, "src") == TAGS


def test_an_unknown_tagging_directive_is_invalid_argument(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"data")
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"}, TaggingDirective="MERGE")
    assert code(exc) == "InvalidArgument"


def test_bucket_tagging(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_tagging(Bucket=bucket)
    assert code(exc) == "NoSuchTagSet" and exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    put = s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": simple(50)})
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == simple(50)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": TAGS})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == TAGS
    assert s3.delete_bucket_tagging(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_tagging(Bucket=bucket)
    assert code(exc) == "NoSuchTagSet"
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_tagging(Bucket=bucket + "-absent")
    assert code(exc) == "NoSuchBucket"


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (simple(11), "BadRequest"),
        ([{"Key": "k" * 129, "Value": "v"}], "InvalidTag"),
        ([{"Key": "k", "Value": "v" * 257}], "InvalidTag"),
        ([{"Key": "dup", "Value": "1"}, {"Key": "dup", "Value": "2"}], "InvalidTag"),
        ([{"Key": "aws:reserved", "Value": "v"}], "InvalidTag"),
        ([{"Key": "no#hash", "Value": "v"}], "InvalidTag"),
        ([{"Key": "k", "Value": "no*star"}], "InvalidTag"),
    ],
)
def test_object_tag_limits(s3, bucket, tags, expected):
    s3.put_object(Bucket=bucket, Key="k", Body=b"data", Tagging="kept=yes")
    with pytest.raises(ClientError) as exc:
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": tags})
    assert code(exc) == expected and exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert tag_set(s3, bucket, "k") == [{"Key": "kept", "Value": "yes"}]


def test_the_largest_tags_are_accepted(s3, bucket):
    tags = [{"Key": "k" * 128, "Value": "v" * 256}] + [{"Key": f"日本{i}", "Value": "é ü+-=._:/@"} for i in range(9)]
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": tags})
    assert tag_set(s3, bucket, "k") == tags


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("&".join(f"k{i}=v" for i in range(11)), "BadRequest"),
        ("a=1&a=2", "InvalidArgument"),
        ("k=%FF", "InvalidArgument"),
        ("aws%3Acost=1", "InvalidTag"),
        (f"{'k' * 129}=v", "InvalidTag"),
    ],
)
def test_x_amz_tagging_limits(s3, bucket, header, expected):
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"data", Tagging=header)
    assert code(exc) == expected
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="k")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404  # nothing was written


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (simple(51), "BadRequest"),
        ([{"Key": "aws:cloudformation:stack-name", "Value": "v"}], "InvalidTag"),
        ([{"Key": "dup", "Value": "1"}, {"Key": "dup", "Value": "2"}], "InvalidTag"),
        ([{"Key": "k", "Value": "v" * 257}], "InvalidTag"),
    ],
)
def test_bucket_tag_limits(s3, bucket, tags, expected):
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    assert code(exc) == expected
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_tagging(Bucket=bucket)
    assert code(exc) == "NoSuchTagSet"


def _md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


@pytest.mark.parametrize("target", ["/{bucket}/k?tagging=", "/{bucket}?tagging="])
@pytest.mark.parametrize(
    "body",
    [
        b"<Tagging><TagSet><Tag><Key>k</Key>",
        b"<Tagging></Tagging>",
        b"<NotTagging><TagSet/></NotTagging>",
        b"<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>",
        b"<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>",
        b"",
    ],
)
def test_malformed_tagging_documents(server, s3, bucket, target, body):
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    status, _, answer = request(server, "PUT", target.format(bucket=bucket), body, {"Content-MD5": _md5(body)})
    assert status == 400 and b"<Code>MalformedXML</Code>" in answer


@pytest.mark.parametrize("target", ["/{bucket}/k?tagging=", "/{bucket}?tagging="])
def test_an_empty_tag_key_is_invalid_tag(server, s3, bucket, target):
    """boto3 refuses to send an empty key; S3 answers one with InvalidTag."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    body = b"<Tagging><TagSet><Tag><Key></Key><Value>v</Value></Tag></TagSet></Tagging>"
    status, _, answer = request(server, "PUT", target.format(bucket=bucket), body, {"Content-MD5": _md5(body)})
    assert status == 400 and b"<Code>InvalidTag</Code>" in answer


@pytest.mark.parametrize("target", ["/{bucket}/k?tagging=", "/{bucket}?tagging="])
def test_a_tagging_document_needs_an_integrity_header(server, s3, bucket, target):
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    body = b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>"
    status, _, answer = request(server, "PUT", target.format(bucket=bucket), body)
    assert status == 400 and b"<Code>InvalidRequest</Code>" in answer
    status, _, answer = request(server, "PUT", target.format(bucket=bucket), body, {"Content-MD5": _md5(b"other")})
    assert status == 400 and b"<Code>BadDigest</Code>" in answer
    status, _, _ = request(server, "PUT", target.format(bucket=bucket), body, {"Content-MD5": _md5(body)})
    assert status in (200, 204)


def test_aws_cli_put_and_get_object_tagging(run_aws, s3, bucket):
    s3.put_object(Bucket=bucket, Key="dir/file.txt", Body=b"data")
    tagging = json.dumps({"TagSet": [{"Key": "team", "Value": "storage"}, {"Key": "tier", "Value": "hot"}]})
    run_aws("s3api", "put-object-tagging", "--bucket", bucket, "--key", "dir/file.txt", "--tagging", tagging)
    answer = json.loads(run_aws("s3api", "get-object-tagging", "--bucket", bucket, "--key", "dir/file.txt").stdout)
    assert answer["TagSet"] == [{"Key": "team", "Value": "storage"}, {"Key": "tier", "Value": "hot"}]
    assert s3.head_object(Bucket=bucket, Key="dir/file.txt")["TagCount"] == 2
