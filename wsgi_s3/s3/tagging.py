"""S3's tag-set rules for objects and buckets, and the x-amz-tagging header: pure, no I/O.

What Amazon answers (checked in this order, the first failure wins):
- more tags than the resource allows (10 on an object, 50 on a bucket): BadRequest;
- per tag, in document order: a key given twice, a key under the reserved `aws:` prefix, a key
  that is empty, longer than 128 or holds a character outside the allowed set, a value longer
  than 256 or with such a character: InvalidTag.
Allowed characters are Unicode letters, numbers and separators (spaces) and `+ - = . _ : / @`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from typing import Literal
from urllib.parse import unquote_plus

from wsgi_s3.s3 import errors
from wsgi_s3.s3.headers import from_wire

Tags = dict[str, str]

MAX_OBJECT_TAGS = 10
MAX_BUCKET_TAGS = 50
MAX_KEY_LENGTH = 128
MAX_VALUE_LENGTH = 256
RESERVED_PREFIX = "aws:"
_PUNCTUATION = frozenset("+-=._:/@")
_TOO_MANY = {"object": "Object tags cannot be greater than 10", "bucket": "Bucket tag count cannot be greater than 50"}
_RESERVED = {"object": "Your TagKey cannot be prefixed with aws:", "bucket": "System tags cannot be added/updated by requester"}
_BAD_HEADER = (
    "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."
)


def tag_length(text: str) -> int:
    """A tag's length as Amazon counts it: UTF-16 code units (a character beyond U+FFFF counts two)."""
    return len(text) + sum(ord(char) > 0xFFFF for char in text)


def _allowed(text: str) -> bool:
    return all(char in _PUNCTUATION or unicodedata.category(char)[0] in "LNZ" for char in text)


def check_tag_set(pairs: Iterable[tuple[str, str]], resource: Literal["object", "bucket"]) -> Tags:
    """The tag set of `pairs` for an "object" or a "bucket", in the order given, or the error S3 answers."""
    pairs = list(pairs)
    if len(pairs) > (MAX_OBJECT_TAGS if resource == "object" else MAX_BUCKET_TAGS):
        raise errors.BadRequest(_TOO_MANY[resource])
    tags: Tags = {}
    for key, value in pairs:
        if key in tags:
            raise errors.InvalidTag("Cannot provide multiple Tags with the same key", TagKey=key)
        if key.startswith(RESERVED_PREFIX):
            raise errors.InvalidTag(_RESERVED[resource], TagKey=key)
        if not 1 <= tag_length(key) <= MAX_KEY_LENGTH or not _allowed(key):
            raise errors.InvalidTag("The TagKey you have provided is invalid", TagKey=key)
        if tag_length(value) > MAX_VALUE_LENGTH or not _allowed(value):
            raise errors.InvalidTag("The TagValue you have provided is invalid", TagKey=key, TagValue=value)
        tags[key] = value
    return tags


def parse_tagging_header(header: str) -> Tags:
    """The object tags of an x-amz-tagging header ("k1=v1&k2=v2", URL-encoded UTF-8). A header that
    does not decode, or names a key twice, is InvalidArgument; the tags then follow check_tag_set."""
    pairs: list[tuple[str, str]] = []
    for field in header.split("&"):
        if not field:
            continue
        raw_key, _, raw_value = field.partition("=")
        try:
            key, value = (unquote_plus(raw, errors="strict") for raw in (raw_key, raw_value))
        except UnicodeDecodeError:
            raise errors.InvalidArgument(_BAD_HEADER, ArgumentName="x-amz-tagging", ArgumentValue=header) from None
        if any(key == seen for seen, _ in pairs):
            raise errors.InvalidArgument(_BAD_HEADER, ArgumentName="x-amz-tagging", ArgumentValue=header)
        pairs.append((key, value))
    return check_tag_set(pairs, "object")


def request_tags(headers: Mapping[str, str]) -> Tags:
    """The tags a new object is written with: its x-amz-tagging header (a WSGI header value)."""
    return parse_tagging_header(from_wire(headers.get("x-amz-tagging", "")))


def copy_tags(headers: Mapping[str, str], source_tags: Tags) -> Tags:
    """CopyObject's tags: the source's (x-amz-tagging-directive COPY, the default) or the request's (REPLACE)."""
    directive = headers.get("x-amz-tagging-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise errors.InvalidArgument("Unknown tagging directive.", ArgumentName="x-amz-tagging-directive", ArgumentValue=directive)
    return request_tags(headers) if directive == "REPLACE" else source_tags
