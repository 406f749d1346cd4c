"""The flexible checksums of S3 (x-amz-checksum-*): incremental hashers and the COMPOSITE multipart form."""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable, Mapping

from awscrt import checksums as crt

from wsgi_s3.s3 import errors

ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")


class Hasher:
    """A running checksum; `digest()` is the raw big-endian value, `digest_b64()` the header form."""

    def update(self, data: bytes) -> None:
        raise NotImplementedError

    def digest(self) -> bytes:
        raise NotImplementedError

    def digest_b64(self) -> str:
        return base64.b64encode(self.digest()).decode("ascii")


class _Crc(Hasher):
    def __init__(self, function: Callable[[bytes, int], int], size: int) -> None:
        self._function = function
        self._size = size
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = self._function(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._size, "big")


class _Hashlib(Hasher):
    def __init__(self, name: str) -> None:
        self._hash = hashlib.new(name)

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def digest(self) -> bytes:
        return self._hash.digest()


def _canonical(algorithm: str) -> str:
    # SDKs send upper case; accept any case rather than fail on a header value's spelling.
    name = algorithm.upper()
    if name not in ALGORITHMS:
        raise errors.InvalidRequest("Value for x-amz-checksum-algorithm header is invalid.")
    return name


def header_name(algorithm: str) -> str:
    """The header that carries this algorithm's checksum, e.g. "x-amz-checksum-crc32"."""
    return "x-amz-checksum-" + _canonical(algorithm).lower()


def new_hasher(algorithm: str) -> Hasher:
    """A fresh hasher for one of `ALGORITHMS`; anything else is S3's InvalidRequest."""
    name = _canonical(algorithm)
    if name == "CRC32":
        return _Crc(zlib.crc32, 4)
    if name == "CRC32C":
        return _Crc(crt.crc32c, 4)
    if name == "CRC64NVME":
        return _Crc(crt.crc64nvme, 8)
    return _Hashlib(name.lower())


def is_digest(algorithm: str, value: str) -> bool:
    """Whether `value` is a well-formed digest of this algorithm (base64 of the right size), matching or not.

    S3 answers a value that is no digest at all with InvalidRequest, and a wrong digest with BadDigest."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) == len(new_hasher(algorithm).digest())


def is_multipart_checksum(algorithm: str, value: str) -> bool:
    """Whether `value` is a well-formed checksum of a multipart object: a digest (FULL_OBJECT), or a
    digest and "-<part count>" (COMPOSITE). Base64 has no "-", so the split is unambiguous."""
    digest, dash, count = value.partition("-")
    return is_digest(algorithm, digest) and (not dash or (count.isascii() and count.isdigit()))


# CRCs can be concatenated arithmetically, which is what makes FULL_OBJECT multipart checksums possible.
_COMBINE: dict[str, Callable[[int, int, int], int]] = {
    "CRC32": crt.combine_crc32,
    "CRC32C": crt.combine_crc32c,
    "CRC64NVME": crt.combine_crc64nvme,
}
FULL_OBJECT_ALGORITHMS = tuple(_COMBINE)


def combine_full_object(algorithm: str, parts: list[tuple[str, int]]) -> str:
    """S3's FULL_OBJECT multipart checksum: the CRC of the whole object, from (part CRC, part size) pairs."""
    name = _canonical(algorithm)
    combine = _COMBINE[name]
    value = 0  # the CRC of no bytes
    for digest, length in parts:
        value = combine(value, int.from_bytes(base64.b64decode(digest, validate=True), "big"), length)
    return base64.b64encode(value.to_bytes(8 if name == "CRC64NVME" else 4, "big")).decode("ascii")


def combine_composite(algorithm: str, part_digests_b64: list[str]) -> str:
    """S3's COMPOSITE multipart checksum: the checksum of the parts' raw digests, then "-<part count>"."""
    hasher = new_hasher(algorithm)
    for digest in part_digests_b64:
        hasher.update(base64.b64decode(digest, validate=True))
    return f"{hasher.digest_b64()}-{len(part_digests_b64)}"


def require_integrity_header(headers: Mapping[str, str]) -> None:
    """Operations that S3 refuses without Content-MD5 or a flexible checksum (DeleteObjects,
    PutBucketLifecycleConfiguration, ...)."""
    if "content-md5" not in headers and not any(header_name(algorithm) in headers for algorithm in ALGORITHMS):
        raise errors.InvalidRequest("Missing required header for this request: Content-MD5")
