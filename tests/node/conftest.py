"""A real `wsgi-s3 node` process (gunicorn, gevent workers, its own data directory) and NodeClients of it."""

from __future__ import annotations

import gc
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import CLUSTER_TOKEN, Server, node_server
from wsgi_s3.cluster.node_client import NodeClient

TOKEN = CLUSTER_TOKEN


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One node shared by a module's tests (each test uses buckets of its own)."""
    server = node_server(tmp_path_factory.mktemp("node") / "data")
    server.start()
    yield server
    gc.collect()  # idle keep-alive connections would hold a worker through its graceful timeout
    server.stop()


@pytest.fixture
def client(node: Server) -> Iterator[NodeClient]:
    made = NodeClient(node.endpoint, TOKEN, connect_timeout=2, read_timeout=10)
    yield made
    made.close()


@pytest.fixture
def bucket(client: NodeClient) -> str:
    name = "node-" + uuid.uuid4().hex[:12]
    client.create_bucket(name, "us-east-1", "owner-key")
    return name
