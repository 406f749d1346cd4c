"""ListObjectVersions through the Backend: every version and delete marker in key order, each key's
newest first, with prefix, delimiter and (key, version id) marker pagination, checked against a
brute-force model of one history of overwrites, null versions, delete markers and deleted versions."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.contract.conftest import MemoryBody, stamp
from wsgi_s3.backend.base import Backend
from wsgi_s3.model.types import VersionPage
from wsgi_s3.model.versions import NULL_VERSION, VersionStamp, new_version_id


@dataclass(frozen=True)
class Made:
    key: str
    version_id: str
    position: tuple[int, str, str]
    marker: bool
    size: int


class History:
    """Writes through a Backend, and the versions S3 would then hold (the model)."""

    def __init__(self, backend: Backend, bucket: str) -> None:
        self.backend, self.bucket = backend, bucket
        self.versions: dict[tuple[str, str], Made] = {}

    def _stamp(self, versioned: bool) -> VersionStamp:
        made = stamp()
        return VersionStamp(new_version_id(made.timestamp_ns), made.timestamp_ns, made.origin) if versioned else made

    def put(self, key: str, data: bytes, versioned: bool = True) -> str:
        stamp = self._stamp(versioned)
        self.backend.put_object(self.bucket, key, MemoryBody(data), stamp)
        self.versions[(key, stamp.version_id)] = Made(key, stamp.version_id, (stamp.timestamp_ns, stamp.origin, stamp.version_id), False, len(data))
        return stamp.version_id

    def mark(self, key: str) -> str:
        stamp = self._stamp(True)
        self.backend.put_delete_marker(self.bucket, key, stamp)
        self.versions[(key, stamp.version_id)] = Made(key, stamp.version_id, (stamp.timestamp_ns, stamp.origin, stamp.version_id), True, 0)
        return stamp.version_id

    def remove(self, key: str, version_id: str) -> None:
        self.backend.delete_version(self.bucket, key, stamp(version_id))
        self.versions.pop((key, version_id), None)

    def model(self, prefix: str = "", delimiter: str = "") -> list[tuple[str, str | None, bool]]:
        """(key or common prefix, version id or None for a prefix, is latest) in S3's order."""
        by_key: dict[str, list[Made]] = {}
        for made in self.versions.values():
            by_key.setdefault(made.key, []).append(made)
        listing: list[tuple[str, str | None, bool]] = []
        for key in sorted(by_key, key=str.encode):
            if not key.startswith(prefix):
                continue
            cut = key.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                common = (key[: cut + len(delimiter)], None, False)
                if common not in listing:
                    listing.append(common)
                continue
            history = sorted(by_key[key], key=lambda v: v.position, reverse=True)
            listing += [(key, made.version_id, index == 0) for index, made in enumerate(history)]
        return listing


def entries_of(page: VersionPage) -> list[tuple[str, str | None, bool]]:
    versions = [(v.key, v.version_id, v.is_latest) for v in page.versions]
    prefixes = [(p, None, False) for p in page.common_prefixes]
    return sorted(versions + prefixes, key=lambda entry: entry[0].encode()) if prefixes else versions


def walk(backend: Backend, bucket: str, prefix: str, delimiter: str, max_keys: int) -> list[tuple[str, str | None, bool]]:
    """Every page, each resumed at the last page's next markers, as a client pages."""
    found: list[tuple[str, str | None, bool]] = []
    key_marker, version_marker = "", None
    for _ in range(1000):
        page = backend.list_versions(bucket, prefix, delimiter, key_marker, version_marker, max_keys)
        entries = entries_of(page)
        assert len(entries) <= max_keys
        found += entries
        if not page.is_truncated:
            return found
        assert entries and page.next_key_marker == entries[-1][0] and page.next_version_id_marker == entries[-1][1]
        key_marker, version_marker = page.next_key_marker, page.next_version_id_marker
    raise AssertionError("the listing never ended")


@pytest.fixture
def history(backend: Backend, bucket: str) -> History:
    made = History(backend, bucket)
    for key in ["a", "a/b", "a/c/d", "b", "photos/1.jpg", "photos/2/x", "é", "\U0001f600"]:
        made.put(key, key.encode())
    for key in ["a", "a/c/d", "photos/1.jpg", "\U0001f600"]:
        made.put(key, b"again " + key.encode())
    made.put("a", b"third")
    made.mark("b")  # b's latest is a delete marker
    made.mark("photos/2/x")
    made.put("photos/2/x", b"back")  # a marker that is no longer latest
    made.put("n", b"null one", versioned=False)
    made.put("n", b"one versioned")
    made.put("n", b"null two", versioned=False)  # replaces the null version, now the newest
    made.put("gone", b"soon gone")
    made.remove("gone", made.put("gone", b"deleted by id"))  # a version deleted: a tombstone, never listed
    made.remove("\U0001f600", [v for (k, v) in made.versions if k == "\U0001f600"][0])
    return made


def test_every_version_is_listed_in_key_order_newest_first(backend: Backend, history: History) -> None:
    page = backend.list_versions(history.bucket, "", "", "", None, 1000)
    assert entries_of(page) == history.model()
    assert (page.is_truncated, page.common_prefixes) == (False, [])
    null = [v for v in page.versions if v.key == "n"]
    assert [v.version_id for v in null][0] == NULL_VERSION and len(null) == 2


def test_versions_and_markers_carry_what_the_listing_shows(backend: Backend, history: History) -> None:
    page = backend.list_versions(history.bucket, "", "", "", None, 1000)
    for entry in page.versions:
        made = history.versions[(entry.key, entry.version_id)]
        assert (entry.delete_marker, entry.size, entry.timestamp_ns) == (made.marker, made.size, made.position[0])
        if not made.marker:
            head = backend.head_object(history.bucket, entry.key, entry.version_id)
            assert entry.etag == head.etag


def test_pages_resumed_at_the_next_markers_give_the_listing_s3_would(backend: Backend, history: History) -> None:
    for prefix in ["", "a", "a/", "photos/", "n", "nothing"]:
        for delimiter in ["", "/"]:
            for max_keys in [1, 2, 3, 1000]:
                assert walk(backend, history.bucket, prefix, delimiter, max_keys) == history.model(prefix, delimiter), (prefix, delimiter, max_keys)


def test_a_key_marker_alone_skips_every_version_of_that_key(backend: Backend, history: History) -> None:
    page = backend.list_versions(history.bucket, "", "", "a", None, 1000)
    assert entries_of(page) == [entry for entry in history.model() if entry[0].encode() > b"a"]


def test_a_version_marker_resumes_inside_its_keys_history(backend: Backend, history: History) -> None:
    listing = history.model()
    a_versions = [entry for entry in listing if entry[0] == "a"]
    page = backend.list_versions(history.bucket, "", "", "a", a_versions[0][1], 2)
    assert entries_of(page) == a_versions[1:3]  # older versions of "a", none of them latest
    assert (page.next_key_marker, page.next_version_id_marker) == ("a", a_versions[2][1])


def test_a_listing_resumes_after_its_marker_version_was_deleted(backend: Backend, history: History) -> None:
    # A client emptying a bucket page by page deletes what a page listed before asking for the next.
    page = backend.list_versions(history.bucket, "", "", "", None, 2)
    for entry in page.versions:
        history.remove(entry.key, entry.version_id)
    rest = backend.list_versions(history.bucket, "", "", page.next_key_marker, page.next_version_id_marker, 1000)
    assert entries_of(rest) == history.model()


def test_a_deleted_null_marker_relists_its_key_from_its_newest(backend: Backend, history: History) -> None:
    history.remove("n", NULL_VERSION)
    rest = backend.list_versions(history.bucket, "", "", "n", NULL_VERSION, 1000)
    assert entries_of(rest) == [entry for entry in history.model() if entry[0].encode() >= b"n"]
