"""Conditional writes, decided at commit: if_none_match creates only, if_match replaces only the
version with that ETag. A refused write leaves the object as it was."""

from __future__ import annotations

import hashlib

import pytest

from tests.contract.conftest import get, put, stamp
from wsgi_s3.backend.base import Backend
from wsgi_s3.model import errors


def test_if_none_match_creates_a_missing_key(backend: Backend, bucket: str) -> None:
    put(backend, bucket, "k", b"first", if_none_match=True)
    assert get(backend, bucket, "k") == b"first"


def test_a_second_if_none_match_create_fails_and_leaves_the_first(backend: Backend, bucket: str) -> None:
    first = put(backend, bucket, "k", b"first", if_none_match=True)
    with pytest.raises(errors.PreconditionFailed):
        put(backend, bucket, "k", b"second", if_none_match=True)
    assert backend.head_object(bucket, "k").etag == first.etag
    assert get(backend, bucket, "k") == b"first"


def test_if_none_match_creates_a_key_again_after_its_delete(backend: Backend, bucket: str) -> None:
    put(backend, bucket, "k", b"first")
    backend.delete_version(bucket, "k", stamp())
    put(backend, bucket, "k", b"again", if_none_match=True)
    assert get(backend, bucket, "k") == b"again"


def test_if_match_with_the_current_etag_replaces(backend: Backend, bucket: str) -> None:
    first = put(backend, bucket, "k", b"first")
    second = put(backend, bucket, "k", b"second", if_match=first.etag)
    assert backend.head_object(bucket, "k").etag == second.etag == hashlib.md5(b"second").hexdigest()
    assert get(backend, bucket, "k") == b"second"


def test_if_match_with_another_etag_fails_and_leaves_the_object(backend: Backend, bucket: str) -> None:
    old = put(backend, bucket, "k", b"first")
    current = put(backend, bucket, "k", b"second")
    for stale in (old.etag, "0" * 32):
        with pytest.raises(errors.PreconditionFailed):
            put(backend, bucket, "k", b"third", if_match=stale)
    assert backend.head_object(bucket, "k").etag == current.etag
    assert get(backend, bucket, "k") == b"second"


def test_if_match_on_a_missing_key_fails_and_creates_nothing(backend: Backend, bucket: str) -> None:
    with pytest.raises(errors.PreconditionFailed):
        put(backend, bucket, "k", b"data", if_match=hashlib.md5(b"data").hexdigest())
    with pytest.raises(errors.NotFound):
        backend.head_object(bucket, "k")
    assert backend.list_objects(bucket, "", "", "", 1000).objects == []
