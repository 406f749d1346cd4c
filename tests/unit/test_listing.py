"""backend/listing.py over a real Store: S3's listing rules, and what a page costs in rows fetched."""

from __future__ import annotations

import io
import time

import pytest

from wsgi_s3.backend.listing import after_prefix, list_page
from wsgi_s3.model.types import ObjectMeta, Segment, StoredVersion
from wsgi_s3.store.store import Store


@pytest.fixture
def store(tmp_path):
    store = Store(str(tmp_path / "data"))
    store.create_bucket("bucket", "us-east-1", "owner")
    return store


def put(store: Store, key: str, *, marker: bool = False) -> None:
    segments = ()
    if not marker:
        staged = store.stage(io.BytesIO(b"x"))
        segments = (Segment(staged.blob_id, 1),)
    store.commit_version(
        StoredVersion("bucket", key, "null", time.time_ns(), 0 if marker else 1, ObjectMeta(etag="e"), delete_marker=marker, segments=segments)
    )


class CountingSource:
    """The store as a listing source, counting the rows a page made it read."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.rows = 0

    def __call__(self, after, inclusive, before, limit):
        found = self.store.entries_after("bucket", after, inclusive, before, limit)
        self.rows += len(found)
        return found


def test_the_source_gives_each_keys_newest_record_markers_included(store):
    put(store, "a")
    put(store, "b", marker=True)
    entries = store.entries_after("bucket", "", False, None, 10)
    assert [(e.key, e.delete_marker) for e in entries] == [("a", False), ("b", True)]
    assert entries[0].etag == "e" and entries[0].size == 1


def test_keys_whose_newest_version_is_a_delete_marker_are_not_listed_nor_rolled_up(store):
    for key in ("a", "dir/gone", "z"):
        put(store, key)
    put(store, "b", marker=True)
    put(store, "dir/gone", marker=True)
    page = list_page(CountingSource(store), delimiter="/")
    assert [e.key for e in page.objects] == ["a", "z"] and page.common_prefixes == []
    first = list_page(CountingSource(store), max_keys=1)
    assert [e.key for e in first.objects] == ["a"] and first.is_truncated


def test_a_full_page_followed_only_by_delete_markers_is_not_truncated(store):
    put(store, "a")
    put(store, "b", marker=True)
    page = list_page(CountingSource(store), max_keys=1)
    assert [e.key for e in page.objects] == ["a"] and not page.is_truncated


def test_one_key_costs_two_rows_not_a_batch(store):
    for index in range(50):
        put(store, f"k{index:03d}")
    source = CountingSource(store)
    page = list_page(source, max_keys=1)
    assert [e.key for e in page.objects] == ["k000"] and page.is_truncated
    assert source.rows == 2


@pytest.mark.parametrize("keys_per_prefix", [3, 60])
def test_a_delimiter_page_costs_the_same_however_many_keys_its_prefixes_hold(store, keys_per_prefix):
    for prefix in range(30):
        for index in range(keys_per_prefix):
            put(store, f"p{prefix:02d}/{index:03d}")
    source = CountingSource(store)
    page = list_page(source, delimiter="/", max_keys=10)
    assert page.common_prefixes == [f"p{n:02d}/" for n in range(10)] and page.is_truncated
    # Each prefix is skipped with one seek: at most one fetch (of at most 11 rows) per prefix shown,
    # whether a prefix holds 3 keys or 60.
    assert source.rows <= 11 * 11


def test_a_prefix_page_reads_no_row_past_the_prefix(store):
    for key in ("a/1", "a/2", "b/1", "b/2", "b/3", "c/1"):
        put(store, key)
    source = CountingSource(store)
    page = list_page(source, prefix="b/")
    assert [e.key for e in page.objects] == ["b/1", "b/2", "b/3"] and not page.is_truncated
    assert source.rows == 3


def test_after_prefix_steps_over_surrogates_and_ends_after_the_highest_character():
    assert after_prefix("a/") == "a0"
    assert after_prefix("a\ud7ff") == "a\ue000"
    assert after_prefix("a\U0010ffff") == "b"
    assert after_prefix("\U0010ffff\U0010ffff") is None
