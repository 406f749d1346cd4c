"""gateway/versioning.py: S3's versioning rules over a real LocalBackend."""

from __future__ import annotations

import time

import pytest

from tests.contract.conftest import MemoryBody
from wsgi_s3.backend.local import LocalBackend
from wsgi_s3.gateway import versioning
from wsgi_s3.model import errors
from wsgi_s3.model.types import BucketInfo
from wsgi_s3.model.versions import NULL_VERSION, HybridClock
from wsgi_s3.s3 import errors as s3_errors
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


def configured(backend: LocalBackend, status: str, policy: versioning.VersionPolicy) -> BucketInfo:
    """The bucket as a request reads it, with its versioning state and version policy set."""
    backend.put_bucket_config("b", "versioning", status, CLOCK.config_stamp())
    backend.put_bucket_config("b", versioning.POLICY, policy.document(), CLOCK.config_stamp())
    return backend.get_bucket("b")


def test_pruning_keeps_max_versions_and_every_version_younger_than_the_retention(backend):
    bucket = configured(backend, "Enabled", versioning.VersionPolicy(True, 2, 30))
    written = [put(backend, bucket, f"v{n}".encode()) for n in range(5)]
    assert versioning.prune(backend, bucket, "k", CLOCK) == 0  # beyond the limit, but all younger than 30 days
    in_31_days = HybridClock("test", wall=lambda: time.time_ns() + 31 * versioning.DAY_NS)
    assert versioning.prune(backend, bucket, "k", in_31_days) == 3
    page = backend.list_versions("b", "", "", "", None, 1000)
    assert [v.version_id for v in page.versions] == written[:2:-1]


def test_a_bucket_not_enabled_is_never_pruned(backend):
    bucket = configured(backend, "Suspended", versioning.VersionPolicy(True, 1, 0))
    put(backend, BucketInfo("b", 0, "us-east-1", versioning="Enabled"), b"one")
    put(backend, bucket, b"two")
    assert versioning.prune(backend, bucket, "k", CLOCK) == 0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"enabled": true, "max_versions": 10, "retention_days": 90}', versioning.VersionPolicy(True, 10, 90)),
        (b'{"enabled": false}', versioning.VersionPolicy(False, None, 0)),
        (b'{"enabled": true, "max_versions": null, "retention_days": null}', versioning.VersionPolicy(True, None, 0)),
    ],
)
def test_the_seeds_policy_is_parsed(body, expected):
    assert versioning.parse_policy(body) == expected


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"[]", b'{"enabled": 1}', b'{"enabled": true, "max_versions": 1001}', b'{"enabled": true, "max_versions": 1.5}',
     b'{"enabled": true, "retention_days": 36501}', b'{"enabled": true, "max_versions": ' + b"9" * 5000 + b"}"],
)
def test_what_is_not_a_policy_is_invalid_argument(body):
    with pytest.raises(s3_errors.InvalidArgument):
        versioning.parse_policy(body)


def test_pruning_reads_the_keys_history_not_the_keys_after_it(backend):
    bucket = configured(backend, "Enabled", versioning.VersionPolicy(True, 1000, 0))
    put(backend, bucket, b"one")
    for index in range(300):  # keys under the prefix "k" that sort after it
        backend.put_object("b", f"k/{index:03d}", MemoryBody(b"x"), versioning.new_version(bucket, CLOCK))
    rows: list[int] = []
    original = backend.store.versions_after

    def counted(*args, **options):
        found = original(*args, **options)
        rows.append(len(found))
        return found

    backend.store.versions_after = counted
    assert versioning.prune(backend, bucket, "k", CLOCK) == 0
    assert sum(rows) <= versioning.FIRST_PRUNE_PAGE + 1
