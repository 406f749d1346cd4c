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

from wsgi_s3.model import errors
from wsgi_s3.model.types import BucketInfo, ListPage, ObjectVersion, Part, StagedBlob, Upload
from wsgi_s3.model.versions import now_ns
from wsgi_s3.store.blobs import BlobFiles, BlobRange, Readable, SegmentsRange, make_private_dirs
from wsgi_s3.store.metadata import Metadata

_LIST_BATCH = 1000


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

    def delete_bucket(self, name: str) -> None:
        self.meta.delete_bucket(name)

    # objects

    def stage(self, source: Readable) -> StagedBlob:
        return self.blobs.write(source)

    def discard(self, staged: list[StagedBlob]) -> None:
        """Remove staged blobs that will never be committed (nothing references them)."""
        self.blobs.remove([blob.blob_id for blob in staged])

    def commit_version(
        self, version: ObjectVersion, *, replace_null: bool, if_none_match: bool = False, if_match: str | None = None
    ) -> ObjectVersion:
        """Make a version visible. If the commit fails for any reason its staged blobs are removed."""
        try:
            return self.meta.insert_version(version, replace_null=replace_null, if_none_match=if_none_match, if_match=if_match)
        except BaseException:
            # The transaction rolled back: nothing references these blobs.
            self.blobs.remove([s.blob_id for s in version.segments])
            raise

    def get_version(self, bucket: str, key: str, version_id: str | None = None) -> ObjectVersion:
        return self.meta.get_version(bucket, key, version_id)

    def read(self, version: ObjectVersion, start: int, length: int) -> BlobRange | SegmentsRange:
        """The range's files, all opened now; NotFound if the version's blobs were reclaimed already
        (it was deleted or overwritten longer than the reclaim grace ago)."""
        try:
            return self.blobs.open_range(version.segments, start, length)
        except FileNotFoundError:
            raise errors.NotFound("key", version.key) from None

    def delete_version(self, bucket: str, key: str, version_id: str) -> ObjectVersion | None:
        return self.meta.delete_version(bucket, key, version_id)

    def list_latest(self, bucket: str, prefix: str = "", delimiter: str = "", marker: str = "", max_keys: int = 1000) -> ListPage:
        """Current versions in key order after `marker`, with keys under a delimiter rolled up.

        A rolled-up prefix is skipped in one index seek (to just past "<prefix>\\uffff..."), so a
        page costs about the same however many keys sit under the prefixes it returns."""
        self.meta.get_bucket(bucket)
        objects: list[ObjectVersion] = []
        prefixes: list[str] = []
        cursor: str | None = marker
        inclusive = False
        if delimiter and marker.startswith(prefix) and marker.endswith(delimiter) and delimiter in marker[len(prefix):]:
            cursor, inclusive = _after_prefix(marker), True  # resume after a common prefix already returned
        if cursor is not None and prefix > cursor:
            cursor, inclusive = prefix, True
        last: str | None = None
        while True:
            if cursor is None:  # nothing sorts after the last prefix rolled up
                return ListPage(objects, prefixes, False, last)
            batch = self.meta.latest_after(bucket, cursor, inclusive, _LIST_BATCH)
            if not batch:
                return ListPage(objects, prefixes, False, last)
            for version in batch:
                if not version.key.startswith(prefix):
                    return ListPage(objects, prefixes, False, last)
                if len(objects) + len(prefixes) == max_keys:
                    return ListPage(objects, prefixes, True, last)
                cut = version.key.find(delimiter, len(prefix)) if delimiter else -1
                if cut >= 0:
                    common = version.key[: cut + len(delimiter)]
                    prefixes.append(common)
                    last = common
                    cursor, inclusive = _after_prefix(common), True
                    break
                objects.append(version)
                last = version.key
                cursor, inclusive = version.key, False

    # multipart uploads

    def create_upload(self, upload: Upload) -> None:
        self.meta.create_upload(upload)

    def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        return self.meta.get_upload(bucket, key, upload_id)

    def list_uploads(self, bucket: str, key_marker: str, upload_id_marker: str, limit: int) -> list[Upload]:
        self.meta.get_bucket(bucket)
        return self.meta.list_uploads(bucket, key_marker, upload_id_marker, limit)

    def put_part(self, upload_id: str, part: Part) -> None:
        try:
            self.meta.put_part(upload_id, part)
        except BaseException:
            self.blobs.remove([part.blob_id])
            raise

    def list_parts(self, upload_id: str, after_part: int = 0, limit: int = 10000) -> list[Part]:
        return self.meta.list_parts(upload_id, after_part, limit)

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self.meta.abort_upload(bucket, key, upload_id)

    def complete_upload(self, upload_id: str, version: ObjectVersion, parts: list[Part], *, replace_null: bool) -> ObjectVersion:
        """Commit `version` made of `parts` (validated by the caller, resolved to blobs again inside
        the commit: see Metadata.complete_upload)."""
        return self.meta.complete_upload(upload_id, version, parts, replace_null=replace_null)


def _after_prefix(common_prefix: str) -> str | None:
    """The smallest string greater than every key that starts with `common_prefix`, in code point
    order (which is SQLite's UTF-8 byte order); None when there is none (all U+10FFFF)."""
    stripped = common_prefix.rstrip("\U0010ffff")
    if not stripped:
        return None
    following = ord(stripped[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are not characters: UTF-8 goes on at U+E000
        following = 0xE000
    return stripped[:-1] + chr(following)
