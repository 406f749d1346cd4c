"""Object tags through the Backend: they belong to one version, an update of them is ordered by its
own stamp (newest wins whatever the arrival order), and deleting the version drops them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.contract.conftest import MemoryBody, put, stamp
from wsgi_s3.backend.base import Backend
from wsgi_s3.model import errors
from wsgi_s3.model.types import ObjectMeta
from wsgi_s3.model.versions import NULL_VERSION, VersionStamp


class TaggedBody(MemoryBody):
    """A body written with tags, as PutObject with x-amz-tagging makes it."""

    def __init__(self, data: bytes, tags: dict[str, str]) -> None:
        super().__init__(data)
        self.tags = tags

    def finish(self) -> ObjectMeta:
        return replace(super().finish(), tags=self.tags)


def update_at(version_id: str, at: int, origin: str = "gateway-a") -> VersionStamp:
    return VersionStamp(version_id, at, origin)


def test_tags_written_with_the_object_are_read_back_with_it(backend: Backend, bucket: str) -> None:
    version = backend.put_object(bucket, "k", TaggedBody(b"data", {"a": "1", "b": ""}), stamp())
    assert backend.get_object_tags(bucket, "k") == {"a": "1", "b": ""}
    assert backend.head_object(bucket, "k").meta.tags == {"a": "1", "b": ""}
    assert backend.get_object_tags(bucket, "k", version.version_id) == {"a": "1", "b": ""}


def test_an_update_replaces_the_tags_of_that_version_only(backend: Backend, bucket: str) -> None:
    first = backend.put_object(bucket, "k", TaggedBody(b"one", {"v": "1"}), stamp("v1"))
    second = backend.put_object(bucket, "k", TaggedBody(b"two", {"v": "2"}), stamp("v2"))
    backend.put_object_tags(first, {"changed": "yes"}, stamp(first.version_id))
    assert backend.get_object_tags(bucket, "k", "v1") == {"changed": "yes"}
    assert backend.get_object_tags(bucket, "k") == {"v": "2"}
    backend.put_object_tags(second, {}, stamp(second.version_id))
    assert backend.head_object(bucket, "k").meta.tags == {}
    assert backend.head_object(bucket, "k", "v1").meta.tags == {"changed": "yes"}


@pytest.mark.parametrize("arrival", ["in order", "newest first"])
def test_the_newest_update_wins_whatever_the_arrival_order(backend: Backend, bucket: str, arrival: str) -> None:
    version = put(backend, bucket, "k", b"data")
    updates = [({"n": "older"}, update_at(version.version_id, 10**18)), ({"n": "newer"}, update_at(version.version_id, 10**18 + 1))]
    for tags, at in updates if arrival == "in order" else reversed(updates):
        backend.put_object_tags(version, tags, at)
    assert backend.get_object_tags(bucket, "k") == {"n": "newer"}


def test_equal_update_stamps_are_ordered_by_writer(backend: Backend, bucket: str) -> None:
    version = put(backend, bucket, "k", b"data")
    backend.put_object_tags(version, {"by": "b"}, update_at(version.version_id, 10**18, "gateway-b"))
    backend.put_object_tags(version, {"by": "a"}, update_at(version.version_id, 10**18, "gateway-a"))
    assert backend.get_object_tags(bucket, "k") == {"by": "b"}


def test_tags_of_a_null_version_do_not_outlive_its_rewrite(backend: Backend, bucket: str) -> None:
    old = backend.put_object(bucket, "k", TaggedBody(b"old", {"t": "old"}), stamp())
    backend.put_object_tags(old, {"t": "updated"}, stamp(NULL_VERSION))
    new = backend.put_object(bucket, "k", MemoryBody(b"new"), stamp())
    assert new.version_id == old.version_id == NULL_VERSION
    assert backend.get_object_tags(bucket, "k") == {}
    # An update of the old write that arrives after the rewrite, however late its stamp, changes nothing.
    backend.put_object_tags(old, {"t": "late"}, stamp(NULL_VERSION))
    assert backend.get_object_tags(bucket, "k") == {}
    backend.put_object_tags(new, {"t": "new"}, stamp(NULL_VERSION))
    assert backend.get_object_tags(bucket, "k") == {"t": "new"}


def test_deleting_a_version_drops_its_tags_and_refuses_later_updates(backend: Backend, bucket: str) -> None:
    version = backend.put_object(bucket, "k", TaggedBody(b"data", {"a": "1"}), stamp("v1"))
    backend.put_object_tags(version, {"a": "2"}, stamp("v1"))
    backend.delete_version(bucket, "k", stamp("v1"))
    with pytest.raises(errors.NotFound):
        backend.get_object_tags(bucket, "k", "v1")
    with pytest.raises(errors.NotFound):
        backend.put_object_tags(version, {"a": "3"}, stamp("v1"))
    # A new write under the same id starts without the deleted one's tags.
    backend.put_object(bucket, "k", MemoryBody(b"again"), stamp("v1"))
    assert backend.get_object_tags(bucket, "k", "v1") == {}


def test_missing_things_are_not_found(backend: Backend, bucket: str) -> None:
    with pytest.raises(errors.NotFound) as exc:
        backend.get_object_tags(bucket, "absent")
    assert exc.value.what == "key"
    put(backend, bucket, "k", b"data")
    with pytest.raises(errors.NotFound) as exc:
        backend.get_object_tags(bucket, "k", "no-such-version")
    assert exc.value.what == "version"
    with pytest.raises(errors.NotFound) as exc:
        backend.get_object_tags("no-such-bucket", "k")
    assert exc.value.what == "bucket"
