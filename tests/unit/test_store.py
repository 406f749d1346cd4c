"""The Store in-process: versions, listing order and roll-ups, multipart commits, blob reclamation, the sweeper."""

from __future__ import annotations

import io
import os
import sqlite3
import stat
import time

import pytest

from wsgi_s3.backend.listing import list_page
from wsgi_s3.model import errors
from wsgi_s3.model.types import ObjectMeta, ObjectVersion, Segment, StoredPart, StoredVersion, Upload
from wsgi_s3.model.versions import HybridClock
from wsgi_s3.store.schema import MIGRATIONS
from wsgi_s3.store.store import Store
from wsgi_s3.store.sweeper import Sweeper


@pytest.fixture
def store(tmp_path):
    store = Store(str(tmp_path / "data"))
    store.create_bucket("bucket", "us-east-1", "owner")
    return store


def put(store: Store, key: str, data: bytes, version_id: str = "null", timestamp: int | None = None, origin: str = "") -> StoredVersion:
    staged = store.stage(io.BytesIO(data))
    version = StoredVersion(
        "bucket", key, version_id, timestamp or time.time_ns(), len(data), ObjectMeta(etag="e"), segments=(Segment(staged.blob_id, staged.size),),
        origin=origin,
    )
    return store.commit_version(version)


def read(store: Store, version: StoredVersion, start: int = 0, length: int | None = None) -> bytes:
    stream = store.read(version, start, version.size if length is None else length)
    data = stream.read() if hasattr(stream, "read") else b"".join(stream)
    if hasattr(stream, "close"):
        stream.close()
    return data


def blob_files(store: Store) -> list[str]:
    return [name for _, _, names in os.walk(store.blobs.blob_root) for name in names]


def listing(store: Store, **options) -> object:
    """A page of the bucket's listing, with the store as the source."""
    return list_page(lambda *window: store.entries_after("bucket", *window), **options)


def delete(store: Store, key: str, version_id: str = "null", stamp: int | None = None, origin: str = "") -> ObjectVersion | None:
    return store.delete_version("bucket", key, version_id, stamp or time.time_ns(), origin)


def sweep(store: Store, grace: float = 0, reclaim_grace: float = 0, tombstone_grace: float = 3600) -> int:
    return Sweeper(store, orphan_grace=grace, reclaim_grace=reclaim_grace, tombstone_grace=tombstone_grace).run_once().total


def age(path: str, seconds: float) -> None:
    """Make a file look `seconds` old to the sweeper."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_overwrite_of_null_version_frees_the_old_blob_after_the_reclaim_grace(store):
    put(store, "k", b"one")
    put(store, "k", b"two")
    assert read(store, store.get_version("bucket", "k")) == b"two"
    assert len(blob_files(store)) == 2  # the old one is freed, not gone: a reader may have just found it
    assert sweep(store, reclaim_grace=3600) == 0
    assert sweep(store, reclaim_grace=0) == 1
    assert len(blob_files(store)) == 1
    assert read(store, store.get_version("bucket", "k")) == b"two"


def test_a_reader_keeps_every_segment_of_what_it_opened(store):
    blobs = [store.stage(io.BytesIO(data)) for data in (b"first-", b"second-", b"third")]
    version = StoredVersion("bucket", "mp", "null", 1, 18, ObjectMeta(etag="x-3"), segments=tuple(Segment(b.blob_id, b.size) for b in blobs))
    store.commit_version(version)
    stream = store.read(store.get_version("bucket", "mp"), 0, 18)
    assert stream.read(6) == b"first-"
    delete(store, "mp")
    assert sweep(store) == 3 and blob_files(store) == []  # reclaimed while the reader is mid-way
    rest = b"".join(iter(lambda: stream.read(4), b""))
    stream.close()
    assert rest == b"second-third"


def test_reading_a_version_whose_blobs_were_reclaimed_is_not_found(store):
    version = put(store, "k", b"data")
    delete(store, "k")
    sweep(store)
    with pytest.raises(errors.NotFound):
        store.read(version, 0, 4)


def test_out_of_order_commits_keep_the_newest_latest(store):
    put(store, "k", b"new", version_id="v2", timestamp=2_000)
    put(store, "k", b"old", version_id="v1", timestamp=1_000)
    assert store.get_version("bucket", "k").version_id == "v2"
    delete(store, "k", "v2")
    assert store.get_version("bucket", "k").version_id == "v1"


def test_the_null_version_keeps_the_newest_stamp_whatever_the_arrival_order(store):
    put(store, "k", b"written at 2000", timestamp=2_000)
    late = put(store, "k", b"written at 1000", timestamp=1_000)  # a replica hears of the older write last
    assert not late.is_latest
    assert read(store, store.get_version("bucket", "k")) == b"written at 2000"
    assert len(blob_files(store)) == 1  # the losing write's blob was never adopted
    put(store, "k", b"written at 3000", timestamp=3_000)
    assert read(store, store.get_version("bucket", "k")) == b"written at 3000"


@pytest.mark.parametrize("arrival", [("gateway-a", "gateway-b"), ("gateway-b", "gateway-a")])
def test_equal_stamps_are_ordered_by_writer(store, arrival):
    for origin in arrival:
        put(store, "k", origin.encode(), timestamp=5_000, origin=origin)
    assert read(store, store.get_version("bucket", "k")) == b"gateway-b"


def test_a_replayed_commit_changes_nothing(store):
    first = put(store, "k", b"once", version_id="v1", timestamp=1_000, origin="g")
    replay = StoredVersion("bucket", "k", "v1", 1_000, 4, ObjectMeta(etag="e"), segments=(Segment(store.stage(io.BytesIO(b"once")).blob_id, 4),), origin="g")
    store.commit_version(replay)
    assert store.get_version("bucket", "k").segments == first.segments
    assert len(blob_files(store)) == 1


def test_a_write_older_than_a_delete_never_brings_the_object_back(store):
    put(store, "k", b"first", timestamp=1_000)
    assert delete(store, "k", stamp=3_000).size == 5
    late = put(store, "k", b"written at 2000, heard of late", timestamp=2_000)
    assert not late.is_latest
    with pytest.raises(errors.NotFound):
        store.get_version("bucket", "k")
    assert listing(store).objects == []
    put(store, "k", b"written after the delete", timestamp=4_000)
    assert read(store, store.get_version("bucket", "k")) == b"written after the delete"


def test_a_delete_older_than_the_write_there_deletes_nothing(store):
    put(store, "k", b"newer", timestamp=5_000)
    assert delete(store, "k", stamp=4_000) is None
    assert read(store, store.get_version("bucket", "k")) == b"newer"


def test_a_version_delete_is_a_tombstone_and_the_next_newest_becomes_latest(store):
    put(store, "k", b"one", version_id="v1", timestamp=1_000)
    put(store, "k", b"two", version_id="v2", timestamp=2_000)
    delete(store, "k", "v2", stamp=3_000)
    assert store.get_version("bucket", "k").version_id == "v1"
    with pytest.raises(errors.NotFound):
        store.get_version("bucket", "k", "v2")
    put(store, "k", b"two, replayed by a replica", version_id="v2", timestamp=2_000)
    assert store.get_version("bucket", "k").version_id == "v1"  # the tombstone is newer than the replay


def test_a_delete_of_a_version_not_seen_yet_waits_for_it(store):
    delete(store, "k", "v9", stamp=3_000)
    put(store, "k", b"arrives after its delete", version_id="v9", timestamp=2_000)
    with pytest.raises(errors.NotFound):
        store.get_version("bucket", "k")


def test_tombstones_are_reclaimed_after_their_grace_and_do_not_keep_a_bucket(store):
    two_hours_ago = time.time_ns() - 7200 * 10**9
    put(store, "k", b"x", timestamp=two_hours_ago - 1)
    delete(store, "k", stamp=two_hours_ago)
    delete(store, "young")
    reclaim = lambda grace: Sweeper(store, orphan_grace=3600, reclaim_grace=3600, tombstone_grace=grace).run_once().tombstones  # noqa: E731
    assert reclaim(3600) == 1  # the old one; the young one stays
    assert reclaim(0) == 1
    store.delete_bucket("bucket")  # tombstones alone do not make a bucket "not empty"
    store.create_bucket("bucket", "us-east-1", "owner")
    put(store, "young", b"a new bucket of the same name", timestamp=1)
    assert read(store, store.get_version("bucket", "young")) == b"a new bucket of the same name"


def test_the_hybrid_clock_never_runs_backwards():
    readings = iter([5_000, 4_000, 4_000, 6_000])
    clock = HybridClock("writer", wall=lambda: next(readings))
    assert [clock.stamp() for _ in range(4)] == [5_000, 5_001, 5_002, 6_000]


def test_a_failed_commit_removes_its_staged_blob_whatever_the_error(store, monkeypatch):
    staged = store.stage(io.BytesIO(b"data"))
    version = StoredVersion("bucket", "k", "null", time.time_ns(), 4, ObjectMeta(etag="e"), segments=(Segment(staged.blob_id, 4),))
    monkeypatch.setattr("wsgi_s3.store.metadata._insert_version", lambda *args: (_ for _ in ()).throw(sqlite3.OperationalError("disk I/O error")))
    with pytest.raises(sqlite3.OperationalError):
        store.commit_version(version)
    assert blob_files(store) == []


def test_a_write_waits_for_the_lock_then_is_busy_and_leaves_nothing(tmp_path):
    store = Store(str(tmp_path / "data"), lock_timeout=0.3)
    store.create_bucket("bucket", "us-east-1", "owner")
    holder = sqlite3.connect(os.path.join(store.data_dir, "meta.db"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(errors.Busy):
            put(store, "k", b"data")
        assert store.get_bucket("bucket").name == "bucket"  # reads go on meanwhile (WAL)
    finally:
        holder.execute("ROLLBACK")
    assert blob_files(store) == []
    assert read(store, put(store, "k", b"data")) == b"data"


def test_conditional_create_is_checked_inside_the_commit(store):
    put(store, "k", b"first")
    staged = store.stage(io.BytesIO(b"second"))
    version = StoredVersion("bucket", "k", "null", time.time_ns(), 6, ObjectMeta(etag="e"), segments=(Segment(staged.blob_id, 6),))
    with pytest.raises(errors.PreconditionFailed):
        store.commit_version(version, if_none_match=True)
    assert read(store, store.get_version("bucket", "k")) == b"first"
    assert len(blob_files(store)) == 1  # the losing write's blob is gone


def test_ranges_across_segments(store):
    a, b = store.stage(io.BytesIO(b"abcdef")), store.stage(io.BytesIO(b"ghij"))
    version = StoredVersion("bucket", "mp", "null", 1, 10, ObjectMeta(etag="x-2"), segments=(Segment(a.blob_id, 6), Segment(b.blob_id, 4)))
    store.commit_version(version)
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
    page = listing(store, delimiter="/")
    assert [v.key for v in page.objects] == ["a", "e", "z", "é"]
    assert page.common_prefixes == ["dir/"]
    first = listing(store, delimiter="/", max_keys=2)
    assert [v.key for v in first.objects] == ["a"] and first.common_prefixes == ["dir/"] and first.is_truncated
    rest = listing(store, delimiter="/", marker=first.next_marker)
    assert [v.key for v in rest.objects] == ["e", "z", "é"] and not rest.is_truncated
    assert [v.key for v in listing(store, prefix="dir/").objects] == ["dir/1", "dir/2", "dir/sub/3"]


@pytest.mark.parametrize("delimiter", ["\U0010ffff", "\ud7ff", "a\U0010ffff"])
def test_listing_rolls_up_under_the_highest_characters(store, delimiter):
    keys = [f"x{delimiter}1", f"x{delimiter}2", f"y{delimiter}", "\U0010ffff\U0010ffff", "\ue000"]
    for key in keys:
        put(store, key, b"")
    page = listing(store, delimiter=delimiter)
    listed = sorted([*(v.key for v in page.objects), *page.common_prefixes], key=lambda k: k.encode())
    expected = {k[: k.find(delimiter) + len(delimiter)] if delimiter in k else k for k in keys}
    assert listed == sorted(expected, key=lambda k: k.encode())
    again = listing(store, delimiter=delimiter, marker=page.common_prefixes[-1])
    assert page.common_prefixes[-1] not in again.common_prefixes


def test_listing_skips_a_large_prefix_in_one_seek(store, monkeypatch):
    for index in range(3000):
        put(store, f"big/{index:05d}", b"")
    put(store, "small", b"")
    calls = []
    original = store.meta.entries_after
    monkeypatch.setattr(store.meta, "entries_after", lambda *args: calls.append(args) or original(*args))
    page = listing(store, delimiter="/")
    assert page.common_prefixes == ["big/"] and [v.key for v in page.objects] == ["small"]
    assert len(calls) <= 3  # not 3000 keys walked in batches


def test_delete_markers_hide_keys_from_listing(store):
    put(store, "k", b"x", version_id="v1", timestamp=1)
    marker = StoredVersion("bucket", "k", "v2", 2, 0, ObjectMeta(etag=""), delete_marker=True)
    store.commit_version(marker)
    assert listing(store).objects == []
    assert store.get_version("bucket", "k").delete_marker


def test_complete_upload_is_one_step_and_frees_unused_parts(store):
    upload = Upload("u1", "bucket", "mp", 1, ObjectMeta(etag=""))
    store.create_upload(upload)
    parts = []
    for number, data in enumerate([b"aaa", b"bbb", b"unused"], start=1):
        staged = store.stage(io.BytesIO(data))
        part = StoredPart(number, "etag", staged.size, 1, blob_id=staged.blob_id)
        store.put_part("u1", part)
        parts.append(part)
    version = ObjectVersion("bucket", "mp", "null", 5, 6, ObjectMeta(etag="x-2"))
    store.complete_upload("u1", version, parts[:2])
    assert read(store, store.get_version("bucket", "mp")) == b"aaabbb"
    assert sweep(store) == 1 and len(blob_files(store)) == 2  # the unused part's blob was freed
    with pytest.raises(errors.NotFound):
        store.get_upload("bucket", "mp", "u1")
    with pytest.raises(errors.NotFound):
        store.complete_upload("u1", version, parts[:2])


def _upload_with_parts(store: Store, *contents: bytes) -> list[StoredPart]:
    store.create_upload(Upload("u1", "bucket", "mp", 1, ObjectMeta(etag="")))
    parts = []
    for number, data in enumerate(contents, start=1):
        staged = store.stage(io.BytesIO(data))
        parts.append(StoredPart(number, f"etag-{data.decode()}", staged.size, 1, blob_id=staged.blob_id))
        store.put_part("u1", parts[-1])
    return parts


def test_complete_uses_the_parts_as_they_are_at_commit_time(store):
    validated = _upload_with_parts(store, b"aaa", b"bbb")
    # Part 1 is uploaded again (same bytes, same ETag) after Complete read the parts list.
    again = store.stage(io.BytesIO(b"aaa"))
    store.put_part("u1", StoredPart(1, "etag-aaa", 3, 2, blob_id=again.blob_id))
    store.complete_upload("u1", ObjectVersion("bucket", "mp", "null", 5, 6, ObjectMeta(etag="x-2")), validated)
    sweep(store)  # reclaims the first upload of part 1, which the object must not use
    assert read(store, store.get_version("bucket", "mp")) == b"aaabbb"


def test_complete_refuses_a_part_replaced_by_different_bytes(store):
    validated = _upload_with_parts(store, b"aaa", b"bbb")
    other = store.stage(io.BytesIO(b"zzz"))
    store.put_part("u1", StoredPart(1, "etag-zzz", 3, 2, blob_id=other.blob_id))
    with pytest.raises(errors.NotFound) as exc:
        store.complete_upload("u1", ObjectVersion("bucket", "mp", "null", 5, 6, ObjectMeta(etag="x-2")), validated)
    assert exc.value.what == "part"
    assert store.get_upload("bucket", "mp", "u1")  # nothing changed
    with pytest.raises(errors.NotFound):
        store.get_version("bucket", "mp")


def test_sweeper_removes_orphans_and_dead_temp_files_but_not_live_blobs(store):
    put(store, "live", b"keep me")
    orphan = store.stage(io.BytesIO(b"never committed"))
    tmp_file = os.path.join(store.blobs.tmp_dir, "dead.tmp")
    with open(tmp_file, "wb") as handle:
        handle.write(b"partial")
    assert sweep(store, grace=3600) == 0  # too young
    assert sweep(store, grace=0) == 2
    assert not os.path.exists(store.blobs.path(orphan.blob_id)) and not os.path.exists(tmp_file)
    assert read(store, store.get_version("bucket", "live")) == b"keep me"


def test_sweeper_never_removes_a_temp_file_a_live_writer_holds(store):
    import fcntl

    tmp_file = os.path.join(store.blobs.tmp_dir, "slow.tmp")
    with open(tmp_file, "wb") as writer:
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX)
        age(tmp_file, 7200)
        assert sweep(store, grace=3600) == 0
        assert os.path.exists(tmp_file)
    assert sweep(store, grace=3600) == 1  # the writer is gone: now it is a dead one's


def test_a_commit_after_its_staged_blob_was_swept_fails_and_shows_nothing(store):
    staged = store.stage(io.BytesIO(b"slow"))
    age(store.blobs.path(staged.blob_id), 7200)
    assert sweep(store, grace=3600) == 1
    version = StoredVersion("bucket", "k", "null", time.time_ns(), 4, ObjectMeta(etag="e"), segments=(Segment(staged.blob_id, 4),))
    with pytest.raises(errors.Unavailable):
        store.commit_version(version)
    with pytest.raises(errors.NotFound):
        store.get_version("bucket", "k")


def test_sweeper_keeps_old_committed_blobs_and_skips_files_that_vanish(store, monkeypatch):
    version = put(store, "k", b"old but live")
    age(store.blobs.path(version.segments[0].blob_id), 7200)
    from wsgi_s3.store import sweeper

    real_files = sweeper._files
    monkeypatch.setattr(sweeper, "_files", lambda root, cutoff, depth=0: [*real_files(root, cutoff, depth), os.path.join(root, "vanished")])
    assert sweep(store, grace=3600) == 0
    assert read(store, store.get_version("bucket", "k")) == b"old but live"


def test_data_files_are_private_to_the_service(store):
    put(store, "k", b"secret")
    mode = lambda path: stat.S_IMODE(os.stat(path).st_mode)  # noqa: E731
    assert mode(store.data_dir) == 0o700
    assert mode(os.path.join(store.data_dir, "meta.db")) == 0o600
    for root, dirs, files in os.walk(store.data_dir):
        assert all(mode(os.path.join(root, d)) == 0o700 for d in dirs)
        assert all(mode(os.path.join(root, f)) == 0o600 for f in files), root


def test_a_store_of_the_first_schema_knows_its_blobs_after_migrating(tmp_path):
    data_dir = tmp_path / "data"
    blob_ids = ["aa" * 16, "bb" * 16]
    for blob_id, data in zip(blob_ids, (b"from before", b"part")):
        path = data_dir / "blobs" / blob_id[:2] / blob_id[2:4] / blob_id
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
        age(str(path), 7200)
    db = sqlite3.connect(data_dir / "meta.db", isolation_level=None)
    db.executescript(MIGRATIONS[0] + ";PRAGMA user_version = 1")
    db.execute("INSERT INTO buckets (name, created_ns, region) VALUES ('bucket', 1, 'us-east-1')")
    db.execute(
        "INSERT INTO versions VALUES ('bucket', 'k', 'null', 1, 1, 0, 11, ?, ?)", ('{"etag": "e"}', f'[["{blob_ids[0]}", 11]]')
    )
    db.execute("INSERT INTO uploads VALUES ('u1', 'bucket', 'mp', 1, '{\"etag\": \"\"}', '')")
    db.execute("INSERT INTO parts VALUES ('u1', 1, 'e', 4, 1, ?, '{}')", (blob_ids[1],))
    db.close()
    store = Store(str(data_dir))
    assert sweep(store, grace=3600) == 0  # neither the object's blob nor the part's is an orphan
    assert read(store, store.get_version("bucket", "k")) == b"from before"
    assert store.get_version("bucket", "k").origin == ""



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
