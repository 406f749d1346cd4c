"""gunicorn entry points: build the objects a worker needs from settings and return the WSGI app."""

from __future__ import annotations

from typing import TYPE_CHECKING

import falcon

from wsgi_s3.backend.base import Backend
from wsgi_s3.backend.local import LocalBackend
from wsgi_s3.config import Settings
from wsgi_s3.gateway.app import create_app
from wsgi_s3.gateway.auth import Authenticator, SharedCredentials, credential_store
from wsgi_s3.node.app import create_app as create_node_app
from wsgi_s3.store.store import Store

if TYPE_CHECKING:
    from wsgi_s3.backend.cluster import ClusterBackend


def embedded_app(settings: Settings | None = None) -> falcon.App:
    """`wsgi-s3 serve`: the S3 gateway over a Store in this process."""
    settings = settings or Settings.from_env()
    return _s3_app(settings, LocalBackend(Store(settings.data_dir, lock_timeout=settings.lock_timeout)))


def gateway_app(settings: Settings | None = None) -> falcon.App:
    """`wsgi-s3 gateway`: the S3 gateway over the storage nodes, replicated N/W/R."""
    settings = settings or Settings.from_env()
    backend = cluster_backend(settings)
    # Credentials created in the cluster (`wsgi-s3 credentials ... --nodes`) are seen by every gateway.
    return _s3_app(settings, backend, SharedCredentials(backend))


def cluster_backend(settings: Settings) -> ClusterBackend:
    """The ClusterBackend over the configured nodes: the gateway's workers, its repairer and `wsgi-s3 credentials` use it."""
    from wsgi_s3.backend.cluster import ClusterBackend
    from wsgi_s3.cluster.node_client import NodeClient
    from wsgi_s3.cluster.ring import Ring, parse_nodes

    ring = Ring(parse_nodes(settings.nodes))
    clients = {
        node.url: NodeClient(node.url, settings.backend_auth_token, pool_size=settings.worker_connections, read_timeout=settings.node_timeout)
        for node in ring.nodes
    }
    return ClusterBackend(ring, clients, settings.replicas, settings.write_quorum, settings.read_quorum, settings.tombstone_grace)


def _s3_app(settings: Settings, backend: Backend, shared: SharedCredentials | None = None) -> falcon.App:
    authenticator = Authenticator(
        credential_store(settings.credentials_path, settings.access_key, settings.secret_key, settings.auth_token, shared),
        settings.region if settings.enforce_region else None,
        settings.allow_anonymous,
    )
    return create_app(backend, authenticator, domain=settings.domain, region=settings.region)


def node_app(settings: Settings | None = None) -> falcon.App:
    """`wsgi-s3 node`: a storage node's internal API over a Store in this process."""
    settings = settings or Settings.from_env()
    return create_node_app(Store(settings.data_dir, lock_timeout=settings.lock_timeout), settings.auth_token)
