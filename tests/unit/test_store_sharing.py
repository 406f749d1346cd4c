"""Versions that share blobs (a restore copies no bytes): a blob counts its holders, and is freed,
then reclaimed by the sweeper, only when the last one goes, whichever path drops it."""

from __future__ import annotations

import io
import sqlite3
import time

import pytest

from tests.unit.test_store import blob_files, delete, put, read, sweep
from wsgi_s3.model import errors
from wsgi_s3.model.types import ObjectMeta, ObjectVersion, StoredPart, StoredVersion, Upload
from wsgi_s3.store.schema import MIGRATIONS
from wsgi_s3.store.store import Store


@pytest.fixture
def store(tmp_path):
    store = Store(str(tmp_path / "data"))
    store.create_bucket("bucket", "us-east-1", "owner")
    return store


def share(store: Store, source: ObjectVersion, version_id: str = "null", timestamp: int | None = None) -> ObjectVersion:
    """A restore of `source`: a new version of its key over its blobs, with its meta."""
    version = ObjectVersion("bucket", source.key, version_id, timestamp or time.time_ns(), source.size, source.meta)
    return store.share_version(source, version)


def counts(store: Store) -> dict[str, tuple[int, bool]]:
    """(holders, freed) of every blob the store's metadata knows."""
    return {blob_id: (refs, freed_ns is not None) for blob_id, refs, freed_ns in store.meta.query("SELECT blob_id, refs, freed_ns FROM blobs")}


def put_blob(store: Store, key: str, data: bytes, version_id: str = "null") -> tuple[ObjectVersion, str]:
    """A version written as `put` writes it, and the id of the one blob it added."""
    before = set(counts(store))
    version = put(store, key, data, version_id)
    [blob_id] = set(counts(store)) - before
    return version, blob_id


def test_a_shared_version_reads_the_same_bytes_and_adds_no_blob(store):
    source = put(store, "k", b"the bytes", "v1")
    shared = share(store, source, "v2")
    assert shared.is_latest and shared.size == source.size
    assert read(store, store.get_version("bucket", "k")) == b"the bytes"
    assert len(blob_files(store)) == 1 and list(counts(store).values()) == [(2, False)]


def test_the_blob_outlives_the_source_and_goes_with_its_last_holder(store):
    source = put(store, "k", b"the bytes", "v1")
    shared = share(store, source, "v2")
    delete(store, "k", "v1")
    assert sweep(store) == 0 and len(blob_files(store)) == 1  # no grace at all, and still held
    assert read(store, store.get_version("bucket", "k", "v2")) == b"the bytes"
    delete(store, "k", "v2")
    assert list(counts(store).values()) == [(0, True)]
    assert sweep(store) == 1 and blob_files(store) == []


def test_tombstones_reclaimed_after_their_grace_leave_the_shared_blob(store):
    source = put(store, "k", b"kept", "v1")
    share(store, source, "v2")
    delete(store, "k", "v1")
    assert sweep(store, tombstone_grace=0) == 1  # the tombstone, not the blob
    assert read(store, store.get_version("bucket", "k")) == b"kept"


def test_the_null_version_restored_over_itself_keeps_its_blob(store):
    source = put(store, "k", b"null bytes")
    shared = share(store, source)
    assert shared.timestamp_ns > source.timestamp_ns and list(counts(store).values()) == [(1, False)]
    assert sweep(store) == 0 and read(store, store.get_version("bucket", "k")) == b"null bytes"
    put(store, "k", b"overwrite")  # the last holder of the shared blob goes
    assert sweep(store) == 1 and read(store, store.get_version("bucket", "k")) == b"overwrite"


def test_a_null_version_over_a_versioned_one_is_overwritten_without_freeing_the_source(store):
    source = put(store, "k", b"versioned", "v1")
    share(store, source)  # the null version (a Suspended bucket's restore)
    put(store, "k", b"new null")
    assert sweep(store) == 0 and read(store, store.get_version("bucket", "k", "v1")) == b"versioned"


def test_a_share_that_loses_to_a_newer_version_of_its_id_leaves_the_count_alone(store):
    source, blob_id = put_blob(store, "k", b"versioned", "v1")
    newer = put(store, "k", b"newer null", timestamp=time.time_ns() + 10**12)
    kept = share(store, source, "null", timestamp=newer.timestamp_ns - 1)
    assert not kept.is_latest and store.get_version("bucket", "k", "null").timestamp_ns == newer.timestamp_ns
    assert counts(store)[blob_id] == (1, False)
    delete(store, "k", "v1")
    assert sweep(store) == 1 and read(store, store.get_version("bucket", "k")) == b"newer null"


def test_a_source_deleted_or_written_again_is_not_found_and_nothing_changes(store):
    source = put(store, "k", b"old null")
    put(store, "k", b"new null")  # the null version the caller saw is gone
    with pytest.raises(errors.NotFound):
        share(store, source, "v2")
    versioned = put(store, "k", b"versioned", "v1")
    delete(store, "k", "v1")
    with pytest.raises(errors.NotFound):
        share(store, versioned, "v2")
    marker = store.commit_version(StoredVersion("bucket", "k", "m1", time.time_ns(), 0, ObjectMeta(etag=""), delete_marker=True))
    with pytest.raises(errors.NotFound):
        share(store, marker, "v3")
    assert [v.version_id for v in store.key_history("bucket", "k", 10) if not v.tombstone] == ["m1", "null"]
    assert sweep(store) == 2  # the two blobs freed by the overwrite and the delete, none held by a failed share


def test_an_empty_version_is_shared_with_no_blob(store):
    source = store.commit_version(StoredVersion("bucket", "e", "v1", time.time_ns(), 0, ObjectMeta(etag="d41d")))
    shared = share(store, source, "v2")
    assert (shared.size, shared.etag, counts(store)) == (0, "d41d", {})


def _multipart(store: Store, key: str, *contents: bytes, extra: bytes = b"") -> ObjectVersion:
    upload = Upload("u-" + key, "bucket", key, 1, ObjectMeta(etag=""))
    store.create_upload(upload)
    parts = []
    for number, data in enumerate([*contents, extra] if extra else contents, start=1):
        staged = store.stage(io.BytesIO(data))
        part = StoredPart(number, f"e{number}", staged.size, 1, blob_id=staged.blob_id)
        store.put_part(upload.upload_id, part)
        parts.append(part)
    size = sum(len(data) for data in contents)
    meta = ObjectMeta(etag=f"x-{len(contents)}", part_sizes=tuple(len(data) for data in contents))
    return store.complete_upload(upload.upload_id, ObjectVersion("bucket", key, "v1", time.time_ns(), size, meta), parts[: len(contents)])


def test_a_multipart_version_shares_every_part_and_keeps_its_meta(store):
    source = _multipart(store, "mp", b"aaa", b"bbbb", extra=b"unused part")
    assert sweep(store) == 1  # the part the upload did not use
    shared = share(store, source, "v2")
    assert shared.meta.part_sizes == (3, 4) and shared.etag == "x-2"
    delete(store, "mp", "v1")
    assert sweep(store) == 0 and read(store, store.get_version("bucket", "mp")) == b"aaabbbb"
    delete(store, "mp", "v2")
    assert sweep(store) == 2 and blob_files(store) == []


def test_purge_key_drops_every_holder(store):
    source = put(store, "k", b"bytes", "v1")
    share(store, source, "v2")
    share(store, source, "v3")
    assert list(counts(store).values()) == [(3, False)]
    store.purge_key("bucket", "k")
    assert sweep(store) == 1 and blob_files(store) == []


def test_a_purged_bucket_drops_every_holder_and_its_uploads_parts(store):
    source = put(store, "k", b"bytes", "v1")
    share(store, source, "v2")
    upload = Upload("u1", "bucket", "mp", 1, ObjectMeta(etag=""))
    store.create_upload(upload)
    staged = store.stage(io.BytesIO(b"part"))
    store.put_part("u1", StoredPart(1, "e", staged.size, 1, blob_id=staged.blob_id))
    store.delete_bucket("bucket", purge=True)
    assert sweep(store) == 2 and blob_files(store) == []


def test_an_aborted_upload_and_a_replaced_part_free_their_blobs(store):
    store.create_upload(Upload("u1", "bucket", "mp", 1, ObjectMeta(etag="")))
    for data in (b"first try", b"second try"):
        staged = store.stage(io.BytesIO(data))
        store.put_part("u1", StoredPart(1, "e", staged.size, 1, blob_id=staged.blob_id))
    assert sweep(store) == 1
    store.abort_upload("bucket", "mp", "u1")
    assert sweep(store) == 1 and blob_files(store) == []


def test_migration_counts_the_holders_of_existing_blobs(tmp_path):
    """A store of the schema before counts: blobs held by versions (one by two of them, as no
    release made but the count must be right) and by a part get their counts, and a live blob
    that nothing holds is freed."""
    data_dir = tmp_path / "data"
    store = Store(str(data_dir))
    store.create_bucket("bucket", "us-east-1", "owner")
    _, shared = put_blob(store, "k", b"shared", "v1")
    _, other = put_blob(store, "other", b"other", "v1")
    store.create_upload(Upload("u1", "bucket", "mp", 1, ObjectMeta(etag="")))
    staged = store.stage(io.BytesIO(b"part"))
    store.put_part("u1", StoredPart(1, "e", staged.size, 1, blob_id=staged.blob_id))
    leaked = store.stage(io.BytesIO(b"leaked"))
    store.meta.close()
    db = sqlite3.connect(data_dir / "meta.db", isolation_level=None)
    db.execute("INSERT INTO blobs (blob_id, refs) VALUES (?, 1)", (leaked.blob_id,))
    db.execute(  # a second version of "k" over the same blob
        "INSERT INTO versions SELECT bucket, key, 'v2', timestamp_ns + 1, 0, delete_marker, size, meta, segments, origin, tombstone,"
        " position, digest FROM versions WHERE key = 'k'"
    )
    db.execute("ALTER TABLE blobs DROP COLUMN refs")
    counting = next(number for number, migration in enumerate(MIGRATIONS) if "ADD COLUMN refs" in migration)
    db.execute(f"PRAGMA user_version = {counting}")  # the later migrations run again too, as an upgrade would
    db.close()
    store = Store(str(data_dir))
    assert counts(store) == {shared: (2, False), other: (1, False), staged.blob_id: (1, False), leaked.blob_id: (0, True)}
    delete(store, "k", "v1")
    assert sweep(store, grace=3600) == 1  # the leaked blob only
    delete(store, "k", "v2")
    store.abort_upload("bucket", "mp", "u1")
    assert sweep(store, grace=3600) == 2
    assert read(store, store.get_version("bucket", "other")) == b"other"
