"""backend/cluster.py VersionMerge: several nodes' version streams (each in key order, each key's
newest first, tombstones included) merged into one history."""

from __future__ import annotations

from wsgi_s3.backend.cluster import VersionMerge
from wsgi_s3.model.types import VersionEntry


def record(key: str, version_id: str, at: int, *, tombstone: bool = False, origin: str = "g") -> VersionEntry:
    return VersionEntry(key, version_id, at, origin, "e", 1, tombstone=tombstone)


def listed(streams: list[list[VersionEntry]], merge: VersionMerge | None = None) -> list[tuple[str, str, int]]:
    return [(r.key, r.version_id, r.timestamp_ns) for r in (merge or VersionMerge()).winners(streams)]


def test_streams_interleave_in_key_order_and_each_keys_newest_first():
    a = [record("a", "v2", 20), record("b", "v1", 5)]
    b = [record("a", "v3", 30), record("a", "v1", 10), record("c", "v1", 1)]
    assert listed([a, b]) == [("a", "v3", 30), ("a", "v2", 20), ("a", "v1", 10), ("b", "v1", 5), ("c", "v1", 1)]


def test_equal_stamps_are_ordered_by_writer_then_id_newest_first():
    a = [record("k", "x", 7, origin="a")]
    b = [record("k", "y", 7, origin="b"), record("k", "z", 7, origin="a")]
    assert [v for _, v, _ in listed([a, b])] == ["y", "z", "x"]


def test_a_version_on_several_nodes_is_listed_once():
    same = [record("k", "v1", 10)]
    assert listed([same, list(same), list(same)]) == [("k", "v1", 10)]


def test_a_tombstone_on_one_node_hides_the_version_the_others_still_hold():
    holder = [record("k", "v2", 20), record("k", "v1", 10)]
    deleter = [record("k", "v1", 30, tombstone=True), record("k", "v2", 20)]
    assert listed([holder, holder[:], deleter]) == [("k", "v2", 20)]


def test_a_write_newer_than_a_tombstone_wins_over_it():
    assert listed([[record("k", "null", 40)], [record("k", "null", 30, tombstone=True)]]) == [("k", "null", 40)]


def test_the_newest_null_version_is_listed_at_its_place_and_stale_ones_dropped():
    fresh = [record("k", "null", 30), record("k", "v1", 20)]
    stale = [record("k", "v1", 20), record("k", "null", 10)]
    assert listed([fresh, stale]) == [("k", "null", 30), ("k", "v1", 20)]


def test_one_merge_remembers_a_keys_versions_across_fetches():
    merge = VersionMerge()
    assert listed([[record("k", "v1", 30, tombstone=True), record("k", "v2", 20)]], merge) == [("k", "v2", 20)]
    # The next fetch goes on after v2; a node that missed the delete still sends v1.
    assert listed([[record("k", "v1", 10), record("m", "v1", 5)]], merge) == [("m", "v1", 5)]
