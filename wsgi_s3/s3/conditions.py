"""HTTP Range and conditional request headers, evaluated as S3 does."""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from wsgi_s3.s3 import errors
from wsgi_s3.s3.numbers import INT64_MAX, parse_uint

_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)")  # not \d, which matches every script's digits


class NotModified(Exception):
    """The object has not changed: answer 304 with no body."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, length) of a satisfiable single byte range, None for a full read.

    Like S3: a malformed or multi-range header is ignored (full object), an unsatisfiable one is
    InvalidRange (416)."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if not match or match.group(1) == match.group(2) == "":
        return None
    # A position past any object saturates: a huge end means "to the end", a huge start is unsatisfiable.
    first, last = (None if text == "" else parse_uint(text, name="Range", maximum=INT64_MAX, clamp=True) for text in match.groups())
    if first is None:
        length = min(last, size)
        if length == 0:
            raise errors.InvalidRange(RangeRequested=header, ActualObjectSize=str(size))
        return size - length, length
    if last is not None and last < first:
        return None
    if first >= size:
        raise errors.InvalidRange(RangeRequested=header, ActualObjectSize=str(size))
    end = size - 1 if last is None else min(last, size - 1)
    return first, end - first + 1


def _etag_matches(header: str, etag: str) -> bool:
    candidates = [value.strip().removeprefix("W/").strip('"') for value in header.split(",")]
    return "*" in candidates or etag in candidates


def _time(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError):
        return None  # S3 ignores unparseable dates


def check_preconditions(headers: Mapping[str, str], etag: str, last_modified_ns: int, prefix: str = "") -> None:
    """Raise PreconditionFailed (412) or NotModified (304) per RFC 7232 as S3 applies it.

    `prefix` is "x-amz-copy-source-" for CopyObject's conditions on its source, which S3 answers
    with 412 in every failing case."""
    modified = last_modified_ns // 1_000_000_000  # HTTP dates have second precision
    if_match = headers.get(prefix + "if-match")
    if_none_match = headers.get(prefix + "if-none-match")
    if_unmodified = _time(headers.get(prefix + "if-unmodified-since"))
    if_modified = _time(headers.get(prefix + "if-modified-since"))
    if if_match is not None:
        if not _etag_matches(if_match, etag):
            raise errors.PreconditionFailed(Condition="If-Match")
    elif if_unmodified is not None and modified > if_unmodified:
        raise errors.PreconditionFailed(Condition="If-Unmodified-Since")
    if if_none_match is not None:
        if _etag_matches(if_none_match, etag):
            if prefix:
                raise errors.PreconditionFailed(Condition="x-amz-copy-source-If-None-Match")
            raise NotModified()
    elif if_modified is not None and modified <= if_modified:
        if prefix:
            raise errors.PreconditionFailed(Condition="x-amz-copy-source-If-Modified-Since")
        raise NotModified()
