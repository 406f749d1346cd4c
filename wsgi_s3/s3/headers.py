"""Object headers: the content headers S3 stores, x-amz-meta-*, and response-* overrides."""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.utils import formatdate

from wsgi_s3.s3 import errors

CONTENT_HEADERS = ("content-type", "content-encoding", "content-disposition", "content-language", "cache-control", "expires")
DEFAULT_CONTENT_TYPE = "binary/octet-stream"
META_PREFIX = "x-amz-meta-"
MAX_USER_META_BYTES = 2048  # S3's limit on the user-defined part of the headers
_OVERRIDES = {"response-" + name: name for name in CONTENT_HEADERS}
# What an HTTP field value can carry (RFC 9110 5.5), one latin-1 character per byte: gunicorn refuses to
# send anything else, after the handler has run, as a 500.
_FIELD_VALUE = re.compile(r"[ \t\x21-\x7e\x80-\xff]*")


def content_headers(headers: Mapping[str, str]) -> dict[str, str]:
    content = {name: headers[name] for name in CONTENT_HEADERS if name in headers}
    content.setdefault("content-type", DEFAULT_CONTENT_TYPE)
    # aws-chunked is a transfer detail of the upload, not an encoding of the stored object; the
    # others are stored as written (content codings are case-insensitive, RFC 9110 8.4.1).
    written = content.pop("content-encoding", "")
    codings = [coding.strip() for coding in written.split(",") if coding.strip()]
    kept = [coding for coding in codings if coding.lower() != "aws-chunked"]
    if kept:
        content["content-encoding"] = written if kept == codings else ",".join(kept)
    return content


def user_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    """x-amz-meta-* values as the text the client sent (UTF-8); `to_wire` gives back the same bytes."""
    meta = {name[len(META_PREFIX):]: from_wire(value) for name, value in headers.items() if name.startswith(META_PREFIX)}
    # S3 counts the UTF-8 bytes of names and values.
    if sum(len(k) + len(to_wire(v)) for k, v in meta.items()) > MAX_USER_META_BYTES:
        raise errors.MetadataTooLarge(MaxSizeAllowed=str(MAX_USER_META_BYTES))
    return meta


def from_wire(value: str) -> str:
    """A WSGI header value (each byte a latin-1 character) as the UTF-8 text the client sent; bytes that
    are not UTF-8 are kept as surrogate escapes, so that `to_wire` gives back exactly what was sent."""
    return value.encode("latin-1").decode("utf-8", "surrogateescape")


def to_wire(text: str) -> str:
    """Text stored by `from_wire` as the WSGI header value that sends the bytes it came from."""
    return text.encode("utf-8", "surrogateescape").decode("latin-1")


def response_overrides(query: Mapping[str, str]) -> dict[str, str]:
    """GetObject's response-content-type=... parameters as the headers they replace."""
    return {header: header_value(query[param], param) for param, header in _OVERRIDES.items() if param in query}


def header_value(value: str, argument: str) -> str:
    """A client-chosen string sent back in a response header: InvalidArgument if HTTP cannot carry it
    (control characters such as CR and LF, or characters beyond latin-1)."""
    if not _FIELD_VALUE.fullmatch(value):
        raise errors.InvalidArgument(f"{argument} contains characters that an HTTP header cannot carry.", ArgumentName=argument)
    return value


def http_date(timestamp_ns: int) -> str:
    return formatdate(timestamp_ns / 1e9, usegmt=True)
