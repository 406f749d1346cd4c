"""Objects in an unversioned bucket (versioning cannot be set through a Backend yet): put, head,
get by range, overwrite, delete."""

from __future__ import annotations

import hashlib

import pytest

from tests.contract.conftest import MemoryBody, get, put, read, stamp
from wsgi_s3.backend.base import Backend
from wsgi_s3.model import errors

DATA = bytes(range(256)) * 40 + b"tail"  # 10,244 bytes: a range read from a wrong offset reads other bytes


def test_a_put_object_is_found_by_head_with_its_size_etag_and_metadata(backend: Backend, bucket: str) -> None:
    written = backend.put_object(bucket, "dir/k", MemoryBody(DATA, user_meta={"colour": "blue"}), stamp())
    found = backend.head_object(bucket, "dir/k")
    assert (found.bucket, found.key, found.size, found.etag) == (bucket, "dir/k", len(DATA), hashlib.md5(DATA).hexdigest())
    assert found.meta.user_meta == {"colour": "blue"}
    assert found.meta.content["content-type"] == "application/octet-stream"
    assert (found.version_id, found.etag, found.is_latest, found.delete_marker) == (written.version_id, written.etag, True, False)
    assert backend.head_object(bucket, "dir/k", written.version_id).etag == written.etag


def test_get_returns_the_bytes_that_were_put(backend: Backend, bucket: str) -> None:
    put(backend, bucket, "k", DATA)
    assert get(backend, bucket, "k") == DATA


@pytest.mark.parametrize("start, length", [(0, 1), (1, 9), (4000, 5000), (len(DATA) - 1, 1), (0, len(DATA)), (5, 0)])
def test_a_range_returns_exactly_its_bytes(backend: Backend, bucket: str, start: int, length: int) -> None:
    version = put(backend, bucket, "k", DATA)
    assert read(backend, version, start, length) == DATA[start : start + length]


def test_an_empty_object_has_size_zero_and_reads_as_nothing(backend: Backend, bucket: str) -> None:
    version = put(backend, bucket, "empty", b"")
    assert (version.size, version.etag) == (0, hashlib.md5(b"").hexdigest())
    assert get(backend, bucket, "empty") == b""


def test_an_overwrite_replaces_the_bytes_and_the_etag(backend: Backend, bucket: str) -> None:
    put(backend, bucket, "k", b"first version")
    second = put(backend, bucket, "k", b"second")
    found = backend.head_object(bucket, "k")
    assert (found.etag, found.size) == (second.etag, 6)
    assert get(backend, bucket, "k") == b"second"


def test_a_stream_opened_before_an_overwrite_still_reads_the_old_bytes(backend: Backend, bucket: str) -> None:
    old = put(backend, bucket, "k", DATA)
    stream = backend.open_object(old, 0, old.size)
    put(backend, bucket, "k", b"new")
    backend.delete_version(bucket, "k", stamp())
    try:
        assert b"".join(iter(lambda: stream.read(1000), b"")) == DATA
    finally:
        stream.close()


def test_a_deleted_object_is_not_found(backend: Backend, bucket: str) -> None:
    put(backend, bucket, "k", b"data")
    removed = backend.delete_version(bucket, "k", stamp())
    assert removed is not None and removed.size == 4 and not removed.delete_marker
    with pytest.raises(errors.NotFound) as raised:
        backend.head_object(bucket, "k")
    assert raised.value.what == "key"
    assert backend.list_objects(bucket, "", "", "", 1000).objects == []


def test_deleting_a_missing_key_succeeds(backend: Backend, bucket: str) -> None:
    assert backend.delete_version(bucket, "never", stamp()) is None  # nothing removed: S3 answers 204


def test_deleting_a_key_leaves_its_neighbours(backend: Backend, bucket: str) -> None:
    for key in ("a", "ab", "b"):
        put(backend, bucket, key, key.encode())
    backend.delete_version(bucket, "ab", stamp())
    assert [v.key for v in backend.list_objects(bucket, "", "", "", 1000).objects] == ["a", "b"]
    assert get(backend, bucket, "a") == b"a" and get(backend, bucket, "b") == b"b"
