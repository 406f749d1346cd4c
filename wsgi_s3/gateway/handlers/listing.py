"""ListObjects (v1), ListObjectsV2 and ListObjectVersions."""

from __future__ import annotations

import base64
import binascii

from wsgi_s3.gateway.context import S3Context
from wsgi_s3.gateway.handlers.service import owner_fields
from wsgi_s3.model.types import ListEntry, ListPage, VersionEntry
from wsgi_s3.s3 import errors
from wsgi_s3.s3.names import check_version_id, encode_key
from wsgi_s3.s3.numbers import INT32_MAX, is_ascii_digits, parse_uint
from wsgi_s3.s3.xml import iso8601, render

MAX_KEYS = 1000


def max_keys(ctx: S3Context, name: str = "max-keys") -> int:
    """max-keys, max-uploads or max-parts: Amazon accepts 0 to 2**31 - 1 and serves at most 1,000."""
    raw = ctx.query.get(name, str(MAX_KEYS))
    if raw.startswith("-") and is_ascii_digits(raw[1:]):
        raise errors.InvalidArgument(f"Argument {name} must be an integer between 0 and {INT32_MAX}", ArgumentName=name)
    error = errors.InvalidArgument(f"Provided {name} not an integer or within integer range", ArgumentName=name)
    return min(parse_uint(raw, name=name, maximum=INT32_MAX, error=error), MAX_KEYS)


def encoding_type(ctx: S3Context) -> str | None:
    value = ctx.query.get("encoding-type")
    if value is not None and value != "url":
        raise errors.InvalidArgument("Invalid Encoding Method specified in Request", ArgumentName="encoding-type")
    return value


def _contents(entry: ListEntry, encoding: str | None, owner: str | None) -> tuple[str, list]:
    fields: list = [
        ("Key", encode_key(entry.key, encoding)),
        ("LastModified", iso8601(entry.timestamp_ns)),
        ("ETag", f'"{entry.etag}"'),
    ]
    fields += [("ChecksumAlgorithm", algorithm) for algorithm in entry.checksum_algorithms]
    if entry.checksum_type:
        fields.append(("ChecksumType", entry.checksum_type))
    fields += [("Size", entry.size), ("StorageClass", "STANDARD")]
    if owner is not None:
        fields.append(("Owner", owner_fields(owner)))
    return "Contents", fields


def _page(ctx: S3Context, marker: str, limit: int) -> tuple[ListPage, str, str]:
    prefix, delimiter = ctx.query.get("prefix", ""), ctx.query.get("delimiter", "")
    return ctx.backend.list_objects(ctx.bucket, prefix, delimiter, marker, limit), prefix, delimiter


def _entries(page: ListPage, encoding: str | None, owner: str | None) -> list:
    entries = [_contents(version, encoding, owner) for version in page.objects]
    entries += [("CommonPrefixes", [("Prefix", encode_key(p, encoding))]) for p in page.common_prefixes]
    return entries


def list_objects(ctx: S3Context) -> None:
    encoding, limit, marker = encoding_type(ctx), max_keys(ctx), ctx.query.get("marker", "")
    page, prefix, delimiter = _page(ctx, marker, limit)
    # The bucket is read for its owner only when the page shows objects: a cluster's backend reads
    # it for an empty page (empty or missing bucket?), so a listing reads its bucket once at most.
    owner = ctx.bucket_info().owner if page.objects else None
    fields: list = [
        ("Name", ctx.bucket),
        ("Prefix", encode_key(prefix, encoding)),
        ("Marker", encode_key(marker, encoding)),
        ("MaxKeys", limit),
        ("Delimiter", encode_key(delimiter, encoding) if delimiter else None),
        ("IsTruncated", page.is_truncated),
        # Amazon returns NextMarker only with a delimiter; without one clients use the last key.
        ("NextMarker", encode_key(page.next_marker, encoding) if page.is_truncated and delimiter and page.next_marker else None),
        ("EncodingType", encoding),
    ]
    ctx.xml(render("ListBucketResult", fields + _entries(page, encoding, owner)))


def _token(marker: str) -> str:
    return base64.urlsafe_b64encode(marker.encode("utf-8")).decode("ascii")


def _from_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise errors.InvalidArgument("The continuation token provided is incorrect", ArgumentName="continuation-token") from None


def list_objects_v2(ctx: S3Context) -> None:
    if ctx.query.get("list-type") != "2":
        raise errors.InvalidArgument("Invalid List Type specified in Request", ArgumentName="list-type")
    encoding, limit = encoding_type(ctx), max_keys(ctx)
    token, start_after = ctx.query.get("continuation-token"), ctx.query.get("start-after", "")
    marker = _from_token(token) if token is not None else start_after
    fetch_owner = ctx.query.get("fetch-owner", "").lower() == "true"
    page, prefix, delimiter = _page(ctx, marker, limit)
    owner = ctx.bucket_info().owner if fetch_owner and page.objects else None
    fields: list = [
        ("Name", ctx.bucket),
        ("Prefix", encode_key(prefix, encoding)),
        ("KeyCount", len(page.objects) + len(page.common_prefixes)),
        ("MaxKeys", limit),
        ("Delimiter", encode_key(delimiter, encoding) if delimiter else None),
        ("IsTruncated", page.is_truncated),
        ("ContinuationToken", token),
        ("NextContinuationToken", _token(page.next_marker) if page.is_truncated and page.next_marker else None),
        ("StartAfter", encode_key(start_after, encoding) if "start-after" in ctx.query else None),
        ("EncodingType", encoding),
    ]
    ctx.xml(render("ListBucketResult", fields + _entries(page, encoding, owner)))


def _version_marker(ctx: S3Context, key_marker: str) -> str | None:
    marker = ctx.query.get("version-id-marker") or None  # empty is none, as S3 takes it
    if marker is None:
        return None
    if not key_marker:
        raise errors.InvalidArgument("A version-id marker cannot be specified without a key marker.", ArgumentName="version-id-marker", ArgumentValue=marker)
    try:
        return check_version_id(marker)
    except errors.InvalidArgument:
        raise errors.InvalidArgument("Invalid version id specified", ArgumentName="version-id-marker", ArgumentValue=marker) from None


def _version(entry: VersionEntry, encoding: str | None, owner: str) -> tuple[str, list]:
    fields: list = [
        ("Key", encode_key(entry.key, encoding)),
        ("VersionId", entry.version_id),
        ("IsLatest", entry.is_latest),
        ("LastModified", iso8601(entry.timestamp_ns)),
    ]
    if entry.delete_marker:
        return "DeleteMarker", fields + [("Owner", owner_fields(owner))]
    fields.append(("ETag", f'"{entry.etag}"'))
    fields += [("ChecksumAlgorithm", algorithm) for algorithm in entry.checksum_algorithms]
    if entry.checksum_type:
        fields.append(("ChecksumType", entry.checksum_type))
    fields += [("Size", entry.size), ("StorageClass", "STANDARD"), ("Owner", owner_fields(owner))]
    return "Version", fields


def list_object_versions(ctx: S3Context) -> None:
    encoding, limit = encoding_type(ctx), max_keys(ctx)
    prefix, delimiter = ctx.query.get("prefix", ""), ctx.query.get("delimiter", "")
    key_marker = ctx.query.get("key-marker", "")
    version_marker = _version_marker(ctx, key_marker)
    page = ctx.backend.list_versions(ctx.bucket, prefix, delimiter, key_marker, version_marker, limit)
    owner = ctx.bucket_info().owner if page.versions else ""  # once at most, as in list_objects
    truncated = page.is_truncated
    fields: list = [
        ("Name", ctx.bucket),
        ("Prefix", encode_key(prefix, encoding)),
        ("KeyMarker", encode_key(key_marker, encoding)),
        ("VersionIdMarker", version_marker or ""),
        ("NextKeyMarker", encode_key(page.next_key_marker, encoding) if truncated and page.next_key_marker else None),
        ("NextVersionIdMarker", page.next_version_id_marker if truncated else None),
        ("MaxKeys", limit),
        ("Delimiter", encode_key(delimiter, encoding) if delimiter else None),
        ("IsTruncated", truncated),
        ("EncodingType", encoding),
    ]
    fields += [_version(entry, encoding, owner) for entry in page.versions]
    fields += [("CommonPrefixes", [("Prefix", encode_key(p, encoding))]) for p in page.common_prefixes]
    ctx.xml(render("ListVersionsResult", fields))
