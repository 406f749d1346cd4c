"""Leases of background work: one holder at a time, renewals carry the holder's progress, a lease
given back or expired goes to the next claimant with that progress; in a cluster, a majority of
all nodes decides."""

from __future__ import annotations

import uuid

from tests.contract.conftest import cluster_backend
from wsgi_s3.backend.base import Backend

MINUTE = 60 * 10**9


def lease_name() -> str:
    return "test-" + uuid.uuid4().hex  # the cluster's nodes outlive a test; its leases stay


def test_one_holder_at_a_time_and_its_progress_goes_to_the_next(backend: Backend) -> None:
    name = lease_name()
    assert backend.claim_lease(name, "a", MINUTE) == ""
    assert backend.claim_lease(name, "b", MINUTE) is None
    assert backend.claim_lease(name, "a", MINUTE, "bucket-1/key-9") == "bucket-1/key-9"
    assert backend.claim_lease(name, "a", MINUTE) == "bucket-1/key-9"  # a renewal without state keeps it
    assert backend.claim_lease(name, "b", MINUTE, "stolen") is None
    assert backend.claim_lease(name, "a", 0) == "bucket-1/key-9"  # given back
    assert backend.claim_lease(name, "b", MINUTE) == "bucket-1/key-9"
    assert backend.claim_lease(name, "a", MINUTE) is None


def test_an_expired_lease_goes_to_whoever_claims_it(backend: Backend) -> None:
    name = lease_name()
    assert backend.claim_lease(name, "a", 1, "done") == "done"  # expires a nanosecond later
    assert backend.claim_lease(name, "b", MINUTE) == "done"
    assert backend.claim_lease(name, "a", MINUTE) is None
    assert backend.claim_lease("other-" + name, "a", MINUTE) == ""  # leases are independent


def test_in_a_cluster_a_majority_of_the_nodes_grants_a_lease(tmp_path) -> None:
    with cluster_backend(tmp_path) as backend:
        first, second, third = (backend.clients[url] for url in backend.nodes)
        name = lease_name()
        first.claim_lease(name, "other", MINUTE, None)  # one node already granted it to another
        assert backend.claim_lease(name, "a", MINUTE, "progress") == "progress"  # two of three still do
        assert second.claim_lease(name, "other", MINUTE, None) is None
        name = lease_name()
        first.claim_lease(name, "other", MINUTE, None)
        second.claim_lease(name, "other", MINUTE, None)
        assert backend.claim_lease(name, "a", MINUTE) is None
        # The third node's grant was given back: "other" can take the lease on it at once.
        assert third.claim_lease(name, "other", MINUTE, None) is not None
