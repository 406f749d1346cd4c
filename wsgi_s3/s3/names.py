"""Bucket-name and key rules, and the `encoding-type=url` form of keys in listings."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote

from wsgi_s3.s3 import errors

MAX_KEY_BYTES = 1024
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# Region names as Amazon forms them (us-east-1, ap-southeast-5, us-gov-west-1); "EU" is the legacy
# constraint that still means eu-west-1. A region is sent back in headers, so it must be plain ASCII.
_REGION = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?|EU")
# "null", or what model/versions.py new_version_id makes: 20 timestamp digits and 16 hex digits.
_VERSION_ID = re.compile(r"null|[0-9]{20}[0-9a-f]{16}")


def check_bucket_name(name: str) -> None:
    """Amazon's general-purpose bucket naming rules."""
    if (
        not _BUCKET.match(name)
        or ".." in name
        or ".-" in name
        or "-." in name
        or name.startswith(("xn--", "sthree-", "amzn-s3-demo-"))
        or name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"))
        or _is_ip(name)
    ):
        raise errors.InvalidBucketName(BucketName=name)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


def check_key(key: str) -> None:
    """Keys are opaque strings; only their size and encodability are limited. The store never
    turns a key into a path, so `../` and NUL cannot reach the filesystem."""
    if not key:
        raise errors.InvalidArgument("A key must not be empty")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise errors.InvalidArgument("A key must be valid UTF-8") from exc
    if len(encoded) > MAX_KEY_BYTES:
        raise errors.KeyTooLongError(Size=str(len(encoded)), MaxSizeAllowed=str(MAX_KEY_BYTES))


def check_location_constraint(region: str) -> str:
    """A CreateBucket LocationConstraint (or the signing region standing in for one)."""
    if not _REGION.fullmatch(region):
        raise errors.InvalidLocationConstraint(LocationConstraint=region)
    return region


def check_version_id(version_id: str | None) -> str | None:
    """A versionId the client names (query, copy source, DeleteObjects): what is not a version id we
    issue never reaches storage or an x-amz-version-id header."""
    if version_id is not None and not _VERSION_ID.fullmatch(version_id):
        raise errors.InvalidArgument("Invalid version id specified", ArgumentName="versionId", ArgumentValue=version_id)
    return version_id


def encode_key(key: str, encoding_type: str | None) -> str:
    """A key as a listing shows it: URL-encoded (like S3, keeping '/') when encoding-type=url."""
    return quote(key, safe="/") if encoding_type == "url" else key
