"""The request body as one verified stream: length-bounded, aws-chunked decoded, digests checked.

Digests (Content-MD5, x-amz-checksum-*, a signed x-amz-content-sha256, a trailing checksum) are
only known to match at the end of the stream, so `finish()` checks them after storage has staged
the bytes and before it commits them (DESIGN.md: stage, then commit).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import BinaryIO

from wsgi_s3.model.types import BodySource, ByteStream, ObjectMeta
from wsgi_s3.s3 import checksums, errors
from wsgi_s3.s3.chunked import AwsChunkedReader
from wsgi_s3.s3.numbers import INT64_MAX, parse_uint
from wsgi_s3.s3.sigv4 import SigV4Result

CHUNK = 1 << 20
MAX_PUT_SIZE = 5 * 1024**3  # S3's limit for a single PUT and for one part
STREAMING_PREFIX = "STREAMING-"
_PLAIN_PAYLOADS = {"UNSIGNED-PAYLOAD", ""}


class LengthLimitedReader:
    """Reads exactly `length` bytes from the WSGI input, or to EOF when `length` is None
    (gunicorn has then de-chunked a Transfer-Encoding: chunked body), refusing with `too_long` a
    body that passes `limit`; a short body is IncompleteBody."""

    def __init__(self, raw: BinaryIO, length: int | None, limit: int | None = None, too_long: errors.S3Error | None = None) -> None:
        self.raw = raw
        self.remaining = length
        self.unread = limit  # what an unmeasured body may still send
        self.too_long = too_long

    def read(self, size: int = -1) -> bytes:
        if self.remaining is None:
            if self.unread is None:
                return self.raw.read(size)
            # One byte more than allowed is enough to know the body is too long.
            data = self.raw.read(self.unread + 1 if size < 0 else min(size, self.unread + 1))
            self.unread -= len(data)
            if self.unread < 0:
                raise self.too_long or errors.IncompleteBody()
            return data
        if self.remaining <= 0:
            return b""
        want = self.remaining if size < 0 else min(size, self.remaining)
        data = self.raw.read(want)
        if not data:
            raise errors.IncompleteBody()
        self.remaining -= len(data)
        return data


def framed_limit(decoded: int) -> int:
    """The most raw bytes an aws-chunked body of `decoded` bytes may take: SDKs frame chunks of 8 KiB
    or more with headers under 100 bytes (about 1%), trailers take a few hundred bytes."""
    return decoded + decoded // 8 + 64 * 1024


def declared_lengths(
    headers: Mapping[str, str], max_size: int = MAX_PUT_SIZE, too_large: type[errors.S3Error] = errors.EntityTooLarge
) -> tuple[int | None, int | None]:
    """(Content-Length, decoded length of an aws-chunked body or None), refused at once when the
    payload would pass `max_size`. Content-Length is None for a body gunicorn de-chunks
    (Transfer-Encoding: chunked), which only an aws-chunked body, carrying its decoded size, may use.

    x-amz-decoded-content-length counts only for an aws-chunked body: on a plain one it would let a
    client declare 1 byte and send gigabytes. An aws-chunked body's raw length is bounded too
    (framed_limit), so its framing cannot be made to cost more than its data."""
    raw = headers.get("content-length")
    length = None
    if raw is not None:
        error = errors.InvalidArgument("Content-Length is not a number", ArgumentName="Content-Length")
        length = parse_uint(raw, name="Content-Length", maximum=INT64_MAX, error=error)
    decoded = None
    if headers.get("x-amz-content-sha256", "").startswith(STREAMING_PREFIX):
        decoded_raw = headers.get("x-amz-decoded-content-length")
        if decoded_raw is None:
            raise errors.MissingContentLength("You must provide the x-amz-decoded-content-length header.")
        decoded = parse_uint(decoded_raw, name="x-amz-decoded-content-length", maximum=INT64_MAX)
    elif length is None:
        raise errors.MissingContentLength()
    payload = length if decoded is None else decoded
    if payload > max_size:
        raise too_large(ProposedSize=str(payload), MaxSizeAllowed=str(max_size))
    if decoded is not None and length is not None and length > framed_limit(decoded):
        raise too_large(ProposedSize=str(length), MaxSizeAllowed=str(framed_limit(decoded)))
    return length, decoded


class RequestBody:
    """A BodySource over an upload request; see the module docstring."""

    def __init__(
        self,
        raw: BinaryIO,
        headers: Mapping[str, str],
        signature: SigV4Result | None,
        *,
        content: dict[str, str] | None = None,
        user_meta: dict[str, str] | None = None,
        max_size: int = MAX_PUT_SIZE,
        too_large: type[errors.S3Error] = errors.EntityTooLarge,
        checksum_algorithm: str = "",
    ) -> None:
        self.headers = headers
        self.content = content or {}
        self.user_meta = user_meta or {}
        payload_hash = headers.get("x-amz-content-sha256", "")
        length, decoded = declared_lengths(headers, max_size, too_large)
        limit = None if decoded is None else framed_limit(decoded)
        source = LengthLimitedReader(raw, length, limit, None if limit is None else too_large(MaxSizeAllowed=str(limit)))
        self.chunked: AwsChunkedReader | None = None
        self.expected_size = length
        if payload_hash.startswith(STREAMING_PREFIX):
            signed = payload_hash.startswith("STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
            if signed and signature is None:
                raise errors.InvalidRequest("A signed streaming payload needs a SigV4 Authorization header.")
            self.chunked = AwsChunkedReader(
                source, signature=signature if signed else None, trailer=payload_hash.endswith("-TRAILER"), decoded_length=decoded
            )
            self.expected_size = decoded
            self.source = self.chunked
        else:
            self.source = source
        self.sha256_expected = None if payload_hash in _PLAIN_PAYLOADS or payload_hash.startswith(STREAMING_PREFIX) else payload_hash.lower()
        self.md5_expected = _content_md5(headers.get("content-md5"))
        self.algorithm = _checksum_algorithm(headers, checksum_algorithm)
        self.digests = Digests(self.algorithm, sha256=self.sha256_expected is not None)

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.digests.update(data)
        return data

    def read_all(self) -> bytes:
        """The whole (small) body, verified."""
        data = self.read()
        while chunk := self.read():
            data += chunk
        self.finish()
        return data

    def finish(self) -> ObjectMeta:
        digests = self.digests
        if self.expected_size is not None and digests.size != self.expected_size:
            raise errors.IncompleteBody()
        if digests.sha256 and digests.sha256.hexdigest() != self.sha256_expected:
            raise errors.XAmzContentSHA256Mismatch(
                ClientComputedContentSHA256=self.sha256_expected or "", S3ComputedContentSHA256=digests.sha256.hexdigest()
            )
        if self.md5_expected is not None and digests.md5.digest() != self.md5_expected:
            raise errors.BadDigest()
        if digests.hasher:
            name = checksums.header_name(self.algorithm)
            trailers = self.chunked.trailers if self.chunked else {}
            expected = self.headers.get(name) or trailers.get(name)
            if expected is None and name in self.headers.get("x-amz-trailer", "").lower():
                raise errors.InvalidRequest(f"The trailing {name} was not sent.")
            if expected is not None and not checksums.is_digest(self.algorithm, expected):
                raise errors.InvalidRequest(f"Value for {name} header is invalid.")
            if expected is not None and expected != digests.hasher.digest_b64():
                raise errors.BadDigest(f"The {self.algorithm} you specified did not match the calculated checksum.")
        return digests.meta(self.content, self.user_meta)


class Digests:
    """MD5 (the ETag), optionally SHA-256 and one flexible checksum, updated as bytes stream by."""

    def __init__(self, algorithm: str = "", sha256: bool = False) -> None:
        self.algorithm = algorithm
        self.md5 = hashlib.md5()
        self.sha256 = hashlib.sha256() if sha256 else None
        self.hasher = checksums.new_hasher(algorithm) if algorithm else None
        self.size = 0

    def update(self, data: bytes) -> None:
        if data:
            self.size += len(data)
            self.md5.update(data)
            if self.sha256:
                self.sha256.update(data)
            if self.hasher:
                self.hasher.update(data)

    def meta(self, content: dict[str, str], user_meta: dict[str, str]) -> ObjectMeta:
        found = {self.algorithm: self.hasher.digest_b64()} if self.hasher else {}
        return ObjectMeta(
            etag=self.md5.hexdigest(),
            content=content,
            user_meta=user_meta,
            checksums=found,
            checksum_type="FULL_OBJECT" if found else "",
        )


class CopiedBody:
    """A BodySource over bytes read from storage (CopyObject, UploadPartCopy): hashed, not verified."""

    def __init__(self, chunks: ByteStream | Iterator[bytes], content: dict[str, str], user_meta: dict[str, str], algorithm: str = "") -> None:
        self.chunks = iter(lambda: chunks.read(CHUNK), b"") if hasattr(chunks, "read") else iter(chunks)
        self.closer = chunks
        self.content = content
        self.user_meta = user_meta
        self.digests = Digests(algorithm)
        self.pending = b""

    def read(self, size: int = -1) -> bytes:
        # Storage reads in chunks of its own; hand them on without re-buffering.
        data = self.pending or next(self.chunks, b"")
        self.pending = b""
        if 0 <= size < len(data):
            data, self.pending = data[:size], data[size:]
        self.digests.update(data)
        return data

    def finish(self) -> ObjectMeta:
        close = getattr(self.closer, "close", None)
        if close:
            close()
        return self.digests.meta(self.content, self.user_meta)


def read_document(raw: BinaryIO, headers: Mapping[str, str], signature: SigV4Result | None, limit: int) -> bytes:
    """A whole request document (XML), bounded by `limit` and verified like any body."""
    if "content-length" not in headers and "transfer-encoding" not in headers:
        return b""
    return RequestBody(raw, headers, signature, max_size=limit, too_large=errors.MaxMessageLengthExceeded).read_all()


def _content_md5(header: str | None) -> bytes | None:
    if header is None:
        return None
    try:
        digest = base64.b64decode(header, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise errors.InvalidDigest() from exc
    if len(digest) != 16:
        raise errors.InvalidDigest()
    return digest


def _checksum_algorithm(headers: Mapping[str, str], default: str) -> str:
    """Which flexible checksum the client sent or announced (header, trailer or SDK hint)."""
    for algorithm in checksums.ALGORITHMS:
        if checksums.header_name(algorithm) in headers:
            return algorithm
    trailer = headers.get("x-amz-trailer", "").strip().lower()
    for algorithm in checksums.ALGORITHMS:
        if trailer == checksums.header_name(algorithm):
            return algorithm
    announced = (headers.get("x-amz-sdk-checksum-algorithm") or headers.get("x-amz-checksum-algorithm") or default).upper()
    if announced and announced not in checksums.ALGORITHMS:
        raise errors.InvalidRequest("Value for x-amz-checksum-algorithm header is invalid.")
    return announced


class TaggedBody:
    """A BodySource whose new version carries object tags (x-amz-tagging, a copy's tags)."""

    def __init__(self, body: BodySource, tags: dict[str, str]) -> None:
        self.body = body
        self.tags = tags

    def read(self, size: int = -1) -> bytes:
        return self.body.read(size)

    def finish(self) -> ObjectMeta:
        return replace(self.body.finish(), tags=self.tags)
