"""Bucket versioning through boto3 against a real embedded server: PutBucketVersioning, version
ids on writes, reads and deletes by version id, delete markers, suspension."""

from __future__ import annotations

import base64
import hashlib

import pytest
from botocore.exceptions import ClientError


def code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def test_versioning_is_off_until_enabled_and_then_reported(s3, bucket):
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_every_write_of_a_versioned_bucket_is_a_version_of_its_own(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    assert first != second and "null" not in (first, second)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    old = s3.get_object(Bucket=bucket, Key="k", VersionId=first)
    assert old["Body"].read() == b"one" and old["VersionId"] == first
    assert s3.head_object(Bucket=bucket, Key="k", VersionId=first)["ContentLength"] == 3


def test_a_delete_adds_a_marker_that_hides_the_key_until_it_is_removed(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    kept = s3.put_object(Bucket=bucket, Key="k", Body=b"kept")["VersionId"]
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert deleted["DeleteMarker"] is True and deleted["VersionId"] not in (kept, "null")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k")
    assert code(exc) == "NoSuchKey"
    assert exc.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", VersionId=deleted["VersionId"])
    assert code(exc) == "MethodNotAllowed"
    assert s3.list_objects_v2(Bucket=bucket).get("Contents", []) == []
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=kept)["Body"].read() == b"kept"
    # Removing the marker by its id brings the key back.
    removed = s3.delete_object(Bucket=bucket, Key="k", VersionId=deleted["VersionId"])
    assert removed["DeleteMarker"] is True and removed["VersionId"] == deleted["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"kept"


def test_deleting_a_version_by_id_removes_only_it(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="k", VersionId=second)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", VersionId=second)
    assert code(exc) == "NoSuchVersion"
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=bucket)
    assert code(exc) == "BucketNotEmpty"
    s3.delete_object(Bucket=bucket, Key="k", VersionId=first)
    s3.delete_bucket(Bucket=bucket)


def test_a_suspended_bucket_writes_the_null_version_and_keeps_the_others(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    kept = s3.put_object(Bucket=bucket, Key="k", Body=b"versioned")["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    s3.put_object(Bucket=bucket, Key="k", Body=b"null one")
    s3.put_object(Bucket=bucket, Key="k", Body=b"null two")  # replaces the null version only
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"null two"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"null two"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=kept)["Body"].read() == b"versioned"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (b"<VersioningConfiguration><Status>On</Status></VersioningConfiguration>", "MalformedXML"),
        (b"<Versioning><Status>Enabled</Status></Versioning>", "MalformedXML"),
        (b"<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>", "NotImplemented"),
    ],
)
def test_a_versioning_document_s3_would_refuse_is_refused_and_changes_nothing(s3, bucket, raw_s3, server, document, expected):
    md5 = base64.b64encode(hashlib.md5(document).digest()).decode()
    _, _, body = raw_s3(server).request("PUT", f"/{bucket}?versioning", document, {"Content-MD5": md5})
    assert f"<Code>{expected}</Code>".encode() in body, body
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)


def test_versioning_of_a_missing_bucket_is_no_such_bucket(s3):
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_versioning(Bucket="no-such-bucket-here", VersioningConfiguration={"Status": "Enabled"})
    assert code(exc) == "NoSuchBucket"


def test_a_bucket_that_never_had_versioning_shows_no_version_id(s3, bucket):
    assert "VersionId" not in s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert "VersionId" not in s3.get_object(Bucket=bucket, Key="k")
    assert "VersionId" not in s3.head_object(Bucket=bucket, Key="k")
    assert "VersionId" not in s3.copy_object(Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "k"})
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert "VersionId" not in deleted and "DeleteMarker" not in deleted


def test_the_null_version_shows_its_id_once_the_bucket_has_had_versioning(s3, bucket):
    s3.put_object(Bucket=bucket, Key="old", Body=b"from before versioning")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_object(Bucket=bucket, Key="old")["VersionId"] == "null"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"] == "null"
    assert s3.head_object(Bucket=bucket, Key="k")["VersionId"] == "null"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["VersionId"] == "null"
    # A DELETE of a suspended bucket makes a null delete marker, which replaces the null version.
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert (deleted["DeleteMarker"], deleted["VersionId"]) == (True, "null")
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="k")
    headers = exc.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert (headers["x-amz-delete-marker"], headers["x-amz-version-id"]) == ("true", "null")


def test_delete_objects_removes_the_versions_it_names_and_marks_the_others(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="a", Body=b"1")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="a", Body=b"2")["VersionId"]
    s3.put_object(Bucket=bucket, Key="b", Body=b"b")
    result = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "a", "VersionId": second}, {"Key": "b"}, {"Key": "a", "VersionId": "not-an-id"}]}
    )
    deleted = {(d["Key"], d.get("VersionId")): d for d in result["Deleted"]}
    assert "DeleteMarker" not in deleted[("a", second)]
    assert deleted[("b", None)]["DeleteMarker"] is True and deleted[("b", None)]["DeleteMarkerVersionId"] not in ("null", "")
    assert [(e["Key"], e["Code"]) for e in result["Errors"]] == [("a", "InvalidArgument")]
    assert s3.get_object(Bucket=bucket, Key="a")["VersionId"] == first
    versions = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in versions["Versions"] if v["Key"] == "a"] == [first]
    assert [m["Key"] for m in versions["DeleteMarkers"]] == ["b"]


def test_copy_from_a_named_version_reads_that_version_and_says_so(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="src", Body=b"old bytes")["VersionId"]
    s3.put_object(Bucket=bucket, Key="src", Body=b"new bytes")
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src", "VersionId": old})
    assert copied["CopySourceVersionId"] == old and copied["VersionId"] not in (old, "null")
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"old bytes"
    # The same key onto itself from an older version is how S3 users restore one.
    restored = s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src", "VersionId": old})
    assert s3.get_object(Bucket=bucket, Key="src")["Body"].read() == b"old bytes"
    assert s3.head_object(Bucket=bucket, Key="src")["VersionId"] == restored["VersionId"]


def test_copy_source_version_ids_follow_the_source_buckets_versioning(s3, bucket):
    plain = bucket + "-plain"
    s3.create_bucket(Bucket=plain)
    s3.put_object(Bucket=plain, Key="k", Body=b"x" * 10)
    s3.put_object(Bucket=bucket, Key="n", Body=b"y" * 10)  # the null version, before versioning
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    from_plain = s3.copy_object(Bucket=bucket, Key="c1", CopySource={"Bucket": plain, "Key": "k"})
    assert "CopySourceVersionId" not in from_plain
    from_null = s3.copy_object(Bucket=bucket, Key="c2", CopySource={"Bucket": bucket, "Key": "n"})
    assert from_null["CopySourceVersionId"] == "null"
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    part = s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, CopySource={"Bucket": bucket, "Key": "n"})
    assert part["CopySourceVersionId"] == "null"
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload)
