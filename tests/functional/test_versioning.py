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
