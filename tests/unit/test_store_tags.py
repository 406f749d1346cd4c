"""Object tags in one Store, with arrivals no single gateway produces but replicas see: an update
before its version, an update of a newer write under the same id before that write."""

from __future__ import annotations

import pytest

from tests.unit.test_store import delete, put, store  # noqa: F401 - the fixture
from wsgi_s3.model import errors
from wsgi_s3.model.types import ObjectTags
from wsgi_s3.store.store import Store


def update(version_ns: int, tags: dict[str, str], at: int, version_id: str = "null", origin: str = "gw") -> ObjectTags:
    return ObjectTags(version_id, version_ns, tags, at, origin)


def test_an_update_that_arrives_before_its_version_applies_once_the_version_is_there(store: Store) -> None:
    store.put_object_tags("bucket", "k", update(1_000, {"early": "yes"}, at=5_000))
    with pytest.raises(errors.NotFound):
        store.get_object_tags("bucket", "k")
    put(store, "k", b"data", timestamp=1_000)
    assert store.get_object_tags("bucket", "k").tags == {"early": "yes"}
    assert store.get_version("bucket", "k").meta.tags == {"early": "yes"}


def test_an_update_of_a_newer_write_under_the_id_waits_for_that_write(store: Store) -> None:
    put(store, "k", b"old", timestamp=1_000)
    store.put_object_tags("bucket", "k", update(2_000, {"for": "new"}, at=3_000))
    assert store.get_object_tags("bucket", "k").tags == {}
    put(store, "k", b"new", timestamp=2_000)
    found = store.get_object_tags("bucket", "k")
    assert found.tags == {"for": "new"} and found.order() == (2_000, 3_000, "gw")
    # An update of the old write, even with a later stamp, no longer applies.
    store.put_object_tags("bucket", "k", update(1_000, {"for": "old"}, at=9_000))
    assert store.get_object_tags("bucket", "k").tags == {"for": "new"}


def test_a_tombstone_refuses_updates_of_what_it_deleted_but_not_of_a_later_write(store: Store) -> None:
    put(store, "k", b"data", timestamp=1_000)
    store.put_object_tags("bucket", "k", update(1_000, {"a": "1"}, at=1_500))
    delete(store, "k", stamp=2_000)
    with pytest.raises(errors.NotFound):
        store.put_object_tags("bucket", "k", update(1_000, {"a": "2"}, at=2_500))
    store.put_object_tags("bucket", "k", update(3_000, {"next": "write"}, at=3_500))
    put(store, "k", b"again", timestamp=3_000)
    assert store.get_object_tags("bucket", "k").tags == {"next": "write"}


def test_tags_go_with_their_bucket(store: Store) -> None:
    store.put_object_tags("bucket", "never-written", update(1_000, {"a": "1"}, at=2_000))
    store.delete_bucket("bucket")
    store.create_bucket("bucket", "us-east-1", "owner")
    put(store, "never-written", b"data", timestamp=1_000)
    assert store.get_object_tags("bucket", "never-written").tags == {}
