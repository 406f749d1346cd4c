"""Object headers: the content headers S3 stores, x-amz-meta-*, and response-* overrides."""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import formatdate

from wsgi_s3.s3 import errors

CONTENT_HEADERS = ("content-type", "content-encoding", "content-disposition", "content-language", "cache-control", "expires")
DEFAULT_CONTENT_TYPE = "binary/octet-stream"
META_PREFIX = "x-amz-meta-"
MAX_USER_META_BYTES = 2048  # S3's limit on the user-defined part of the headers
_OVERRIDES = {"response-" + name: name for name in CONTENT_HEADERS}


def content_headers(headers: Mapping[str, str]) -> dict[str, str]:
    content = {name: headers[name] for name in CONTENT_HEADERS if name in headers}
    content.setdefault("content-type", DEFAULT_CONTENT_TYPE)
    # aws-chunked is a transfer detail of the upload, not an encoding of the stored object.
    encoding = ",".join(p.strip() for p in content.get("content-encoding", "").split(",") if p.strip() and p.strip() != "aws-chunked")
    if encoding:
        content["content-encoding"] = encoding
    else:
        content.pop("content-encoding", None)
    return content


def user_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    meta = {name[len(META_PREFIX):]: value for name, value in headers.items() if name.startswith(META_PREFIX)}
    if sum(len(k) + len(v) for k, v in meta.items()) > MAX_USER_META_BYTES:
        raise errors.MetadataTooLarge(MaxSizeAllowed=str(MAX_USER_META_BYTES))
    return meta


def response_overrides(query: Mapping[str, str]) -> dict[str, str]:
    """GetObject's response-content-type=... parameters as the headers they replace."""
    return {header: query[param] for param, header in _OVERRIDES.items() if param in query}


def http_date(timestamp_ns: int) -> str:
    return formatdate(timestamp_ns / 1e9, usegmt=True)
