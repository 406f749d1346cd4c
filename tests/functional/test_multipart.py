"""Multipart uploads through boto3 against a real embedded server."""

from __future__ import annotations

import hashlib
import os

import pytest
from botocore.exceptions import ClientError

MIB = 1024 * 1024


def upload_parts(s3, bucket, key, parts: list[bytes], **create):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    etags = [
        s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data)["ETag"]
        for number, data in enumerate(parts, start=1)
    ]
    return upload_id, etags


def complete(s3, bucket, key, upload_id, etags, numbers=None):
    numbers = numbers or list(range(1, len(etags) + 1))
    return s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in zip(numbers, etags)]},
    )


def test_complete_upload_concatenates_parts_with_multipart_etag(s3, bucket):
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), b"tail"]
    upload_id, etags = upload_parts(s3, bucket, "mp", parts, ContentType="video/mp4", Metadata={"k": "v"})
    result = complete(s3, bucket, "mp", upload_id, etags)
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-3"
    assert result["ETag"] == f'"{expected}"'
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == b"".join(parts)
    assert got["ContentType"] == "video/mp4" and got["Metadata"] == {"k": "v"} and got["ETag"] == f'"{expected}"'
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    # Reading one part of a multipart object.
    second = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert second["Body"].read() == parts[1]
    assert second["PartsCount"] == 3
    assert second["ContentRange"] == f"bytes {5 * MIB}-{10 * MIB - 1}/{10 * MIB + 4}"


def test_range_across_part_boundary(s3, bucket):
    parts = [b"a" * (5 * MIB), b"b" * 10]
    upload_id, etags = upload_parts(s3, bucket, "mp", parts)
    complete(s3, bucket, "mp", upload_id, etags)
    got = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={5 * MIB - 3}-{5 * MIB + 2}")
    assert got["Body"].read() == b"aaabbb"


def test_small_non_last_part_is_entity_too_small(s3, bucket):
    upload_id, etags = upload_parts(s3, bucket, "small", [b"x" * 100, b"y" * 100])
    with pytest.raises(ClientError) as exc:
        complete(s3, bucket, "small", upload_id, etags)
    assert exc.value.response["Error"]["Code"] == "EntityTooSmall"
    # The upload survives a failed complete.
    assert len(s3.list_parts(Bucket=bucket, Key="small", UploadId=upload_id)["Parts"]) == 2


def test_invalid_part_and_order(s3, bucket):
    upload_id, etags = upload_parts(s3, bucket, "bad", [b"x" * (5 * MIB), b"y"])
    with pytest.raises(ClientError) as exc:
        complete(s3, bucket, "bad", upload_id, [etags[0], '"00000000000000000000000000000000"'])
    assert exc.value.response["Error"]["Code"] == "InvalidPart"
    with pytest.raises(ClientError) as exc:
        complete(s3, bucket, "bad", upload_id, etags, numbers=[1, 3])
    assert exc.value.response["Error"]["Code"] == "InvalidPart"
    with pytest.raises(ClientError) as exc:
        complete(s3, bucket, "bad", upload_id, list(reversed(etags)), numbers=[2, 1])
    assert exc.value.response["Error"]["Code"] == "InvalidPartOrder"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="bad")
    assert exc.value.response["Error"]["Code"] == "NoSuchKey"


def test_subset_of_parts_and_reuploaded_part(s3, bucket):
    upload_id, etags = upload_parts(s3, bucket, "subset", [b"1" * (5 * MIB), b"2" * (5 * MIB), b"3"])
    etags[1] = s3.upload_part(Bucket=bucket, Key="subset", UploadId=upload_id, PartNumber=2, Body=b"two")["ETag"]
    complete(s3, bucket, "subset", upload_id, [etags[0], etags[1]], numbers=[1, 2])
    assert s3.get_object(Bucket=bucket, Key="subset")["Body"].read() == b"1" * (5 * MIB) + b"two"


def test_abort_removes_upload(s3, bucket):
    upload_id, _ = upload_parts(s3, bucket, "gone", [b"data"])
    s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=upload_id)
    with pytest.raises(ClientError) as exc:
        s3.list_parts(Bucket=bucket, Key="gone", UploadId=upload_id)
    assert exc.value.response["Error"]["Code"] == "NoSuchUpload"
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="gone", UploadId=upload_id, PartNumber=1, Body=b"x")
    assert exc.value.response["Error"]["Code"] == "NoSuchUpload"


def test_list_parts_pagination(s3, bucket):
    upload_id, etags = upload_parts(s3, bucket, "lp", [bytes([n]) * 10 for n in range(5)])
    first = s3.list_parts(Bucket=bucket, Key="lp", UploadId=upload_id, MaxParts=2)
    assert [p["PartNumber"] for p in first["Parts"]] == [1, 2] and first["IsTruncated"]
    rest = s3.list_parts(Bucket=bucket, Key="lp", UploadId=upload_id, PartNumberMarker=first["NextPartNumberMarker"])
    assert [p["PartNumber"] for p in rest["Parts"]] == [3, 4, 5] and not rest["IsTruncated"]
    assert [p["ETag"] for p in first["Parts"] + rest["Parts"]] == etags
    assert all(p["Size"] == 10 for p in rest["Parts"])


def test_list_multipart_uploads_with_prefix_delimiter_and_pages(s3, bucket):
    ids = {}
    for key in ("logs/a", "logs/b", "logs/sub/c", "other"):
        ids[key] = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    listed = s3.list_multipart_uploads(Bucket=bucket)
    assert [u["Key"] for u in listed["Uploads"]] == ["logs/a", "logs/b", "logs/sub/c", "other"]
    rolled = s3.list_multipart_uploads(Bucket=bucket, Prefix="logs/", Delimiter="/")
    assert [u["Key"] for u in rolled["Uploads"]] == ["logs/a", "logs/b"]
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["logs/sub/"]
    page = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2)
    assert page["IsTruncated"] and [u["Key"] for u in page["Uploads"]] == ["logs/a", "logs/b"]
    rest = s3.list_multipart_uploads(Bucket=bucket, KeyMarker=page["NextKeyMarker"], UploadIdMarker=page["NextUploadIdMarker"])
    assert [u["Key"] for u in rest["Uploads"]] == ["logs/sub/c", "other"]


def test_list_multipart_uploads_after_a_key_marker_alone_skips_that_key(s3, bucket):
    first = [s3.create_multipart_upload(Bucket=bucket, Key="a")["UploadId"] for _ in range(2)]
    s3.create_multipart_upload(Bucket=bucket, Key="b")
    after_key = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="a")
    assert [u["Key"] for u in after_key["Uploads"]] == ["b"]
    after_upload = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="a", UploadIdMarker=min(first))
    assert [(u["Key"], u["UploadId"]) for u in after_upload["Uploads"]] == [("a", max(first)), ("b", after_upload["Uploads"][-1]["UploadId"])]


def test_upload_part_copy_with_range(s3, bucket):
    source = os.urandom(6 * MIB)
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="assembled")["UploadId"]
    first = s3.upload_part_copy(
        Bucket=bucket, Key="assembled", UploadId=upload_id, PartNumber=1, CopySource={"Bucket": bucket, "Key": "source"}, CopySourceRange=f"bytes=0-{5 * MIB - 1}"
    )
    second = s3.upload_part_copy(
        Bucket=bucket, Key="assembled", UploadId=upload_id, PartNumber=2, CopySource={"Bucket": bucket, "Key": "source"}, CopySourceRange="bytes=100-199"
    )
    etags = [first["CopyPartResult"]["ETag"], second["CopyPartResult"]["ETag"]]
    assert etags[1] == f'"{hashlib.md5(source[100:200]).hexdigest()}"'
    complete(s3, bucket, "assembled", upload_id, etags)
    assert s3.get_object(Bucket=bucket, Key="assembled")["Body"].read() == source[: 5 * MIB] + source[100:200]
    with pytest.raises(ClientError) as exc:
        s3.upload_part_copy(
            Bucket=bucket, Key="assembled2", UploadId=upload_id, PartNumber=1, CopySource={"Bucket": bucket, "Key": "source"}, CopySourceRange="bytes=0-99"
        )
    assert exc.value.response["Error"]["Code"] == "NoSuchUpload"


@pytest.mark.parametrize("number", [0, 10001])
def test_part_number_limits(s3, bucket, number):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="limits")["UploadId"]
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="limits", UploadId=upload_id, PartNumber=number, Body=b"x")
    assert exc.value.response["Error"]["Code"] == "InvalidArgument"


def test_part_number_10000_is_accepted(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="last-part")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="last-part", UploadId=upload_id, PartNumber=10000, Body=b"end")
    parts = s3.list_parts(Bucket=bucket, Key="last-part", UploadId=upload_id)["Parts"]
    assert [p["PartNumber"] for p in parts] == [10000]


def upload_checksummed_parts(s3, bucket, key, parts: list[bytes], algorithm: str, **create) -> tuple[str, list[dict]]:
    """An upload created with `algorithm`, its parts sent with their checksums; (upload id, Complete's part list)."""
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm=algorithm, **create)["UploadId"]
    listed = []
    for number, data in enumerate(parts, start=1):
        uploaded = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data, ChecksumAlgorithm=algorithm)
        listed.append({"PartNumber": number, "ETag": uploaded["ETag"], f"Checksum{algorithm}": uploaded[f"Checksum{algorithm}"]})
    return upload_id, listed


def composite_checksum(algorithm: str, parts: list[bytes]) -> str:
    """S3's COMPOSITE checksum, computed here independently of the server: the checksum of the parts' raw digests, "-N"."""
    from wsgi_s3.s3.checksums import new_hasher

    outer = new_hasher(algorithm)
    for data in parts:
        inner = new_hasher(algorithm)
        inner.update(data)
        outer.update(inner.digest())
    return f"{outer.digest_b64()}-{len(parts)}"


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_composite_checksum(s3, bucket, algorithm):
    parts = [b"p" * (5 * MIB), b"q" * 100]
    upload_id, listed = upload_checksummed_parts(s3, bucket, "sum", parts, algorithm)
    expected = composite_checksum(algorithm, parts)
    # Sent on Complete as S3 defines it ("<base64>-<parts>"): the whole object's checksum, not the document's.
    result = s3.complete_multipart_upload(
        Bucket=bucket, Key="sum", UploadId=upload_id, MultipartUpload={"Parts": listed}, **{f"Checksum{algorithm}": expected}
    )
    assert (result[f"Checksum{algorithm}"], result["ChecksumType"]) == (expected, "COMPOSITE")
    head = s3.head_object(Bucket=bucket, Key="sum", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == expected


@pytest.mark.parametrize("wrong", ["AAAAAA==-2", "AAAAAA==-3"])
def test_wrong_composite_checksum_on_complete_is_bad_digest(s3, bucket, wrong):
    upload_id, listed = upload_checksummed_parts(s3, bucket, "sum", [b"p" * (5 * MIB), b"q"], "CRC32")
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="sum", UploadId=upload_id, MultipartUpload={"Parts": listed}, ChecksumCRC32=wrong)
    assert exc.value.response["Error"]["Code"] == "BadDigest"


def test_malformed_checksum_on_complete_is_invalid_request(s3, bucket):
    upload_id, listed = upload_checksummed_parts(s3, bucket, "sum", [b"q"], "SHA256")
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="sum", UploadId=upload_id, MultipartUpload={"Parts": listed}, ChecksumSHA256="not-base64-1")
    assert exc.value.response["Error"]["Code"] == "InvalidRequest"


def test_upload_file_with_transfer_manager(s3, bucket, tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(20 * MIB))
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB)
    s3.upload_file(str(path), bucket, "big.bin", Config=config)
    out = tmp_path / "back.bin"
    s3.download_file(bucket, "big.bin", str(out), Config=config)
    assert out.read_bytes() == path.read_bytes()
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ETag"].endswith('-3"')


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME"])
def test_full_object_checksum(s3, bucket, algorithm):
    from wsgi_s3.s3.checksums import new_hasher

    parts = [os.urandom(5 * MIB), os.urandom(1000)]
    upload_id, listed = upload_checksummed_parts(s3, bucket, "full", parts, algorithm, ChecksumType="FULL_OBJECT")
    whole = new_hasher(algorithm)
    for data in parts:
        whole.update(data)
    # Sent on Complete as the SDKs do: the plain CRC of the whole object, its type and size.
    result = s3.complete_multipart_upload(
        Bucket=bucket, Key="full", UploadId=upload_id, MultipartUpload={"Parts": listed},
        ChecksumType="FULL_OBJECT", MpuObjectSize=sum(map(len, parts)), **{f"Checksum{algorithm}": whole.digest_b64()},
    )
    assert (result["ChecksumType"], result[f"Checksum{algorithm}"]) == ("FULL_OBJECT", whole.digest_b64())
    head = s3.head_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == whole.digest_b64() and head["ChecksumType"] == "FULL_OBJECT"


@pytest.mark.parametrize(("algorithm", "checksum_type"), [("SHA256", "FULL_OBJECT"), ("CRC64NVME", "COMPOSITE")])
def test_impossible_checksum_types(s3, bucket, algorithm, checksum_type):
    with pytest.raises(ClientError) as exc:
        s3.create_multipart_upload(Bucket=bucket, Key="x", ChecksumAlgorithm=algorithm, ChecksumType=checksum_type)
    assert exc.value.response["Error"]["Code"] == "InvalidRequest"


@pytest.mark.parametrize(
    "mismatch",
    [{"ChecksumType": "COMPOSITE"}, {"MpuObjectSize": 5 * MIB}, {"ChecksumSHA256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}],
)
def test_complete_refuses_what_contradicts_the_upload(s3, bucket, mismatch):
    """A FULL_OBJECT CRC32 upload of 5 MiB + 1 byte: another checksum mode, size or algorithm on Complete is InvalidRequest."""
    upload_id, listed = upload_checksummed_parts(s3, bucket, "full", [b"p" * (5 * MIB), b"q"], "CRC32", ChecksumType="FULL_OBJECT")
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="full", UploadId=upload_id, MultipartUpload={"Parts": listed}, **mismatch)
    assert exc.value.response["Error"]["Code"] == "InvalidRequest"
