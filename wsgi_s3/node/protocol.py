"""The wire contract of a storage node's API, shared by the node (node/resources.py) and its client
(cluster/node_client.py): paths, headers, the JSON shape of every record, and how a storage error
travels. Both sides encode and decode with the functions here, so they cannot drift apart.

Everything from the wire is parsed strictly: a malformed request is a `BadRequest` (400), never a
guess. Blob ids become file paths on the node, so they must be exactly what `BlobFiles` makes.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from wsgi_s3.model import errors
from wsgi_s3.model.types import BucketInfo, Holding, Lease, ListEntry, ObjectMeta, ObjectTags, ObjectVersion, Part, Segment, StagedBlob, StoredPart, StoredVersion, Upload, VersionEntry
from wsgi_s3.model.versions import StampedBucket, StampedDocument, VersionStamp

PREFIX = "/v1"
AUTH_HEADER = "Authorization"
BEARER = "Bearer "
JSON_TYPE = "application/json"

# Routes, as Falcon templates; `path()` fills them in for the client.
BUCKETS = PREFIX + "/buckets"  # GET list
BUCKET = PREFIX + "/buckets/{bucket}"  # PUT create, GET, DELETE (?purge=1: with what it holds)
BUCKET_CONFIG = PREFIX + "/buckets/{bucket}/config/{kind}"  # GET, PUT a stamped configuration document
BUCKET_CONFIGS = PREFIX + "/buckets/{bucket}/config"  # GET every stamped configuration document, by kind
BUCKET_CLOSING = PREFIX + "/buckets/{bucket}/closing"  # PUT refuse new objects for a while, DELETE reopen
BUCKET_UPLOADS = PREFIX + "/buckets/{bucket}/uploads"  # GET list uploads
ENTRIES = PREFIX + "/buckets/{bucket}/entries"  # GET sorted listing entries
BLOBS = PREFIX + "/blobs"  # POST stage (the body is the blob)
DISCARD = PREFIX + "/blobs/discard"  # POST discard staged blobs
VERSIONS = PREFIX + "/versions"  # POST commit a version
OBJECT = PREFIX + "/objects/{bucket}/{key}"  # GET head, DELETE a version
DATA = PREFIX + "/data/{bucket}/{key}"  # GET a range of a version's bytes
UPLOADS = PREFIX + "/uploads"  # POST create an upload
UPLOAD = PREFIX + "/uploads/{upload_id}"  # GET, DELETE (abort)
PARTS = PREFIX + "/uploads/{upload_id}/parts"  # GET list parts
PART = PREFIX + "/uploads/{upload_id}/parts/{part_number}"  # PUT a part
COMPLETE = PREFIX + "/uploads/{upload_id}/complete"  # POST complete
# what repair needs (cluster/repair.py)
HISTORY = PREFIX + "/history/{bucket}/{key}"  # GET a key's records, tombstones included, newest first; DELETE forget them
RING_DIGEST = PREFIX + "/ring/digest"  # GET count and digest sum of a stretch of the ring
RING_HOLDINGS = PREFIX + "/ring/holdings"  # GET the identities of a stretch's records
HINTS = PREFIX + "/hints"  # POST add hints, GET the oldest
HINTS_DROP = PREFIX + "/hints/drop"  # POST forget hints handed over
STATUS = PREFIX + "/status"  # GET hints pending, last repair pass
STATE = PREFIX + "/state/{name}"  # PUT a small document about the node
TAGS = PREFIX + "/tags/{bucket}/{key}"  # GET a version's tags, PUT an update of them
LEASE = PREFIX + "/leases/{name}"  # POST claim a lease of background work

VERSION_ENTRIES = PREFIX + "/buckets/{bucket}/versions"  # GET every version in history order, tombstones too
VERSION_RECORDS = PREFIX + "/buckets/{bucket}/versions/records"  # POST the records of some versions of one key
TAG_UPDATES = PREFIX + "/tag-updates/{bucket}/{key}"  # GET the tag updates kept of a key's versions (for repair)

INT64_MAX = 2**63 - 1
POSITION_MAX = 2**64 - 1  # ring positions (model/placement.py)
MAX_LIMIT = 100_000  # rows one listing request may ask for
MAX_PART_NUMBER = 10_000
_BLOB_ID = re.compile(r"[0-9a-f]{32}")


class BadRequest(ValueError):
    """A request the node cannot parse: a bug in the caller, answered 400."""


class Refused(errors.StorageError):
    """The node refused the request itself (wrong or missing token, malformed request): a
    misconfiguration or a bug, never worth retrying on another node."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


# One table, read both ways: the error a Store raises <-> its name and status on the wire.
ERRORS: dict[str, tuple[type[errors.StorageError], int]] = {
    "NotFound": (errors.NotFound, 404),
    "AlreadyExists": (errors.AlreadyExists, 409),
    "NotEmpty": (errors.NotEmpty, 409),
    "PreconditionFailed": (errors.PreconditionFailed, 412),
    "Busy": (errors.Busy, 503),
    "Unavailable": (errors.Unavailable, 503),
}
_NAMED = (errors.NotFound, errors.AlreadyExists)  # errors that carry (what, name)


def path(template: str, **names: str | int) -> str:
    return template.format(**{name: quote_segment(str(value)) for name, value in names.items()})


def quote_segment(text: str) -> str:
    """One path segment, whatever `text` holds: slashes and dots are escaped too, so that no client
    library or proxy can merge or drop segments ("a/../b", a key that is "..")."""
    return quote(text, safe="").replace(".", "%2E")


# errors


def error_body(exc: errors.StorageError) -> tuple[int, dict[str, Any]]:
    """(status, JSON) for a storage error in the table; KeyError for any other."""
    name = type(exc).__name__
    _, status = ERRORS[name]
    body: dict[str, Any] = {"error": name, "message": str(exc)}
    if isinstance(exc, _NAMED):
        body.update(what=exc.what, name=exc.name)
    return status, body


def error_from(status: int, body: object) -> errors.StorageError:
    """The exception a node's error answer stands for."""
    if isinstance(body, dict) and body.get("error") in ERRORS:
        cls, _ = ERRORS[body["error"]]
        if issubclass(cls, _NAMED):
            return cls(str(body.get("what", "")), str(body.get("name", "")))
        return cls(str(body.get("message", "")))
    message = str(body.get("message", "")) if isinstance(body, dict) else ""
    if status >= 500:
        return errors.Unavailable(f"node answered {status}: {message}")
    return Refused(status, message)


# strict parsing of what came off the wire


def parse_uint(text: str | None, name: str, maximum: int = INT64_MAX) -> int:
    """ASCII digits only, at most `maximum` (int() alone accepts ' 1', '+1', '1_0', '١')."""
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)) or int(text) > maximum:
        raise BadRequest(f"{name} must be an integer between 0 and {maximum}")
    return int(text)


def parse_flag(text: str | None, name: str) -> bool:
    if text not in ("0", "1"):
        raise BadRequest(f"{name} must be 0 or 1")
    return text == "1"


def blob_id(value: object) -> str:
    if not isinstance(value, str) or not _BLOB_ID.fullmatch(value):
        raise BadRequest("a blob id is 32 lower-case hex digits")
    return value


def field(data: object, name: str, kind: type) -> Any:
    """A field of a JSON document, of exactly that type."""
    if not isinstance(data, dict) or name not in data:
        raise BadRequest(f"missing field {name!r}")
    value = data[name]
    # bool is an int in Python; a count must not be `true`.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadRequest(f"field {name!r} must be {kind.__name__}")
    if kind is int and not 0 <= value <= INT64_MAX:
        raise BadRequest(f"field {name!r} is out of range")
    return value


def _strings(data: object, name: str) -> dict[str, str]:
    value = field(data, name, dict)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise BadRequest(f"field {name!r} must map strings to strings")
    return value


def _list(data: object, name: str, kind: type) -> list:
    value = field(data, name, list)
    if not all(isinstance(item, kind) and not isinstance(item, bool) for item in value):
        raise BadRequest(f"field {name!r} must be a list of {kind.__name__}")
    return value


# records: X_json(record) -> dict, X_from(dict) -> record


def meta_json(meta: ObjectMeta) -> dict[str, Any]:
    return {
        "etag": meta.etag,
        "content": meta.content,
        "user_meta": meta.user_meta,
        "checksums": meta.checksums,
        "checksum_type": meta.checksum_type,
        "part_sizes": list(meta.part_sizes),
        "part_checksums": list(meta.part_checksums),
        "tags": meta.tags,
    }


def meta_from(data: object) -> ObjectMeta:
    return ObjectMeta(
        etag=field(data, "etag", str),
        content=_strings(data, "content"),
        user_meta=_strings(data, "user_meta"),
        checksums=_strings(data, "checksums"),
        checksum_type=field(data, "checksum_type", str),
        part_sizes=tuple(_list(data, "part_sizes", int)),
        part_checksums=tuple(_list(data, "part_checksums", str)),
        # A peer of the release before tags sends none.
        tags=_strings(data, "tags") if isinstance(data, dict) and "tags" in data else {},
    )


def version_json(version: StoredVersion) -> dict[str, Any]:
    return {
        "bucket": version.bucket,
        "key": version.key,
        "version_id": version.version_id,
        "timestamp_ns": version.timestamp_ns,
        "origin": version.origin,
        "size": version.size,
        "meta": meta_json(version.meta),
        "segments": [[segment.blob_id, segment.size] for segment in version.segments],
        "delete_marker": version.delete_marker,
        "is_latest": version.is_latest,
        "tombstone": version.tombstone,
    }


def version_from(data: object) -> StoredVersion:
    segments = []
    for item in field(data, "segments", list):
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[1], int) and not isinstance(item[1], bool)):
            raise BadRequest("a segment is [blob_id, size]")
        if not 0 <= item[1] <= INT64_MAX:
            raise BadRequest("a segment's size is out of range")
        segments.append(Segment(blob_id(item[0]), item[1]))
    return StoredVersion(
        bucket=field(data, "bucket", str),
        key=field(data, "key", str),
        version_id=field(data, "version_id", str),
        timestamp_ns=field(data, "timestamp_ns", int),
        origin=field(data, "origin", str),
        size=field(data, "size", int),
        meta=meta_from(field(data, "meta", dict)),
        segments=tuple(segments),
        delete_marker=field(data, "delete_marker", bool),
        is_latest=field(data, "is_latest", bool),
        tombstone=field(data, "tombstone", bool),
    )


def entry_json(entry: ListEntry) -> dict[str, Any]:
    return {
        "key": entry.key,
        "timestamp_ns": entry.timestamp_ns,
        "etag": entry.etag,
        "size": entry.size,
        "checksum_algorithms": list(entry.checksum_algorithms),
        "checksum_type": entry.checksum_type,
        "delete_marker": entry.delete_marker,
        "version_id": entry.version_id,
    }


def entry_from(data: object) -> ListEntry:
    return ListEntry(
        key=field(data, "key", str),
        timestamp_ns=field(data, "timestamp_ns", int),
        etag=field(data, "etag", str),
        size=field(data, "size", int),
        checksum_algorithms=tuple(_list(data, "checksum_algorithms", str)),
        checksum_type=field(data, "checksum_type", str),
        delete_marker=field(data, "delete_marker", bool),
        version_id=field(data, "version_id", str),
    )


def bucket_json(bucket: BucketInfo) -> dict[str, Any]:
    return {
        "name": bucket.name,
        "created_ns": bucket.created_ns,
        "region": bucket.region,
        "owner": bucket.owner,
        "versioning": bucket.versioning,
    }


def bucket_from(data: object) -> BucketInfo:
    return BucketInfo(
        name=field(data, "name", str),
        created_ns=field(data, "created_ns", int),
        region=field(data, "region", str),
        owner=field(data, "owner", str),
        versioning=field(data, "versioning", str),
    )


def _nullable(data: object, name: str) -> object:
    if not isinstance(data, dict) or name not in data:
        raise BadRequest(f"missing field {name!r}")
    return data[name]


def stamp_json(stamp: VersionStamp) -> dict[str, Any]:
    """The stamp of a write that makes no version (its version id is empty)."""
    return {"timestamp_ns": stamp.timestamp_ns, "origin": stamp.origin}


def stamp_from(data: object) -> VersionStamp:
    return VersionStamp("", field(data, "timestamp_ns", int), field(data, "origin", str))


def config_json(config: StampedDocument | None) -> dict[str, Any]:
    """A configuration document and its stamp (a removal: document null); both null when never set."""
    if config is None:
        return {"document": None, "stamp": None}
    return {"document": config.document, "stamp": stamp_json(config.stamp)}


def config_from(data: object) -> StampedDocument | None:
    stamp = _nullable(data, "stamp")
    document = None if _nullable(data, "document") is None else field(data, "document", str)
    if stamp is None:
        if document is not None:
            raise BadRequest("a configuration document needs a stamp")
        return None
    return StampedDocument(document, stamp_from(stamp))


def staged_json(staged: StagedBlob) -> dict[str, Any]:
    return {"blob_id": staged.blob_id, "size": staged.size, "crc32": staged.crc32}


def staged_from(data: object) -> StagedBlob:
    return StagedBlob(blob_id(field(data, "blob_id", str)), field(data, "size", int), field(data, "crc32", int))


def part_json(part: Part) -> dict[str, Any]:
    """A part as a completion names it: the node finds its blob itself (by number, ETag and size)."""
    return {
        "part_number": part.part_number,
        "etag": part.etag,
        "size": part.size,
        "timestamp_ns": part.timestamp_ns,
        "checksums": part.checksums,
    }


def part_from(data: object) -> Part:
    """A part of a completion (a "blob_id", which gateways of the release before sent, is ignored)."""
    return Part(
        part_number=field(data, "part_number", int),
        etag=field(data, "etag", str),
        size=field(data, "size", int),
        timestamp_ns=field(data, "timestamp_ns", int),
        checksums=_strings(data, "checksums"),
    )


def stored_part_json(part: StoredPart) -> dict[str, Any]:
    """A part as a node records and lists it: with its blob there."""
    return {**part_json(part), "blob_id": part.blob_id}


def stored_part_from(data: object) -> StoredPart:
    return StoredPart.of(part_from(data), blob_id=blob_id(field(data, "blob_id", str)))


def upload_json(upload: Upload) -> dict[str, Any]:
    return {
        "upload_id": upload.upload_id,
        "bucket": upload.bucket,
        "key": upload.key,
        "initiated_ns": upload.initiated_ns,
        "meta": meta_json(upload.meta),
        "checksum_algorithm": upload.checksum_algorithm,
    }


def upload_from(data: object) -> Upload:
    return Upload(
        upload_id=field(data, "upload_id", str),
        bucket=field(data, "bucket", str),
        key=field(data, "key", str),
        initiated_ns=field(data, "initiated_ns", int),
        meta=meta_from(field(data, "meta", dict)),
        checksum_algorithm=field(data, "checksum_algorithm", str),
    )


def holding_json(holding: Holding) -> dict[str, Any]:
    return {
        "position": str(holding.position),  # JSON numbers beyond 2**53 lose digits in some parsers
        "bucket": holding.bucket,
        "key": holding.key,
        "version_id": holding.version_id,
        "timestamp_ns": holding.timestamp_ns,
        "origin": holding.origin,
        "tombstone": holding.tombstone,
        "delete_marker": holding.delete_marker,
        "tags_ns": holding.tags_ns,
        "tags_origin": holding.tags_origin,
    }


def holding_from(data: object) -> Holding:
    return Holding(
        position=parse_uint(field(data, "position", str), "position", POSITION_MAX),
        bucket=field(data, "bucket", str),
        key=field(data, "key", str),
        version_id=field(data, "version_id", str),
        timestamp_ns=field(data, "timestamp_ns", int),
        origin=field(data, "origin", str),
        tombstone=field(data, "tombstone", bool),
        delete_marker=field(data, "delete_marker", bool),
        tags_ns=field(data, "tags_ns", int),
        tags_origin=field(data, "tags_origin", str),
    )


Cursor = tuple[int, str, str, str]  # (position, bucket, key, version id) of the last holding seen


def cursor_text(holding: Holding) -> str:
    return json.dumps([str(holding.position), holding.bucket, holding.key, holding.version_id])


def cursor_from(text: str) -> Cursor:
    try:
        data = json.loads(text)
    except ValueError:
        raise BadRequest("after is a JSON list") from None
    if not (isinstance(data, list) and len(data) == 4 and all(isinstance(item, str) for item in data)):
        raise BadRequest("after is [position, bucket, key, version id]")
    return (parse_uint(data[0], "position", POSITION_MAX), data[1], data[2], data[3])


def hint_json(hint: tuple[str, str, str, int]) -> dict[str, Any]:
    target, bucket, key, created_ns = hint
    return {"target": target, "bucket": bucket, "key": key, "created_ns": created_ns}


def hint_from(data: object) -> tuple[str, str, str, int]:
    return (field(data, "target", str), field(data, "bucket", str), field(data, "key", str), field(data, "created_ns", int))


def records(data: object, decode) -> list:
    """A JSON list of records, each decoded by `decode`."""
    if not isinstance(data, list):
        raise BadRequest("expected a list")
    return [decode(item) for item in data]


def tags_json(tags: ObjectTags) -> dict[str, Any]:
    return {
        "version_id": tags.version_id,
        "version_ns": tags.version_ns,
        "tags": tags.tags,
        "timestamp_ns": tags.timestamp_ns,
        "origin": tags.origin,
    }


def tags_from(data: object) -> ObjectTags:
    return ObjectTags(
        version_id=field(data, "version_id", str),
        version_ns=field(data, "version_ns", int),
        tags=_strings(data, "tags"),
        timestamp_ns=field(data, "timestamp_ns", int),
        origin=field(data, "origin", str),
    )

READY = "/ready"  # GET: 200 when the node's store is writable and it is not draining (no token needed)

def version_entry_json(entry: VersionEntry) -> dict[str, Any]:
    return {
        "key": entry.key,
        "version_id": entry.version_id,
        "timestamp_ns": entry.timestamp_ns,
        "origin": entry.origin,
        "etag": entry.etag,
        "size": entry.size,
        "checksum_algorithms": list(entry.checksum_algorithms),
        "checksum_type": entry.checksum_type,
        "delete_marker": entry.delete_marker,
        "tombstone": entry.tombstone,
        "is_latest": entry.is_latest,
    }


def version_entry_from(data: object) -> VersionEntry:
    return VersionEntry(
        key=field(data, "key", str),
        version_id=field(data, "version_id", str),
        timestamp_ns=field(data, "timestamp_ns", int),
        origin=field(data, "origin", str),
        etag=field(data, "etag", str),
        size=field(data, "size", int),
        checksum_algorithms=tuple(_list(data, "checksum_algorithms", str)),
        checksum_type=field(data, "checksum_type", str),
        delete_marker=field(data, "delete_marker", bool),
        tombstone=field(data, "tombstone", bool),
        is_latest=field(data, "is_latest", bool),
    )


def position_query(position: tuple[int, str, str] | None) -> dict[str, str]:
    """A place in a key's history as query parameters (none for "from the key's newest")."""
    if position is None:
        return {}
    timestamp_ns, origin, version_id = position
    return {"timestamp_ns": str(timestamp_ns), "origin": origin, "version_id": version_id}


def position_from(timestamp_ns: str | None, origin: str | None, version_id: str | None) -> tuple[int, str, str] | None:
    if timestamp_ns is None and origin is None and version_id is None:
        return None
    if origin is None or version_id is None:
        raise BadRequest("a position is timestamp_ns, origin and version_id together")
    return parse_uint(timestamp_ns, "timestamp_ns"), origin, version_id


def claim_json(holder: str, ttl_ns: int, state: str | None) -> dict[str, Any]:
    return {"holder": holder, "ttl_ns": ttl_ns, "state": state}


def claim_from(data: object) -> tuple[str, int, str | None]:
    """(holder, ttl_ns, state) of a lease claim; state null keeps the stored one."""
    state = None if isinstance(data, dict) and data.get("state") is None else field(data, "state", str)
    return field(data, "holder", str), field(data, "ttl_ns", int), state


def lease_json(lease: Lease | None) -> dict[str, Any]:
    if lease is None:
        return {"granted": False}
    return {"granted": True, "state": lease.state, "state_ns": lease.state_ns}


def lease_from(data: object) -> Lease | None:
    if not field(data, "granted", bool):
        return None
    return Lease(field(data, "state", str), field(data, "state_ns", int))


SHARE = PREFIX + "/versions/share"  # POST commit a version over the blobs of another version of its key


def share_json(source: ObjectVersion, version: ObjectVersion) -> dict[str, Any]:
    # The source is named by its identity: its blobs are each node's own, found there (and the
    # version goes with none: the node gives it the source's).
    identity = {"version_id": source.version_id, "timestamp_ns": source.timestamp_ns, "origin": source.origin}
    return {"source": identity, "version": version_json(StoredVersion.of(version))}


def share_from(data: object) -> tuple[ObjectVersion, StoredVersion]:
    """(source, version) of a share: the source as named (of the version's key, with no meta or
    blobs: the node looks it up), and the version to commit over the source's blobs."""
    version = version_from(field(data, "version", dict))
    named = field(data, "source", dict)
    source = ObjectVersion(
        version.bucket, version.key, field(named, "version_id", str), field(named, "timestamp_ns", int), 0, ObjectMeta(etag=""),
        origin=field(named, "origin", str),
    )
    return source, version


def configs_from(data: object) -> dict[str, StampedDocument]:
    """Stamped configuration documents by kind (as config_json each); kinds never set are left out."""
    if not isinstance(data, dict):
        raise BadRequest("configurations are a JSON object")
    configs = {kind: config_from(config) for kind, config in data.items()}
    return {kind: config for kind, config in configs.items() if config is not None}


def bucket_state_json(state: StampedBucket) -> dict[str, Any]:
    """A bucket read's answer (GET BUCKET): the record and every stamped configuration document."""
    return {**bucket_json(state.info), "configs": {kind: config_json(config) for kind, config in state.configs.items()}}


def bucket_state_from(data: object) -> StampedBucket:
    return StampedBucket.of(bucket_from(data), configs_from(field(data, "configs", dict)))
