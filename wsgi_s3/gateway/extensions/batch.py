"""POST /batch: delete, copy, move or restore up to 1,000 objects in one request, in parallel
greenlets, each object checked and done as its own S3 request would be, its failure its own.

    {"operation": "delete" | "copy" | "move" | "restore",
     "operations": [{"bucket", "key", "version_id"?, "dest_bucket"?, "dest_key"?}, ...],
     "options": {"concurrency": 1-100, "dry_run": false}}

copy and move write `dest_bucket`/`dest_key` (each defaults to the source's) from the source's
latest version or `version_id`; move then deletes the source as DeleteObject would. restore makes
version `version_id` of a key current again as POST ?restore does (a new version over the same
bytes, none copied). A dry run checks everything (permissions, names, that
buckets and sources exist) and changes nothing.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gevent.pool import Pool

from wsgi_s3.gateway import versioning
from wsgi_s3.gateway.auth import Authenticator
from wsgi_s3.gateway.context import S3Context
from wsgi_s3.gateway.errors import to_s3_error
from wsgi_s3.gateway.extensions import api
from wsgi_s3.model import errors as storage
from wsgi_s3.model.types import BucketInfo, ObjectVersion
from wsgi_s3.model.versions import NULL_VERSION
from wsgi_s3.s3 import errors
from wsgi_s3.s3.names import check_version_id

log = logging.getLogger(__name__)

MAX_ITEMS = 1000
MAX_CONCURRENCY = 100
DEFAULT_CONCURRENCY = 10


@dataclass(frozen=True)
class Item:
    bucket: str
    key: str
    version_id: str | None
    dest_bucket: str
    dest_key: str

    def echo(self) -> dict[str, Any]:
        """How its result names it: as the request did."""
        named: dict[str, Any] = {"bucket": self.bucket, "key": self.key}
        if self.version_id is not None:
            named["version_id"] = self.version_id
        if (self.dest_bucket, self.dest_key) != (self.bucket, self.key):
            named.update(dest_bucket=self.dest_bucket, dest_key=self.dest_key)
        return named


class Batch:
    """One request's objects, done with the caller's rights; buckets looked up once each (S3Context.bucket_info)."""

    def __init__(self, ctx: S3Context, authenticator: Authenticator, dry_run: bool) -> None:
        self.ctx = ctx
        self.authenticator = authenticator
        self.dry_run = dry_run

    def delete(self, item: Item) -> dict[str, Any]:
        self._admit_delete(item)
        bucket = self.ctx.bucket_info(item.bucket)
        if self.dry_run:
            return {}
        result = versioning.delete(self.ctx.backend, bucket, item.key, item.version_id, self.ctx.clock)
        return _version_fields(result.version_id, result.delete_marker)

    def copy(self, item: Item) -> dict[str, Any]:
        """The source version written as a new version of the destination (CopyObject, COPY directives)."""
        return self._write(
            item,
            lambda source, bucket: versioning.write_copy(
                self.ctx.backend, source, bucket, item.dest_key, self.ctx.clock, **versioning.copied_meta(source)
            ),
        )

    def _write(self, item: Item, write: Callable[[ObjectVersion, BucketInfo], ObjectVersion]) -> dict[str, Any]:
        """Check a copy of the item's source to its destination as CopyObject would be checked, then
        (unless a dry run) `write` the new version from the source into the destination bucket."""
        copy_source = {"x-amz-copy-source": api.object_path(item.bucket, item.key)}  # makes the PUT a CopyObject
        api.authorize(self.ctx, self.authenticator, "PUT", item.dest_bucket, item.dest_key, headers=copy_source)
        api.authorize(self.ctx, self.authenticator, "GET", item.bucket, item.key)  # the source, in scope and readable
        if (item.dest_bucket, item.dest_key) == (item.bucket, item.key) and item.version_id is None:
            # S3's rule for CopyObject onto itself with nothing changed; a move there would delete it.
            raise errors.InvalidRequest("This copy request is illegal because it is trying to copy an object to itself.")
        source = self._source(item)
        bucket = self.ctx.bucket_info(item.dest_bucket)
        if self.dry_run:
            return {}
        version = write(source, bucket)
        return {"etag": version.etag, **_version_fields(version.version_id, False)}

    def move(self, item: Item) -> dict[str, Any]:
        self._admit_delete(item)  # both checks before anything changes
        done = self.copy(item)
        if self.dry_run:
            return done
        try:
            versioning.delete(self.ctx.backend, self.ctx.bucket_info(item.bucket), item.key, item.version_id, self.ctx.clock)
        except (errors.S3Error, storage.StorageError) as exc:
            error = to_s3_error(exc)
            raise type(error)(f"Copied, but the source was not deleted: {error.message}", **error.extra) from exc
        return done

    def restore(self, item: Item) -> dict[str, Any]:
        if item.version_id is None:
            raise errors.InvalidArgument("restore needs the version_id of the version to make current", ArgumentName="version_id")
        onto_itself = Item(item.bucket, item.key, item.version_id, item.bucket, item.key)
        return self._write(onto_itself, lambda source, bucket: versioning.restore(self.ctx.backend, source, bucket, self.ctx.clock))

    def _admit_delete(self, item: Item) -> None:
        api.authorize(self.ctx, self.authenticator, "DELETE", item.bucket, item.key, {"versionId": item.version_id} if item.version_id else {})

    def _source(self, item: Item) -> ObjectVersion:
        source = self.ctx.backend.head_object(item.bucket, item.key, item.version_id)
        if source.delete_marker:
            if item.version_id is not None:
                raise errors.MethodNotAllowed("The version named is a delete marker.", ResourceType="DeleteMarker")
            raise errors.NoSuchKey(Key=item.key)
        return source


OPERATIONS: dict[str, Callable[[Batch, Item], dict[str, Any]]] = {
    "delete": Batch.delete,
    "copy": Batch.copy,
    "move": Batch.move,
    "restore": Batch.restore,
}


def batch(ctx: S3Context, authenticator: Authenticator) -> None:
    document = api.read_json(ctx)
    name = api.text(document, "operation")
    if name not in OPERATIONS:
        raise errors.InvalidArgument(f"operation must be one of {', '.join(OPERATIONS)}", ArgumentName="operation", ArgumentValue=name)
    options = document.get("options", {})
    if not isinstance(options, dict):
        raise errors.InvalidArgument("options must be a JSON object", ArgumentName="options")
    concurrency = api.integer(options, "concurrency", minimum=1, maximum=MAX_CONCURRENCY, default=DEFAULT_CONCURRENCY)
    dry_run = api.flag(options, "dry_run")
    items = _items(document.get("operations"))
    run = OPERATIONS[name]
    work = Batch(ctx, authenticator, dry_run)
    pool = Pool(concurrency)
    # Each greenlet in a copy of the request's context: its log lines carry the request's id.
    jobs = [pool.spawn(contextvars.copy_context().run, _outcome, run, work, item) for item in items]
    pool.join()
    results = [job.get() for job in jobs]
    failed = sum(1 for result in results if result["status"] != "ok")
    api.answer(ctx, {
        "operation": name,
        "dry_run": dry_run,
        "results": results,
        "totals": {"requested": len(results), "succeeded": len(results) - failed, "failed": failed},
    })


def _items(entries: Any) -> list[Item]:
    """The objects of a request, or the whole request refused (400) if it is over the limits or any
    entry is not an object with string fields."""
    if not isinstance(entries, list) or not entries:
        raise errors.InvalidArgument("operations must be a non-empty list of objects", ArgumentName="operations")
    if len(entries) > MAX_ITEMS:
        raise errors.InvalidArgument(
            f"A batch holds at most {MAX_ITEMS} operations; this one has {len(entries)}. Split it into several requests.",
            ArgumentName="operations",
            ArgumentValue=str(len(entries)),
        )
    items = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise errors.InvalidArgument(f"operations[{index}] must be a JSON object", ArgumentName=f"operations[{index}]")
        bucket, key = api.text(entry, "bucket"), api.text(entry, "key")
        version_id = entry.get("version_id")
        if version_id is not None and not isinstance(version_id, str):
            raise errors.InvalidArgument(f"operations[{index}].version_id must be a string", ArgumentName="version_id")
        items.append(Item(bucket, key, version_id, api.text(entry, "dest_bucket", bucket), api.text(entry, "dest_key", key)))
    return items


def _outcome(run: Callable[[Batch, Item], dict[str, Any]], work: Batch, item: Item) -> dict[str, Any]:
    """One object's result: ok (with what was written), or the S3 error it met; never raises."""
    try:
        check_version_id(item.version_id)
        return {**item.echo(), "status": "ok", **run(work, item)}
    except (errors.S3Error, storage.StorageError) as exc:
        error = to_s3_error(exc)
    except Exception:  # noqa: BLE001 - one object's failure, however unexpected, is not the others'
        log.exception("batch: %s/%s failed", item.bucket, item.key)
        error = errors.InternalError()
    return {**item.echo(), "status": "error", "code": error.code, "message": error.message}


def _version_fields(version_id: str | None, delete_marker: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if version_id and version_id != NULL_VERSION:
        fields["version_id"] = version_id
    if delete_marker:
        fields["delete_marker"] = True
    return fields
