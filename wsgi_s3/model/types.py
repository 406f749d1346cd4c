"""Dataclasses shared by the store, the backends and the gateway."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Protocol, Self


@dataclass(frozen=True)
class BucketInfo:
    name: str
    created_ns: int
    region: str
    owner: str = ""  # access key of the creator
    versioning: str = ""  # "", "Enabled" or "Suspended", as S3 reports it
    # The configuration documents set (kind -> document: "versioning", "lifecycle", "tagging",
    # "version-policy", ...) as a bucket read (Backend.get_bucket) found them with the record, so
    # that a request reads its bucket once; empty where a bucket is listed or created.
    configs: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Segment:
    """One immutable blob holding a contiguous piece of an object's bytes."""

    blob_id: str
    size: int


@dataclass(frozen=True)
class ObjectMeta:
    """What the gateway decides about a new version: everything but its bytes and identity."""

    etag: str  # without quotes: md5 hex, or "<hex>-N" for multipart
    content: dict[str, str] = field(default_factory=dict)  # content-type, cache-control, ... (lower-case)
    user_meta: dict[str, str] = field(default_factory=dict)  # x-amz-meta-* without the prefix
    checksums: dict[str, str] = field(default_factory=dict)  # "CRC32" -> base64 digest
    checksum_type: str = ""  # "FULL_OBJECT" or "COMPOSITE" when checksums are set
    part_sizes: tuple[int, ...] = ()  # sizes of the parts of a multipart object, in order
    part_checksums: tuple[str, ...] = ()  # the parts' checksums (the `checksums` algorithm), in order
    tags: dict[str, str] = field(default_factory=dict)  # object tags: as written, or as an update set them since


@dataclass(frozen=True)
class ObjectVersion:
    bucket: str
    key: str
    version_id: str
    timestamp_ns: int
    size: int
    meta: ObjectMeta
    delete_marker: bool = False
    is_latest: bool = True
    origin: str = ""  # the writer that stamped it (see model/versions.py)
    tombstone: bool = False  # a deleted version, stamped by its delete (see store/schema.py)

    @property
    def etag(self) -> str:
        return self.meta.etag

    @classmethod
    def of(cls, version: ObjectVersion, **more: object) -> Self:
        """`version` as a `cls`, given `more` (the fields `cls` adds): see _common_fields."""
        return cls(**_common_fields(version, ObjectVersion), **more)


@dataclass(frozen=True)
class ListEntry:
    """What a listing shows of a key's newest version: no content headers, no user metadata."""

    key: str
    timestamp_ns: int
    etag: str
    size: int
    checksum_algorithms: tuple[str, ...] = ()
    checksum_type: str = ""
    delete_marker: bool = False
    version_id: str = ""


@dataclass(frozen=True)
class Holding:
    """The identity of one record a node holds (a version, a delete marker or a tombstone) and its
    ring position: what repair compares between owners."""

    position: int
    bucket: str
    key: str
    version_id: str
    timestamp_ns: int
    origin: str
    tombstone: bool
    delete_marker: bool
    tags_ns: int = 0  # the stamp of the last update of its tags (0: none since it was written)
    tags_origin: str = ""


@dataclass(frozen=True)
class ListPage:
    """One page of a key-ordered listing; `next_marker` is the last key or common prefix returned."""

    objects: list[ListEntry]
    common_prefixes: list[str]
    is_truncated: bool
    next_marker: str | None


@dataclass(frozen=True)
class Upload:
    upload_id: str
    bucket: str
    key: str
    initiated_ns: int
    meta: ObjectMeta  # content headers and user metadata given at creation (etag empty)
    checksum_algorithm: str = ""  # e.g. "CRC32" when the client asked for one at creation


@dataclass(frozen=True)
class Part:
    part_number: int
    etag: str
    size: int
    timestamp_ns: int
    checksums: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, part: Part, **more: object) -> Self:
        """`part` as a `cls`, given `more` (the fields `cls` adds): see _common_fields."""
        return cls(**_common_fields(part, Part), **more)


@dataclass(frozen=True)
class StagedBlob:
    """A blob written and fsynced but not yet referenced by any metadata (invisible)."""

    blob_id: str
    size: int
    crc32: int


class BodySource(Protocol):
    """A request body on its way to storage: read it to b"" first, then `finish()` verifies the
    digests the client sent (raising if they do not match) and returns the new version's meta."""

    def read(self, size: int = -1) -> bytes: ...

    def finish(self) -> ObjectMeta: ...


class ByteStream(Protocol):
    """Stored bytes on their way out: read to b"" (or iterate), then close."""

    def read(self, size: int = -1) -> bytes: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ObjectTags:
    """The tag set of one version as a store holds it. A tag update does not make a new version, so
    it carries a stamp of its own; (version_ns, timestamp_ns, origin) orders the answers of several
    stores: the newest write under the version id first (a null version is rewritten in place),
    then the newest update of its tags (timestamp_ns 0: none, the tags it was written with)."""

    version_id: str
    version_ns: int  # the timestamp of the version these tags belong to
    tags: dict[str, str]
    timestamp_ns: int = 0
    origin: str = ""

    def order(self) -> tuple[int, int, str]:
        return (self.version_ns, self.timestamp_ns, self.origin)


@dataclass(frozen=True)
class VersionEntry:
    """What ListObjectVersions shows of one version or delete marker, plus its place in history
    (timestamp, origin, id: model/versions.py order). A cluster node's record may be a tombstone,
    which hides the version; a listing never shows one."""

    key: str
    version_id: str
    timestamp_ns: int
    origin: str
    etag: str
    size: int
    checksum_algorithms: tuple[str, ...] = ()
    checksum_type: str = ""
    delete_marker: bool = False
    tombstone: bool = False
    is_latest: bool = False  # set by the listing: the newest version of its key

    @property
    def position(self) -> tuple[int, str, str]:
        return (self.timestamp_ns, self.origin, self.version_id)


@dataclass(frozen=True)
class VersionPage:
    """One page of ListObjectVersions: versions and delete markers in key order, each key's newest
    first, and common prefixes; the next markers name the last entry returned."""

    versions: list[VersionEntry]
    common_prefixes: list[str]
    is_truncated: bool
    next_key_marker: str | None
    next_version_id_marker: str | None


@dataclass(frozen=True)
class Lease:
    """What a node answers to a lease claim it granted: the state its holders left, stamped by the
    node's clock when written (0 and "" before any)."""

    state: str
    state_ns: int


# Below the Backend seam: what one store holds of a version or a part. A blob id means something
# only in the store that made it (every replica has its own), so the Backend protocol takes and
# returns ObjectVersion and Part; only stores, nodes, their clients and repair see these.


def _common_fields(record: object, kind: type) -> dict[str, object]:
    """The fields of `kind` that `record` (a `kind` or a subclass) has: a store's, a node's or a
    cluster's record seen as another kind keeps nothing of its old kind's own (a blob id of one
    store, the holders of one read)."""
    return {f.name: getattr(record, f.name) for f in fields(kind)}


@dataclass(frozen=True, kw_only=True)
class StoredVersion(ObjectVersion):
    """A version as one store holds it: with the blobs that hold its bytes there."""

    segments: tuple[Segment, ...] = ()


@dataclass(frozen=True, kw_only=True)
class StoredPart(Part):
    """A multipart part as one store holds it: with the blob that holds its bytes there."""

    blob_id: str
