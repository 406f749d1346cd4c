"""GetObjectAttributes: what HeadObject and ListParts say about one object version, in one document.
"""

from __future__ import annotations

from wsgi_s3.gateway.context import S3Context
from wsgi_s3.gateway.handlers.objects import find_version, version_headers
from wsgi_s3.model.types import ObjectVersion
from wsgi_s3.s3 import errors
from wsgi_s3.s3.headers import http_date
from wsgi_s3.s3.numbers import INT32_MAX, parse_uint
from wsgi_s3.s3.xml import render

ATTRIBUTES = frozenset({"ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"})
MAX_PARTS = 1000


def _requested(ctx: S3Context) -> frozenset[str]:
    names = frozenset(name.strip() for name in ctx.headers.get("x-amz-object-attributes", "").split(",") if name.strip())
    if not names:
        raise errors.InvalidArgument(
            "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty",
            ArgumentName="x-amz-object-attributes",
        )
    if names - ATTRIBUTES:
        raise errors.InvalidArgument("Invalid attribute name specified.", ArgumentName="x-amz-object-attributes")
    return names


def _header_int(ctx: S3Context, name: str, default: int) -> int:
    raw = ctx.headers.get(name, "").strip()
    if not raw:
        return default
    error = errors.InvalidArgument(f"Provided {name} not an integer or within integer range", ArgumentName=name)
    return parse_uint(raw, name=name, maximum=INT32_MAX, error=error)


def _object_parts(version: ObjectVersion, limit: int, marker: int) -> list:
    """ObjectParts of a multipart object. As in S3, the parts are listed only for an object with an
    additional checksum; otherwise the count alone."""
    sizes = version.meta.part_sizes
    fields: list = [("PartsCount", len(sizes))]
    if not version.meta.checksums:
        return fields
    remaining = range(marker + 1, len(sizes) + 1)
    shown = remaining[:limit]
    fields += [
        ("PartNumberMarker", marker),
        ("NextPartNumberMarker", shown[-1] if shown else None),
        ("MaxParts", limit),
        ("IsTruncated", len(remaining) > limit),
    ]
    algorithm = next(iter(version.meta.checksums))
    part_checksums = version.meta.part_checksums
    return fields + [
        ("Part", [("PartNumber", number), ("Size", sizes[number - 1])]
         + ([("Checksum" + algorithm, part_checksums[number - 1])] if part_checksums else []))
        for number in shown
    ]


def get_object_attributes(ctx: S3Context) -> None:
    requested = _requested(ctx)
    limit = min(_header_int(ctx, "x-amz-max-parts", MAX_PARTS), MAX_PARTS)
    marker = _header_int(ctx, "x-amz-part-number-marker", 0)
    version = find_version(ctx, ctx.bucket, ctx.key, ctx.query.get("versionId"))
    ctx.resp.set_header("Last-Modified", http_date(version.timestamp_ns))
    ctx.set_headers(version_headers(ctx, version))
    fields: list = []
    if "ETag" in requested:
        fields.append(("ETag", version.etag))  # S3 answers this ETag without quotes
    if "Checksum" in requested and version.meta.checksums:
        checksum = [("Checksum" + algorithm, digest) for algorithm, digest in version.meta.checksums.items()]
        fields.append(("Checksum", checksum + [("ChecksumType", version.meta.checksum_type or None)]))
    if "ObjectParts" in requested and version.meta.part_sizes:
        fields.append(("ObjectParts", _object_parts(version, limit, marker)))
    if "StorageClass" in requested:
        fields.append(("StorageClass", "STANDARD"))
    if "ObjectSize" in requested:
        fields.append(("ObjectSize", version.size))
    ctx.xml(render("GetObjectAttributesResponse", fields))
