"""Buckets: create, get, list in name order, delete and create again."""

from __future__ import annotations

import pytest

from tests.contract.conftest import OWNER, REGION, config_stamp
from wsgi_s3.backend.base import Backend
from wsgi_s3.model import errors


def test_a_created_bucket_is_found_with_what_it_was_created_with(backend: Backend) -> None:
    created = backend.create_bucket("photos", "eu-west-1", OWNER)
    assert (created.name, created.region, created.owner, created.versioning) == ("photos", "eu-west-1", OWNER, "")
    assert backend.get_bucket("photos") == created


def test_buckets_are_listed_in_name_order(backend: Backend) -> None:
    for name in ("zeta", "alpha", "mid-1", "mid.0"):
        backend.create_bucket(name, REGION, OWNER)
    assert [info.name for info in backend.list_buckets()] == ["alpha", "mid-1", "mid.0", "zeta"]


def test_a_deleted_bucket_is_gone(backend: Backend) -> None:
    backend.create_bucket("gone", REGION, OWNER)
    backend.delete_bucket("gone")
    assert backend.list_buckets() == []
    with pytest.raises(errors.NotFound) as raised:
        backend.get_bucket("gone")
    assert raised.value.what == "bucket"
    backend.create_bucket("gone", REGION, OWNER)  # the name is free again
    assert [info.name for info in backend.list_buckets()] == ["gone"]


def test_bucket_configuration_is_one_document_per_kind(backend: Backend) -> None:
    backend.create_bucket("configured", REGION, OWNER)
    assert backend.get_bucket_config("configured", "versioning") is None
    backend.put_bucket_config("configured", "versioning", "Enabled", config_stamp())
    backend.put_bucket_config("configured", "lifecycle", "<rules/>", config_stamp())
    assert backend.get_bucket_config("configured", "versioning") == "Enabled"
    assert backend.get_bucket("configured").versioning == "Enabled"
    backend.put_bucket_config("configured", "lifecycle", None, config_stamp())
    assert backend.get_bucket_config("configured", "lifecycle") is None
    backend.delete_bucket("configured")
    backend.create_bucket("configured", REGION, OWNER)  # a bucket made again under the name starts afresh
    assert backend.get_bucket("configured").versioning == ""


def test_configuration_of_a_missing_bucket_is_not_found(backend: Backend) -> None:
    for call in (lambda: backend.get_bucket_config("missing", "versioning"), lambda: backend.put_bucket_config("missing", "versioning", "Enabled", config_stamp())):
        with pytest.raises(errors.NotFound) as raised:
            call()
        assert raised.value.what == "bucket"


def test_the_newest_configuration_write_wins_and_a_removal_is_kept(backend: Backend) -> None:
    """Stamps order configuration writes, not their arrival: an older write that arrives late (a
    replica, a repair) changes nothing, not even after a removal."""
    backend.create_bucket("stamped", REGION, OWNER)
    older, removal, newer = config_stamp(), config_stamp(), config_stamp()
    backend.put_bucket_config("stamped", "lifecycle", "<newer/>", newer)
    backend.put_bucket_config("stamped", "lifecycle", "<older/>", older)
    assert backend.get_bucket_config("stamped", "lifecycle") == "<newer/>"
    backend.put_bucket_config("stamped", "versioning", None, removal)
    backend.put_bucket_config("stamped", "versioning", "Enabled", older)
    assert backend.get_bucket_config("stamped", "versioning") is None
    assert backend.get_bucket("stamped").versioning == ""
    backend.put_bucket_config("stamped", "versioning", "Suspended", newer)
    assert backend.get_bucket("stamped").versioning == "Suspended"
