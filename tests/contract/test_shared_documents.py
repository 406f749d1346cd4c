"""Shared documents (the credentials every gateway reads): the newest write is what is read."""

from __future__ import annotations

from pathlib import Path

from tests.contract.conftest import cluster_backend, config_stamp
from wsgi_s3.backend.base import SHARED_BUCKET, Backend
from wsgi_s3.model.versions import VersionStamp


def test_a_shared_document_is_read_back_and_replaced(backend: Backend) -> None:
    assert backend.get_shared_document("credentials") is None
    backend.put_shared_document("credentials", "[1]")
    backend.put_shared_document("credentials", "[2]")
    backend.put_shared_document("other", "{}")
    assert backend.get_shared_document("credentials") == "[2]"
    assert backend.get_shared_document("other") == "{}"
    assert [info.name for info in backend.list_buckets()] == [SHARED_BUCKET]


def test_a_node_that_missed_the_last_write_does_not_win(tmp_path: Path) -> None:
    with cluster_backend(tmp_path) as backend:
        backend.put_shared_document("credentials", "still valid")
        # The revoke reached two nodes of three; the third missed it (it was down, say).
        revoke = config_stamp()
        fresh, fresher, stale = backend.clients.values()
        for client in (fresh, fresher):
            client.put_bucket_config(SHARED_BUCKET, "credentials", "revoked", revoke)
        assert stale.get_bucket_config(SHARED_BUCKET, "credentials").document == "still valid"
        for _ in range(5):  # whichever node answers first
            assert backend.get_shared_document("credentials") == "revoked"


def test_a_write_wins_over_a_newer_clock(tmp_path: Path) -> None:
    """A host whose clock is behind the last writer's still replaces its document."""
    with cluster_backend(tmp_path) as backend:
        backend.put_shared_document("credentials", "first")
        for client in backend.clients.values():
            client.put_bucket_config(SHARED_BUCKET, "credentials", "written by a clock in the future", VersionStamp("", 2**62, "ahead"))
        backend.put_shared_document("credentials", "revoked")
        assert backend.get_shared_document("credentials") == "revoked"
