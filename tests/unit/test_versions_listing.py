"""backend/listing.py list_versions_page over a real Store: what a page of versions costs in rows
fetched, whatever the bucket or the key's history holds, and the node wire form of a version entry."""

from __future__ import annotations

import pytest

from wsgi_s3.backend.listing import list_versions_page
from wsgi_s3.model.types import ObjectMeta, StoredVersion, VersionEntry
from wsgi_s3.model.versions import new_version_id
from wsgi_s3.node import protocol
from wsgi_s3.store.store import Store


@pytest.fixture
def store(tmp_path):
    store = Store(str(tmp_path / "data"))
    store.create_bucket("bucket", "us-east-1", "owner")
    return store


def put(store: Store, key: str, at: int) -> str:
    version_id = new_version_id(at)
    store.commit_version(StoredVersion("bucket", key, version_id, at, 0, ObjectMeta(etag="e"), origin="g"))
    return version_id


class CountingSource:
    """The store as a version source, counting the rows a page made it read."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.rows = 0

    def __call__(self, cursor, before, limit):
        found = self.store.versions_after("bucket", cursor.key, cursor.inclusive, cursor.position, before, limit)
        self.rows += len(found)
        return found


def page(store: Store, source: CountingSource, **options):
    return list_versions_page(source, lambda key, version_id: store.get_version("bucket", key, version_id), **options)


@pytest.mark.parametrize("history", [10, 300])
def test_a_page_resumed_inside_a_long_history_reads_one_row_more_than_it_lists(store, history):
    ids = [put(store, "k", 1_000 + n) for n in range(history)]
    put(store, "later", 5)
    source = CountingSource(store)
    middle = ids[history // 2]
    found = page(store, source, key_marker="k", version_id_marker=middle, max_keys=3)
    assert [v.version_id for v in found.versions] == ids[history // 2 - 1 : history // 2 - 4 : -1]
    assert not any(v.is_latest for v in found.versions) and found.is_truncated
    assert source.rows == 4


@pytest.mark.parametrize("versions_per_key", [2, 40])
def test_a_delimiter_page_costs_the_same_however_many_versions_its_prefixes_hold(store, versions_per_key):
    for prefix in range(20):
        for n in range(versions_per_key):
            put(store, f"p{prefix:02d}/k", 1_000 + n)
    source = CountingSource(store)
    found = page(store, source, delimiter="/", max_keys=5)
    assert found.common_prefixes == [f"p{n:02d}/" for n in range(5)] and found.is_truncated
    assert source.rows <= 6 * 6  # one fetch (at most 6 rows) per prefix shown, then one seek past it


def test_tombstones_are_not_listed_nor_fetched_for_the_embedded_listing(store):
    gone = put(store, "k", 1_000)
    kept = put(store, "k", 2_000)
    store.delete_version("bucket", "k", gone, 3_000, "g")
    source = CountingSource(store)
    assert [v.version_id for v in page(store, source).versions] == [kept] and source.rows == 1
    with_tombstones = store.versions_after("bucket", "", False, None, None, 10, tombstones=True)
    assert [(v.version_id, v.tombstone) for v in with_tombstones] == [(gone, True), (kept, False)]


def test_a_version_entry_crosses_the_wire_unchanged():
    entry = VersionEntry("k/é", "null", 12, "gw", "etag", 3, ("CRC32",), "FULL_OBJECT", False, True, True)
    assert protocol.version_entry_from(protocol.version_entry_json(entry)) == entry
    assert protocol.position_from(*protocol.position_query((5, "o", "v")).values()) == (5, "o", "v")
    with pytest.raises(protocol.BadRequest):
        protocol.position_from("5", None, "v")
