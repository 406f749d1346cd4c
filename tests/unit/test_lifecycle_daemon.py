"""daemons/lifecycle.py over a real LocalBackend and Store: rules judged "as of" days ahead
(clock_offset, the setting the functional tests use too), expiration as S3 applies it in each
versioning state, uploads aborted by rule and by mp_ttl, the lease, and resuming a pass."""

from __future__ import annotations

import pytest

from tests.contract.conftest import MemoryBody
from wsgi_s3.backend.local import LocalBackend
from wsgi_s3.daemons.lifecycle import COUNTERS, LifecycleDaemon, Schedule, Stopping
from wsgi_s3.gateway import versioning
from wsgi_s3.model import errors
from wsgi_s3.model.types import ObjectMeta
from wsgi_s3.model.versions import HybridClock, VersionStamp
from wsgi_s3.s3 import lifecycle
from wsgi_s3.s3.lifecycle import Filter, Rule
from wsgi_s3.store.store import Store

DAY = 86400.0
CLOCK = HybridClock("test")


@pytest.fixture
def backend(tmp_path) -> LocalBackend:
    return LocalBackend(Store(str(tmp_path / "data")))


def bucket_with(backend: LocalBackend, name: str, rules: list[Rule], versioning_state: str = "") -> None:
    backend.create_bucket(name, "us-east-1", "owner")
    if versioning_state:
        backend.put_bucket_config(name, "versioning", versioning_state, CLOCK.config_stamp())
    backend.put_bucket_config(name, "lifecycle", lifecycle.dumps(rules), CLOCK.config_stamp())


def put(backend: LocalBackend, bucket: str, key: str, data: bytes = b"data") -> str:
    return backend.put_object(bucket, key, MemoryBody(data), versioning.new_version(backend.get_bucket(bucket), CLOCK)).version_id


def daemon(backend: LocalBackend, holder: str = "test", *, days_ahead: float = 3, stop=lambda wait: False, **options) -> LifecycleDaemon:
    settings = Schedule(interval=0, upload_interval=0, mp_ttl=0, batch=2, pause=0, clock_offset=days_ahead * DAY)
    for name, value in options.items():
        setattr(settings, name, value)
    return LifecycleDaemon(lambda: backend, holder, settings, stop)


def keys(backend: LocalBackend, bucket: str) -> list[str]:
    return [entry.key for entry in backend.list_objects(bucket, "", "", "", 1000).objects]


EXPIRE_TMP = [Rule("tmp", True, Filter("tmp/"), expiration_days=2), Rule("off", False, Filter("keep/"), expiration_days=1)]


def test_expired_objects_are_deleted_and_counted_and_the_rest_kept(backend):
    bucket_with(backend, "b", EXPIRE_TMP)
    for key in ("tmp/a", "tmp/b", "tmp/c", "keep/x", "other"):
        put(backend, "b", key, b"12345")
    before = (COUNTERS.objects_expired, COUNTERS.bytes_expired)
    assert daemon(backend, days_ahead=1).run_objects()  # not yet: created today, expire in 2 days (at midnight)
    assert keys(backend, "b") == ["keep/x", "other", "tmp/a", "tmp/b", "tmp/c"]
    assert daemon(backend, days_ahead=3).run_objects()
    assert keys(backend, "b") == ["keep/x", "other"]
    assert (COUNTERS.objects_expired - before[0], COUNTERS.bytes_expired - before[1]) == (3, 15)


def test_a_versioned_bucket_gets_delete_markers_and_keeps_the_data(backend):
    bucket_with(backend, "v", EXPIRE_TMP, "Enabled")
    version_id = put(backend, "v", "tmp/a")
    assert daemon(backend).run_objects()
    assert backend.head_object("v", "tmp/a").delete_marker
    assert backend.head_object("v", "tmp/a", version_id).size == 4
    assert daemon(backend).run_objects()  # a marker is not expired again
    assert keys(backend, "v") == []


def test_a_suspended_bucket_gets_a_null_marker(backend):
    bucket_with(backend, "s", EXPIRE_TMP, "Suspended")
    put(backend, "s", "tmp/a")
    assert daemon(backend).run_objects()
    marker = backend.head_object("s", "tmp/a")
    assert marker.delete_marker and marker.version_id == "null"


def test_an_overwrite_after_the_listing_is_kept(backend):
    bucket_with(backend, "b", EXPIRE_TMP)
    put(backend, "b", "tmp/a", b"old")
    listed = backend.head_object("b", "tmp/a")
    put(backend, "b", "tmp/a", b"new")
    assert not versioning.expire(backend, backend.get_bucket("b"), listed, CLOCK)
    assert backend.head_object("b", "tmp/a").size == 3 and backend.head_object("b", "tmp/a").timestamp_ns > listed.timestamp_ns


def test_a_tag_rule_expires_the_objects_that_carry_its_tags(backend):
    bucket_with(backend, "t", [Rule("tagged", True, Filter("", tags=(("class", "temp"),)), expiration_days=1)])
    for key in ("temp", "kept", "retagged"):
        put(backend, "t", key)
    for key, value in (("temp", "temp"), ("kept", "keep")):
        version = backend.head_object("t", key)
        backend.put_object_tags(version, {"class": value, "other": "x"}, VersionStamp(version.version_id, CLOCK.stamp(), CLOCK.origin))
    assert daemon(backend).run_objects()
    assert keys(backend, "t") == ["kept", "retagged"]


def test_a_date_rule_expires_everything_it_matches_from_that_day(backend):
    bucket_with(backend, "d", [Rule("date", True, Filter("", size_greater_than=4), expiration_date="2020-01-01T00:00:00.000Z")])
    put(backend, "d", "big", b"12345")
    put(backend, "d", "small", b"1234")
    assert daemon(backend, days_ahead=0).run_objects()
    assert keys(backend, "d") == ["small"]


def test_a_pass_stopped_midway_resumes_after_its_marker(backend):
    bucket_with(backend, "a-first", EXPIRE_TMP)
    bucket_with(backend, "b", EXPIRE_TMP)
    for key in ("tmp/1", "tmp/2", "tmp/3", "tmp/4", "tmp/5"):
        put(backend, "b", key)
    stops = iter([False, True])  # the service stops after two batches of two keys
    first = daemon(backend, stop=lambda wait: next(stops))
    with pytest.raises(Stopping):
        first.run_objects()
    assert keys(backend, "b") == ["tmp/5"]
    put(backend, "b", "tmp/0")  # before the marker: the resumed pass does not go back for it
    put(backend, "b", "tmp/6")
    assert daemon(backend).run_objects()  # restarted: the same holder takes its lease back at once
    assert keys(backend, "b") == ["tmp/0"]
    assert daemon(backend).run_objects()  # the next pass starts afresh
    assert keys(backend, "b") == []


def test_one_holder_at_a_time_and_a_pass_only_when_due(backend):
    bucket_with(backend, "b", EXPIRE_TMP)
    put(backend, "b", "tmp/a")
    assert backend.claim_lease("lifecycle-objects", "elsewhere", 60 * 10**9) == ""
    assert not daemon(backend).run_objects()  # another process is on it
    assert keys(backend, "b") == ["tmp/a"]
    backend.claim_lease("lifecycle-objects", "elsewhere", 0)
    assert daemon(backend, interval=3600).run_objects()
    put(backend, "b", "tmp/b")
    assert not daemon(backend, "another", interval=3600).run_objects()  # the last pass ended just now
    assert keys(backend, "b") == ["tmp/b"]


def test_uploads_are_aborted_by_rule_and_by_mp_ttl(backend):
    bucket_with(backend, "u", [Rule("abort", True, Filter("up/"), abort_days=1)])
    ruled = backend.create_upload("u", "up/a", ObjectMeta(etag=""), "")
    other = backend.create_upload("u", "other", ObjectMeta(etag=""), "")
    for n in range(3):
        backend.create_upload("u", f"up/{n}", ObjectMeta(etag=""), "")
    before = COUNTERS.uploads_aborted
    assert daemon(backend, days_ahead=0.5).run_uploads()  # initiated today: the rule gives them until midnight after tomorrow
    assert len(backend.list_uploads("u", "", "", 100)) == 5
    assert daemon(backend, days_ahead=2.01).run_uploads()
    assert [upload.upload_id for upload in backend.list_uploads("u", "", "", 100)] == [other.upload_id]
    assert COUNTERS.uploads_aborted - before == 4
    with pytest.raises(errors.NotFound):
        backend.get_upload("u", ruled.key, ruled.upload_id)
    assert daemon(backend, days_ahead=0, mp_ttl=3600).run_uploads()  # an hour is not up yet
    assert daemon(backend, days_ahead=0.05, mp_ttl=3600).run_uploads()
    assert backend.list_uploads("u", "", "", 100) == []


def test_noncurrent_versions_expire_after_their_days_but_the_newest_noncurrent_are_kept(backend):
    bucket_with(backend, "n", [Rule("old", True, Filter(""), noncurrent_days=1, newer_noncurrent_versions=1)], "Enabled")
    ids = [put(backend, "n", "k", str(n).encode()) for n in range(4)]
    put(backend, "n", "other")
    assert daemon(backend, days_ahead=0.5).run_versions()  # noncurrent since just now: not yet
    assert [entry.version_id for entry in backend.list_versions("n", "", "", "", None, 100).versions if entry.key == "k"] == ids[::-1]
    assert daemon(backend).run_versions()
    assert [entry.version_id for entry in backend.list_versions("n", "", "", "", None, 100).versions if entry.key == "k"] == [ids[3], ids[2]]
    assert backend.head_object("n", "other").size == 4  # a current version is never noncurrent


def test_a_delete_marker_left_alone_is_removed_and_one_with_versions_kept(backend):
    rules = [Rule("markers", True, Filter("gone/"), expired_object_delete_marker=True), Rule("old", True, Filter("gone/"), noncurrent_days=1)]
    bucket_with(backend, "m", rules, "Enabled")
    for key in ("gone/a", "kept/b"):
        put(backend, "m", key)
        versioning.delete(backend, backend.get_bucket("m"), key, None, CLOCK)
    assert daemon(backend, batch=1).run_versions()  # gone/a's old version goes; its marker is alone only now
    assert [(e.key, e.delete_marker) for e in backend.list_versions("m", "", "", "", None, 100).versions] == [
        ("gone/a", True), ("kept/b", True), ("kept/b", False),
    ]
    assert daemon(backend, batch=1).run_versions()
    assert [(e.key, e.delete_marker) for e in backend.list_versions("m", "", "", "", None, 100).versions] == [("kept/b", True), ("kept/b", False)]
