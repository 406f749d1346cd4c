"""LocalBackend: S3 storage semantics over a Store in this process (embedded `wsgi-s3 serve`)."""

from __future__ import annotations

import uuid

from wsgi_s3.model.types import (
    BodySource,
    BucketInfo,
    ByteStream,
    DeleteResult,
    ListPage,
    ObjectMeta,
    ObjectVersion,
    Part,
    Segment,
    StagedBlob,
    Upload,
)
from wsgi_s3.backend.listing import list_page
from wsgi_s3.model.versions import NULL_VERSION, HybridClock, new_version_id, now_ns
from wsgi_s3.store.store import Store


class LocalBackend:
    def __init__(self, store: Store, clock: HybridClock | None = None) -> None:
        self.store = store
        self.clock = clock or HybridClock()

    # buckets

    def create_bucket(self, name: str, region: str, owner: str) -> BucketInfo:
        return self.store.create_bucket(name, region, owner)

    def get_bucket(self, name: str) -> BucketInfo:
        return self.store.get_bucket(name)

    def list_buckets(self) -> list[BucketInfo]:
        return self.store.list_buckets()

    def delete_bucket(self, name: str) -> None:
        self.store.delete_bucket(name)

    # objects

    def _new_version(self, bucket: BucketInfo) -> tuple[str, int]:
        """(version id, stamp) for a write into `bucket`, by its versioning state."""
        timestamp = self.clock.stamp()
        return (new_version_id(timestamp) if bucket.versioning == "Enabled" else NULL_VERSION), timestamp

    def _stage(self, body: BodySource) -> tuple[StagedBlob, ObjectMeta]:
        """Write the body invisibly, then let it verify its digests; a failure leaves no file."""
        staged = self.store.stage(body)
        try:
            return staged, body.finish()
        except BaseException:
            self.store.discard([staged])
            raise

    def put_object(
        self, bucket: str, key: str, body: BodySource, *, if_none_match: bool = False, if_match: str | None = None
    ) -> ObjectVersion:
        info = self.store.get_bucket(bucket)  # fail before reading a body into a bucket that is not there
        staged, meta = self._stage(body)
        version_id, timestamp = self._new_version(info)
        version = ObjectVersion(
            bucket, key, version_id, timestamp, staged.size, meta, (Segment(staged.blob_id, staged.size),) if staged.size else (),
            origin=self.clock.origin,
        )
        if not staged.size:
            self.store.discard([staged])
        return self.store.commit_version(version, if_none_match=if_none_match, if_match=if_match)

    def head_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectVersion:
        return self.store.get_version(bucket, key, version_id)

    def open_object(self, version: ObjectVersion, start: int, length: int) -> ByteStream:
        return self.store.read(version, start, length)

    def delete_object(self, bucket: str, key: str, version_id: str | None = None) -> DeleteResult:
        info = self.store.get_bucket(bucket)
        if version_id is not None or not info.versioning:
            removed = self.store.delete_version(bucket, key, version_id or NULL_VERSION, self.clock.stamp(), self.clock.origin)
            return DeleteResult(version_id, bool(removed and removed.delete_marker))
        version_id, timestamp = self._new_version(info)
        marker = ObjectVersion(bucket, key, version_id, timestamp, 0, ObjectMeta(etag=""), (), delete_marker=True, origin=self.clock.origin)
        self.store.commit_version(marker)
        return DeleteResult(version_id, True)

    def list_objects(self, bucket: str, prefix: str, delimiter: str, marker: str, max_keys: int) -> ListPage:
        self.store.get_bucket(bucket)
        return list_page(lambda *window: self.store.entries_after(bucket, *window), prefix, delimiter, marker, max_keys)

    # multipart uploads

    def create_upload(self, bucket: str, key: str, meta: ObjectMeta, checksum_algorithm: str) -> Upload:
        upload = Upload(uuid.uuid4().hex, bucket, key, now_ns(), meta, checksum_algorithm)
        self.store.create_upload(upload)
        return upload

    def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        return self.store.get_upload(bucket, key, upload_id)

    def upload_part(self, upload: Upload, part_number: int, body: BodySource) -> Part:
        self.store.get_upload(upload.bucket, upload.key, upload.upload_id)
        staged, meta = self._stage(body)
        part = Part(part_number, meta.etag, staged.size, now_ns(), staged.blob_id, meta.checksums)
        self.store.put_part(upload.upload_id, part)
        return part

    def list_parts(self, upload: Upload, after_part: int = 0, limit: int = 10000) -> list[Part]:
        return self.store.list_parts(upload.upload_id, after_part, limit)

    def complete_upload(self, upload: Upload, parts: list[Part], meta: ObjectMeta) -> ObjectVersion:
        version_id, timestamp = self._new_version(self.store.get_bucket(upload.bucket))
        version = ObjectVersion(upload.bucket, upload.key, version_id, timestamp, sum(part.size for part in parts), meta, origin=self.clock.origin)
        return self.store.complete_upload(upload.upload_id, version, parts)

    def abort_upload(self, upload: Upload) -> None:
        self.store.abort_upload(upload.bucket, upload.key, upload.upload_id)

    def list_uploads(self, bucket: str, key_marker: str, upload_id_marker: str, limit: int) -> list[Upload]:
        return self.store.list_uploads(bucket, key_marker, upload_id_marker, limit)
