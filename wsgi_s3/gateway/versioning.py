"""S3's versioning rules, decided once above every backend: which version a write makes, and what a
DELETE does. A backend only stores what it is told (see backend/base.py).

- A write into a bucket whose versioning is Enabled makes a new version id; otherwise (never enabled,
  or Suspended) it makes the `null` version, which replaces the one there.
- DELETE with a version id, or in a bucket that never had versioning, removes that version (a
  tombstone below); otherwise it adds a delete marker, a version of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from wsgi_s3.backend.base import Backend
from wsgi_s3.model.types import BucketInfo, ObjectVersion
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


def expire(backend: Backend, bucket: BucketInfo, current: ObjectVersion, clock: HybridClock) -> bool:
    """A lifecycle Expiration of the current version `current`, as S3 applies it: removed in a
    bucket that never had versioning, hidden by a delete marker otherwise (a `null` one when
    Suspended, which replaces the null version). Where the write replaces the null version it is
    stamped just after `current`, so a write that came after it (an overwrite since the rule
    matched) is kept; in an Enabled bucket nothing is replaced, and the marker is stamped now, as
    S3 dates it. Returns whether anything changed."""
    if bucket.versioning == "Enabled":
        backend.put_delete_marker(bucket.name, current.key, new_version(bucket, clock))
        return True
    after = VersionStamp(NULL_VERSION, current.timestamp_ns + 1, clock.origin)
    if not bucket.versioning:
        return backend.delete_version(bucket.name, current.key, after) is not None
    stored = backend.put_delete_marker(bucket.name, current.key, after)
    return stored.timestamp_ns == after.timestamp_ns  # not a newer null version that was kept
