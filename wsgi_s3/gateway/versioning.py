"""S3's versioning rules, decided once above every backend: which version a write makes, and what a
DELETE does. A backend only stores what it is told (see backend/base.py).

- A write into a bucket whose versioning is Enabled makes a new version id; otherwise (never enabled,
  or Suspended) it makes the `null` version, which replaces the one there.
- DELETE with a version id, or in a bucket that never had versioning, removes that version (a
  tombstone below); otherwise it adds a delete marker, a version of its own.
- Responses name a version by its id, and the null version as "null" only once its bucket has had
  versioning: a bucket that never did shows no version id at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from wsgi_s3.backend.base import Backend
from wsgi_s3.model.types import BucketInfo
from wsgi_s3.model.versions import NULL_VERSION, HybridClock, VersionStamp, new_version_id


@dataclass(frozen=True)
class DeleteResult:
    version_id: str | None  # the version removed, or the delete marker made; None when unversioned
    delete_marker: bool  # a marker was made, or the version removed was one


def new_version(bucket: BucketInfo, clock: HybridClock) -> VersionStamp:
    """The stamp of a new write into `bucket`."""
    timestamp = clock.stamp()
    version_id = new_version_id(timestamp) if bucket.versioning == "Enabled" else NULL_VERSION
    return VersionStamp(version_id, timestamp, clock.origin)


def delete(backend: Backend, bucket: BucketInfo, key: str, version_id: str | None, clock: HybridClock) -> DeleteResult:
    if version_id is not None or not bucket.versioning:
        removed = backend.delete_version(bucket.name, key, VersionStamp(version_id or NULL_VERSION, clock.stamp(), clock.origin))
        return DeleteResult(version_id, bool(removed and removed.delete_marker))
    marker = backend.put_delete_marker(bucket.name, key, new_version(bucket, clock))
    return DeleteResult(marker.version_id, True)


def shown_id(backend: Backend, bucket: BucketInfo | str, version_id: str | None) -> str | None:
    """The version id a response shows (x-amz-version-id and its kin), None for none. The bucket
    is looked up only for the null version, when the caller has not got it already. rclone, for
    one, would follow a "null" id in a bucket that never had versioning."""
    if version_id != NULL_VERSION:
        return version_id
    info = bucket if isinstance(bucket, BucketInfo) else backend.get_bucket(bucket)
    return version_id if info.versioning else None
