"""The one parser for numbers a client sends (headers, query parameters, XML): ASCII digits only, bounded.

str.isdigit() and int() accept far more than S3 does ('²', '١٢٣', '+1', ' 1', '1_0'), and int() of a
string of thousands of digits raises ValueError (Python's int_max_str_digits), so neither may see
client input directly.
"""

from __future__ import annotations

from wsgi_s3.s3 import errors

INT32_MAX = 2**31 - 1  # Amazon's bound for list limits and markers
INT64_MAX = 2**63 - 1  # Amazon's bound for lengths and byte positions


def is_ascii_digits(text: str) -> bool:
    return bool(text) and text.isascii() and text.isdigit()


def parse_uint(
    text: str | None,
    *,
    name: str,
    maximum: int,
    minimum: int = 0,
    clamp: bool = False,
    error: errors.S3Error | None = None,
) -> int:
    """`text` as an integer in [minimum, maximum].

    A value above `maximum` is `maximum` when `clamp` (a Range end past the object means the object's
    end); anything else out of bounds, or not ASCII digits, raises `error` (by default InvalidArgument
    naming `name`)."""
    if text is not None and is_ascii_digits(text):
        significant = text.lstrip("0") or "0"
        # Lengths first: int() of a huge digit string is slow, or refused outright.
        too_big = len(significant) > len(str(maximum)) or int(significant) > maximum
        if too_big and clamp:
            return maximum
        if not too_big and int(significant) >= minimum:
            return int(significant)
    raise error or errors.InvalidArgument(
        f"{name} must be an integer between {minimum} and {maximum}", ArgumentName=name, ArgumentValue=text or ""
    )


MAX_PART_NUMBER = 10000


def parse_part_number(text: str | None) -> int:
    """A `partNumber` query parameter (UploadPart, UploadPartCopy, GetObject, HeadObject)."""
    message = f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive"
    error = errors.InvalidArgument(message, ArgumentName="partNumber", ArgumentValue=text or "")
    return parse_uint(text, name="partNumber", minimum=1, maximum=MAX_PART_NUMBER, error=error)
