"""S3's versioning rules, decided once above every backend: which version a write makes, and what a
DELETE does. A backend only stores what it is told (see backend/base.py).

- A write into a bucket whose versioning is Enabled makes a new version id; otherwise (never enabled,
  or Suspended) it makes the `null` version, which replaces the one there.
- DELETE with a version id, or in a bucket that never had versioning, removes that version (a
  tombstone below); otherwise it adds a delete marker, a version of its own.
- The seed's version policy (a JSON PUT ?versioning) keeps at most `max_versions` versions of a key,
  pruning the oldest non-current ones as each write lands, but never one younger than
  `retention_days`.
- Responses name a version by its id, and the null version as "null" only once its bucket has had
  versioning: a bucket that never did shows no version id at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from wsgi_s3.backend.base import Backend
from wsgi_s3.gateway.body import CopiedBody, TaggedBody
from wsgi_s3.model import errors as storage
from wsgi_s3.model.types import BucketInfo, ObjectVersion, VersionEntry
from wsgi_s3.model.versions import NULL_VERSION, HybridClock, VersionStamp, new_version_id
from wsgi_s3.s3 import errors


@dataclass(frozen=True)
class DeleteResult:
    version_id: str | None  # the version removed, or the delete marker made; None when unversioned
    delete_marker: bool  # a marker was made, or the version removed was one


def new_version(bucket: BucketInfo, clock: HybridClock) -> VersionStamp:
    """The stamp of a new write into `bucket`."""
    timestamp = clock.stamp()
    version_id = new_version_id(timestamp) if bucket.versioning == "Enabled" else NULL_VERSION
    return VersionStamp(version_id, timestamp, clock.origin)


def write_copy(
    backend: Backend,
    source: ObjectVersion,
    bucket: BucketInfo,
    key: str,
    clock: HybridClock,
    *,
    content: dict[str, str],
    user_meta: dict[str, str],
    tags: dict[str, str],
    algorithm: str,
) -> ObjectVersion:
    """`source`'s bytes, streamed from storage, written as a new version of bucket/key with the meta
    given (CopyObject, /batch copy and move); the bucket's version policy then prunes."""
    body = TaggedBody(CopiedBody(backend.open_object(source, 0, source.size), content, user_meta, algorithm), tags)
    version = backend.put_object(bucket.name, key, body, new_version(bucket, clock))
    prune(backend, bucket, key, clock)
    return version


def restore(backend: Backend, source: ObjectVersion, bucket: BucketInfo, clock: HybridClock) -> ObjectVersion:
    """`source` made current again (POST ?restore, /batch restore): a new version of its key with
    its meta kept whole (ETag, checksums, parts, content headers, user metadata, tags) over the
    same bytes, shared, not copied; the bucket's version policy then prunes."""
    version = backend.share_version(source, new_version(bucket, clock), source.meta)
    prune(backend, bucket, source.key, clock)
    return version


def copied_meta(source: ObjectVersion) -> dict:
    """write_copy's meta arguments that keep everything of the source (/batch copy and move)."""
    algorithm = next(iter(source.meta.checksums), "")
    return {"content": source.meta.content, "user_meta": source.meta.user_meta, "tags": source.meta.tags, "algorithm": algorithm}


def delete(backend: Backend, bucket: BucketInfo, key: str, version_id: str | None, clock: HybridClock) -> DeleteResult:
    if version_id is not None or not bucket.versioning:
        removed = backend.delete_version(bucket.name, key, VersionStamp(version_id or NULL_VERSION, clock.stamp(), clock.origin))
        return DeleteResult(version_id, bool(removed and removed.delete_marker))
    marker = backend.put_delete_marker(bucket.name, key, new_version(bucket, clock))
    return DeleteResult(marker.version_id, True)


def shown_id(version_id: str | None, bucket: Callable[[], BucketInfo]) -> str | None:
    """The version id a response shows (x-amz-version-id and its kin), None for none. `bucket`
    (the version's) is asked only for the null version. rclone, for one, would follow a "null" id
    in a bucket that never had versioning."""
    if version_id != NULL_VERSION:
        return version_id
    return version_id if bucket().versioning else None


POLICY = "version-policy"  # the bucket configuration kind of the seed's version policy
DAY_NS = 86_400 * 10**9
MAX_RETENTION_DAYS = 36_500
MAX_VERSIONS = 1000  # so that a write reads at most MAX_VERSIONS + PRUNE_BATCH versions to prune
PRUNE_BATCH = 1000  # versions one write may prune (a policy set on a long history catches up write by write)
FIRST_PRUNE_PAGE = 16


@dataclass(frozen=True)
class VersionPolicy:
    enabled: bool
    max_versions: int | None = None  # versions kept per key, the current one included
    retention_days: int = 0  # a version younger than this is never pruned

    def document(self) -> str | None:
        """The stored form (None: no pruning, nothing to store)."""
        if self.max_versions is None:
            return None
        return json.dumps({"max_versions": self.max_versions, "retention_days": self.retention_days})


def parse_policy(body: bytes) -> VersionPolicy:
    """`{"enabled": true, "max_versions": 10, "retention_days": 90}`; the limits are optional."""
    try:
        data = json.loads(body)
    except ValueError:  # also a number too long for int()
        raise errors.InvalidArgument("The versioning policy is not valid JSON.") from None
    if not isinstance(data, dict) or not isinstance(data.get("enabled"), bool) or set(data) - {"enabled", "max_versions", "retention_days"}:
        raise errors.InvalidArgument('A versioning policy is {"enabled": true|false, "max_versions": n, "retention_days": n}.')
    return VersionPolicy(
        data["enabled"], _count(data, "max_versions", 1, MAX_VERSIONS), _count(data, "retention_days", 0, MAX_RETENTION_DAYS) or 0
    )


def _count(data: dict, name: str, minimum: int, maximum: int) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise errors.InvalidArgument(f"{name} must be an integer from {minimum} to {maximum}.", ArgumentName=name)
    return value


def stored_policy(bucket: BucketInfo) -> VersionPolicy | None:
    document = bucket.configs.get(POLICY)
    if document is None:
        return None
    data = json.loads(document)
    return VersionPolicy(True, data["max_versions"], data["retention_days"])


def prune(backend: Backend, bucket: BucketInfo, key: str, clock: HybridClock) -> int:
    """Apply the bucket's version policy to `key` after a write: remove the versions beyond
    `max_versions` (the oldest, never the current one) that are older than `retention_days`; the
    policy is `bucket`'s as the request's bucket read found it (no read of its own). The key's
    history is read newest first in pages that start small and double, and stop at its end, so a
    write reads about as many rows as the key holds (at most MAX_VERSIONS + PRUNE_BATCH) and few of
    the keys after it; returns how many versions it removed."""
    if bucket.versioning != "Enabled":
        return 0
    policy = stored_policy(bucket)
    if policy is None or policy.max_versions is None:
        return 0
    history: list[VersionEntry] = []
    key_marker, version_marker, size = "", None, FIRST_PRUNE_PAGE
    while len(history) < policy.max_versions + PRUNE_BATCH:
        # The key's versions come first under the prefix `key` (every other key there is longer).
        page = backend.list_versions(bucket.name, key, "", key_marker, version_marker, size)
        mine = [version for version in page.versions if version.key == key]
        history += mine
        if len(mine) < len(page.versions) or not page.is_truncated:
            break
        key_marker, version_marker, size = key, mine[-1].version_id, min(2 * size, PRUNE_BATCH)
    cutoff = clock.stamp() - policy.retention_days * DAY_NS
    removed = 0
    for version in history[policy.max_versions : policy.max_versions + PRUNE_BATCH]:
        if version.timestamp_ns < cutoff:
            try:
                backend.delete_version(bucket.name, key, VersionStamp(version.version_id, clock.stamp(), clock.origin))
            except storage.NotFound:
                continue  # deleted meanwhile
            removed += 1
    return removed


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
