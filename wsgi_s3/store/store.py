"""The Store: one node's storage engine, exactly the operations the node API and LocalBackend need.

Writes follow one sequence (see DESIGN.md, "stage, then commit"):
  1. stage: the body streams into a temp file, is fsynced and renamed into the blob tree (invisible);
  2. commit: one SQLite transaction makes the blob part of a version (visible) and marks the blobs
     it made unreachable as freed;
  3. the sweeper reclaims freed blobs after `reclaim_grace` seconds, never at once: a reader that
     found the old version just before the commit still opens its files.
A crash between any two steps leaves either the old version or the new one visible; the files it
strands are orphans that the sweeper removes. A reader opens every file of the range it serves
before the response starts, so a GET is never cut short by a later delete or overwrite.
"""

from __future__ import annotations

import os
from dataclasses import replace

from wsgi_s3.model import errors
from wsgi_s3.model.types import BucketInfo, Holding, Lease, ListEntry, ObjectTags, ObjectVersion, Part, StagedBlob, StoredPart, StoredVersion, Upload, VersionEntry
from wsgi_s3.model.versions import StampedBucket, StampedDocument, VersionStamp, now_ns
from wsgi_s3.store.blobs import BlobFiles, BlobRange, Readable, SegmentsRange, make_private_dirs
from wsgi_s3.store.metadata import Metadata

class Store:
    def __init__(self, data_dir: str, *, lock_timeout: float = 10.0) -> None:
        make_private_dirs(data_dir)
        self.data_dir = data_dir
        self.blobs = BlobFiles(data_dir)
        self.meta = Metadata(os.path.join(data_dir, "meta.db"), self.blobs.exists, lock_timeout)

    # buckets

    def create_bucket(self, name: str, region: str, owner: str) -> BucketInfo:
        return self.meta.create_bucket(name, region, owner, now_ns())

    def get_bucket(self, name: str) -> BucketInfo:
        return self.meta.get_bucket(name)

    def list_buckets(self) -> list[BucketInfo]:
        return self.meta.list_buckets()

    def get_bucket_config(self, bucket: str, kind: str) -> StampedDocument | None:
        return self.meta.get_bucket_config(bucket, kind)

    def put_bucket_config(self, bucket: str, kind: str, document: str | None, stamp: VersionStamp) -> bool:
        return self.meta.put_bucket_config(bucket, kind, document, stamp)

    def delete_bucket(self, name: str, *, purge: bool = False) -> None:
        self.meta.delete_bucket(name, purge=purge)

    def bucket_configs(self, bucket: str) -> dict[str, StampedDocument]:
        return self.meta.bucket_configs(bucket)

    def close_bucket(self, name: str, seconds: int) -> None:
        self.meta.close_bucket(name, now_ns() + seconds * 10**9)

    def reopen_bucket(self, name: str) -> None:
        self.meta.reopen_bucket(name)

    # objects

    def stage(self, source: Readable) -> StagedBlob:
        return self.blobs.write(source)

    def discard(self, staged: list[StagedBlob]) -> None:
        """Remove staged blobs that will never be committed (nothing references them)."""
        self.blobs.remove([blob.blob_id for blob in staged])

    def commit_version(self, version: StoredVersion, *, if_none_match: bool = False, if_match: str | None = None) -> StoredVersion:
        """Make a version visible, unless a newer one of the same id is there already (see
        Metadata.insert_version). Staged blobs that end up unreferenced (the commit failed, or lost)
        are removed at once: no reader ever saw them."""
        applied = False
        try:
            stored, applied = self.meta.insert_version(version, if_none_match=if_none_match, if_match=if_match)
            return stored
        finally:
            if not applied:
                self.blobs.remove([s.blob_id for s in version.segments])

    def get_version(self, bucket: str, key: str, version_id: str | None = None, *, tombstones: bool = False) -> StoredVersion:
        """The version, with its tags as they are now (an update replaces those it was written with)."""
        version = self.meta.get_version(bucket, key, version_id, tombstones=tombstones)
        tags = self.meta.current_tags(version)
        return version if tags.tags == version.meta.tags else replace(version, meta=replace(version.meta, tags=tags.tags))

    def read(self, version: StoredVersion, start: int, length: int) -> BlobRange | SegmentsRange:
        """The range's files, all opened now; NotFound if the version's blobs were reclaimed already
        (it was deleted or overwritten longer than the reclaim grace ago)."""
        try:
            return self.blobs.open_range(version.segments, start, length)
        except FileNotFoundError:
            raise errors.NotFound("key", version.key) from None

    def delete_version(self, bucket: str, key: str, version_id: str, stamp: int, origin: str) -> StoredVersion | None:
        """Leave a tombstone of the version, stamped by the delete (see Metadata.delete_version)."""
        return self.meta.delete_version(bucket, key, version_id, stamp, origin)

    def entries_after(self, bucket: str, after: str, inclusive: bool, before: str | None, limit: int) -> list[ListEntry]:
        """Each key's current version (delete markers included) in key order: a `listing.Fetch`."""
        return self.meta.entries_after(bucket, after, inclusive, before, limit)

    # multipart uploads

    def create_upload(self, upload: Upload) -> None:
        self.meta.create_upload(upload)

    def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        return self.meta.get_upload(bucket, key, upload_id)

    def list_uploads(self, bucket: str, key_marker: str, upload_id_marker: str, limit: int) -> list[Upload]:
        self.meta.get_bucket(bucket)
        return self.meta.list_uploads(bucket, key_marker, upload_id_marker, limit)

    def put_part(self, upload_id: str, part: StoredPart) -> None:
        try:
            self.meta.put_part(upload_id, part)
        except BaseException:
            self.blobs.remove([part.blob_id])
            raise

    def list_parts(self, upload_id: str, after_part: int = 0, limit: int = 10000) -> list[StoredPart]:
        return self.meta.list_parts(upload_id, after_part, limit)

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self.meta.abort_upload(bucket, key, upload_id)

    def complete_upload(self, upload_id: str, version: ObjectVersion, parts: list[Part]) -> StoredVersion:
        """Commit `version` made of `parts` (validated by the caller, resolved to blobs again inside
        the commit: see Metadata.complete_upload)."""
        return self.meta.complete_upload(upload_id, version, parts)

    # what repair needs (cluster/repair.py)

    def key_history(self, bucket: str, key: str, limit: int) -> list[StoredVersion]:
        return self.meta.key_history(bucket, key, limit)

    def purge_key(self, bucket: str, key: str) -> None:
        self.meta.purge_key(bucket, key)

    def ring_digest(self, first: int, last: int, since_ns: int) -> tuple[int, int]:
        return self.meta.ring_digest(first, last, since_ns)

    def ring_holdings(self, first: int, last: int, since_ns: int, after: tuple[int, str, str, str] | None, limit: int) -> list[Holding]:
        return self.meta.ring_holdings(first, last, since_ns, after, limit)

    def add_hints(self, target: str, keys: list[tuple[str, str]]) -> None:
        self.meta.add_hints(target, keys, now_ns())

    def hints(self, limit: int) -> list[tuple[str, str, str, int]]:
        return self.meta.hints(limit)

    def drop_hints(self, hints: list[tuple[str, str, str, int]]) -> None:
        self.meta.drop_hints(hints)

    def status(self) -> dict[str, object]:
        """What `wsgi-s3 cluster status` shows of this node: hints pending and the last repair pass."""
        return {"hints": self.meta.count_hints(), "repair": self.meta.get_state("repair")}

    def put_state(self, name: str, document: str) -> None:
        self.meta.put_state(name, document)

    # object tags

    def put_object_tags(self, bucket: str, key: str, update: ObjectTags) -> None:
        """Replace a version's tags, unless a newer update is here (see Metadata.put_object_tags)."""
        self.meta.put_object_tags(bucket, key, update)

    def get_object_tags(self, bucket: str, key: str, version_id: str | None = None) -> ObjectTags:
        """The tags of the latest version or the one named, with their place in history."""
        return self.meta.current_tags(self.meta.get_version(bucket, key, version_id))

    # observability

    def stats(self) -> dict[str, int]:
        """What this store holds, for its metrics: object versions (no delete markers), their bytes,
        multipart uploads in progress, and the data directory's file system."""
        objects, size, uploads = self.meta.stats()
        disk = os.statvfs(self.data_dir)
        return {
            "objects": objects, "bytes": size, "uploads": uploads, "hints": self.meta.count_hints(),
            "disk_free": disk.f_bavail * disk.f_frsize, "disk_total": disk.f_blocks * disk.f_frsize,
        }

    def check_writable(self) -> None:
        """Raise unless a write could succeed now: SQLite takes its write lock, the blob area takes a file."""
        self.meta.check_writable()
        self.blobs.check_writable()

    def versions_after(
        self, bucket: str, after: str, inclusive: bool, position: tuple[int, str, str] | None, before: str | None, limit: int,
        *, tombstones: bool = False,
    ) -> list[VersionEntry]:
        """Every version in key order, each key's newest first, from a cursor (see
        Metadata.versions_after); tombstones too for a cluster node, whose gateway merges owners."""
        return self.meta.versions_after(bucket, after, inclusive, position, before, limit, tombstones=tombstones)

    def version_records(self, bucket: str, key: str, version_ids: list[str]) -> list[VersionEntry]:
        """This store's records of some versions of one key, tombstones included (a gateway checks
        the versions it merged from several nodes against them)."""
        return self.meta.version_records(bucket, key, version_ids)

    def claim_lease(self, name: str, holder: str, ttl_ns: int, state: str | None) -> Lease | None:
        """Take, renew (storing `state` when given) or with ttl 0 give back a lease of background
        work, judged by this node's clock: see Metadata.claim_lease."""
        return self.meta.claim_lease(name, holder, now_ns(), ttl_ns, state)

    def share_version(self, source: ObjectVersion, version: ObjectVersion) -> StoredVersion:
        """Commit `version` over the blobs of `source` (same bucket and key), copying no bytes: see
        Metadata.share_version. Nothing was staged, so a failure leaves nothing to remove."""
        return self.meta.share_version(source, version)

    def tag_updates(self, bucket: str, key: str, limit: int) -> list[ObjectTags]:
        """The tag updates this store keeps of the key's versions, newest versions first (repair
        compares them between owners: see Metadata.tag_updates)."""
        return self.meta.tag_updates(bucket, key, limit)

    def bucket_state(self, name: str) -> StampedBucket:
        """The bucket's record with its stamped configuration documents, in one read."""
        return self.meta.bucket_state(name)
