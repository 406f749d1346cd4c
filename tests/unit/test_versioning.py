"""gateway/versioning.py: S3's versioning rules over a real LocalBackend."""

from __future__ import annotations

import pytest

from tests.contract.conftest import MemoryBody
from wsgi_s3.backend.local import LocalBackend
from wsgi_s3.gateway import versioning
from wsgi_s3.model import errors
from wsgi_s3.model.types import BucketInfo
from wsgi_s3.model.versions import NULL_VERSION, HybridClock
from wsgi_s3.store.store import Store


@pytest.fixture
def backend(tmp_path) -> LocalBackend:
    backend = LocalBackend(Store(str(tmp_path / "data")))
    backend.create_bucket("b", "us-east-1", "owner")
    return backend


CLOCK = HybridClock("test")


def put(backend: LocalBackend, bucket: BucketInfo, data: bytes) -> str:
    return backend.put_object("b", "k", MemoryBody(data), versioning.new_version(bucket, CLOCK)).version_id


@pytest.mark.parametrize("state", ["", "Suspended"])
def test_writes_outside_enabled_versioning_make_the_null_version_and_delete_removes_it(backend, state):
    bucket = BucketInfo("b", 0, "us-east-1", versioning=state)
    assert put(backend, bucket, b"one") == put(backend, bucket, b"two") == NULL_VERSION
    result = versioning.delete(backend, BucketInfo("b", 0, "us-east-1"), "k", None, CLOCK)
    assert result == versioning.DeleteResult(None, False)
    with pytest.raises(errors.NotFound):
        backend.head_object("b", "k")


def test_enabled_versioning_makes_new_ids_and_delete_adds_a_marker(backend):
    bucket = BucketInfo("b", 0, "us-east-1", versioning="Enabled")
    first, second = put(backend, bucket, b"one"), put(backend, bucket, b"two")
    assert NULL_VERSION not in (first, second) and first < second  # ids sort like their stamps
    result = versioning.delete(backend, bucket, "k", None, CLOCK)
    assert result.delete_marker and backend.head_object("b", "k").delete_marker
    assert backend.head_object("b", "k").version_id == result.version_id
    # Deleting the marker by its id brings the last version back, as S3 does.
    assert versioning.delete(backend, bucket, "k", result.version_id, CLOCK) == versioning.DeleteResult(result.version_id, True)
    assert backend.head_object("b", "k").version_id == second
