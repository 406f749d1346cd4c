"""Listing the latest objects: prefix, delimiter roll-up, max_keys and marker pagination, all in
UTF-8 byte order, checked against a model of S3's rules on one set of keys.

Delete markers hidden from listings are not tested here: a delete marker needs a versioned bucket,
and versioning cannot be set through a Backend yet."""

from __future__ import annotations

import pytest

from tests.contract.conftest import put, stamp
from wsgi_s3.backend.base import Backend
from wsgi_s3.model.types import ListPage

# S3 lists in UTF-8 byte order. Keys on both sides of the UTF-16 surrogate range catch a backend
# that sorts UTF-16 code units (Java, JavaScript, some collations): there U+1F600 sorts before
# U+E000 and U+FF5E; in UTF-8 after them.
KEYS = [
    "a", "a-b", "a.b", "a/", "a/b", "a/b/c", "a/c", "b",
    "photos/2024/x.jpg", "photos/2024/y.jpg", "photos/2025/z.jpg", "photos/index.html", "photos/é/1", "photos/\U0001f600/2",
    "z", "é", "\ud7ff", "\ue000", "\uff5e", "\U0001f600", "\U0001f600/in", "\U0010ffff",
]


@pytest.fixture
def listed(backend: Backend, bucket: str) -> str:
    for key in KEYS:
        put(backend, bucket, key, key.encode())
    return bucket


def utf8_order(keys: list[str]) -> list[str]:
    return sorted(keys, key=lambda key: key.encode())


def model(prefix: str, delimiter: str, marker: str = "") -> list[tuple[str, bool]]:
    """S3's listing of KEYS as (key or common prefix, is_prefix), in order: the keys after the
    marker that start with the prefix, rolled up at the first delimiter after the prefix."""
    entries: list[tuple[str, bool]] = []
    for key in utf8_order(KEYS):
        if not key.startswith(prefix) or key.encode() <= marker.encode():
            continue
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        entry = (key[: cut + len(delimiter)], True) if cut >= 0 else (key, False)
        if entry not in entries:
            entries.append(entry)
    return entries


def entries_of(page: ListPage) -> list[tuple[str, bool]]:
    """A page's objects and common prefixes merged in one order (each list must be in order already)."""
    keys, prefixes = [v.key for v in page.objects], page.common_prefixes
    assert keys == utf8_order(keys) and prefixes == utf8_order(prefixes)
    return sorted([(key, False) for key in keys] + [(common, True) for common in prefixes], key=lambda entry: entry[0].encode())


def walk(backend: Backend, bucket: str, prefix: str, delimiter: str, max_keys: int) -> list[tuple[str, bool]]:
    """Every page from the start, each resumed at the last page's next_marker."""
    entries: list[tuple[str, bool]] = []
    marker = ""
    while True:
        page = backend.list_objects(bucket, prefix, delimiter, marker, max_keys)
        found = entries_of(page)
        assert len(found) <= max_keys
        entries += found
        if not page.is_truncated:
            return entries
        assert found and page.next_marker == found[-1][0]  # the last entry listed: the next page moves on
        marker = page.next_marker


def test_one_page_lists_every_key_in_utf8_byte_order(backend: Backend, listed: str) -> None:
    page = backend.list_objects(listed, "", "", "", 1000)
    assert [v.key for v in page.objects] == utf8_order(KEYS)
    assert (page.common_prefixes, page.is_truncated) == ([], False)


def test_listed_objects_carry_their_size_and_etag(backend: Backend, listed: str) -> None:
    for version in backend.list_objects(listed, "photos/", "", "", 1000).objects:
        head = backend.head_object(listed, version.key)
        assert (version.size, version.etag) == (len(version.key.encode()), head.etag)


def test_pages_resumed_at_next_marker_give_the_listing_s3_would(backend: Backend, listed: str) -> None:
    # One bucket for every combination: filling a bucket per case would make the suite slow.
    for prefix in ["", "a", "a/", "photos/", "photos/2024/", "\U0001f600", "nothing-here"]:
        for delimiter in ["", "/", "/2"]:
            for max_keys in [1, 2, 3, 1000]:
                found = walk(backend, listed, prefix, delimiter, max_keys)
                assert found == model(prefix, delimiter), (prefix, delimiter, max_keys)


def test_a_delimiter_rolls_keys_up_into_common_prefixes(backend: Backend, listed: str) -> None:
    page = backend.list_objects(listed, "photos/", "/", "", 1000)
    assert [v.key for v in page.objects] == ["photos/index.html"]
    assert page.common_prefixes == ["photos/2024/", "photos/2025/", "photos/é/", "photos/\U0001f600/"]


def test_a_full_last_page_is_not_truncated(backend: Backend, listed: str) -> None:
    exact = backend.list_objects(listed, "photos/2024/", "", "", 2)
    assert ([v.key for v in exact.objects], exact.is_truncated) == (["photos/2024/x.jpg", "photos/2024/y.jpg"], False)
    short = backend.list_objects(listed, "photos/2024/", "", "", 1)
    assert ([v.key for v in short.objects], short.is_truncated, short.next_marker) == (["photos/2024/x.jpg"], True, "photos/2024/x.jpg")


def test_a_marker_need_not_be_a_key(backend: Backend, listed: str) -> None:
    page = backend.list_objects(listed, "", "", "photos/2024/y.jpz", 2)  # between two keys, neither of them
    assert [v.key for v in page.objects] == ["photos/2025/z.jpg", "photos/index.html"]


def test_a_marker_inside_a_common_prefix_rolls_up_only_the_keys_after_it(backend: Backend, listed: str) -> None:
    # The prefix "photos/2024/" still holds y.jpg after the marker x.jpg, so it is listed again;
    # after y.jpg it holds nothing more and is not.
    assert ("photos/2024/", True) in model("photos/", "/", "photos/2024/x.jpg")
    assert ("photos/2024/", True) not in model("photos/", "/", "photos/2024/y.jpg")
    for marker in ("photos/2024/x.jpg", "photos/2024/y.jpg"):
        assert entries_of(backend.list_objects(listed, "photos/", "/", marker, 1000)) == model("photos/", "/", marker), marker


def test_deleted_keys_are_not_listed(backend: Backend, listed: str) -> None:
    for key in ("photos/2024/x.jpg", "photos/2024/y.jpg"):
        backend.delete_version(listed, key, stamp())
    page = backend.list_objects(listed, "photos/", "/", "", 1000)
    assert page.common_prefixes == ["photos/2025/", "photos/é/", "photos/\U0001f600/"]
