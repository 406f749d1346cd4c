"""What anti-entropy compares of a version's tags: the stamp of the last update of its tags is part
of the version's digest (summed per ring stretch) and of its Holding, whichever of the version and
the update a store received first, and a store migrated from before agrees with one that took the
update afterwards."""

from __future__ import annotations

import pytest

from tests.unit.test_store import delete, put, store  # noqa: F401 - the fixture
from tests.unit.test_store_tags import update
from wsgi_s3.model.types import Holding
from wsgi_s3.node import protocol
from wsgi_s3.store.schema import MIGRATIONS
from wsgi_s3.store.store import Store

WHOLE_RING = (0, 2**64 - 1)


def digest(store: Store) -> tuple[int, int]:
    return store.ring_digest(*WHOLE_RING, 0)


def holdings(store: Store) -> list[Holding]:
    return store.ring_holdings(*WHOLE_RING, 0, None, 100)


@pytest.fixture
def other(tmp_path) -> Store:
    made = Store(str(tmp_path / "other"))
    made.create_bucket("bucket", "us-east-1", "owner")
    return made


def test_an_update_of_the_tags_changes_the_digest_and_the_holding(store: Store, other: Store) -> None:
    put(store, "k", b"data", timestamp=1_000, origin="gw")
    put(other, "k", b"data", timestamp=1_000, origin="gw")
    assert digest(store) == digest(other)
    store.put_object_tags("bucket", "k", update(1_000, {"a": "1"}, at=2_000))
    count, total = digest(store)
    assert count == digest(other)[0] and total != digest(other)[1]  # the same records, told apart by their tags
    [holding] = holdings(store)
    assert (holding.tags_ns, holding.tags_origin) == (2_000, "gw")
    assert (holdings(other)[0].tags_ns, holdings(other)[0].tags_origin) == (0, "")
    other.put_object_tags("bucket", "k", update(1_000, {"a": "1"}, at=2_000))
    assert digest(store) == digest(other) and holdings(store) == holdings(other)


def test_the_digest_is_the_same_whichever_came_first(store: Store, other: Store) -> None:
    put(store, "k", b"data", timestamp=1_000)
    store.put_object_tags("bucket", "k", update(1_000, {"a": "1"}, at=2_000))
    other.put_object_tags("bucket", "k", update(1_000, {"a": "1"}, at=2_000))  # before its version
    assert digest(other) == (0, 0)  # an update alone is no record
    put(other, "k", b"data", timestamp=1_000)
    assert digest(store) == digest(other) and holdings(store) == holdings(other)


def test_an_older_update_changes_nothing_and_a_newer_one_changes_the_digest_again(store: Store) -> None:
    put(store, "k", b"data", timestamp=1_000)
    store.put_object_tags("bucket", "k", update(1_000, {"new": "1"}, at=3_000))
    after_new = digest(store)
    store.put_object_tags("bucket", "k", update(1_000, {"old": "1"}, at=2_000))
    assert digest(store) == after_new
    store.put_object_tags("bucket", "k", update(1_000, {"newer": "1"}, at=4_000))
    assert digest(store) != after_new and holdings(store)[0].tags_ns == 4_000


def test_tags_of_another_write_under_the_id_do_not_count(store: Store, other: Store) -> None:
    put(store, "k", b"old", timestamp=1_000)
    put(other, "k", b"old", timestamp=1_000)
    store.put_object_tags("bucket", "k", update(2_000, {"for": "a later write"}, at=2_500))
    assert digest(store) == digest(other)  # kept for the later write, not the one held
    put(store, "k", b"new", timestamp=2_000)
    put(other, "k", b"new", timestamp=2_000)
    assert digest(store) != digest(other)
    assert holdings(store)[0].tags_ns == 2_500


def test_a_tombstone_carries_no_tags(store: Store, other: Store) -> None:
    put(store, "k", b"data", timestamp=1_000)
    store.put_object_tags("bucket", "k", update(1_000, {"a": "1"}, at=1_500))
    put(other, "k", b"data", timestamp=1_000)
    delete(store, "k", stamp=2_000)
    delete(other, "k", stamp=2_000)
    assert digest(store) == digest(other)
    assert [(h.tombstone, h.tags_ns) for h in holdings(store)] == [(True, 0)]


def test_a_version_without_updates_keeps_the_digest_of_before(store: Store) -> None:
    """Stores of the release before fold nothing: a record with no tag update must sum the same."""
    put(store, "k", b"data", timestamp=1_000, origin="gw")
    [(stored, plain)] = store.meta.query(
        "SELECT digest, record_digest(bucket, key, version_id, timestamp_ns, origin, tombstone, delete_marker) FROM versions"
    )
    assert stored == plain


def test_the_migration_folds_updates_made_before_it(store: Store, other: Store) -> None:
    put(store, "tagged", b"data", timestamp=1_000)
    put(store, "plain", b"data", timestamp=1_000)
    store.put_object_tags("bucket", "tagged", update(1_000, {"a": "1"}, at=2_000))
    put(other, "tagged", b"data", timestamp=1_000)
    put(other, "plain", b"data", timestamp=1_000)
    other.put_object_tags("bucket", "tagged", update(1_000, {"a": "1"}, at=2_000))
    # As a store of the release before left them: the update kept, the digests without it.
    conn = other.meta.conn
    conn.execute("UPDATE versions SET digest = record_digest(bucket, key, version_id, timestamp_ns, origin, tombstone, delete_marker)")
    assert digest(other) != digest(store)
    [migration] = [text for text in MIGRATIONS if "covers the stamp of the last update of its tags" in text]
    conn.execute("BEGIN")
    for statement in migration.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("COMMIT")
    assert digest(other) == digest(store) and holdings(other) == holdings(store)


def test_a_holding_travels_with_its_tags_stamp() -> None:
    holding = Holding(2**64 - 1, "bucket", "k", "null", 1_000, "gw", False, False, 2_000, "gw2")
    assert protocol.holding_from(protocol.holding_json(holding)) == holding
