"""The seed's concurrent, resumable upload API, built on S3 multipart uploads:

    POST /concurrent-upload/initiate  {"bucket","key","total_size","chunk_size","concurrency"}
         -> the upload id and the chunk plan: for each chunk its part number, offset, size and URL
    PUT  <chunk url>                   S3's UploadPart, in parallel, any number of times
    POST /concurrent-upload/progress  {"bucket","key","upload_id"} -> bytes and chunks done, the chunks missing
    POST /concurrent-upload/complete  {"bucket","key","upload_id"} -> the object, once every chunk is there
    POST /concurrent-upload/abort     {"bucket","key","upload_id"}

Chunks are UploadPart requests, so their bodies stream to storage like any upload (bounded memory,
checksums verified, any authentication scheme), a retried chunk simply replaces itself, and the
object is assembled from the stored parts without copying a byte. The plan (total and chunk size)
is kept with the multipart upload itself, so progress and resumption survive any restart and work
through every gateway of a cluster.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import quote

from wsgi_s3.gateway import versioning
from wsgi_s3.gateway.auth import Authenticator
from wsgi_s3.gateway.context import S3Context
from wsgi_s3.gateway.extensions import api
from wsgi_s3.gateway.handlers.multipart import MIN_PART_SIZE, assembled_meta
from wsgi_s3.model.types import ObjectMeta, Part, Upload
from wsgi_s3.model.versions import NULL_VERSION
from wsgi_s3.s3 import errors
from wsgi_s3.s3.headers import content_headers
from wsgi_s3.s3.numbers import MAX_PART_NUMBER

MAX_OBJECT_SIZE = 5 * 1024**4  # S3's largest object
MAX_PART_SIZE = 5 * 1024**3  # S3's largest part
MAX_CONCURRENCY = 100
DEFAULT_CONCURRENCY = 4
# The upload's metadata entry holding its plan; dropped from the object that complete makes.
PLAN = "wsgi-s3-chunk-plan"


@dataclasses.dataclass(frozen=True)
class Plan:
    total_size: int
    chunk_size: int

    @property
    def count(self) -> int:
        return max(1, -(-self.total_size // self.chunk_size))

    def size(self, part_number: int) -> int:
        return min(self.chunk_size, self.total_size - (part_number - 1) * self.chunk_size)

    def chunk(self, ctx: S3Context, upload: Upload, part_number: int) -> dict[str, Any]:
        url = f"{api.object_url(ctx, upload.bucket, upload.key)}?partNumber={part_number}&uploadId={quote(upload.upload_id, safe='')}"
        return {"part_number": part_number, "offset": (part_number - 1) * self.chunk_size, "size": self.size(part_number), "url": url}

    def done(self, parts: list[Part]) -> dict[int, Part]:
        """The planned chunks stored whole (a part of another size is a chunk still to upload)."""
        return {part.part_number: part for part in parts if part.part_number <= self.count and part.size == self.size(part.part_number)}


def initiate(ctx: S3Context, authenticator: Authenticator) -> None:
    document = api.read_json(ctx)
    bucket, key = api.text(document, "bucket"), api.text(document, "key")
    total_size = api.integer(document, "total_size", minimum=1, maximum=MAX_OBJECT_SIZE)
    chunk_size = api.integer(document, "chunk_size", minimum=1, maximum=MAX_PART_SIZE)
    concurrency = api.integer(document, "concurrency", minimum=1, maximum=MAX_CONCURRENCY, default=DEFAULT_CONCURRENCY)
    content_type = api.text(document, "content_type", "")
    if not all(" " <= char <= "~" for char in content_type):
        # It becomes a response header: no line breaks, nothing a header cannot carry.
        raise errors.InvalidArgument("content_type must be printable ASCII", ArgumentName="content_type")
    plan = Plan(total_size, chunk_size)
    if plan.count > 1 and chunk_size < MIN_PART_SIZE:
        raise errors.InvalidArgument(
            f"chunk_size must be at least {MIN_PART_SIZE} bytes (S3's smallest part) when the object takes more than one chunk",
            ArgumentName="chunk_size", ArgumentValue=str(chunk_size),
        )
    if plan.count > MAX_PART_NUMBER:
        raise errors.InvalidArgument(
            f"{plan.count} chunks: an upload has at most {MAX_PART_NUMBER}; choose a chunk_size of at least {-(-total_size // MAX_PART_NUMBER)}",
            ArgumentName="chunk_size", ArgumentValue=str(chunk_size),
        )
    api.authorize(ctx, authenticator, "POST", bucket, key, {"uploads": ""})
    content = content_headers({"content-type": content_type} if content_type else {})
    upload = ctx.backend.create_upload(bucket, key, ObjectMeta(etag="", content=content, user_meta={PLAN: f"{total_size}/{chunk_size}"}), "")
    api.answer(ctx, {
        **_named(upload),
        "total_size": total_size,
        "chunk_size": chunk_size,
        "concurrency": concurrency,  # how many chunks the client should send at once
        "chunks_total": plan.count,
        "chunks": [plan.chunk(ctx, upload, number) for number in range(1, plan.count + 1)],
    })


def progress(ctx: S3Context, authenticator: Authenticator) -> None:
    upload, plan = _upload(ctx, authenticator, "GET")
    done = plan.done(ctx.backend.list_parts(upload))
    api.answer(ctx, {
        **_named(upload),
        "total_size": plan.total_size,
        "chunk_size": plan.chunk_size,
        "chunks_total": plan.count,
        "chunks_done": len(done),
        "bytes_done": sum(part.size for part in done.values()),
        "missing": [plan.chunk(ctx, upload, number) for number in range(1, plan.count + 1) if number not in done],
    })


def complete(ctx: S3Context, authenticator: Authenticator) -> None:
    upload, plan = _upload(ctx, authenticator, "POST")
    done = plan.done(ctx.backend.list_parts(upload))
    missing = [number for number in range(1, plan.count + 1) if number not in done]
    if missing:
        listed = ", ".join(map(str, missing[:20])) + (", ..." if len(missing) > 20 else "")
        raise errors.InvalidPart(f"{len(missing)} of {plan.count} chunks are missing or incomplete (part numbers {listed}); upload them and complete again.")
    parts = [done[number] for number in range(1, plan.count + 1)]
    meta = assembled_meta(dataclasses.replace(upload, meta=dataclasses.replace(upload.meta, user_meta=_without_plan(upload.meta.user_meta))), parts, {})
    bucket = ctx.bucket_info(upload.bucket)
    version = ctx.backend.complete_upload(upload, parts, meta, versioning.new_version(bucket, ctx.clock))
    versioning.prune(ctx.backend, bucket, upload.key, ctx.clock)  # like any write, under the version policy
    answer: dict[str, Any] = {"bucket": upload.bucket, "key": upload.key, "etag": version.etag, "size": version.size}
    if version.version_id != NULL_VERSION:
        answer["version_id"] = version.version_id
    api.answer(ctx, answer)


def abort(ctx: S3Context, authenticator: Authenticator) -> None:
    upload, _ = _upload(ctx, authenticator, "DELETE")
    ctx.backend.abort_upload(upload)
    api.answer(ctx, {**_named(upload), "aborted": True})


def _upload(ctx: S3Context, authenticator: Authenticator, method: str) -> tuple[Upload, Plan]:
    """The upload a request names and its plan, once the caller may do the S3 request of that
    method on it (GET: ListParts, POST: CompleteMultipartUpload, DELETE: AbortMultipartUpload)."""
    document = api.read_json(ctx)
    bucket, key, upload_id = api.text(document, "bucket"), api.text(document, "key"), api.text(document, "upload_id")
    api.authorize(ctx, authenticator, method, bucket, key, {"uploadId": upload_id})
    upload = ctx.backend.get_upload(bucket, key, upload_id)
    total, _, chunk = upload.meta.user_meta.get(PLAN, "").partition("/")
    if not total.isdigit() or not chunk.isdigit():
        raise errors.InvalidRequest("This multipart upload was not begun by /concurrent-upload/initiate; use S3's multipart requests for it.")
    return upload, Plan(int(total), int(chunk))


def _named(upload: Upload) -> dict[str, Any]:
    return {"upload_id": upload.upload_id, "bucket": upload.bucket, "key": upload.key}


def _without_plan(user_meta: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in user_meta.items() if name != PLAN}
