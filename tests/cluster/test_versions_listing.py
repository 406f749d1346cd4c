"""ListObjectVersions over owners that disagree (a node missed a delete or an overwrite): three real
nodes are given different records of one history, and every page through the cluster must list
what the embedded store lists once it has received every record (newest record of each version
wins, a tombstone hides it), wherever the pages break."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.conftest import Server
from tests.contract.conftest import OWNER, REGION, cluster_of
from wsgi_s3.backend.base import Backend
from wsgi_s3.backend.cluster import ClusterBackend
from wsgi_s3.backend.local import LocalBackend
from wsgi_s3.cluster.node_client import NodeClient
from wsgi_s3.model.types import ObjectMeta, StoredVersion
from wsgi_s3.model.versions import NULL_VERSION, VersionStamp, new_version_id, stamped_version
from wsgi_s3.store.store import Store

BUCKET = "diverged"


@pytest.fixture
def cluster(servers: list[Server]) -> Iterator[ClusterBackend]:
    with cluster_of(servers) as made:
        made.create_bucket(BUCKET, REGION, OWNER)
        yield made
        for client in made.clients.values():  # the next test starts from an empty bucket
            for entry in client.versions_after(BUCKET, "", True, None, None, 10_000):
                client.delete_version(BUCKET, entry.key, entry.version_id, 2**62, "wipe")
            client.delete_bucket(BUCKET)


@pytest.fixture
def local(tmp_path) -> LocalBackend:
    backend = LocalBackend(Store(str(tmp_path / "embedded")))
    backend.create_bucket(BUCKET, REGION, OWNER)
    return backend


Record = Callable[[NodeClient | LocalBackend], None]


def write(key: str, at: int, version_id: str | None = None) -> Record:
    """An empty version stamped `at` (no blob: the listing is about records, not bytes)."""
    version = StoredVersion.of(stamped_version(BUCKET, key, VersionStamp(version_id or new_version_id(at), at, "g"), 0, ObjectMeta(etag="e")))

    def apply(target: NodeClient | LocalBackend) -> None:
        if isinstance(target, LocalBackend):
            target.store.commit_version(version)
        else:
            target.commit_version(version)

    return apply


def delete(key: str, version_id: str, at: int) -> Record:
    def apply(target: NodeClient | LocalBackend) -> None:
        if isinstance(target, LocalBackend):
            target.delete_version(BUCKET, key, VersionStamp(version_id, at, "g"))
        else:
            target.delete_version(BUCKET, key, version_id, at, "g")

    return apply


def pages(backend: Backend, max_keys: int, delimiter: str = "") -> list[tuple[str, str, bool]]:
    found: list[tuple[str, str, bool]] = []
    key_marker, version_marker = "", None
    while True:
        page = backend.list_versions(BUCKET, "", delimiter, key_marker, version_marker, max_keys)
        found += [(p, "", False) for p in page.common_prefixes]  # here every prefix sorts before the keys of its page
        found += [(v.key, v.version_id, v.is_latest) for v in page.versions]
        if not page.is_truncated:
            return found
        key_marker, version_marker = page.next_key_marker, page.next_version_id_marker


def diverge(cluster: ClusterBackend, local: LocalBackend, everywhere: list[Record], on_one: list[Record]) -> None:
    """`everywhere` on every node, `on_one` on the first node only; the embedded store gets all."""
    clients = [cluster.clients[url] for url in cluster.nodes]
    for record in everywhere:
        for client in clients:
            record(client)
        record(local)
    for record in on_one:
        record(clients[0])
        record(local)


W, V = new_version_id(1_000), new_version_id(2_000)


@pytest.mark.parametrize("max_keys", [1, 2, 1000])
def test_a_delete_one_owner_missed_hides_the_version_on_every_page(cluster, local, max_keys) -> None:
    diverge(cluster, local, [write("k", 1_000, W), write("k", 2_000, V), write("z", 500)], [delete("k", W, 3_000)])
    expected = pages(local, 1000)
    assert [v for _, v, _ in expected][:1] == [V] and W not in [v for _, v, _ in expected]
    assert pages(cluster, max_keys) == expected


@pytest.mark.parametrize("max_keys", [1, 2, 1000])
def test_a_null_version_overwritten_on_one_owner_is_listed_once_at_its_newest(cluster, local, max_keys) -> None:
    diverge(
        cluster, local,
        [write("k", 1_000, NULL_VERSION), write("k", 2_000, V), write("m", 100)],
        [write("k", 3_000, NULL_VERSION)],
    )
    expected = pages(local, 1000)
    assert [(k, v) for k, v, _ in expected if k == "k"] == [("k", NULL_VERSION), ("k", V)]
    assert pages(cluster, max_keys) == expected


def test_a_key_whose_versions_outnumber_a_batch_is_merged_across_batches(cluster, local) -> None:
    # More versions than one fetch takes, with every other one deleted on one node only: the
    # merge must ask nodes for more and still drop what the tombstones hide.
    ids = [new_version_id(10_000 + n) for n in range(30)]
    diverge(
        cluster, local,
        [write("k", 10_000 + n, version_id) for n, version_id in enumerate(ids)],
        [delete("k", version_id, 50_000 + n) for n, version_id in enumerate(ids) if n % 2],
    )
    expected = pages(local, 1000)
    assert len(expected) == 15
    for max_keys in (1, 4, 7, 1000):
        assert pages(cluster, max_keys) == expected, max_keys


@pytest.mark.parametrize("max_keys", [1, 2, 3, 1000])
def test_a_page_that_goes_on_inside_a_key_after_a_roll_up_keeps_what_it_merged(cluster, local, max_keys) -> None:
    # With max_keys 3, the first fetch ends at b's newest version (after the rolled-up "a/" took
    # three records); the next goes on inside b's history, past the tombstone it already merged.
    diverge(
        cluster, local,
        [write("a/1", 100), write("a/2", 100), write("a/3", 100), write("b", 1_000, W), write("b", 2_000, V), write("c", 100)],
        [delete("b", W, 3_000)],
    )
    expected = pages(local, 1000, "/")
    assert [k for k, _, _ in expected] == ["a/", "b", "c"]
    assert pages(cluster, max_keys, "/") == expected
