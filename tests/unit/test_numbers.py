"""Client numbers and strings: the one integer parser and every parser built on it, version ids,
location constraints, and error documents that stay parseable whatever a client sent."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest

from wsgi_s3.gateway.body import RequestBody, declared_lengths, read_document
from wsgi_s3.model.versions import new_version_id, now_ns
from wsgi_s3.s3 import errors
from wsgi_s3.s3.conditions import parse_range
from wsgi_s3.s3.names import check_location_constraint, check_version_id
from wsgi_s3.s3.numbers import INT64_MAX, parse_part_number, parse_uint
from wsgi_s3.s3.xml import parse_complete_multipart, render

# Each is accepted by str.isdigit() or int(), and refused by S3.
NOT_ASCII_DIGITS = ["", "²", "١٢٣", "+1", " 1", "1 ", "1_0", "-1", "0x1", "1.0", "１", "\U0001d7ce"]


@pytest.mark.parametrize("text", NOT_ASCII_DIGITS + [None])
def test_only_ascii_digits_are_numbers(text):
    with pytest.raises(errors.InvalidArgument) as caught:
        parse_uint(text, name="n", maximum=100)
    assert caught.value.extra["ArgumentName"] == "n"


def test_bounds_and_leading_zeros():
    assert parse_uint("007", name="n", maximum=7) == 7
    assert parse_uint("0", name="n", maximum=7) == 0
    for text in ["8", "1" + "0" * 5000]:
        with pytest.raises(errors.InvalidArgument):
            parse_uint(text, name="n", maximum=7)
    with pytest.raises(errors.InvalidArgument):
        parse_uint("0", name="n", minimum=1, maximum=7)


def test_clamp_saturates_huge_values_without_int_limits():
    assert parse_uint("9" * 5000, name="n", maximum=INT64_MAX, clamp=True) == INT64_MAX
    assert parse_uint("0" * 5000 + "5", name="n", maximum=10, clamp=True) == 5


def test_the_callers_error_is_raised():
    with pytest.raises(errors.MalformedXML):
        parse_uint("²", name="n", maximum=9, error=errors.MalformedXML())


@pytest.mark.parametrize("text", NOT_ASCII_DIGITS + ["0", "10001", "18446744073709551616"])
def test_part_numbers(text):
    with pytest.raises(errors.InvalidArgument):
        parse_part_number(text)
    assert parse_part_number("10000") == 10000


@pytest.mark.parametrize(
    ("header", "span"),
    [
        ("bytes=0-" + "9" * 5000, (0, 10)),  # a huge end is the object's end
        ("bytes=-" + "9" * 5000, (0, 10)),  # a huge suffix is the whole object
        ("bytes=²-3", None),  # malformed ranges are ignored
        ("bytes=0-١", None),
        ("bytes=+1-2", None),
        ("bytes=" + "9" * 5000 + "-1", None),  # end before start: ignored, as before
    ],
)
def test_ranges_of_any_size(header, span):
    assert parse_range(header, 10) == span


def test_a_huge_range_start_is_unsatisfiable():
    with pytest.raises(errors.InvalidRange):
        parse_range("bytes=" + "9" * 5000 + "-", 10)


@pytest.mark.parametrize("number", ["²", "١", "-1", "", "9" * 5000, "18446744073709551616"])
def test_completion_part_numbers(number):
    document = f"<CompleteMultipartUpload><Part><PartNumber>{number}</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>"
    with pytest.raises(errors.MalformedXML):
        parse_complete_multipart(document.encode())
    ok = document.replace(f">{number}<", "> 2 <")
    assert parse_complete_multipart(ok.encode())[0].part_number == 2


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({"content-length": "²"}, errors.InvalidArgument),
        ({"content-length": "9" * 5000}, errors.InvalidArgument),
        ({"content-length": "10", "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "x-amz-decoded-content-length": "²"}, errors.InvalidArgument),
        ({"content-length": "10", "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}, errors.MissingContentLength),
        ({"transfer-encoding": "chunked", "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "x-amz-decoded-content-length": "101"}, errors.EntityTooLarge),
    ],
)
def test_declared_lengths_are_parsed_and_bounded(headers, error):
    with pytest.raises(error):
        declared_lengths(headers, 100)


def test_a_decoded_length_does_not_shrink_a_plain_body():
    """On a plain body x-amz-decoded-content-length means nothing; it used to replace Content-Length in the size check."""
    headers = {"content-length": str(10**9), "x-amz-decoded-content-length": "1"}
    with pytest.raises(errors.EntityTooLarge):
        declared_lengths(headers, 100)


def test_an_oversized_document_is_refused_before_it_is_read():
    class Unreadable(io.RawIOBase):
        def read(self, n=-1):
            raise AssertionError("the body was read")

    headers = {"content-length": "200", "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "x-amz-decoded-content-length": "101"}
    with pytest.raises(errors.MaxMessageLengthExceeded):
        read_document(Unreadable(), headers, None, 100)


@pytest.mark.parametrize("content_length", [None, 64 * 1024])
def test_a_chunk_past_the_declared_size_is_refused_before_its_data(content_length):
    """The header of a 120 MiB chunk in a body declaring 100 bytes is the last thing read."""
    sent = io.BytesIO(b"%x\r\n" % (120 * 1024**2) + b"x" * (1024**2))
    headers = {"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "x-amz-decoded-content-length": "100"}
    headers.update({"transfer-encoding": "chunked"} if content_length is None else {"content-length": str(content_length)})
    body = RequestBody(sent, headers, None)
    with pytest.raises(errors.IncompleteBody) as caught:
        body.read(65536)
    assert caught.value.extra == {"NumberBytesExpected": "100", "NumberBytesProvided": str(120 * 1024**2)}
    assert sent.tell() <= 64 * 1024 + 1  # one read-ahead of the header, none of the chunk


def test_an_aws_chunked_body_longer_than_its_framing_allows_is_refused_at_once():
    headers = {"content-length": str(121 * 1024**2), "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "x-amz-decoded-content-length": "100"}
    with pytest.raises(errors.EntityTooLarge):
        declared_lengths(headers)
    with pytest.raises(errors.MaxMessageLengthExceeded):
        read_document(io.BytesIO(), headers, None, 4 * 1024**2)


def test_an_unmeasured_aws_chunked_body_is_cut_off_when_its_framing_passes_the_bound():
    """De-chunked by gunicorn (no Content-Length), 100 decoded bytes padded with 4 KiB chunk extensions."""
    chunk = b"1;" + b"e" * 4000 + b"\r\nx\r\n"
    sent = io.BytesIO(chunk * 100 + b"0\r\n\r\n")
    headers = {"transfer-encoding": "chunked", "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "x-amz-decoded-content-length": "100"}
    with pytest.raises(errors.EntityTooLarge):
        RequestBody(sent, headers, None).read_all()
    assert sent.tell() <= 100 + 100 // 8 + 64 * 1024 + 1 + 64 * 1024  # the bound, plus at most one read-ahead


def test_version_ids():
    for valid in ["null", new_version_id(now_ns())]:
        assert check_version_id(valid) == valid
    assert check_version_id(None) is None
    for invalid in ["", "NULL", "\U0010ffff", "\x1b", new_version_id(now_ns()) + "0", new_version_id(now_ns()).upper(), "١" * 20 + "a" * 16]:
        with pytest.raises(errors.InvalidArgument, match="Invalid version id specified"):
            check_version_id(invalid)


def test_location_constraints():
    for valid in ["us-east-1", "eu-west-1", "us-gov-west-1", "EU", "local"]:
        assert check_location_constraint(valid) == valid
    for invalid in ["١٢٣", "", "-x", "x-", "US-EAST-1", "us east", "é", "a" * 65, "us-east-1\n"]:
        with pytest.raises(errors.InvalidLocationConstraint):
            check_location_constraint(invalid)


@pytest.mark.parametrize("text", ["\x1b[31m", "nul\x00", "\udcff", "\ufffe\uffff", "\x7f\x85", "\U0010ffff", "a&<>\"'b"])
def test_every_rendered_text_is_xml_a_parser_reads(text):
    document = render("Error", [("Key", text), ("Resource", "/b/" + text)], namespace=False)
    parsed = ET.fromstring(document)
    kept = "".join(c if c in "\t\n\r" or " " <= c < "\ud800" or "\ue000" <= c < "\ufffe" or c > "\uffff" else "\ufffd" for c in text)
    assert parsed.find("Key").text == kept
    assert ET.fromstring(render("LocationConstraint", text)).text == kept
