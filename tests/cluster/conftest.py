"""Fixtures of the cluster tests: three real node processes per test module, an in-process
ClusterBackend over them (N=3, W=2, R=1), and a bucket of the test's own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Server
from tests.contract.conftest import OWNER, REGION, MemoryBody, cluster_of, start_nodes, stamp
from wsgi_s3.backend.cluster import ClusterBackend


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Server]]:
    started = start_nodes(tmp_path_factory.mktemp("nodes"))
    yield started
    for server in started:
        server.stop()


@pytest.fixture
def cluster(servers: list[Server]) -> Iterator[ClusterBackend]:
    with cluster_of(servers) as made:
        yield made
    for server in servers:  # the next test starts with every node up
        if server.process.poll() is not None:
            server.start()


@pytest.fixture
def bucket(cluster: ClusterBackend, request: pytest.FixtureRequest) -> str:
    return cluster.create_bucket(request.node.name.replace("_", "-")[:50], REGION, OWNER).name


def put(cluster: ClusterBackend, bucket: str, key: str, data: bytes, version_id: str = "null") -> str:
    """Write `data` as the key's version `version_id` (a write's stamp, as a gateway makes them); its id."""
    return cluster.put_object(bucket, key, MemoryBody(data, chunk=64 * 1024), stamp(version_id)).version_id
