"""The Store in-process: versions, listing order and roll-ups, multipart commits, the sweeper."""

from __future__ import annotations

import io
import os
import time

import pytest

from wsgi_s3.model import errors
from wsgi_s3.model.types import ObjectMeta, ObjectVersion, Part, Segment, Upload
from wsgi_s3.store.store import Store
from wsgi_s3.store.sweeper import sweep


@pytest.fixture
def store(tmp_path):
    store = Store(str(tmp_path / "data"))
    store.create_bucket("bucket", "us-east-1", "owner")
    return store


def put(store: Store, key: str, data: bytes, version_id: str = "null", timestamp: int | None = None) -> ObjectVersion:
    staged = store.stage(io.BytesIO(data))
    version = ObjectVersion("bucket", key, version_id, timestamp or time.time_ns(), len(data), ObjectMeta(etag="e"), (Segment(staged.blob_id, staged.size),))
    return store.commit_version(version, replace_null=version_id == "null")


def read(store: Store, version: ObjectVersion, start: int = 0, length: int | None = None) -> bytes:
    stream = store.read(version, start, version.size if length is None else length)
    data = stream.read() if hasattr(stream, "read") else b"".join(stream)
    if hasattr(stream, "close"):
        stream.close()
    return data


def blob_files(store: Store) -> list[str]:
    return [name for _, _, names in os.walk(store.blobs.blob_root) for name in names]


def test_overwrite_of_null_version_frees_the_old_blob(store):
    put(store, "k", b"one")
    put(store, "k", b"two")
    assert read(store, store.get_version("bucket", "k")) == b"two"
    assert len(blob_files(store)) == 1


def test_out_of_order_commits_keep_the_newest_latest(store):
    put(store, "k", b"new", version_id="v2", timestamp=2_000)
    put(store, "k", b"old", version_id="v1", timestamp=1_000)
    assert store.get_version("bucket", "k").version_id == "v2"
    store.delete_version("bucket", "k", "v2")
    assert store.get_version("bucket", "k").version_id == "v1"


def test_conditional_create_is_checked_inside_the_commit(store):
    put(store, "k", b"first")
    staged = store.stage(io.BytesIO(b"second"))
    version = ObjectVersion("bucket", "k", "null", time.time_ns(), 6, ObjectMeta(etag="e"), (Segment(staged.blob_id, 6),))
    with pytest.raises(errors.PreconditionFailed):
        store.commit_version(version, replace_null=True, if_none_match=True)
    assert read(store, store.get_version("bucket", "k")) == b"first"
    assert len(blob_files(store)) == 1  # the losing write's blob is gone


def test_ranges_across_segments(store):
    a, b = store.stage(io.BytesIO(b"abcdef")), store.stage(io.BytesIO(b"ghij"))
    version = ObjectVersion("bucket", "mp", "null", 1, 10, ObjectMeta(etag="x-2"), (Segment(a.blob_id, 6), Segment(b.blob_id, 4)))
    store.commit_version(version, replace_null=True)
    assert read(store, version) == b"abcdefghij"
    assert read(store, version, 4, 4) == b"efgh"
    assert read(store, version, 6, 2) == b"gh"
    single = store.read(version, 1, 3)
    assert single.read(100) == b"bcd" and single.read(1) == b""  # a BlobRange stops at the range end
    single.close()


def test_listing_rolls_up_prefixes_and_pages(store):
    keys = ["a", "dir/1", "dir/2", "dir/sub/3", "e", "é", "z"]
    for key in keys:
        put(store, key, b"x")
    page = store.list_latest("bucket", delimiter="/")
    assert [v.key for v in page.objects] == ["a", "e", "z", "é"]
    assert page.common_prefixes == ["dir/"]
    first = store.list_latest("bucket", delimiter="/", max_keys=2)
    assert [v.key for v in first.objects] == ["a"] and first.common_prefixes == ["dir/"] and first.is_truncated
    rest = store.list_latest("bucket", delimiter="/", marker=first.next_marker)
    assert [v.key for v in rest.objects] == ["e", "z", "é"] and not rest.is_truncated
    assert [v.key for v in store.list_latest("bucket", prefix="dir/").objects] == ["dir/1", "dir/2", "dir/sub/3"]


def test_listing_skips_a_large_prefix_in_one_seek(store, monkeypatch):
    for index in range(3000):
        put(store, f"big/{index:05d}", b"")
    put(store, "small", b"")
    calls = []
    original = store.meta.latest_after
    monkeypatch.setattr(store.meta, "latest_after", lambda *args: calls.append(args) or original(*args))
    page = store.list_latest("bucket", delimiter="/")
    assert page.common_prefixes == ["big/"] and [v.key for v in page.objects] == ["small"]
    assert len(calls) <= 3  # not 3000 keys walked in batches


def test_delete_markers_hide_keys_from_listing(store):
    put(store, "k", b"x", version_id="v1", timestamp=1)
    marker = ObjectVersion("bucket", "k", "v2", 2, 0, ObjectMeta(etag=""), (), delete_marker=True)
    store.commit_version(marker, replace_null=False)
    assert store.list_latest("bucket").objects == []
    assert store.get_version("bucket", "k").delete_marker


def test_complete_upload_is_one_step_and_frees_unused_parts(store):
    upload = Upload("u1", "bucket", "mp", 1, ObjectMeta(etag=""))
    store.create_upload(upload)
    parts = []
    for number, data in enumerate([b"aaa", b"bbb", b"unused"], start=1):
        staged = store.stage(io.BytesIO(data))
        part = Part(number, "etag", staged.size, 1, staged.blob_id)
        store.put_part("u1", part)
        parts.append(part)
    version = ObjectVersion("bucket", "mp", "null", 5, 6, ObjectMeta(etag="x-2"), tuple(Segment(p.blob_id, p.size) for p in parts[:2]))
    store.complete_upload("u1", version, replace_null=True)
    assert read(store, store.get_version("bucket", "mp")) == b"aaabbb"
    assert len(blob_files(store)) == 2
    with pytest.raises(errors.NotFound):
        store.get_upload("bucket", "mp", "u1")
    with pytest.raises(errors.NotFound):
        store.complete_upload("u1", version, replace_null=True)


def test_sweeper_removes_orphans_and_temp_files_but_not_live_blobs(store):
    put(store, "live", b"keep me")
    orphan = store.stage(io.BytesIO(b"never committed"))
    tmp_file = os.path.join(store.blobs.tmp_dir, "dead.tmp")
    with open(tmp_file, "wb") as handle:
        handle.write(b"partial")
    assert sweep(store, grace_seconds=3600) == 0  # too young
    assert sweep(store, grace_seconds=0) == 2
    assert not os.path.exists(store.blobs.path(orphan.blob_id)) and not os.path.exists(tmp_file)
    assert read(store, store.get_version("bucket", "live")) == b"keep me"


def test_failed_stage_leaves_no_file(store):
    class Exploding(io.BytesIO):
        def read(self, size=-1):
            data = super().read(size)
            if not data:
                raise ValueError("digest mismatch at EOF")
            return data

    with pytest.raises(ValueError):
        store.stage(Exploding(b"x" * 100))
    assert blob_files(store) == [] and os.listdir(store.blobs.tmp_dir) == []


def test_bucket_rules(store):
    with pytest.raises(errors.AlreadyExists):
        store.create_bucket("bucket", "us-east-1", "owner")
    put(store, "k", b"x")
    with pytest.raises(errors.NotEmpty):
        store.delete_bucket("bucket")
    with pytest.raises(errors.NotFound):
        store.get_version("nope", "k")
