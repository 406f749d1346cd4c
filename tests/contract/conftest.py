"""The Backend contract: fixtures every contract test runs on, once per kind of Backend.

A new backend joins by adding its kind to BACKEND_KINDS and a factory to FACTORIES; every test in
this directory then runs against it too.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import ContextManager

import pytest

from tests.conftest import Server
from tests.node.conftest import TOKEN, node_server
from wsgi_s3.backend.base import Backend
from wsgi_s3.backend.cluster import ClusterBackend
from wsgi_s3.backend.local import LocalBackend
from wsgi_s3.cluster.node_client import NodeClient
from wsgi_s3.cluster.ring import Ring, parse_node
from wsgi_s3.node import protocol
from wsgi_s3.model.types import ObjectMeta, ObjectVersion, Part
from wsgi_s3.model.versions import NULL_VERSION, HybridClock, VersionStamp
from wsgi_s3.store.store import Store

REGION = "us-east-1"
OWNER = "contract-owner"


@contextmanager
def local_backend(tmp_path: Path) -> Iterator[Backend]:
    """LocalBackend over a Store of the test's own, in this process (embedded mode)."""
    yield LocalBackend(Store(str(tmp_path / "data")))


def start_nodes(tmp_path: Path, count: int = 3) -> list[Server]:
    """`count` real node processes, started side by side (starting one is the slow part)."""
    servers = [node_server(tmp_path / f"node{index}" / "data") for index in range(count)]
    for server in servers:
        server.data_dir.parent.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(count) as pool:
        list(pool.map(Server.start, servers))
    return servers


@contextmanager
def cluster_of(servers: list[Server], replicas: int = 3, write_quorum: int = 2, read_quorum: int = 1) -> Iterator[ClusterBackend]:
    """A ClusterBackend over NodeClients of running nodes; the clients are closed after."""
    nodes = [parse_node(server.endpoint) for server in servers]
    clients = {node.url: NodeClient(node.url, TOKEN, connect_timeout=2, read_timeout=10) for node in nodes}
    try:
        yield ClusterBackend(Ring(nodes), clients, replicas, write_quorum, read_quorum)
    finally:
        for client in clients.values():
            client.close()
        gc.collect()  # idle keep-alive connections would hold a worker through its graceful timeout


# Three nodes shared by every cluster test of the session (starting processes is the slow part);
# each test's buckets and objects are wiped from them after it.
_SHARED_NODES: list[Server] = []


@pytest.fixture(scope="session", autouse=True)
def _stop_shared_nodes() -> Iterator[None]:
    yield
    for server in _SHARED_NODES:
        server.stop()


def wipe(client: NodeClient) -> None:
    """Remove every bucket from a node through its own API: uploads aborted, each key's versions
    replaced by tombstones newest first until none is current, then the bucket (tombstones with it)."""
    for info in client.list_buckets():
        for upload in client.list_uploads(info.name, "", "", protocol.MAX_LIMIT):
            client.abort_upload(upload.bucket, upload.key, upload.upload_id)
        while entries := client.entries_after(info.name, "", True, None, 1000):
            for entry in entries:
                current = client.get_version(info.name, entry.key)
                client.delete_version(info.name, entry.key, current.version_id, protocol.INT64_MAX, "wipe")
        client.delete_bucket(info.name)


@contextmanager
def cluster_backend(tmp_path: Path) -> Iterator[Backend]:
    """ClusterBackend N=3, W=2, R=1 over three real node processes, left empty after the test."""
    if not _SHARED_NODES:
        _SHARED_NODES.extend(start_nodes(tmp_path))
    with cluster_of(_SHARED_NODES) as made:
        try:
            yield made
        finally:
            for client in made.clients.values():
                wipe(client)


# kind -> factory(tmp_path) giving a context manager that yields a ready Backend and tears it down.
FACTORIES: dict[str, Callable[[Path], ContextManager[Backend]]] = {"local": local_backend, "cluster": cluster_backend}
BACKEND_KINDS = list(FACTORIES)


@pytest.fixture(params=BACKEND_KINDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with FACTORIES[request.param](tmp_path) as made:
        yield made


@pytest.fixture
def bucket(backend: Backend) -> str:
    """An empty bucket in `backend` (this overrides the server-side `bucket` of tests/conftest.py)."""
    return backend.create_bucket("contract", REGION, OWNER).name


_CLOCK = HybridClock("contract")


def stamp(version_id: str = NULL_VERSION) -> VersionStamp:
    """A write's stamp, later than every one before it, as the gateway makes them."""
    return VersionStamp(version_id, _CLOCK.stamp(), _CLOCK.origin)


def config_stamp() -> VersionStamp:
    """A configuration write's stamp, later than every one before it."""
    return _CLOCK.config_stamp()


class MemoryBody:
    """A BodySource over bytes: its ETag is their MD5, as the gateway's; `fail` is raised by
    finish(), as a digest that does not match would be. finish() before the last read() is a
    broken contract, so it fails the test."""

    def __init__(self, data: bytes, *, fail: Exception | None = None, chunk: int = 7, user_meta: dict[str, str] | None = None) -> None:
        self.data = data
        self.fail = fail
        self.chunk = chunk  # small and odd, so a backend's reads do not line up with the body
        self.user_meta = user_meta or {}
        self.offset = 0
        self.finished = False

    def read(self, size: int = -1) -> bytes:
        # Never more than `chunk` at once: a backend must loop until b"".
        want = self.chunk if size < 0 else min(size, self.chunk)
        data = self.data[self.offset : self.offset + want]
        self.offset += len(data)
        return data

    def finish(self) -> ObjectMeta:
        assert self.offset == len(self.data), "finish() called before the body was read to its end"
        self.finished = True
        if self.fail is not None:
            raise self.fail
        return ObjectMeta(etag=hashlib.md5(self.data).hexdigest(), content={"content-type": "application/octet-stream"}, user_meta=self.user_meta)


class DigestMismatch(Exception):
    """What MemoryBody(fail=...) raises in the tests: any exception from finish() must propagate."""


def put(backend: Backend, bucket: str, key: str, data: bytes, **conditions: object) -> ObjectVersion:
    return backend.put_object(bucket, key, MemoryBody(data), stamp(), **conditions)


def read(backend: Backend, version: ObjectVersion, start: int = 0, length: int | None = None) -> bytes:
    """The bytes of a range of `version`, read in small pieces and the stream closed."""
    stream = backend.open_object(version, start, version.size - start if length is None else length)
    try:
        return b"".join(iter(lambda: stream.read(5), b""))
    finally:
        stream.close()


def get(backend: Backend, bucket: str, key: str) -> bytes:
    return read(backend, backend.head_object(bucket, key))


def multipart_meta(parts: list[Part]) -> ObjectMeta:
    """The meta the gateway gives a completed upload: S3's ETag (MD5 of the parts' MD5s, "-N")."""
    digest = hashlib.md5(b"".join(bytes.fromhex(part.etag) for part in parts)).hexdigest()
    return ObjectMeta(etag=f"{digest}-{len(parts)}", part_sizes=tuple(part.size for part in parts))
