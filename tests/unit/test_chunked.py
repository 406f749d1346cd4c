"""aws-chunked decoding: the AWS documentation's examples, botocore's encoder, tampering and truncation."""

from __future__ import annotations

import hashlib
import hmac
import io
from datetime import datetime, timezone

import pytest
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

from wsgi_s3.s3 import errors, sigv4
from wsgi_s3.s3.chunked import AwsChunkedReader
from wsgi_s3.s3.sigv4 import SignedRequest, SigV4Result

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AMZ_DATE = "20130524T000000Z"
SCOPE = "20130524/us-east-1/s3/aws4_request"
KEY = hmac.new(
    hmac.new(
        hmac.new(hmac.new(b"AWS4" + SECRET.encode(), b"20130524", "sha256").digest(), b"us-east-1", "sha256").digest(),
        b"s3",
        "sha256",
    ).digest(),
    b"aws4_request",
    "sha256",
).digest()
EMPTY = hashlib.sha256(b"").hexdigest()

# The AWS documentation's examples: 66560 bytes of "a" in chunks of 65536 and 1024 bytes.
DOC_PAYLOAD = b"a" * 66560
DOC_SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
DOC_CHUNK_SIGNATURES = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
]
DOC_TRAILER_SEED = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
DOC_TRAILER_CHUNK_SIGNATURES = [
    "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
]
DOC_TRAILER_SIGNATURE = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"


def context(seed: str = DOC_SEED, payload_hash: str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD") -> SigV4Result:
    return SigV4Result("AKIAIOSFODNN7EXAMPLE", "us-east-1", AMZ_DATE, SCOPE, KEY, seed, payload_hash)


def hmac_hex(text: str) -> str:
    return hmac.new(KEY, text.encode(), "sha256").hexdigest()


def signed_body(
    chunks: list[bytes], seed: str, trailers: list[tuple[str, str]] | None = None
) -> tuple[bytes, list[str]]:
    """An aws-chunked body built by the documented algorithm; also the signatures it used."""
    out = bytearray()
    previous = seed
    signatures = []
    for data in [*chunks, b""]:
        to_sign = "\n".join(
            ["AWS4-HMAC-SHA256-PAYLOAD", AMZ_DATE, SCOPE, previous, EMPTY, hashlib.sha256(data).hexdigest()]
        )
        previous = hmac_hex(to_sign)
        signatures.append(previous)
        out += b"%x;chunk-signature=%s\r\n" % (len(data), previous.encode())
        if data:
            out += data + b"\r\n"
    if trailers is None:
        out += b"\r\n"
    else:
        canonical = "".join(f"{name}:{value}\n" for name, value in trailers)
        to_sign = "\n".join(
            ["AWS4-HMAC-SHA256-TRAILER", AMZ_DATE, SCOPE, previous, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        signatures.append(hmac_hex(to_sign))
        for name, value in trailers:
            out += f"{name}:{value}\r\n".encode()
        out += f"x-amz-trailer-signature:{signatures[-1]}\r\n\r\n".encode()
    return bytes(out), signatures


def read_all(reader: AwsChunkedReader, size: int = -1) -> bytes:
    if size < 0:
        data = reader.read()
        assert reader.read() == b""
        return data
    parts = []
    while piece := reader.read(size):
        assert len(piece) <= size
        parts.append(piece)
    return b"".join(parts)


class Trickle(io.RawIOBase):
    """A stream that returns at most a few bytes per read, as a slow socket does."""

    def __init__(self, data: bytes, step: int = 3) -> None:
        self._data = io.BytesIO(data)
        self._step = step

    def read(self, n: int = -1) -> bytes:
        return self._data.read(self._step if n < 0 else min(n, self._step))


# --- STREAMING-AWS4-HMAC-SHA256-PAYLOAD -----------------------------------------------------


def test_documentation_seed_request_reproduces_the_seed_signature() -> None:
    headers = {
        "host": "s3.amazonaws.com",
        "x-amz-date": AMZ_DATE,
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560",
        "content-length": "66824",
        "authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
        f"x-amz-decoded-content-length;x-amz-storage-class,Signature={DOC_SEED}",
    }
    request = SignedRequest("PUT", "/examplebucket/chunkObject.txt", [], headers)
    result = sigv4.verify(request, lambda key: SECRET, datetime(2013, 5, 24, tzinfo=timezone.utc))
    assert result == context()


def test_documentation_example() -> None:
    body, signatures = signed_body([DOC_PAYLOAD[:65536], DOC_PAYLOAD[65536:]], DOC_SEED)
    assert signatures == DOC_CHUNK_SIGNATURES
    assert len(body) == 66824  # the example's Content-Length
    reader = AwsChunkedReader(io.BytesIO(body), signature=context(), trailer=False)
    assert read_all(reader) == DOC_PAYLOAD
    assert reader.decoded_size == 66560
    assert reader.trailers == {}


@pytest.mark.parametrize("size", [1, 7, 1000, 65536, 100000])
def test_small_reads_give_identical_output(size: int) -> None:
    body, _ = signed_body([DOC_PAYLOAD[:65536], DOC_PAYLOAD[65536:]], DOC_SEED)
    reader = AwsChunkedReader(io.BytesIO(body), signature=context(), trailer=False)
    assert read_all(reader, size) == DOC_PAYLOAD
    assert reader.decoded_size == len(DOC_PAYLOAD)


def test_reads_are_filled_across_chunks() -> None:
    chunks = [bytes([i]) * 10 for i in range(5)]
    body, _ = signed_body(chunks, DOC_SEED)
    reader = AwsChunkedReader(io.BytesIO(body), signature=context(), trailer=False)
    assert reader.read(25) == b"".join(chunks)[:25]
    assert reader.read(0) == b""
    assert reader.read(100) == b"".join(chunks)[25:]
    assert reader.read(100) == b""


def test_trickling_stream() -> None:
    payload = bytes(range(256)) * 50
    body, _ = signed_body([payload[:9000], payload[9000:]], DOC_SEED)
    reader = AwsChunkedReader(Trickle(body), signature=context(), trailer=False)
    assert read_all(reader, 7) == payload


def test_empty_payload() -> None:
    body, _ = signed_body([], DOC_SEED)
    reader = AwsChunkedReader(io.BytesIO(body), signature=context(), trailer=False)
    assert read_all(reader) == b""
    assert reader.decoded_size == 0


def test_wrong_chunk_signature() -> None:
    body, signatures = signed_body([b"x" * 100, b"y" * 50], DOC_SEED)
    for signature in signatures:
        bad = body.replace(signature.encode(), b"0" * 64)
        reader = AwsChunkedReader(io.BytesIO(bad), signature=context(), trailer=False)
        with pytest.raises(errors.SignatureDoesNotMatch):
            read_all(reader)


def test_no_data_is_released_before_its_chunk_is_verified() -> None:
    body, _ = signed_body([b"x" * 100], DOC_SEED)
    bad = body.replace(b"x" * 100, b"x" * 99 + b"z")
    reader = AwsChunkedReader(io.BytesIO(bad), signature=context(), trailer=False)
    with pytest.raises(errors.SignatureDoesNotMatch):
        reader.read(1)


def test_wrong_seed_or_reordered_chunks() -> None:
    body, _ = signed_body([b"x" * 100, b"y" * 50], DOC_SEED)
    with pytest.raises(errors.SignatureDoesNotMatch):
        read_all(AwsChunkedReader(io.BytesIO(body), signature=context(seed="1" * 64), trailer=False))
    first, second = signed_body([b"x" * 100], DOC_SEED)[0], signed_body([b"y" * 50], DOC_SEED)[0]
    spliced = first.split(b"0;chunk-signature")[0] + second
    with pytest.raises(errors.SignatureDoesNotMatch):
        read_all(AwsChunkedReader(io.BytesIO(spliced), signature=context(), trailer=False))


def test_missing_chunk_signature() -> None:
    with pytest.raises(errors.SignatureDoesNotMatch):
        read_all(AwsChunkedReader(io.BytesIO(b"3\r\nabc\r\n0\r\n\r\n"), signature=context(), trailer=False))


def test_truncated_streams() -> None:
    body, _ = signed_body([b"x" * 100, b"y" * 50], DOC_SEED)
    # Every cut before the last chunk header's end loses something the decoder must see.
    last_header_end = body.rindex(b"\r\n\r\n") + 2
    for cut in range(last_header_end):
        reader = AwsChunkedReader(io.BytesIO(body[:cut]), signature=context(), trailer=False)
        with pytest.raises(errors.IncompleteBody):
            read_all(reader)


@pytest.mark.parametrize(
    "body",
    [
        b"zz;chunk-signature=" + b"0" * 64 + b"\r\nabc\r\n",
        b"-3;chunk-signature=" + b"0" * 64 + b"\r\nabc\r\n",
        b"0x3;chunk-signature=" + b"0" * 64 + b"\r\nabc\r\n",
        b";chunk-signature=" + b"0" * 64 + b"\r\nabc\r\n",
        b"1" * 5000,
    ],
)
def test_malformed_framing(body: bytes) -> None:
    reader = AwsChunkedReader(io.BytesIO(body), signature=context(), trailer=False)
    with pytest.raises(errors.InvalidRequest):
        read_all(reader)


def test_data_not_followed_by_crlf() -> None:
    body, _ = signed_body([b"abc"], DOC_SEED)
    reader = AwsChunkedReader(io.BytesIO(body.replace(b"abc\r\n", b"abcXY", 1)), signature=context(), trailer=False)
    with pytest.raises(errors.InvalidRequest):
        read_all(reader)


def test_trailer_lines_in_a_stream_without_trailers() -> None:
    body, _ = signed_body([b"abc"], DOC_SEED, [("x-amz-checksum-crc32", "NSRBwg==")])
    with pytest.raises(errors.InvalidRequest):
        read_all(AwsChunkedReader(io.BytesIO(body), signature=context(), trailer=False))


# --- STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER ---------------------------------------------


def test_documentation_trailer_example() -> None:
    trailers = [("x-amz-checksum-crc32c", "sOO8/Q==")]
    body, signatures = signed_body([DOC_PAYLOAD[:65536], DOC_PAYLOAD[65536:]], DOC_TRAILER_SEED, trailers)
    assert signatures == [*DOC_TRAILER_CHUNK_SIGNATURES, DOC_TRAILER_SIGNATURE]
    seed = context(DOC_TRAILER_SEED, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")
    for size in (-1, 7, 4096):
        reader = AwsChunkedReader(io.BytesIO(body), signature=seed, trailer=True)
        assert read_all(reader, size) == DOC_PAYLOAD
        assert reader.trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}
        assert reader.decoded_size == len(DOC_PAYLOAD)


def test_wrong_trailer_signature() -> None:
    body, signatures = signed_body([b"abc"], DOC_SEED, [("x-amz-checksum-crc32", "NSRBwg==")])
    for bad in (
        body.replace(signatures[-1].encode(), b"0" * 64),
        body.replace(b"NSRBwg==", b"AAAAAA=="),
        body.replace(b"x-amz-trailer-signature:" + signatures[-1].encode() + b"\r\n", b""),
    ):
        reader = AwsChunkedReader(io.BytesIO(bad), signature=context(), trailer=True)
        with pytest.raises(errors.SignatureDoesNotMatch):
            read_all(reader)


def test_signed_trailer_truncated() -> None:
    body, _ = signed_body([b"abc"], DOC_SEED, [("x-amz-checksum-crc32", "NSRBwg==")])
    for cut in range(len(body) - 2):
        reader = AwsChunkedReader(io.BytesIO(body[:cut]), signature=context(), trailer=True)
        with pytest.raises((errors.IncompleteBody, errors.SignatureDoesNotMatch)):
            read_all(reader)


# --- STREAMING-UNSIGNED-PAYLOAD-TRAILER -----------------------------------------------------


@pytest.mark.parametrize("payload", [b"", b"hello", bytes(range(256)) * 9000])
@pytest.mark.parametrize("size", [-1, 7, 65536])
def test_botocore_unsigned_trailer(payload: bytes, size: int) -> None:
    wrapper = AwsChunkedWrapper(
        io.BytesIO(payload), checksum_cls=Crc32Checksum, checksum_name="x-amz-checksum-crc32", chunk_size=100000
    )
    body = wrapper.read()
    expected = Crc32Checksum()
    expected.update(payload)
    reader = AwsChunkedReader(io.BytesIO(body), signature=None, trailer=True)
    assert read_all(reader, size) == payload
    assert reader.trailers == {"x-amz-checksum-crc32": expected.b64digest()}
    assert reader.decoded_size == len(payload)


def test_unsigned_trailer_is_lenient() -> None:
    body = (
        b"5;ext=1;other\r\nhello\r\n"
        b"3 \r\nabc\r\n"
        b"0;whatever\r\n"
        b"X-Amz-Checksum-CRC32 : NSRBwg== \r\n"
        b"x-amz-trailer-signature:ignored\r\n"
        b"\r\n"
    )
    reader = AwsChunkedReader(Trickle(body), signature=None, trailer=True)
    assert read_all(reader) == b"helloabc"
    assert reader.trailers == {"x-amz-checksum-crc32": "NSRBwg=="}


def test_unsigned_trailer_without_final_empty_line() -> None:
    body = b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n"
    reader = AwsChunkedReader(io.BytesIO(body), signature=None, trailer=True)
    assert read_all(reader) == b"abc"
    assert reader.trailers == {"x-amz-checksum-crc32": "NSRBwg=="}


def test_unsigned_truncated() -> None:
    body = b"a\r\n0123456789\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    complete_after = body.index(b"0\r\nx-amz") + 3
    for cut in range(complete_after):
        reader = AwsChunkedReader(io.BytesIO(body[:cut]), signature=None, trailer=True)
        with pytest.raises(errors.IncompleteBody):
            read_all(reader)
    # A cut inside a trailer line is truncation too.
    reader = AwsChunkedReader(io.BytesIO(body[: complete_after + 10]), signature=None, trailer=True)
    with pytest.raises(errors.IncompleteBody):
        read_all(reader)


@pytest.mark.parametrize(
    "trailer",
    [b"no colon here", b":value", b"x-amz-checksum-crc32:\xff\xfe"],
)
def test_malformed_trailer(trailer: bytes) -> None:
    body = b"3\r\nabc\r\n0\r\n" + trailer + b"\r\n\r\n"
    with pytest.raises(errors.InvalidRequest):
        read_all(AwsChunkedReader(io.BytesIO(body), signature=None, trailer=True))


def test_memory_is_bounded_for_a_huge_unsigned_chunk() -> None:
    class Endless(io.RawIOBase):
        """A body claiming a 1 TiB chunk; reading must not try to hold it."""

        def __init__(self) -> None:
            self.header = io.BytesIO(b"10000000000\r\n")
            self.largest_read = 0

        def read(self, n: int = -1) -> bytes:
            self.largest_read = max(self.largest_read, n)
            return self.header.read(n) or b"z" * min(n, 1 << 20)

    raw = Endless()
    reader = AwsChunkedReader(raw, signature=None, trailer=True)
    for _ in range(10):
        assert reader.read(1 << 20) == b"z" * (1 << 20)
    assert raw.largest_read <= 1 << 20


def test_signed_chunk_size_limit() -> None:
    body = b"%x;chunk-signature=%s\r\n" % (64 * 1024 * 1024, b"0" * 64)
    with pytest.raises(errors.InvalidRequest):
        read_all(AwsChunkedReader(io.BytesIO(body), signature=context(), trailer=False))


# --- x-amz-decoded-content-length ----------------------------------------------------------


class Recording(io.BytesIO):
    """A stream that remembers how far it was read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.consumed = 0

    def read(self, n: int = -1) -> bytes:
        data = super().read(n)
        self.consumed += len(data)
        return data


@pytest.mark.parametrize("signed", [True, False])
def test_a_chunk_past_the_declared_length_stops_the_read_at_its_header(signed: bool) -> None:
    """A body declaring 100 decoded bytes whose second chunk would pass them: refused before that chunk's data."""
    chunks = [b"a" * 60, b"b" * 8 * 1024 * 1024]
    body = signed_body(chunks, DOC_SEED)[0] if signed else b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    raw = Recording(body)
    reader = AwsChunkedReader(raw, signature=context() if signed else None, trailer=False, decoded_length=100)
    with pytest.raises(errors.IncompleteBody) as caught:
        reader.read()
    assert caught.value.extra == {"NumberBytesExpected": "100", "NumberBytesProvided": str(60 + 8 * 1024 * 1024)}
    assert raw.consumed < 200 + 64 * 1024  # the first chunk, the second header and one read-ahead


@pytest.mark.parametrize("signed", [True, False])
def test_a_body_short_of_its_declared_length_is_incomplete(signed: bool) -> None:
    chunks = [b"a" * 60]
    body = signed_body(chunks, DOC_SEED)[0] if signed else b"3c\r\n" + b"a" * 60 + b"\r\n0\r\n\r\n"
    reader = AwsChunkedReader(io.BytesIO(body), signature=context() if signed else None, trailer=False, decoded_length=61)
    with pytest.raises(errors.IncompleteBody):
        reader.read()
    exact = AwsChunkedReader(io.BytesIO(body), signature=context() if signed else None, trailer=False, decoded_length=60)
    assert read_all(exact) == b"a" * 60
