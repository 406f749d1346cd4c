"""PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects, CopyObject."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote

import falcon

from wsgi_s3.gateway.body import TaggedBody
from wsgi_s3.gateway import versioning
from wsgi_s3.gateway.context import S3Context
from wsgi_s3.gateway.errors import to_s3_error
from wsgi_s3.gateway.handlers.lifecycle import set_expiration_header
from wsgi_s3.model import errors as storage
from wsgi_s3.model.types import ObjectVersion
from wsgi_s3.s3 import checksums, errors
from wsgi_s3.s3.conditions import NotModified, check_preconditions, parse_range
from wsgi_s3.s3.headers import content_headers, http_date, response_overrides, to_wire, user_metadata
from wsgi_s3.s3.names import check_bucket_name, check_key, check_version_id
from wsgi_s3.s3.numbers import parse_part_number
from wsgi_s3.s3.tagging import copy_tags, request_tags
from wsgi_s3.s3.xml import iso8601, parse_delete, render


def version_headers(ctx: S3Context, version: ObjectVersion) -> dict[str, str]:
    """x-amz-version-id as S3 shows it (see versioning.shown_id)."""
    shown = versioning.shown_id(version.version_id, lambda: ctx.bucket_info(version.bucket))
    return {"x-amz-version-id": shown} if shown else {}


def write_headers(ctx: S3Context, version: ObjectVersion, *, etag: bool = True) -> None:
    """Headers of a write's response: ETag (unless the body carries it), version id, stored checksum."""
    if etag:
        ctx.resp.set_header("ETag", f'"{version.etag}"')
    ctx.set_headers(version_headers(ctx, version))
    for algorithm, digest in version.meta.checksums.items():
        ctx.resp.set_header(checksums.header_name(algorithm), digest)


def put_object(ctx: S3Context) -> None:
    bucket = ctx.bucket_info()  # before reading a body into a bucket that is not there
    tags = request_tags(ctx.headers)
    body = TaggedBody(ctx.body(content=content_headers(ctx.headers), user_meta=user_metadata(ctx.headers)), tags)
    if_none_match = ctx.headers.get("if-none-match", "").strip()
    if if_none_match and if_none_match != "*":
        raise errors.NotImplemented_("If-None-Match on PUT supports only '*'.")
    if_match = ctx.headers.get("if-match")
    version = ctx.backend.put_object(
        ctx.bucket, ctx.key, body, ctx.new_version(bucket),
        if_none_match=bool(if_none_match), if_match=if_match.strip().strip('"') if if_match else None,
    )
    write_headers(ctx, version)
    set_expiration_header(ctx, version)
    versioning.prune(ctx.backend, bucket, ctx.key, ctx.clock)


def find_version(ctx: S3Context, bucket: str, key: str, version_id: str | None) -> ObjectVersion:
    """The version a read names; delete markers answer as S3 does (404, or 405 when named)."""
    version = ctx.backend.head_object(bucket, key, version_id)
    if version.delete_marker:
        ctx.resp.set_header("x-amz-delete-marker", "true")
        ctx.set_headers(version_headers(ctx, version))
        if version_id is not None:
            raise errors.MethodNotAllowed(Method=ctx.req.method, ResourceType="DeleteMarker")
        raise errors.NoSuchKey(Key=key)
    return version


def _object_headers(ctx: S3Context, version: ObjectVersion) -> None:
    ctx.resp.set_header("ETag", f'"{version.etag}"')
    ctx.resp.set_header("Last-Modified", http_date(version.timestamp_ns))
    ctx.resp.set_header("Accept-Ranges", "bytes")
    ctx.set_headers(version_headers(ctx, version))
    content = {**version.meta.content, **response_overrides(ctx.query)}
    for name, value in content.items():
        ctx.resp.set_header(name, value)
    for name, value in version.meta.user_meta.items():
        ctx.resp.set_header("x-amz-meta-" + name, to_wire(value))
    if version.meta.part_sizes:
        ctx.resp.set_header("x-amz-mp-parts-count", str(len(version.meta.part_sizes)))
    if version.meta.tags:
        ctx.resp.set_header("x-amz-tagging-count", str(len(version.meta.tags)))
    set_expiration_header(ctx, version)


def _part_span(version: ObjectVersion, part_number: str) -> tuple[int, int]:
    """(start, length) of part `part_number` of a multipart object (1 is all of a plain one)."""
    number = parse_part_number(part_number)
    sizes = version.meta.part_sizes or (version.size,)
    if number > len(sizes):
        raise errors.InvalidPartNumber()
    return sum(sizes[: number - 1]), sizes[number - 1]


def _read_object(ctx: S3Context, send_body: bool) -> None:
    version = find_version(ctx, ctx.bucket, ctx.key, check_version_id(ctx.query.get("versionId")))
    _object_headers(ctx, version)
    try:
        check_preconditions(ctx.headers, version.etag, version.timestamp_ns)
    except NotModified:
        ctx.resp.status = falcon.HTTP_304
        return
    span = None
    if "partNumber" in ctx.query:
        span = _part_span(version, ctx.query["partNumber"])
    elif version.size:
        span = parse_range(ctx.headers.get("range"), version.size)
    elif ctx.headers.get("range"):
        raise errors.InvalidRange(RangeRequested=ctx.headers["range"], ActualObjectSize="0")
    start, length = span or (0, version.size)
    if span is not None:
        ctx.resp.status = falcon.HTTP_206
        ctx.resp.set_header("Content-Range", f"bytes {start}-{start + length - 1}/{version.size}")
    elif ctx.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
        for algorithm, digest in version.meta.checksums.items():
            ctx.resp.set_header(checksums.header_name(algorithm), digest)
        if version.meta.checksum_type:
            ctx.resp.set_header("x-amz-checksum-type", version.meta.checksum_type)
    ctx.resp.content_length = length
    if send_body and length:
        ctx.resp.stream = ctx.backend.open_object(version, start, length)


def get_object(ctx: S3Context) -> None:
    _read_object(ctx, send_body=True)


def head_object(ctx: S3Context) -> None:
    _read_object(ctx, send_body=False)


def delete_object(ctx: S3Context) -> None:
    result = versioning.delete(ctx.backend, ctx.bucket_info(), ctx.key, check_version_id(ctx.query.get("versionId")), ctx.clock)
    if result.delete_marker:
        ctx.resp.set_header("x-amz-delete-marker", "true")
    # An id no version has is echoed back as S3 does (the delete found nothing to remove).
    shown = versioning.shown_id(result.version_id, ctx.bucket_info)
    if shown:
        ctx.resp.set_header("x-amz-version-id", shown)
    ctx.resp.status = falcon.HTTP_204


def require_content_checksum(ctx: S3Context) -> None:
    """The documents S3 wants an integrity check of (Content-MD5 or any x-amz-checksum-*)."""
    checksums.require_integrity_header(ctx.headers)


def delete_objects(ctx: S3Context) -> None:
    require_content_checksum(ctx)
    targets, quiet = parse_delete(ctx.document())
    bucket = ctx.bucket_info()
    results: list[tuple[str, list]] = []
    for target in targets:
        try:
            check_key(target.key)
            ctx.principal.check_key(ctx.bucket, target.key)
            check_version_id(target.version_id)
            result = versioning.delete(ctx.backend, bucket, target.key, target.version_id, ctx.clock)
        except (errors.S3Error, storage.StorageError) as exc:
            error = to_s3_error(exc)
            results.append(("Error", [("Key", target.key), ("VersionId", target.version_id), ("Code", error.code), ("Message", error.message)]))
            continue
        if quiet:
            continue
        fields: list = [("Key", target.key), ("VersionId", target.version_id)]
        if result.delete_marker:
            fields += [("DeleteMarker", True), ("DeleteMarkerVersionId", result.version_id)]
        results.append(("Deleted", fields))
    ctx.xml(render("DeleteResult", results))


def parse_copy_source(header: str) -> tuple[str, str, str | None]:
    """(bucket, key, version id) of an x-amz-copy-source header ("/bucket/key?versionId=v")."""
    path, _, query = header.partition("?")
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    if not bucket or not key:
        raise errors.InvalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey", ArgumentName="x-amz-copy-source")
    check_bucket_name(bucket)
    check_key(key)
    version_id = parse_qs(query).get("versionId", [None])[0]
    return bucket, key, check_version_id(version_id)


def copy_source(ctx: S3Context) -> ObjectVersion:
    """The source version of a copy, with x-amz-copy-source-if-* checked against it."""
    bucket, key, version_id = parse_copy_source(ctx.headers["x-amz-copy-source"])
    ctx.principal.check_key(bucket, key)  # before the source is looked at: a refusal tells nothing of it
    source = find_version(ctx, bucket, key, version_id)
    check_preconditions(ctx.headers, source.etag, source.timestamp_ns, prefix="x-amz-copy-source-")
    return source


def copy_source_headers(ctx: S3Context, source: ObjectVersion) -> None:
    """The source version a copy read, shown as x-amz-version-id is (see versioning.shown_id)."""
    shown = versioning.shown_id(source.version_id, lambda: ctx.bucket_info(source.bucket))
    if shown:
        ctx.resp.set_header("x-amz-copy-source-version-id", shown)


def copy_object(ctx: S3Context) -> None:
    source = copy_source(ctx)
    replace = ctx.headers.get("x-amz-metadata-directive", "COPY").upper()
    if replace not in ("COPY", "REPLACE"):
        raise errors.InvalidArgument("Unknown metadata directive.", ArgumentName="x-amz-metadata-directive")
    # S3 allows a copy onto itself only when something changes (rclone's settier changes the class).
    changes = replace == "REPLACE" or "x-amz-storage-class" in ctx.headers
    if not changes and (source.bucket, source.key) == (ctx.bucket, ctx.key) and "versionId" not in ctx.headers["x-amz-copy-source"]:
        raise errors.InvalidRequest(
            "This copy request is illegal because it is trying to copy an object to itself without changing the "
            "object's metadata, storage class, website redirect location or encryption attributes."
        )
    if replace == "REPLACE":
        content, user_meta = content_headers(ctx.headers), user_metadata(ctx.headers)
    else:
        content, user_meta = source.meta.content, source.meta.user_meta
    algorithm = ctx.headers.get("x-amz-checksum-algorithm", "").upper() or next(iter(source.meta.checksums), "")
    if algorithm and algorithm not in checksums.ALGORITHMS:
        raise errors.InvalidRequest("Value for x-amz-checksum-algorithm header is invalid.")
    tags = copy_tags(ctx.headers, source.meta.tags)
    version = versioning.write_copy(
        ctx.backend, source, ctx.bucket_info(), ctx.key, ctx.clock, content=content, user_meta=user_meta, tags=tags, algorithm=algorithm
    )
    write_headers(ctx, version, etag=False)
    set_expiration_header(ctx, version)
    copy_source_headers(ctx, source)
    result = [("LastModified", iso8601(version.timestamp_ns)), ("ETag", f'"{version.etag}"')]
    result += [("Checksum" + algorithm, digest) for algorithm, digest in version.meta.checksums.items()]
    ctx.xml(render("CopyObjectResult", result))
