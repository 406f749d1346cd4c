"""s3/headers.py: what is stored from request headers, and what may go back out in response headers."""

from __future__ import annotations

import pytest

from wsgi_s3.s3 import errors
from wsgi_s3.s3.headers import MAX_USER_META_BYTES, content_headers, header_value, response_overrides, to_wire, user_metadata


def wsgi(raw: bytes) -> str:
    """A header value as WSGI hands it over: each byte one latin-1 character."""
    return raw.decode("latin-1")


@pytest.mark.parametrize("raw", ["é".encode(), "日本語 ✓".encode(), b"=?UTF-8?B?w6k=?=", b"plain", b"latin-1 \xe9 is not UTF-8"])
def test_metadata_is_stored_as_sent_and_goes_back_as_the_same_bytes(raw):
    meta = user_metadata({"x-amz-meta-note": wsgi(raw)})
    assert to_wire(meta["note"]).encode("latin-1") == raw


def test_utf8_metadata_is_stored_as_its_text():
    assert user_metadata({"x-amz-meta-note": wsgi("é".encode())}) == {"note": "é"}


def test_metadata_size_counts_utf8_bytes():
    two_bytes = wsgi("é".encode())  # one character, two bytes
    fits = (MAX_USER_META_BYTES - len("k")) // 2
    assert user_metadata({"x-amz-meta-k": two_bytes * fits})
    with pytest.raises(errors.MetadataTooLarge):
        user_metadata({"x-amz-meta-k": two_bytes * (fits + 1)})


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("aws-chunked", None),
        ("aws-chunked,gzip", "gzip"),
        ("gzip,aws-chunked", "gzip"),
        ("gzip, AWS-Chunked", "gzip"),
        ("gzip, aws-chunked, br", "gzip,br"),
        ("gzip, br", "gzip, br"),
    ],
)
def test_aws_chunked_is_not_a_stored_content_encoding(written, stored):
    assert content_headers({"content-encoding": written}).get("content-encoding") == stored


@pytest.mark.parametrize("value", ["€", "a\rb", "a\nb", "a\x00b", "a\x01b", "a\x7fb", "\U0010ffff"])
def test_values_http_cannot_carry_are_invalid_arguments(value):
    with pytest.raises(errors.InvalidArgument) as exc:
        response_overrides({"response-content-type": value})
    assert exc.value.extra["ArgumentName"] == "response-content-type"


@pytest.mark.parametrize("value", ["text/plain; charset=utf-8", "attachment; filename=\"®.txt\"", "a\tb", ""])
def test_values_http_can_carry_pass(value):
    assert header_value(value, "x") == value
