"""Bucket configuration documents in one Store, stamped: arrivals in any order (as replicas and
repair see them) leave the newest write, and a removal is a tombstone an older write cannot undo."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.unit.test_store import store  # noqa: F401 - the fixture
from wsgi_s3.backend.base import SHARED_BUCKET
from wsgi_s3.model import errors
from wsgi_s3.model.versions import StampedDocument, VersionStamp, newest_configs
from wsgi_s3.store import schema
from wsgi_s3.store.store import Store


def at(timestamp_ns: int, origin: str = "gw") -> VersionStamp:
    return VersionStamp("", timestamp_ns, origin)


def test_a_newer_put_wins(store: Store) -> None:
    assert store.put_bucket_config("bucket", "lifecycle", "<old/>", at(1_000))
    assert store.put_bucket_config("bucket", "lifecycle", "<new/>", at(2_000))
    assert store.get_bucket_config("bucket", "lifecycle") == StampedDocument("<new/>", at(2_000))


def test_an_older_put_after_a_newer_one_is_ignored(store: Store) -> None:
    store.put_bucket_config("bucket", "versioning", "Enabled", at(2_000))
    assert not store.put_bucket_config("bucket", "versioning", "Suspended", at(1_000))
    assert not store.put_bucket_config("bucket", "versioning", "Suspended", at(2_000))  # the same stamp: a replay
    assert store.get_bucket("bucket").versioning == "Enabled"
    assert store.get_bucket_config("bucket", "versioning").stamp == at(2_000)


def test_equal_timestamps_are_ordered_by_writer(store: Store) -> None:
    store.put_bucket_config("bucket", "tagging", '{"by": "b"}', at(1_000, "gw-b"))
    assert not store.put_bucket_config("bucket", "tagging", '{"by": "a"}', at(1_000, "gw-a"))
    assert store.get_bucket_config("bucket", "tagging").document == '{"by": "b"}'


def test_a_removal_is_a_tombstone_that_beats_an_older_put(store: Store) -> None:
    store.put_bucket_config("bucket", "lifecycle", "<rules/>", at(1_000))
    assert store.put_bucket_config("bucket", "lifecycle", None, at(3_000))
    assert not store.put_bucket_config("bucket", "lifecycle", "<rules/>", at(2_000))  # e.g. a late replica
    assert store.get_bucket_config("bucket", "lifecycle") == StampedDocument(None, at(3_000))
    assert store.bucket_configs("bucket") == {"lifecycle": StampedDocument(None, at(3_000))}


def test_a_newer_put_after_a_tombstone_wins(store: Store) -> None:
    store.put_bucket_config("bucket", "versioning", None, at(3_000))
    assert store.put_bucket_config("bucket", "versioning", "Enabled", at(4_000))
    assert store.get_bucket("bucket").versioning == "Enabled"


def test_never_set_is_none_and_a_missing_bucket_is_not_found(store: Store) -> None:
    assert store.get_bucket_config("bucket", "lifecycle") is None
    assert store.get_bucket("bucket").versioning == ""
    with pytest.raises(errors.NotFound):
        store.put_bucket_config("missing", "lifecycle", "<rules/>", at(1))


def test_a_closing_bucket_still_works_and_is_no_configuration(store: Store) -> None:
    store.put_bucket_config("bucket", "versioning", "Enabled", at(1_000))
    store.close_bucket("bucket", 30)
    assert set(store.bucket_configs("bucket")) == {"versioning"}
    store.reopen_bucket("bucket")
    assert store.get_bucket_config("bucket", ".closing") is None


def test_documents_from_before_stamps_migrate(tmp_path, monkeypatch) -> None:
    """Rows of the schema before stamps are stamped 0 (any write beats them); the shared documents a
    cluster wrapped with their stamp ({"stamp_ns", "document"}) keep that stamp, unwrapped."""
    data_dir = str(tmp_path / "data")
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:8])
    old = Store(data_dir)
    old.create_bucket("bucket", "us-east-1", "owner")
    old.create_bucket(SHARED_BUCKET, "", "wsgi-s3")
    old.meta.close()
    db = sqlite3.connect(f"{data_dir}/meta.db", isolation_level=None)
    rows = [
        ("bucket", "versioning", "Enabled"),
        (SHARED_BUCKET, "credentials", json.dumps({"stamp_ns": 5_000, "document": "[1]"})),
        (SHARED_BUCKET, "embedded", "[2]"),  # an embedded server's, never wrapped
    ]
    db.executemany("INSERT INTO bucket_configs (bucket, kind, document) VALUES (?, ?, ?)", rows)
    db.close()
    monkeypatch.undo()

    store = Store(data_dir)
    assert store.get_bucket("bucket").versioning == "Enabled"
    assert store.get_bucket_config("bucket", "versioning") == StampedDocument("Enabled", at(0, ""))
    assert store.get_bucket_config(SHARED_BUCKET, "credentials") == StampedDocument("[1]", at(5_000, ""))
    assert store.get_bucket_config(SHARED_BUCKET, "embedded") == StampedDocument("[2]", at(0, ""))
    assert not store.put_bucket_config(SHARED_BUCKET, "credentials", "[old]", at(4_000))
    assert store.put_bucket_config("bucket", "versioning", None, at(1))


def test_a_bucket_read_brings_its_configuration_in_one_query(store: Store) -> None:
    store.put_bucket_config("bucket", "versioning", "Enabled", at(1_000))
    store.put_bucket_config("bucket", "lifecycle", "<rules/>", at(2_000))
    store.put_bucket_config("bucket", "tagging", "{}", at(3_000))
    store.put_bucket_config("bucket", "tagging", None, at(4_000))  # removed: a stamp, no document
    store.close_bucket("bucket", 30)  # the node's own mark: no configuration
    queries: list[str] = []
    store.meta.conn.set_trace_callback(queries.append)
    try:
        state = store.bucket_state("bucket")
    finally:
        store.meta.conn.set_trace_callback(None)
    assert len([sql for sql in queries if sql.lstrip().upper().startswith("SELECT")]) == 1
    assert state.configs == {
        "versioning": StampedDocument("Enabled", at(1_000)), "lifecycle": StampedDocument("<rules/>", at(2_000)),
        "tagging": StampedDocument(None, at(4_000)),
    }
    assert state.info.configs == {"versioning": "Enabled", "lifecycle": "<rules/>"}  # the documents set
    assert state.info.versioning == "Enabled"
    assert state.info.owner == store.get_bucket("bucket").owner


def test_a_bucket_never_configured_reads_as_none_and_a_missing_one_is_not_found(store: Store) -> None:
    state = store.bucket_state("bucket")
    assert state.configs == {} and state.info.configs == {} and state.info.versioning == ""
    with pytest.raises(errors.NotFound):
        store.bucket_state("missing")


def test_replicas_configuration_merges_kind_by_kind() -> None:
    # Each kind's newest stamp wins on its own, a removal included: not the newest replica as a whole.
    one = {"versioning": StampedDocument("Enabled", at(5_000)), "lifecycle": StampedDocument("<old/>", at(1_000))}
    two = {"lifecycle": StampedDocument(None, at(2_000)), "version-policy": StampedDocument("{}", at(3_000))}
    merged = newest_configs([one, two])
    assert merged == {"versioning": one["versioning"], "lifecycle": two["lifecycle"], "version-policy": two["version-policy"]}
    assert newest_configs([two, one]) == merged
