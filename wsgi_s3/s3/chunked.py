"""A readable stream that decodes an aws-chunked request body, checking chunk and trailer signatures."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Protocol

from wsgi_s3.s3 import errors
from wsgi_s3.s3.sigv4 import EMPTY_SHA256, SigV4Result, sign, string_to_sign

CHUNK_ALGORITHM = "AWS4-HMAC-SHA256-PAYLOAD"
TRAILER_ALGORITHM = "AWS4-HMAC-SHA256-TRAILER"
# A signed chunk is held whole until its signature checks; SDKs use 64 KiB to 1 MiB, so this only stops abuse.
MAX_SIGNED_CHUNK = 16 * 1024 * 1024
_MAX_LINE = 4096  # a chunk header or trailer line; real ones are under 200 bytes
_MAX_TRAILERS = 64
_READ_AHEAD = 64 * 1024
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


class Readable(Protocol):
    """The one method the reader needs of its source, e.g. wsgi.input."""

    def read(self, n: int = ..., /) -> bytes: ...


class AwsChunkedReader:
    """Decoded payload of an aws-chunked body; `trailers` and `decoded_size` are complete once read() gives b"".

    `signature` is the request's SigV4 result for the STREAMING-AWS4-HMAC-SHA256-* forms (None for
    STREAMING-UNSIGNED-PAYLOAD-TRAILER); `trailer` says whether trailer headers follow the last chunk.
    `decoded_length` (x-amz-decoded-content-length) is enforced at each chunk header, before the
    chunk's data is read: a body that lies about its size is refused after one read-ahead.
    """

    def __init__(self, raw: Readable, *, signature: SigV4Result | None, trailer: bool, decoded_length: int | None = None) -> None:
        self._raw = raw
        self._decoded_length = decoded_length
        self._announced = 0  # sum of the chunk sizes seen so far
        self._signature = signature
        self._trailer = trailer
        self._previous = signature.seed_signature if signature else ""
        self._pending = bytearray()  # bytes read from `raw` but not parsed yet
        self._chunk = memoryview(b"")  # the verified part of a signed chunk not returned yet
        self._left = 0  # bytes of the current unsigned chunk still in the stream
        self._done = False
        self.trailers: dict[str, str] = {}
        self.decoded_size = 0

    def read(self, n: int = -1) -> bytes:
        """Up to `n` payload bytes (all of them if n < 0); fewer only at the end, b"" once it is reached."""
        parts = []
        got = 0
        while n < 0 or got < n:
            piece = self._next(None if n < 0 else n - got)
            if not piece:
                break
            parts.append(piece)
            got += len(piece)
        self.decoded_size += got
        return b"".join(parts)

    def _next(self, limit: int | None) -> bytes:
        """Payload bytes from the current chunk, starting the next chunk when it is used up; b"" at the end."""
        while not self._chunk and not self._left:
            if self._done:
                return b""
            self._start_chunk()
        if self._chunk:
            piece = bytes(self._chunk[:limit])
            self._chunk = self._chunk[len(piece) :]
            return piece
        piece = self._take(min(limit or _READ_AHEAD, self._left))
        self._left -= len(piece)
        if not self._left:
            self._expect_crlf()
        return piece

    def _start_chunk(self) -> None:
        size, chunk_signature = self._parse_header(self._read_line())
        self._announced += size
        if self._decoded_length is not None and (
            self._announced > self._decoded_length or (size == 0 and self._announced < self._decoded_length)
        ):
            # S3's answer when the chunks do not add up to x-amz-decoded-content-length.
            raise errors.IncompleteBody(NumberBytesExpected=str(self._decoded_length), NumberBytesProvided=str(self._announced))
        if self._signature is None:
            self._left = size
        else:
            if size > MAX_SIGNED_CHUNK:
                raise errors.InvalidRequest(f"Chunk size exceeds the maximum of {MAX_SIGNED_CHUNK} bytes.")
            data = self._read_exact(size)
            # The last chunk has no data of its own: what follows its header is the trailer section.
            if size:
                self._expect_crlf()
            self._verify(
                self._signature.signing_key,
                chunk_signature,
                string_to_sign(
                    CHUNK_ALGORITHM,
                    self._signature.amz_date,
                    self._signature.scope,
                    self._previous,
                    EMPTY_SHA256,
                    hashlib.sha256(data).hexdigest(),
                ),
            )
            self._chunk = memoryview(data)
        if size == 0:
            self._read_trailers()
            self._done = True

    def _parse_header(self, line: bytes) -> tuple[int, bytes | None]:
        size_text, _, extensions = line.partition(b";")
        if not _CHUNK_SIZE.fullmatch(size_text.strip()):
            raise errors.InvalidRequest("Invalid chunk size in aws-chunked body.")
        chunk_signature = None
        # Unknown extensions are ignored, as S3 does.
        for extension in extensions.split(b";"):
            name, _, value = extension.partition(b"=")
            if name.strip() == b"chunk-signature":
                chunk_signature = value.strip()
        return int(size_text, 16), chunk_signature

    def _read_trailers(self) -> None:
        lines: list[tuple[str, str]] = []
        trailer_signature = None
        # Some clients end the body without the final empty line; the payload is complete by then.
        while line := self._read_line(eof_ok=True):
            if not self._trailer:
                raise errors.InvalidRequest("Unexpected data after the last chunk of an aws-chunked body.")
            if len(lines) >= _MAX_TRAILERS:
                raise errors.InvalidRequest("Too many trailing headers in aws-chunked body.")
            name, sep, value = line.partition(b":")
            if not sep or not name.strip():
                raise errors.InvalidRequest("Malformed trailing header in aws-chunked body.")
            if name.strip().lower() == b"x-amz-trailer-signature":
                trailer_signature = value.strip()
                continue
            try:
                lines.append((name.strip().lower().decode("ascii"), value.strip().decode("utf-8")))
            except UnicodeDecodeError:
                raise errors.InvalidRequest("Malformed trailing header in aws-chunked body.") from None
        if self._signature is not None and self._trailer:
            canonical = "".join(f"{name}:{value}\n" for name, value in lines)
            self._verify(
                self._signature.signing_key,
                trailer_signature,
                string_to_sign(
                    TRAILER_ALGORITHM,
                    self._signature.amz_date,
                    self._signature.scope,
                    self._previous,
                    hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
                ),
            )
        self.trailers = dict(lines)

    def _verify(self, key: bytes, provided: bytes | None, to_sign: str) -> None:
        expected = sign(key, to_sign)
        # A missing signature in a signed stream is a failed signature, not a framing error.
        if provided is None or not hmac.compare_digest(expected.encode(), provided):
            raise errors.SignatureDoesNotMatch()
        # Each signature chains from the one before, so chunks cannot be dropped or reordered.
        self._previous = expected

    def _read_line(self, *, eof_ok: bool = False) -> bytes | None:
        """The next CRLF-terminated line without its CRLF; None at a clean end of stream if `eof_ok`."""
        while (end := self._pending.find(b"\r\n", 0, _MAX_LINE + 2)) < 0:
            if len(self._pending) >= _MAX_LINE + 2:
                raise errors.InvalidRequest("Chunk header or trailer line too long in aws-chunked body.")
            data = self._raw.read(_READ_AHEAD)
            if not data:
                if eof_ok and not self._pending:
                    return None
                raise errors.IncompleteBody()
            self._pending += data
        line = bytes(self._pending[:end])
        del self._pending[: end + 2]
        return line

    def _read_exact(self, size: int) -> bytes:
        while len(self._pending) < size:
            data = self._raw.read(max(size - len(self._pending), _READ_AHEAD))
            if not data:
                raise errors.IncompleteBody()
            self._pending += data
        data = bytes(self._pending[:size])
        del self._pending[:size]
        return data

    def _take(self, limit: int) -> bytes:
        """At most `limit` bytes, from what is already buffered or else from one read of the stream."""
        if self._pending:
            data = bytes(self._pending[:limit])
            del self._pending[:limit]
            return data
        data = self._raw.read(limit)
        if not data:
            raise errors.IncompleteBody()
        return data

    def _expect_crlf(self) -> None:
        if self._read_exact(2) != b"\r\n":
            raise errors.InvalidRequest("Chunk data not followed by CRLF in aws-chunked body.")
