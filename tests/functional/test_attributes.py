"""GetObjectAttributes through boto3 against a real embedded server."""

from __future__ import annotations

import base64
import hashlib

import pytest
from botocore.exceptions import ClientError

from tests.functional.test_multipart import MIB, composite_checksum, upload_checksummed_parts

ALL = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]


def test_single_part_object(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="one", Body=b"hello", ChecksumAlgorithm="SHA256")
    answer = s3.get_object_attributes(Bucket=bucket, Key="one", ObjectAttributes=ALL)
    assert answer["ETag"] == hashlib.md5(b"hello").hexdigest()  # without quotes, as S3 answers it
    assert answer["Checksum"] == {"ChecksumSHA256": put["ChecksumSHA256"], "ChecksumType": "FULL_OBJECT"}
    assert (answer["StorageClass"], answer["ObjectSize"]) == ("STANDARD", 5)
    assert "ObjectParts" not in answer
    assert answer["LastModified"] == s3.head_object(Bucket=bucket, Key="one")["LastModified"]


def test_only_the_requested_attributes(s3, bucket):
    s3.put_object(Bucket=bucket, Key="one", Body=b"hello")
    answer = s3.get_object_attributes(Bucket=bucket, Key="one", ObjectAttributes=["ObjectSize"])
    assert answer["ObjectSize"] == 5
    assert not {"ETag", "Checksum", "StorageClass", "ObjectParts"} & set(answer)


def test_multipart_object_with_composite_checksum_lists_parts_in_pages(s3, bucket):
    parts = [b"a" * (5 * MIB), b"b" * (5 * MIB), b"c" * 7]
    upload_id, listed = upload_checksummed_parts(s3, bucket, "mp", parts, "SHA256")
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": listed})
    answer = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=ALL, MaxParts=2)
    assert answer["Checksum"] == {"ChecksumSHA256": composite_checksum("SHA256", parts), "ChecksumType": "COMPOSITE"}
    assert answer["ObjectSize"] == sum(map(len, parts)) and answer["ETag"].endswith("-3")
    first = answer["ObjectParts"]
    assert (first["TotalPartsCount"], first["MaxParts"], first["IsTruncated"], first["NextPartNumberMarker"]) == (3, 2, True, 2)
    # Each part with its own checksum, so that an SDK can verify a download part by part.
    digests = [base64.b64encode(hashlib.sha256(part).digest()).decode() for part in parts]
    assert [(p["PartNumber"], p["Size"], p["ChecksumSHA256"]) for p in first["Parts"]] == [(1, 5 * MIB, digests[0]), (2, 5 * MIB, digests[1])]
    rest = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts"], PartNumberMarker=2)["ObjectParts"]
    assert (rest["IsTruncated"], [(p["PartNumber"], p["Size"], p["ChecksumSHA256"]) for p in rest["Parts"]]) == (False, [(3, 7, digests[2])])


def test_multipart_object_without_checksum_has_a_part_count_only(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=b"x")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    answer = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=ALL)
    assert answer["ObjectParts"] == {"TotalPartsCount": 1}
    assert "Checksum" not in answer


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "InvalidArgument"),
        ({"x-amz-object-attributes": "ETag,Colour"}, "InvalidArgument"),
        ({"x-amz-object-attributes": "ObjectParts", "x-amz-max-parts": "+1"}, "InvalidArgument"),
        ({"x-amz-object-attributes": "ObjectParts", "x-amz-part-number-marker": "9" * 5000}, "InvalidArgument"),
    ],
)
def test_bad_requests(server, raw_s3, s3, bucket, headers, code):
    s3.put_object(Bucket=bucket, Key="one", Body=b"hello", ChecksumAlgorithm="CRC32")
    status, _, body = raw_s3(server).request("GET", f"/{bucket}/one?attributes", headers=headers)
    assert (status, f"<Code>{code}</Code>".encode() in body) == (400, True)


def test_missing_key_and_versions(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.get_object_attributes(Bucket=bucket, Key="absent", ObjectAttributes=["ETag"])
    assert exc.value.response["Error"]["Code"] == "NoSuchKey"
    s3.put_object(Bucket=bucket, Key="one", Body=b"hello")
    with pytest.raises(ClientError) as exc:
        s3.get_object_attributes(Bucket=bucket, Key="one", VersionId="no-such-version", ObjectAttributes=["ETag"])
    assert exc.value.response["Error"]["Code"] == "NoSuchVersion"
    named = s3.get_object_attributes(Bucket=bucket, Key="one", VersionId="null", ObjectAttributes=["ObjectSize"])
    assert named["ObjectSize"] == 5
