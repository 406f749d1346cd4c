"""The Backend protocol: the one seam between S3 semantics (the gateway) and storage.

Embedded mode builds a LocalBackend over an in-process Store; cluster mode builds a backend over
remote nodes. Every S3 handler is written once against this interface. Methods raise
`wsgi_s3.model.errors` exceptions, never S3 ones. S3's versioning rules (which version id a write
makes, what a DELETE does) are not a backend's business: the caller decides them
(gateway/versioning.py) and hands every write its `VersionStamp`.
"""

from __future__ import annotations

from typing import Protocol

from wsgi_s3.model.types import BodySource, BucketInfo, ByteStream, ListPage, ObjectMeta, ObjectVersion, Part, Upload, VersionPage
from wsgi_s3.model.versions import VersionStamp


class Backend(Protocol):
    # buckets
    def create_bucket(self, name: str, region: str, owner: str) -> BucketInfo: ...
    def get_bucket(self, name: str) -> BucketInfo:
        """The record with its configuration documents (BucketInfo.configs), in one read of storage:
        a request reads its bucket once (S3Context.bucket_info)."""
        ...

    def list_buckets(self) -> list[BucketInfo]: ...
    def delete_bucket(self, name: str) -> None: ...
    def get_bucket_config(self, bucket: str, kind: str) -> str | None:
        """The bucket's configuration document of one kind ("versioning", ...), None if unset."""
        ...

    def put_bucket_config(self, bucket: str, kind: str, document: str | None, stamp: VersionStamp) -> None:
        """Set the document of one kind (None removes it). The "versioning" document, "Enabled" or
        "Suspended", is what BucketInfo.versioning reports. `stamp` (HybridClock.config_stamp) orders
        the write like every other: a document written with an older stamp than the one held (or
        than its removal) is ignored, so replicas keep the newest whatever the arrival order."""
        ...

    # objects
    def put_object(
        self, bucket: str, key: str, body: BodySource, stamp: VersionStamp, *, if_none_match: bool = False, if_match: str | None = None
    ) -> ObjectVersion:
        """Stage the body, call `body.finish()`, commit. Nothing is visible if any step fails. A
        version of the same id that is newer than `stamp` is kept (the write is then not latest)."""
        ...

    def put_delete_marker(self, bucket: str, key: str, stamp: VersionStamp) -> ObjectVersion: ...

    def delete_version(self, bucket: str, key: str, stamp: VersionStamp) -> ObjectVersion | None:
        """Delete version `stamp.version_id` by a tombstone stamped `stamp`; returns the live
        version it removed, None if there was none (or a newer write of it is kept)."""
        ...

    def head_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectVersion:
        """The latest version (possibly a delete marker) or the one asked for."""
        ...

    def open_object(self, version: ObjectVersion, start: int, length: int) -> ByteStream:
        """The bytes of a range, every source opened before this returns (see Store.read). `version`
        is a handle this backend returned; one it did not make is refused, never read as another."""
        ...
    def list_objects(self, bucket: str, prefix: str, delimiter: str, marker: str, max_keys: int) -> ListPage: ...

    # multipart uploads
    def create_upload(self, bucket: str, key: str, meta: ObjectMeta, checksum_algorithm: str) -> Upload: ...
    def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload: ...
    def upload_part(self, upload: Upload, part_number: int, body: BodySource) -> Part: ...
    def list_parts(self, upload: Upload, after_part: int = 0, limit: int = 10000) -> list[Part]: ...
    def complete_upload(self, upload: Upload, parts: list[Part], meta: ObjectMeta, stamp: VersionStamp) -> ObjectVersion:
        """Make the object of `parts` (already validated, in order; each found again by number, ETag
        and size) visible in one step."""
        ...

    def abort_upload(self, upload: Upload) -> None: ...
    def list_uploads(self, bucket: str, key_marker: str, upload_id_marker: str, limit: int) -> list[Upload]: ...

    # object tags: they belong to one version, and an update of them makes no new version
    def put_object_tags(self, version: ObjectVersion, tags: dict[str, str], stamp: VersionStamp) -> None:
        """Replace the tags of exactly `version` (as head_object found it); `stamp` (of its version
        id) orders this update among the updates of its tags. NotFound if it was deleted meanwhile."""
        ...

    def get_object_tags(self, bucket: str, key: str, version_id: str | None = None) -> dict[str, str]:
        """The tags of the latest version (possibly a delete marker: none) or of the one named."""
        ...

    # documents every gateway shares (the credentials), kept as configuration of SHARED_BUCKET
    def get_shared_document(self, name: str) -> str | None:
        """The newest document of that name, None if there is none."""
        ...

    def put_shared_document(self, name: str, document: str) -> None:
        """Replace the document, stamped after the newest stamp of it seen (a revoke never loses to
        the write it undoes, even from a host whose clock is behind)."""
        ...

    # observability
    def ready(self) -> None:
        """Raise unless writes can succeed now (the store is writable; enough nodes for the write quorum answer)."""
        ...

    # version listing
    def list_versions(
        self, bucket: str, prefix: str, delimiter: str, key_marker: str, version_id_marker: str | None, max_keys: int
    ) -> VersionPage:
        """ListObjectVersions: every version and delete marker after the markers, in key order and
        each key's newest first (model/versions.py order); see backend/listing.py."""
        ...

    # leases of background work
    def claim_lease(self, name: str, holder: str, ttl_ns: int, state: str | None = None) -> str | None:
        """Take or renew the lease `name` for `holder` for `ttl_ns` (granted when it is free, expired
        or already `holder`'s), storing `state` with it when given; a ttl of 0 gives it back.
        Returns the state its holders left ("" before any) when granted, None when another holds it."""
        ...

    # versions that share bytes
    def share_version(self, source: ObjectVersion, stamp: VersionStamp, meta: ObjectMeta) -> ObjectVersion:
        """Commit a new version of `source`'s own key, stamped `stamp`, with `meta` and exactly
        `source`'s bytes, copying none of them (a restore): the new version holds the same blobs.
        NotFound if `source` (as found by head_object) is no longer live."""
        ...


# Where shared documents live: no S3 bucket name starts with ".", so no client can create, list or
# reach it (dispatch answers NoSuchBucket, ListBuckets leaves it out).
SHARED_BUCKET = ".wsgi-s3"
