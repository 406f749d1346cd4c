"""Buckets: create, get, list in name order, delete; the errors a gateway maps to S3 codes."""

from __future__ import annotations

import pytest

from tests.contract.conftest import OWNER, REGION, put
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


def test_a_second_create_of_a_name_is_already_exists_and_keeps_the_first(backend: Backend) -> None:
    first = backend.create_bucket("taken", REGION, OWNER)
    with pytest.raises(errors.AlreadyExists) as raised:
        backend.create_bucket("taken", "eu-west-1", "someone-else")
    assert raised.value.what == "bucket"
    assert backend.get_bucket("taken") == first


def test_a_deleted_bucket_is_gone(backend: Backend) -> None:
    backend.create_bucket("gone", REGION, OWNER)
    backend.delete_bucket("gone")
    assert backend.list_buckets() == []
    with pytest.raises(errors.NotFound) as raised:
        backend.get_bucket("gone")
    assert raised.value.what == "bucket"
    backend.create_bucket("gone", REGION, OWNER)  # the name is free again
    assert [info.name for info in backend.list_buckets()] == ["gone"]


def test_deleting_a_missing_bucket_is_not_found(backend: Backend) -> None:
    with pytest.raises(errors.NotFound) as raised:
        backend.delete_bucket("never")
    assert raised.value.what == "bucket"


def test_a_bucket_with_an_object_is_not_empty_until_the_object_is_deleted(backend: Backend, bucket: str) -> None:
    put(backend, bucket, "k", b"data")
    with pytest.raises(errors.NotEmpty):
        backend.delete_bucket(bucket)
    assert backend.head_object(bucket, "k").size == 4  # refused, and nothing was lost
    backend.delete_object(bucket, "k")
    backend.delete_bucket(bucket)
    assert backend.list_buckets() == []
