"""LocalBackend: the Backend over a Store in this process (embedded `wsgi-s3 serve`)."""

from __future__ import annotations

import uuid

from wsgi_s3.backend.base import SHARED_BUCKET
from wsgi_s3.backend.listing import list_page, list_versions_page
from wsgi_s3.model import errors
from wsgi_s3.model.types import (
    BodySource,
    BucketInfo,
    ByteStream,
    ListPage,
    ObjectMeta,
    ObjectTags,
    ObjectVersion,
    Part,
    Segment,
    StagedBlob,
    StoredPart,
    StoredVersion,
    Upload,
    VersionPage,
)
from wsgi_s3.model.versions import HybridClock, VersionStamp, now_ns, stamped_version
from wsgi_s3.store.store import Store


class LocalBackend:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.clock = HybridClock()  # stamps the shared documents

    # buckets

    def create_bucket(self, name: str, region: str, owner: str) -> BucketInfo:
        return self.store.create_bucket(name, region, owner)

    def get_bucket(self, name: str) -> BucketInfo:
        return self.store.bucket_state(name).info

    def list_buckets(self) -> list[BucketInfo]:
        return self.store.list_buckets()

    def delete_bucket(self, name: str) -> None:
        self.store.delete_bucket(name)

    def get_bucket_config(self, bucket: str, kind: str) -> str | None:
        config = self.store.get_bucket_config(bucket, kind)
        return None if config is None else config.document

    def put_bucket_config(self, bucket: str, kind: str, document: str | None, stamp: VersionStamp) -> None:
        self.store.put_bucket_config(bucket, kind, document, stamp)

    # objects

    def _stage(self, body: BodySource) -> tuple[StagedBlob, ObjectMeta]:
        """Write the body invisibly, then let it verify its digests; a failure leaves no file."""
        staged = self.store.stage(body)
        try:
            return staged, body.finish()
        except BaseException:
            self.store.discard([staged])
            raise

    def put_object(
        self, bucket: str, key: str, body: BodySource, stamp: VersionStamp, *, if_none_match: bool = False, if_match: str | None = None
    ) -> ObjectVersion:
        staged, meta = self._stage(body)
        segments = (Segment(staged.blob_id, staged.size),) if staged.size else ()
        if not staged.size:
            self.store.discard([staged])
        version = StoredVersion.of(stamped_version(bucket, key, stamp, staged.size, meta), segments=segments)
        return self.store.commit_version(version, if_none_match=if_none_match, if_match=if_match)

    def put_delete_marker(self, bucket: str, key: str, stamp: VersionStamp) -> ObjectVersion:
        return self.store.commit_version(StoredVersion.of(stamped_version(bucket, key, stamp, 0, ObjectMeta(etag=""), delete_marker=True)))

    def delete_version(self, bucket: str, key: str, stamp: VersionStamp) -> ObjectVersion | None:
        return self.store.delete_version(bucket, key, stamp.version_id, stamp.timestamp_ns, stamp.origin)

    def head_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectVersion:
        return self.store.get_version(bucket, key, version_id)

    def open_object(self, version: ObjectVersion, start: int, length: int) -> ByteStream:
        # The version is the handle: the blobs it names are this store's. One this backend did not
        # return (a cluster's, or one built by the caller) names none here, so it is refused rather
        # than read as something else; another store's names blobs absent here (NotFound).
        if not isinstance(version, StoredVersion):
            raise TypeError(f"LocalBackend.open_object takes a version this backend returned, not a {type(version).__name__}")
        return self.store.read(version, start, length)

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
        part = StoredPart(part_number, meta.etag, staged.size, now_ns(), meta.checksums, blob_id=staged.blob_id)
        self.store.put_part(upload.upload_id, part)
        return Part.of(part)  # a part goes up named by number, ETag and size: its blob stays here

    def list_parts(self, upload: Upload, after_part: int = 0, limit: int = 10000) -> list[Part]:
        return [Part.of(part) for part in self.store.list_parts(upload.upload_id, after_part, limit)]

    def complete_upload(self, upload: Upload, parts: list[Part], meta: ObjectMeta, stamp: VersionStamp) -> ObjectVersion:
        self.store.get_bucket(upload.bucket)
        version = stamped_version(upload.bucket, upload.key, stamp, sum(part.size for part in parts), meta)
        return self.store.complete_upload(upload.upload_id, version, parts)

    def abort_upload(self, upload: Upload) -> None:
        self.store.abort_upload(upload.bucket, upload.key, upload.upload_id)

    def list_uploads(self, bucket: str, key_marker: str, upload_id_marker: str, limit: int) -> list[Upload]:
        return self.store.list_uploads(bucket, key_marker, upload_id_marker, limit)

    # object tags

    def put_object_tags(self, version: ObjectVersion, tags: dict[str, str], stamp: VersionStamp) -> None:
        update = ObjectTags(version.version_id, version.timestamp_ns, tags, stamp.timestamp_ns, stamp.origin)
        self.store.put_object_tags(version.bucket, version.key, update)

    def get_object_tags(self, bucket: str, key: str, version_id: str | None = None) -> dict[str, str]:
        return self.store.get_object_tags(bucket, key, version_id).tags

    # documents every gateway shares (the credentials)

    def get_shared_document(self, name: str) -> str | None:
        try:
            return self.get_bucket_config(SHARED_BUCKET, name)
        except errors.NotFound:
            return None

    def put_shared_document(self, name: str, document: str) -> None:
        try:
            self.store.create_bucket(SHARED_BUCKET, "", "wsgi-s3")
        except errors.AlreadyExists:
            pass
        held = self.store.get_bucket_config(SHARED_BUCKET, name)
        if held is not None:
            self.clock.observe(held.stamp.timestamp_ns)
        self.store.put_bucket_config(SHARED_BUCKET, name, document, self.clock.config_stamp())

    def ready(self) -> None:
        self.store.check_writable()

    # version listing

    def list_versions(
        self, bucket: str, prefix: str, delimiter: str, key_marker: str, version_id_marker: str | None, max_keys: int
    ) -> VersionPage:
        self.store.get_bucket(bucket)
        return list_versions_page(
            lambda cursor, before, limit: self.store.versions_after(bucket, cursor.key, cursor.inclusive, cursor.position, before, limit),
            lambda key, version_id: self.store.get_version(bucket, key, version_id),
            prefix, delimiter, key_marker, version_id_marker, max_keys,
        )

    # leases of background work

    def claim_lease(self, name: str, holder: str, ttl_ns: int, state: str | None = None) -> str | None:
        lease = self.store.claim_lease(name, holder, ttl_ns, state)
        return None if lease is None else lease.state

    # versions that share bytes

    def share_version(self, source: ObjectVersion, stamp: VersionStamp, meta: ObjectMeta) -> ObjectVersion:
        # One store transaction: the source is checked live and its blobs gain a holder together.
        return self.store.share_version(source, stamped_version(source.bucket, source.key, stamp, source.size, meta))
