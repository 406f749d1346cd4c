"""CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload, AbortMultipartUpload,
ListParts, ListMultipartUploads."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import falcon

from wsgi_s3.gateway import versioning
from wsgi_s3.gateway.body import CopiedBody
from wsgi_s3.gateway.context import S3Context
from wsgi_s3.gateway.handlers.lifecycle import set_expiration_header
from wsgi_s3.gateway.handlers.listing import encoding_type, max_keys
from wsgi_s3.gateway.handlers.objects import copy_source, copy_source_headers, write_headers
from wsgi_s3.gateway.handlers.service import owner_fields
from wsgi_s3.model.types import ObjectMeta, Part, Upload
from wsgi_s3.s3 import checksums, errors
from wsgi_s3.s3.headers import content_headers, user_metadata
from wsgi_s3.s3.names import encode_key
from wsgi_s3.s3.numbers import INT32_MAX, INT64_MAX, MAX_PART_NUMBER, parse_part_number, parse_uint
from wsgi_s3.s3.tagging import request_tags
from wsgi_s3.s3.xml import iso8601, parse_complete_multipart, render

MIN_PART_SIZE = 5 * 1024 * 1024
_COPY_RANGE = re.compile(r"bytes=([0-9]+)-([0-9]+)")


def _upload(ctx: S3Context) -> Upload:
    return ctx.backend.get_upload(ctx.bucket, ctx.key, ctx.query["uploadId"])


def _checksum_fields(found: dict[str, str]) -> list[tuple[str, str]]:
    return [("Checksum" + algorithm, digest) for algorithm, digest in found.items()]


def _checksum_type(algorithm: str, requested: str) -> str:
    """The multipart checksum type as S3 settles it: CRC64NVME is always FULL_OBJECT, the SHAs always
    COMPOSITE, CRC32 and CRC32C COMPOSITE unless FULL_OBJECT is asked for."""
    if not algorithm:
        if requested:
            raise errors.InvalidRequest("The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")
        return ""
    chosen = requested or ("FULL_OBJECT" if algorithm == "CRC64NVME" else "COMPOSITE")
    if chosen not in ("COMPOSITE", "FULL_OBJECT"):
        raise errors.InvalidRequest("Value for x-amz-checksum-type header is invalid.")
    if (chosen == "FULL_OBJECT" and algorithm not in checksums.FULL_OBJECT_ALGORITHMS) or (
        chosen == "COMPOSITE" and algorithm == "CRC64NVME"
    ):
        raise errors.InvalidRequest(f"The {chosen} checksum type cannot be used with the {algorithm.lower()} checksum algorithm.")
    return chosen


def create_multipart_upload(ctx: S3Context) -> None:
    algorithm = ctx.headers.get("x-amz-checksum-algorithm", "").upper()
    if algorithm and algorithm not in checksums.ALGORITHMS:
        raise errors.InvalidRequest("Value for x-amz-checksum-algorithm header is invalid.")
    checksum_type = _checksum_type(algorithm, ctx.headers.get("x-amz-checksum-type", "").upper())
    meta = ObjectMeta(
        etag="", content=content_headers(ctx.headers), user_meta=user_metadata(ctx.headers), checksum_type=checksum_type, tags=request_tags(ctx.headers)
    )
    upload = ctx.backend.create_upload(ctx.bucket, ctx.key, meta, algorithm)
    if algorithm:
        ctx.resp.set_header("x-amz-checksum-algorithm", algorithm)
        ctx.resp.set_header("x-amz-checksum-type", checksum_type)
    ctx.xml(render("InitiateMultipartUploadResult", [("Bucket", ctx.bucket), ("Key", ctx.key), ("UploadId", upload.upload_id)]))


def upload_part(ctx: S3Context) -> None:
    number = parse_part_number(ctx.query.get("partNumber"))
    upload = _upload(ctx)
    body = ctx.body(checksum_algorithm=upload.checksum_algorithm)
    part = ctx.backend.upload_part(upload, number, body)
    ctx.resp.set_header("ETag", f'"{part.etag}"')
    for algorithm, digest in part.checksums.items():
        ctx.resp.set_header(checksums.header_name(algorithm), digest)


def _copy_range(header: str | None, size: int) -> tuple[int, int]:
    if header is None:
        return 0, size
    match = _COPY_RANGE.fullmatch(header.strip())
    if not match:
        raise errors.InvalidArgument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last", ArgumentName="x-amz-copy-source-range"
        )
    # Saturated positions: one past any object is unsatisfiable, like any other end beyond the source.
    start, end = (parse_uint(text, name="x-amz-copy-source-range", maximum=INT64_MAX, clamp=True) for text in match.groups())
    if start > end or end >= size:
        raise errors.InvalidRange(RangeRequested=header, ActualObjectSize=str(size))
    return start, end - start + 1


def upload_part_copy(ctx: S3Context) -> None:
    number = parse_part_number(ctx.query.get("partNumber"))
    upload = _upload(ctx)
    source = copy_source(ctx)
    start, length = _copy_range(ctx.headers.get("x-amz-copy-source-range"), source.size)
    body = CopiedBody(ctx.backend.open_object(source, start, length), {}, {}, upload.checksum_algorithm)
    part = ctx.backend.upload_part(upload, number, body)
    copy_source_headers(ctx, source)
    result = [("LastModified", iso8601(part.timestamp_ns)), ("ETag", f'"{part.etag}"')] + _checksum_fields(part.checksums)
    ctx.xml(render("CopyPartResult", result))


def complete_multipart_upload(ctx: S3Context) -> None:
    upload = _upload(ctx)
    # Here x-amz-checksum-<algorithm> is the whole object's checksum (checked below), not the document's.
    document_headers = {name: value for name, value in ctx.headers.items() if not name.startswith("x-amz-checksum-")}
    requested = parse_complete_multipart(ctx.document(headers=document_headers))
    stored = {part.part_number: part for part in ctx.backend.list_parts(upload)}
    chosen: list[Part] = []
    for index, wanted in enumerate(requested):
        if index and wanted.part_number <= requested[index - 1].part_number:
            raise errors.InvalidPartOrder()
        part = stored.get(wanted.part_number)
        if part is None or part.etag != wanted.etag:
            raise errors.InvalidPart(PartNumber=str(wanted.part_number), ETag=wanted.etag)
        for algorithm, digest in wanted.checksums.items():
            if part.checksums.get(algorithm) not in (None, digest):
                raise errors.InvalidPart(PartNumber=str(wanted.part_number), ETag=wanted.etag)
        chosen.append(part)
    for part in chosen[:-1]:
        if part.size < MIN_PART_SIZE:
            raise errors.EntityTooSmall(ProposedSize=str(part.size), MinSizeAllowed=str(MIN_PART_SIZE), PartNumber=str(part.part_number))
    declared_size = ctx.headers.get("x-amz-mp-object-size")
    if declared_size is not None and declared_size != str(sum(part.size for part in chosen)):
        raise errors.InvalidRequest("The provided 'x-amz-mp-object-size' header value does not match what was computed.")
    found = _object_checksum(ctx, upload, chosen)
    meta = assembled_meta(upload, chosen, found)
    bucket = ctx.bucket_info()
    version = ctx.backend.complete_upload(upload, chosen, meta, ctx.new_version(bucket))
    write_headers(ctx, version, etag=False)
    set_expiration_header(ctx, version)
    versioning.prune(ctx.backend, bucket, ctx.key, ctx.clock)
    location = f"{ctx.req.scheme}://{ctx.headers.get('host', '')}/{ctx.bucket}/{ctx.key}"
    result = [("Location", location), ("Bucket", ctx.bucket), ("Key", ctx.key), ("ETag", f'"{version.etag}"')]
    if found:
        result += _checksum_fields(found) + [("ChecksumType", meta.checksum_type)]
    ctx.xml(render("CompleteMultipartUploadResult", result))


def _object_checksum(ctx: S3Context, upload: Upload, parts: list[Part]) -> dict[str, str]:
    """The whole object's checksum from its parts' (COMPOSITE or FULL_OBJECT), checked against what
    the client sent with the completion request: the same type, and the same value in S3's form
    (FULL_OBJECT: the base64 of the whole object's CRC; COMPOSITE: "<base64>-<part count>")."""
    algorithm = upload.checksum_algorithm
    sent_type = ctx.headers.get("x-amz-checksum-type", "").upper()
    if sent_type and sent_type != upload.meta.checksum_type:
        raise errors.InvalidRequest(
            f"The upload was created using the {upload.meta.checksum_type or 'no'} checksum mode. The complete request must use the same checksum mode."
        )
    sent: str | None = None
    for other in checksums.ALGORITHMS:
        name = checksums.header_name(other)
        if name not in ctx.headers:
            continue
        if other != algorithm:
            raise errors.InvalidRequest(
                f"The upload was created using {algorithm.lower() or 'no'} checksum algorithm; {name} cannot be used to complete it."
            )
        sent = ctx.headers[name]
        if not checksums.is_multipart_checksum(algorithm, sent):
            raise errors.InvalidRequest(f"Value for {name} header is invalid.")
    if not algorithm or not all(algorithm in part.checksums for part in parts):
        return {}
    if upload.meta.checksum_type == "FULL_OBJECT":
        value = checksums.combine_full_object(algorithm, [(part.checksums[algorithm], part.size) for part in parts])
    else:
        value = checksums.combine_composite(algorithm, [part.checksums[algorithm] for part in parts])
    if sent is not None and sent != value:
        raise errors.BadDigest(f"The {algorithm} you specified did not match the calculated checksum.")
    return {algorithm: value}


def abort_multipart_upload(ctx: S3Context) -> None:
    ctx.backend.abort_upload(_upload(ctx))
    ctx.resp.status = falcon.HTTP_204


def list_parts(ctx: S3Context) -> None:
    upload = _upload(ctx)
    limit = max_keys(ctx, "max-parts")
    # Amazon's markers are 32-bit integers; SQLite's are 64-bit, so an unbounded one overflowed.
    marker = parse_uint(
        ctx.query.get("part-number-marker", "0"),
        name="part-number-marker",
        maximum=INT32_MAX,
        error=errors.InvalidArgument("Provided part-number-marker not an integer or within integer range", ArgumentName="part-number-marker"),
    )
    # No part numbers pass 10,000: a larger marker lists what the largest one would (nothing).
    parts = ctx.backend.list_parts(upload, min(marker, MAX_PART_NUMBER), limit + 1)
    truncated = len(parts) > limit
    parts = parts[:limit]
    caller = owner_fields(upload_owner(ctx))
    fields: list = [
        ("Bucket", ctx.bucket),
        ("Key", ctx.key),
        ("UploadId", upload.upload_id),
        ("Initiator", caller),
        ("Owner", caller),
        ("StorageClass", "STANDARD"),
        ("PartNumberMarker", marker),
        ("NextPartNumberMarker", parts[-1].part_number if parts else None),
        ("MaxParts", limit),
        ("IsTruncated", truncated),
    ]
    if upload.checksum_algorithm:
        fields += [("ChecksumAlgorithm", upload.checksum_algorithm), ("ChecksumType", upload.meta.checksum_type)]
    for part in parts:
        fields.append(
            ("Part", [("PartNumber", part.part_number), ("LastModified", iso8601(part.timestamp_ns)), ("ETag", f'"{part.etag}"'), ("Size", part.size)] + _checksum_fields(part.checksums))
        )
    ctx.xml(render("ListPartsResult", fields))


def upload_owner(ctx: S3Context) -> str:
    return ctx.principal.credential.access_key if ctx.principal.credential else "anonymous"


def list_multipart_uploads(ctx: S3Context) -> None:
    encoding, limit = encoding_type(ctx), max_keys(ctx, "max-uploads")
    prefix, delimiter = ctx.query.get("prefix", ""), ctx.query.get("delimiter", "")
    key_marker, id_marker = ctx.query.get("key-marker", ""), ctx.query.get("upload-id-marker", "")
    uploads: list[Upload] = []
    prefixes: list[str] = []
    truncated = False
    for upload in _uploads_under(ctx, prefix, key_marker, id_marker if key_marker else ""):
        if upload.key == key_marker and not id_marker:
            continue  # without an upload-id-marker, S3 lists only keys after key-marker
        cut = upload.key.find(delimiter, len(prefix)) if delimiter else -1
        common = upload.key[: cut + len(delimiter)] if cut >= 0 else None
        if common is not None and prefixes and prefixes[-1] == common:
            continue
        if len(uploads) + len(prefixes) == limit:
            truncated = True
            break
        if common is not None:
            prefixes.append(common)
        else:
            uploads.append(upload)
    caller = owner_fields(upload_owner(ctx))
    last = uploads[-1] if uploads else None
    fields: list = [
        ("Bucket", ctx.bucket),
        ("KeyMarker", encode_key(key_marker, encoding)),
        ("UploadIdMarker", id_marker),
        ("NextKeyMarker", encode_key(last.key, encoding) if truncated and last else None),
        ("NextUploadIdMarker", last.upload_id if truncated and last else None),
        ("Prefix", encode_key(prefix, encoding)),
        ("Delimiter", encode_key(delimiter, encoding) if delimiter else None),
        ("MaxUploads", limit),
        ("IsTruncated", truncated),
        ("EncodingType", encoding),
    ]
    for upload in uploads:
        fields.append(
            ("Upload", [("Key", encode_key(upload.key, encoding)), ("UploadId", upload.upload_id), ("Initiator", caller), ("Owner", caller), ("StorageClass", "STANDARD"), ("Initiated", iso8601(upload.initiated_ns))])
        )
    fields += [("CommonPrefixes", [("Prefix", encode_key(p, encoding))]) for p in prefixes]
    ctx.xml(render("ListMultipartUploadsResult", fields))


def _uploads_under(ctx: S3Context, prefix: str, after_key: str, after_id: str) -> Iterator[Upload]:
    """Uploads with keys under `prefix` after the (key, upload id) marker, in order."""
    if prefix > after_key:
        after_key, after_id = prefix, ""
    while batch := ctx.backend.list_uploads(ctx.bucket, after_key, after_id, 1000):
        for upload in batch:
            if not upload.key.startswith(prefix):
                return
            yield upload
        after_key, after_id = batch[-1].key, batch[-1].upload_id


def assembled_meta(upload: Upload, parts: list[Part], found: dict[str, str]) -> ObjectMeta:
    """The meta of the object that `parts` (validated, in order) make: S3's multipart ETag, the
    upload's headers, metadata and tags, and the whole object's checksum `found`, if any."""
    combined = hashlib.md5(b"".join(bytes.fromhex(part.etag) for part in parts)).hexdigest()
    return ObjectMeta(
        etag=f"{combined}-{len(parts)}",
        content=upload.meta.content,
        user_meta=upload.meta.user_meta,
        checksums=found,
        checksum_type=upload.meta.checksum_type if found else "",
        part_sizes=tuple(part.size for part in parts),
        # GetObjectAttributes lists them, so that SDKs can verify a multipart object part by part.
        part_checksums=tuple(part.checksums[upload.checksum_algorithm] for part in parts) if found else (),
        tags=upload.meta.tags,
    )
