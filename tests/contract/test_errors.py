"""The storage errors a gateway maps to S3 codes: NotFound (with `.what` saying what is missing),
AlreadyExists, NotEmpty. Each refused operation leaves everything as it was."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.contract.conftest import OWNER, REGION, MemoryBody, put, stamp
from wsgi_s3.backend.base import Backend
from wsgi_s3.model import errors
from wsgi_s3.model.types import ObjectMeta, Upload

CREATED = ObjectMeta(etag="")


def test_a_second_create_of_a_name_is_already_exists_and_keeps_the_first(backend: Backend) -> None:
    first = backend.create_bucket("taken", REGION, OWNER)
    with pytest.raises(errors.AlreadyExists) as raised:
        backend.create_bucket("taken", "eu-west-1", "someone-else")
    assert raised.value.what == "bucket"
    assert backend.get_bucket("taken") == first


def test_deleting_a_missing_bucket_is_not_found(backend: Backend) -> None:
    with pytest.raises(errors.NotFound) as raised:
        backend.delete_bucket("never")
    assert raised.value.what == "bucket"


def test_a_bucket_with_an_object_is_not_empty_until_the_object_is_deleted(backend: Backend, bucket: str) -> None:
    put(backend, bucket, "k", b"data")
    with pytest.raises(errors.NotEmpty):
        backend.delete_bucket(bucket)
    assert backend.head_object(bucket, "k").size == 4  # refused, and nothing was lost
    backend.delete_version(bucket, "k", stamp())
    backend.delete_bucket(bucket)
    assert backend.list_buckets() == []


def test_a_missing_key_is_not_found_key(backend: Backend, bucket: str) -> None:
    with pytest.raises(errors.NotFound) as raised:
        backend.head_object(bucket, "never")
    assert raised.value.what == "key"


def test_a_version_id_that_does_not_exist_is_not_found_version(backend: Backend, bucket: str) -> None:
    put(backend, bucket, "k", b"data")
    with pytest.raises(errors.NotFound) as raised:
        backend.head_object(bucket, "k", "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")
    assert raised.value.what == "version"


@pytest.mark.parametrize(
    "operation",
    [
        lambda backend: backend.put_object("missing", "k", MemoryBody(b"data"), stamp()),
        lambda backend: backend.head_object("missing", "k"),
        lambda backend: backend.delete_version("missing", "k", stamp()),
        lambda backend: backend.list_objects("missing", "", "", "", 1000),
        lambda backend: backend.create_upload("missing", "k", CREATED, ""),
        lambda backend: backend.list_uploads("missing", "", "", 1000),
    ],
    ids=["put", "head", "delete", "list", "create-upload", "list-uploads"],
)
def test_operations_in_a_missing_bucket_are_not_found_bucket(backend: Backend, operation: Callable[[Backend], object]) -> None:
    with pytest.raises(errors.NotFound) as raised:
        operation(backend)
    assert raised.value.what == "bucket"


def test_an_upload_is_found_only_under_its_own_bucket_and_key(backend: Backend, bucket: str) -> None:
    upload = backend.create_upload(bucket, "k", CREATED, "")
    for key, upload_id in (("other", upload.upload_id), ("k", "no-such-upload")):
        with pytest.raises(errors.NotFound) as raised:
            backend.get_upload(bucket, key, upload_id)
        assert raised.value.what == "upload"


@pytest.mark.parametrize(
    "operation",
    [
        lambda backend, upload: backend.upload_part(upload, 1, MemoryBody(b"part")),
        lambda backend, upload: backend.complete_upload(upload, [], CREATED, stamp()),
        lambda backend, upload: backend.abort_upload(upload),
    ],
    ids=["upload-part", "complete", "abort"],
)
def test_operations_on_an_upload_that_does_not_exist_are_not_found_upload(
    backend: Backend, bucket: str, operation: Callable[[Backend, Upload], object]
) -> None:
    with pytest.raises(errors.NotFound) as raised:
        operation(backend, Upload("no-such-upload", bucket, "k", 0, CREATED))
    assert raised.value.what == "upload"
    with pytest.raises(errors.NotFound):
        backend.head_object(bucket, "k")
