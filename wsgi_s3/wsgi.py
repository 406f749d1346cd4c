"""gunicorn entry points: build the objects a worker needs from settings and return the WSGI app."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import falcon

from wsgi_s3 import __version__
from wsgi_s3.backend.base import Backend
from wsgi_s3.backend.local import LocalBackend
from wsgi_s3.config import Settings, active
from wsgi_s3.gateway.app import create_app
from wsgi_s3.gateway.auth import Authenticator, SharedCredentials, credential_store
from wsgi_s3.gateway.body import MAX_PUT_SIZE
from wsgi_s3.node.app import create_app as create_node_app
from wsgi_s3.observability.metrics import StoreCollector, counted
from wsgi_s3.observability.status import StatusEndpoints
from wsgi_s3.store.store import Store

if TYPE_CHECKING:
    from wsgi_s3.backend.cluster import ClusterBackend


def embedded_app(settings: Settings | None = None) -> falcon.App:
    """`wsgi-s3 serve`: the S3 gateway over a Store in this process."""
    settings = settings or active()
    store = Store(settings.data_dir, lock_timeout=settings.lock_timeout)
    return _s3_app(settings, LocalBackend(store), lambda: [counted(), StoreCollector(store.stats)])


def gateway_app(settings: Settings | None = None) -> falcon.App:
    """`wsgi-s3 gateway`: the S3 gateway over the storage nodes, replicated N/W/R."""
    settings = settings or active()
    backend = cluster_backend(settings)
    # Credentials created in the cluster (`wsgi-s3 credentials ... --nodes`) are seen by every gateway.
    return _s3_app(settings, backend, lambda: [counted()], SharedCredentials(backend))


def cluster_backend(settings: Settings) -> ClusterBackend:
    """The ClusterBackend over the configured nodes: the gateway's workers, its repairer and `wsgi-s3 credentials` use it."""
    from wsgi_s3.backend.cluster import ClusterBackend
    from wsgi_s3.cluster.node_client import NodeClient
    from wsgi_s3.cluster.ring import Ring, parse_nodes

    ring = Ring(parse_nodes(settings.nodes))
    clients = {
        node.url: NodeClient(
            node.url,
            settings.backend_auth_token,
            pool_size=settings.worker_connections,
            read_timeout=settings.node_timeout,
            down_interval=settings.node_down_interval,
        )
        for node in ring.nodes
    }
    return ClusterBackend(ring, clients, settings.replicas, settings.write_quorum, settings.read_quorum, settings.tombstone_grace)


def _s3_app(
    settings: Settings, backend: Backend, collectors: Callable[[], list[object]], shared: SharedCredentials | None = None
) -> falcon.App:
    """`collectors`: what its /metrics exports, made afresh for each scrape."""
    authenticator = Authenticator(
        credential_store(settings.credentials_path, settings.access_key, settings.secret_key, settings.auth_token, shared),
        settings.region if settings.enforce_region else None,
        settings.allow_anonymous,
    )
    status = StatusEndpoints(
        backend.ready,
        collectors,
        _about(settings),
        health_access=settings.health_access,
        status_access=settings.status_access,
        token=settings.status_token,
    )
    max_body = min(MAX_PUT_SIZE, settings.max_body_mb * 1024**2)
    return create_app(backend, authenticator, domain=settings.domain, region=settings.region, status=status, max_body=max_body)


def _about(settings: Settings) -> dict[str, object]:
    """What /debug/vars says of the service besides its metrics (nothing secret: no settings, no command line)."""
    return {"version": __version__, "role": settings.mode}


def node_app(settings: Settings | None = None) -> falcon.App:
    """`wsgi-s3 node`: a storage node's internal API over a Store in this process."""
    settings = settings or active()
    store = Store(settings.data_dir, lock_timeout=settings.lock_timeout)
    # A node's /metrics and /debug/* need the cluster token, unless the operator opened them.
    status = StatusEndpoints(
        store.check_writable,
        lambda: [StoreCollector(store.stats)],
        _about(settings),
        health_access=settings.health_access,
        status_access="open" if settings.status_access == "open" else "token",
        token=settings.auth_token,
    )
    return create_node_app(store, settings.auth_token, status)
