"""The node API's resources: each parses the request strictly (node/protocol.py), calls the Store
once and answers JSON. No S3 here: no XML, no signatures, no versioning rules; the gateway decides
those and the node stores what it is told."""

from __future__ import annotations

import json
from typing import Any

import falcon

from wsgi_s3.model import errors
from wsgi_s3.node import protocol
from wsgi_s3.store.store import Store

MAX_DOCUMENT = 16 << 20  # a complete request lists up to 10,000 parts: far less than this


def read_json(req: falcon.Request) -> Any:
    """The request's JSON document; it must declare its length (documents are small)."""
    length = req.content_length
    if length is None or length > MAX_DOCUMENT:
        raise protocol.BadRequest(f"a JSON document needs a Content-Length of at most {MAX_DOCUMENT}")
    data = req.bounded_stream.read(length)
    if len(data) != length:
        raise protocol.BadRequest("the JSON document was cut short")
    try:
        return json.loads(data)
    except ValueError:
        raise protocol.BadRequest("the body is not JSON") from None


def answer(resp: falcon.Response, data: Any, status: str = falcon.HTTP_200) -> None:
    resp.status = status
    resp.content_type = protocol.JSON_TYPE
    resp.text = json.dumps(data, separators=(",", ":"))


class StoreResource:
    """A resource calls the node's one Store."""

    def __init__(self, store: Store) -> None:
        self.store = store


class Buckets(StoreResource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        answer(resp, [protocol.bucket_json(bucket) for bucket in self.store.list_buckets()])


class Bucket(StoreResource):
    def on_put(self, req: falcon.Request, resp: falcon.Response, bucket: str) -> None:
        doc = read_json(req)
        created = self.store.create_bucket(bucket, protocol.field(doc, "region", str), protocol.field(doc, "owner", str))
        answer(resp, protocol.bucket_json(created), falcon.HTTP_201)

    def on_get(self, req: falcon.Request, resp: falcon.Response, bucket: str) -> None:
        answer(resp, protocol.bucket_state_json(self.store.bucket_state(bucket)))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, bucket: str) -> None:
        self.store.delete_bucket(bucket, purge=protocol.parse_flag(req.get_param("purge", default="0"), "purge"))
        resp.status = falcon.HTTP_204


class BucketConfig(StoreResource):
    """A bucket's configuration document of one kind ("versioning", ...) with its stamp; a write
    applies only if its stamp is newer than the one held (see Metadata.put_bucket_config)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, bucket: str, kind: str) -> None:
        answer(resp, protocol.config_json(self.store.get_bucket_config(bucket, kind)))

    def on_put(self, req: falcon.Request, resp: falcon.Response, bucket: str, kind: str) -> None:
        config = protocol.config_from(read_json(req))
        if config is None:
            raise protocol.BadRequest("a configuration write needs a stamp")
        self.store.put_bucket_config(bucket, kind, config.document, config.stamp)
        resp.status = falcon.HTTP_204


class BucketClosing(StoreResource):
    """A bucket being deleted refuses new objects (see Metadata.close_bucket)."""

    def on_put(self, req: falcon.Request, resp: falcon.Response, bucket: str) -> None:
        seconds = protocol.field(read_json(req), "seconds", int)
        if not 1 <= seconds <= 3600:
            raise protocol.BadRequest("seconds must be between 1 and 3600")
        self.store.close_bucket(bucket, seconds)
        resp.status = falcon.HTTP_204

    def on_delete(self, req: falcon.Request, resp: falcon.Response, bucket: str) -> None:
        self.store.reopen_bucket(bucket)
        resp.status = falcon.HTTP_204


class BucketConfigs(StoreResource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, bucket: str) -> None:
        answer(resp, {kind: protocol.config_json(config) for kind, config in self.store.bucket_configs(bucket).items()})


class Entries(StoreResource):
    """A bucket's newest record per key (delete markers included) in key order, after a marker."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, bucket: str) -> None:
        entries = self.store.entries_after(
            bucket,
            req.get_param("after", default=""),
            protocol.parse_flag(req.get_param("inclusive", default="0"), "inclusive"),
            req.get_param("before"),
            protocol.parse_uint(req.get_param("limit"), "limit", protocol.MAX_LIMIT),
        )
        answer(resp, [protocol.entry_json(entry) for entry in entries])


class Blobs(StoreResource):
    """Stage: the request body streams into a blob that no metadata references yet (invisible)."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        # wsgi.input, not Falcon's bounded stream: gunicorn ends it at Content-Length or at the last
        # chunk of a chunked body, which Falcon's stream would read as empty.
        staged = self.store.stage(req.env["wsgi.input"])
        if req.content_length is not None and staged.size != req.content_length:
            # gunicorn ends a Content-Length body early, without an error, when the peer hangs up.
            self.store.discard([staged])
            raise protocol.BadRequest(f"the body was cut short: {staged.size} of {req.content_length} bytes")
        answer(resp, protocol.staged_json(staged), falcon.HTTP_201)


class Discard(StoreResource):
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.store.discard(protocol.records(read_json(req), protocol.staged_from))
        resp.status = falcon.HTTP_204


class Versions(StoreResource):
    """Commit: make a version made of staged blobs visible, under the write's conditions."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        doc = read_json(req)
        if_match = doc.get("if_match") if isinstance(doc, dict) else None
        if if_match is not None and not isinstance(if_match, str):
            raise protocol.BadRequest("if_match must be a string or null")
        version = protocol.version_from(protocol.field(doc, "version", dict))
        if sum(segment.size for segment in version.segments) != version.size:
            raise protocol.BadRequest("a version's segments must add up to its size")
        stored = self.store.commit_version(
            version,
            if_none_match=protocol.field(doc, "if_none_match", bool),
            if_match=if_match,
        )
        answer(resp, protocol.version_json(stored))


class Object(StoreResource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, bucket: str, key: str) -> None:
        """Head: the latest version, or the one named by `version_id` (its tombstone too with `tombstones=1`)."""
        tombstones = protocol.parse_flag(req.get_param("tombstones", default="0"), "tombstones")
        answer(resp, protocol.version_json(self.store.get_version(bucket, key, req.get_param("version_id"), tombstones=tombstones)))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, bucket: str, key: str) -> None:
        """Leave a tombstone of one version, stamped by the delete; answers the live record it
        replaced, or 204 when there was none."""
        version_id = req.get_param("version_id", required=True)
        stamp = protocol.parse_uint(req.get_param("timestamp_ns"), "timestamp_ns")
        removed = self.store.delete_version(bucket, key, version_id, stamp, req.get_param("origin", default=""))
        if removed is None:
            resp.status = falcon.HTTP_204
        else:
            answer(resp, protocol.version_json(removed))


class Data(StoreResource):
    """A range of one version's bytes, streamed from the open blob files (sendfile when it is one)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, bucket: str, key: str) -> None:
        version = self.store.get_version(bucket, key, req.get_param("version_id", required=True))
        # The stamp pins the exact version the caller saw: a null version overwritten since has the same id.
        if version.timestamp_ns != protocol.parse_uint(req.get_param("timestamp_ns"), "timestamp_ns"):
            raise errors.NotFound("version", version.version_id)
        start = protocol.parse_uint(req.get_param("start"), "start", version.size)
        length = protocol.parse_uint(req.get_param("length"), "length", version.size - start)
        resp.content_type = "application/octet-stream"
        resp.content_length = length
        if length:
            resp.stream = self.store.read(version, start, length)


class Uploads(StoreResource):
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        upload = protocol.upload_from(read_json(req))
        self.store.create_upload(upload)
        answer(resp, protocol.upload_json(upload), falcon.HTTP_201)


class BucketUploads(StoreResource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, bucket: str) -> None:
        uploads = self.store.list_uploads(
            bucket,
            req.get_param("key_marker", default=""),
            req.get_param("upload_id_marker", default=""),
            protocol.parse_uint(req.get_param("limit"), "limit", protocol.MAX_LIMIT),
        )
        answer(resp, [protocol.upload_json(upload) for upload in uploads])


class Upload(StoreResource):
    """One upload, named by its id and, as S3 checks, its bucket and key (query parameters)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, upload_id: str) -> None:
        bucket, key = req.get_param("bucket", required=True), req.get_param("key", required=True)
        answer(resp, protocol.upload_json(self.store.get_upload(bucket, key, upload_id)))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, upload_id: str) -> None:
        bucket, key = req.get_param("bucket", required=True), req.get_param("key", required=True)
        self.store.abort_upload(bucket, key, upload_id)
        resp.status = falcon.HTTP_204


class Parts(StoreResource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, upload_id: str) -> None:
        parts = self.store.list_parts(
            upload_id,
            protocol.parse_uint(req.get_param("after", default="0"), "after", protocol.MAX_PART_NUMBER),
            protocol.parse_uint(req.get_param("limit"), "limit", protocol.MAX_LIMIT),
        )
        answer(resp, [protocol.stored_part_json(part) for part in parts])


class Part(StoreResource):
    """Record a staged blob as a part (replacing an earlier upload of the same number)."""

    def on_put(self, req: falcon.Request, resp: falcon.Response, upload_id: str, part_number: str) -> None:
        part = protocol.stored_part_from(read_json(req))
        if part.part_number != protocol.parse_uint(part_number, "part number", protocol.MAX_PART_NUMBER):
            raise protocol.BadRequest("the part number of the path and of the record differ")
        self.store.put_part(upload_id, part)
        resp.status = falcon.HTTP_204


class Complete(StoreResource):
    def on_post(self, req: falcon.Request, resp: falcon.Response, upload_id: str) -> None:
        doc = read_json(req)
        version = protocol.version_from(protocol.field(doc, "version", dict))
        parts = protocol.records(protocol.field(doc, "parts", list), protocol.part_from)
        answer(resp, protocol.version_json(self.store.complete_upload(upload_id, version, parts)))


# what repair needs (cluster/repair.py)


class History(StoreResource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, bucket: str, key: str) -> None:
        limit = protocol.parse_uint(req.get_param("limit"), "limit", protocol.MAX_LIMIT)
        answer(resp, [protocol.version_json(version) for version in self.store.key_history(bucket, key, limit)])

    def on_delete(self, req: falcon.Request, resp: falcon.Response, bucket: str, key: str) -> None:
        """Forget the key's records without tombstones: only for a stand-in's copy (see Store.purge_key)."""
        self.store.purge_key(bucket, key)
        resp.status = falcon.HTTP_204


def _stretch(req: falcon.Request) -> tuple[int, int, int]:
    """The [first, last] positions of a ring stretch, and the stamp before which tombstones are left out."""
    first = protocol.parse_uint(req.get_param("first"), "first", protocol.POSITION_MAX)
    last = protocol.parse_uint(req.get_param("last"), "last", protocol.POSITION_MAX)
    if first > last:
        raise protocol.BadRequest("first must not be after last")
    return first, last, protocol.parse_uint(req.get_param("since"), "since")


class RingDigest(StoreResource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        count, total = self.store.ring_digest(*_stretch(req))
        answer(resp, {"count": count, "digest": total})


class RingHoldings(StoreResource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        first, last, since = _stretch(req)
        after = req.get_param("after")
        cursor = protocol.cursor_from(after) if after else None
        limit = protocol.parse_uint(req.get_param("limit"), "limit", protocol.MAX_LIMIT)
        answer(resp, [protocol.holding_json(h) for h in self.store.ring_holdings(first, last, since, cursor, limit)])


class Hints(StoreResource):
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        doc = read_json(req)
        keys = protocol.field(doc, "keys", list)
        if not all(isinstance(item, list) and len(item) == 2 and all(isinstance(part, str) for part in item) for item in keys):
            raise protocol.BadRequest("keys is a list of [bucket, key]")
        self.store.add_hints(protocol.field(doc, "target", str), [(bucket, key) for bucket, key in keys])
        resp.status = falcon.HTTP_204

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        limit = protocol.parse_uint(req.get_param("limit"), "limit", protocol.MAX_LIMIT)
        answer(resp, [protocol.hint_json(hint) for hint in self.store.hints(limit)])


class HintsDrop(StoreResource):
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.store.drop_hints(protocol.records(read_json(req), protocol.hint_from))
        resp.status = falcon.HTTP_204


class Status(StoreResource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        answer(resp, self.store.status())


class State(StoreResource):
    def on_put(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        self.store.put_state(name, protocol.field(read_json(req), "document", str))
        resp.status = falcon.HTTP_204


class Tags(StoreResource):
    """A version's tags (the latest's, or those of `version_id`), and updates of them."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, bucket: str, key: str) -> None:
        answer(resp, protocol.tags_json(self.store.get_object_tags(bucket, key, req.get_param("version_id"))))

    def on_put(self, req: falcon.Request, resp: falcon.Response, bucket: str, key: str) -> None:
        self.store.put_object_tags(bucket, key, protocol.tags_from(read_json(req)))
        resp.status = falcon.HTTP_204

class VersionEntries(StoreResource):
    """Every version of a bucket in key order, each key's newest first, tombstones included (the
    gateway merges the owners' records: a tombstone hides the version it deleted)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, bucket: str) -> None:
        self.store.get_bucket(bucket)
        entries = self.store.versions_after(
            bucket,
            req.get_param("after", default=""),
            protocol.parse_flag(req.get_param("inclusive", default="0"), "inclusive"),
            protocol.position_from(req.get_param("timestamp_ns"), req.get_param("origin"), req.get_param("version_id")),
            req.get_param("before"),
            protocol.parse_uint(req.get_param("limit"), "limit", protocol.MAX_LIMIT),
            tombstones=True,
        )
        answer(resp, [protocol.version_entry_json(entry) for entry in entries])


class VersionRecords(StoreResource):
    """This node's records (tombstones included) of some versions of one key, by id."""

    def on_post(self, req: falcon.Request, resp: falcon.Response, bucket: str) -> None:
        doc = read_json(req)
        version_ids = protocol.field(doc, "version_ids", list)
        if len(version_ids) > protocol.MAX_LIMIT or not all(isinstance(item, str) for item in version_ids):
            raise protocol.BadRequest(f"version_ids is a list of at most {protocol.MAX_LIMIT} strings")
        records = self.store.version_records(bucket, protocol.field(doc, "key", str), version_ids)
        answer(resp, [protocol.version_entry_json(entry) for entry in records])


class LeaseClaim(StoreResource):
    """Take, renew or give back a lease of background work, judged by this node's clock."""

    def on_post(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        holder, ttl_ns, state = protocol.claim_from(read_json(req))
        answer(resp, protocol.lease_json(self.store.claim_lease(name, holder, ttl_ns, state)))


class Share(StoreResource):
    """Commit a version over this node's blobs of another version of its key (a restore copies no
    bytes); NotFound if this node lacks that version as the gateway saw it."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        source, version = protocol.share_from(read_json(req))
        answer(resp, protocol.version_json(self.store.share_version(source, version)))


class TagUpdates(StoreResource):
    """The tag updates this node keeps of a key's versions, newest versions first (repair merges them)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, bucket: str, key: str) -> None:
        limit = protocol.parse_uint(req.get_param("limit"), "limit", protocol.MAX_LIMIT)
        answer(resp, [protocol.tags_json(update) for update in self.store.tag_updates(bucket, key, limit)])
