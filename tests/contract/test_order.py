"""Newest wins and tombstones, through the Backend: whatever order writes and deletes of a version
arrive in (a replica, a repair, a slow gateway), the one with the newest stamp is what remains."""

from __future__ import annotations

import pytest

from tests.contract.conftest import MemoryBody, get
from wsgi_s3.backend.base import Backend
from wsgi_s3.model import errors
from wsgi_s3.model.versions import NULL_VERSION, VersionStamp


def write(backend: Backend, bucket: str, data: bytes, at: int, origin: str = "gateway-a", version_id: str = NULL_VERSION) -> None:
    backend.put_object(bucket, "k", MemoryBody(data), VersionStamp(version_id, at, origin))


def test_an_older_write_arriving_last_does_not_replace_a_newer_one(backend: Backend, bucket: str) -> None:
    write(backend, bucket, b"newer", at=2_000)
    write(backend, bucket, b"older", at=1_000)
    assert get(backend, bucket, "k") == b"newer"


@pytest.mark.parametrize("arrival", [("gateway-a", "gateway-b"), ("gateway-b", "gateway-a")])
def test_equal_stamps_are_ordered_by_writer_whatever_the_arrival(backend: Backend, bucket: str, arrival: tuple[str, str]) -> None:
    for origin in arrival:
        write(backend, bucket, origin.encode(), at=5_000, origin=origin)
    assert get(backend, bucket, "k") == b"gateway-b"


def test_a_delete_wins_over_an_older_write_that_arrives_after_it(backend: Backend, bucket: str) -> None:
    write(backend, bucket, b"first", at=1_000)
    backend.delete_version(bucket, "k", VersionStamp(NULL_VERSION, 3_000, "gateway-a"))
    write(backend, bucket, b"from before the delete", at=2_000)
    with pytest.raises(errors.NotFound):
        backend.head_object(bucket, "k")
    write(backend, bucket, b"after the delete", at=4_000)
    assert get(backend, bucket, "k") == b"after the delete"


def test_a_delete_older_than_the_write_there_removes_nothing(backend: Backend, bucket: str) -> None:
    write(backend, bucket, b"newer than the delete", at=5_000)
    assert backend.delete_version(bucket, "k", VersionStamp(NULL_VERSION, 4_000, "gateway-a")) is None
    assert get(backend, bucket, "k") == b"newer than the delete"


def test_a_deleted_version_stays_deleted_when_its_write_is_replayed(backend: Backend, bucket: str) -> None:
    write(backend, bucket, b"one", at=1_000, version_id="v1")
    write(backend, bucket, b"two", at=2_000, version_id="v2")
    backend.delete_version(bucket, "k", VersionStamp("v2", 3_000, "gateway-a"))
    write(backend, bucket, b"two", at=2_000, version_id="v2")  # the same write, heard of again
    assert backend.head_object(bucket, "k").version_id == "v1"
    with pytest.raises(errors.NotFound):
        backend.head_object(bucket, "k", "v2")
