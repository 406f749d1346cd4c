"""Checksums against botocore's own implementations, which are what clients send."""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest
from botocore import httpchecksum

from wsgi_s3.s3 import checksums, errors

BOTOCORE = {
    "CRC32": httpchecksum.Crc32Checksum,
    "CRC32C": httpchecksum.CrtCrc32cChecksum,
    "CRC64NVME": httpchecksum.CrtCrc64NvmeChecksum,
    "SHA1": httpchecksum.Sha1Checksum,
    "SHA256": httpchecksum.Sha256Checksum,
}
INPUTS = [b"", b"a", b"hello world", bytes(range(256)) * 40, b"a" * 66560]


def test_every_algorithm_has_a_reference() -> None:
    assert set(BOTOCORE) == set(checksums.ALGORITHMS)


@pytest.mark.parametrize("algorithm", checksums.ALGORITHMS)
@pytest.mark.parametrize("data", INPUTS, ids=lambda d: f"{len(d)}B")
def test_matches_botocore(algorithm: str, data: bytes) -> None:
    reference = BOTOCORE[algorithm]()
    reference.update(data)
    hasher = checksums.new_hasher(algorithm)
    hasher.update(data)
    assert hasher.digest_b64() == reference.b64digest()


@pytest.mark.parametrize("algorithm", checksums.ALGORITHMS)
def test_incremental_updates_equal_one_update(algorithm: str) -> None:
    data = bytes(range(256)) * 100
    whole = checksums.new_hasher(algorithm)
    whole.update(data)
    pieces = checksums.new_hasher(algorithm)
    for start in range(0, len(data), 7):
        pieces.update(data[start : start + 7])
    pieces.update(b"")
    assert pieces.digest_b64() == whole.digest_b64()


def test_digest_sizes_and_known_values() -> None:
    assert checksums.new_hasher("CRC32").digest_b64() == "AAAAAA=="
    crc = checksums.new_hasher("CRC32")
    crc.update(b"hello world")
    assert base64.b64decode(crc.digest_b64()) == zlib.crc32(b"hello world").to_bytes(4, "big")
    assert len(base64.b64decode(checksums.new_hasher("CRC64NVME").digest_b64())) == 8
    # The example trailer of the AWS "sigv4-streaming-trailers" documentation.
    crc32c = checksums.new_hasher("CRC32C")
    crc32c.update(b"a" * 66560)
    assert crc32c.digest_b64() == "sOO8/Q=="


def test_header_name() -> None:
    assert checksums.header_name("CRC32") == "x-amz-checksum-crc32"
    assert checksums.header_name("CRC64NVME") == "x-amz-checksum-crc64nvme"
    assert checksums.header_name("sha256") == "x-amz-checksum-sha256"


@pytest.mark.parametrize("algorithm", ["MD5", "", "CRC", "SHA512"])
def test_unknown_algorithm(algorithm: str) -> None:
    with pytest.raises(errors.InvalidRequest) as raised:
        checksums.new_hasher(algorithm)
    assert raised.value.message == "Value for x-amz-checksum-algorithm header is invalid."
    with pytest.raises(errors.InvalidRequest):
        checksums.header_name(algorithm)


@pytest.mark.parametrize("algorithm", checksums.ALGORITHMS)
def test_combine_composite(algorithm: str) -> None:
    parts = [b"part one", b"", b"x" * 10000]
    digests = []
    for part in parts:
        reference = BOTOCORE[algorithm]()
        reference.update(part)
        digests.append(reference.b64digest())
    expected = BOTOCORE[algorithm]()
    for digest in digests:
        expected.update(base64.b64decode(digest))
    assert checksums.combine_composite(algorithm, digests) == f"{expected.b64digest()}-3"


def test_combine_composite_sha256_by_hand() -> None:
    digests = [hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()]
    expected = base64.b64encode(hashlib.sha256(b"".join(digests)).digest()).decode()
    encoded = [base64.b64encode(d).decode() for d in digests]
    assert checksums.combine_composite("SHA256", encoded) == expected + "-2"


@pytest.mark.parametrize(
    ("value", "well_formed"),
    [("AAAAAA==", True), ("AAAAAA==-2", True), ("AAAAAA==-", False), ("AAAAAA==-²", False), ("AAAA-2", False), ("AAAAAA==-2-3", False)],
)
def test_is_multipart_checksum(value: str, well_formed: bool) -> None:
    assert checksums.is_multipart_checksum("CRC32", value) is well_formed
