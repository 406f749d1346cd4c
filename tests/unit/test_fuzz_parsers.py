"""Property: every parser of client input either answers or raises an S3Error; nothing else escapes
(no ValueError, OverflowError, UnicodeError, IndexError...), so nothing a client sends becomes a 500.
Derandomized, so every run tries the same examples."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from wsgi_s3.gateway.body import RequestBody
from wsgi_s3.s3 import errors
from wsgi_s3.s3.chunked import AwsChunkedReader
from wsgi_s3.s3.conditions import NotModified, check_preconditions, parse_range
from wsgi_s3.s3.names import check_bucket_name, check_key, check_location_constraint, check_version_id, encode_key
from wsgi_s3.s3.numbers import INT64_MAX, parse_part_number, parse_uint
from wsgi_s3.s3.xml import parse_complete_multipart, parse_delete, parse_location_constraint, render

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None)

# Every code point, surrogates included (undecodable request bytes reach the app as lone surrogates).
TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789²١٢+- _.xXaAfF-=,;bytes", max_size=40),
    st.sampled_from(["9" * 5000, "bytes=0-" + "9" * 5000, "18446744073709551616", "null", ""]),
)


def _only_s3_errors(call, *args):
    try:
        return call(*args)
    except (errors.S3Error, NotModified):
        return None


@FUZZ
@given(text=st.none() | TEXT, maximum=st.integers(0, 2**80), clamp=st.booleans())
def test_parse_uint(text, maximum, clamp):
    value = _only_s3_errors(lambda: parse_uint(text, name="n", maximum=maximum, clamp=clamp))
    assert value is None or 0 <= value <= maximum
    if value is not None and not clamp:
        assert text.isascii() and int(text) == value


@FUZZ
@given(text=st.none() | TEXT)
def test_parse_part_number(text):
    value = _only_s3_errors(parse_part_number, text)
    assert value is None or 1 <= value <= 10000


@FUZZ
@given(header=TEXT | st.builds(lambda a, b: f"bytes={a}-{b}", TEXT, TEXT), size=st.integers(1, INT64_MAX))
def test_parse_range(header, size):
    span = _only_s3_errors(parse_range, header, size)
    if span is not None:
        start, length = span
        assert 0 <= start < size and 1 <= length <= size - start


@FUZZ
@given(headers=st.dictionaries(st.sampled_from(["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"]), TEXT))
def test_preconditions(headers):
    _only_s3_errors(check_preconditions, headers, "etag", 1_700_000_000 * 10**9)


@FUZZ
@given(text=TEXT)
def test_names(text):
    for check in (check_bucket_name, check_location_constraint, check_version_id):
        _only_s3_errors(check, text)
    try:
        check_key(text)
    except errors.S3Error:
        return
    encode_key(text, "url")  # what a listing does with every stored key


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;")


_DOCUMENT = st.one_of(
    st.binary(max_size=200),
    st.lists(st.tuples(TEXT, TEXT), max_size=4).map(
        lambda parts: "<CompleteMultipartUpload>"
        + "".join(f"<Part><PartNumber>{_xml_text(n)}</PartNumber><ETag>{_xml_text(e)}</ETag></Part>" for n, e in parts)
        + "</CompleteMultipartUpload>"
    ),
    st.lists(st.tuples(TEXT, TEXT), max_size=4).map(
        lambda objects: "<Delete>" + "".join(f"<Object><Key>{_xml_text(k)}</Key><VersionId>{_xml_text(v)}</VersionId></Object>" for k, v in objects) + "</Delete>"
    ),
    TEXT.map(lambda c: f"<CreateBucketConfiguration><LocationConstraint>{_xml_text(c)}</LocationConstraint></CreateBucketConfiguration>"),
).map(lambda d: d if isinstance(d, bytes) else d.encode("utf-8", "surrogatepass"))


@FUZZ
@given(document=_DOCUMENT)
def test_xml_documents(document):
    for parse in (parse_complete_multipart, parse_delete, parse_location_constraint):
        _only_s3_errors(parse, document)


@FUZZ
@given(texts=st.lists(TEXT, max_size=4))
def test_render_is_always_parseable(texts):
    document = render("Error", [("Key", text) for text in texts], namespace=False)
    assert len(ET.fromstring(document)) == len(texts)


_CHUNK_HEADER = st.one_of(
    st.integers(0, 2**64).map(lambda n: b"%x" % n),
    st.binary(max_size=20),
).map(lambda size: size + b"\r\n")


@FUZZ
@given(
    pieces=st.lists(st.one_of(_CHUNK_HEADER, st.binary(max_size=50), st.just(b"0\r\n\r\n"), st.just(b"x-amz-checksum-crc32:AAAAAA==\r\n")), max_size=6),
    trailer=st.booleans(),
    declared=st.none() | st.integers(0, 100),
)
def test_aws_chunked_bodies(pieces, trailer, declared):
    reader = AwsChunkedReader(io.BytesIO(b"".join(pieces)), signature=None, trailer=trailer, decoded_length=declared)
    data = _only_s3_errors(reader.read)
    if data is not None and declared is not None:
        assert len(data) <= declared


_BODY_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "content-length": TEXT,
        "transfer-encoding": st.sampled_from(["chunked", "identity"]),
        "x-amz-content-sha256": st.sampled_from(["UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "0" * 64]) | TEXT,
        "x-amz-decoded-content-length": TEXT,
        "content-md5": TEXT,
        "x-amz-checksum-crc32": TEXT,
        "x-amz-trailer": TEXT,
        "x-amz-sdk-checksum-algorithm": TEXT,
    },
)


@FUZZ
@given(headers=_BODY_HEADERS, body=st.binary(max_size=100))
def test_request_bodies(headers, body):
    def read() -> bytes:
        return RequestBody(io.BytesIO(body), headers, None, max_size=1000).read_all()

    _only_s3_errors(read)
