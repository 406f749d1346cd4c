"""Credentials: scopes and permission checks, the store's reloads, and the admin commands' logic."""

from __future__ import annotations

import stat
from dataclasses import replace

import pytest

from wsgi_s3.admin.credentials import AdminError, CredentialAdmin, parse_buckets, parse_permissions, parse_prefixes
from wsgi_s3.backend.local import LocalBackend
from wsgi_s3.gateway.auth import Authenticator, Credential, CredentialFile, CredentialStore, Principal, SharedCredentials, credential_store
from wsgi_s3.s3 import bearer, errors
from wsgi_s3.s3.operations import resolve
from wsgi_s3.store.store import Store


def authorize(credential: Credential, method: str, bucket: str = "", key: str = "", query: dict | None = None, headers: dict | None = None):
    operation = resolve(method, bucket or None, key or None, query or {}, headers or {})
    Authenticator(CredentialStore("/nonexistent/credentials.json")).authorize(Principal(credential), operation, query or {}, bucket, key)


def refused(*args, **kwargs) -> bool:
    try:
        authorize(*args, **kwargs)
    except errors.AccessDenied:
        return True
    return False


SCOPED = Credential("AK", "SK", frozenset({"read", "write"}), "app", frozenset({"photos"}), ("team/",))


def test_permissions_are_checked_before_scope():
    reader = Credential("AK", "SK", frozenset({"read"}))
    assert not refused(reader, "GET", "any", "key")
    assert refused(reader, "PUT", "any", "key")
    assert refused(reader, "DELETE", "any", "key")
    assert refused(Credential("AK", "SK", frozenset({"write"})), "PUT", "b", "k", headers={"x-amz-copy-source": "/s/k"})


def test_bucket_and_prefix_scope():
    assert not refused(SCOPED, "GET", "photos", "team/a.jpg")
    assert not refused(SCOPED, "PUT", "photos", "team/b.jpg")
    assert refused(SCOPED, "PUT", "photos", "other/b.jpg")
    assert refused(SCOPED, "GET", "documents", "team/a.jpg")
    assert refused(SCOPED, "DELETE", "photos", "team/a.jpg")  # no delete permission
    # Listings must stay within a prefix; bucket-wide reads are fine, bucket-wide writes are not.
    assert not refused(SCOPED, "GET", "photos", query={"list-type": "2", "prefix": "team/x"})
    assert refused(SCOPED, "GET", "photos", query={"list-type": "2"})
    assert refused(SCOPED, "GET", "photos", query={"prefix": "te"})
    assert refused(SCOPED, "GET", "photos", query={"uploads": ""})
    assert not refused(SCOPED, "GET", "photos", query={"location": ""})
    assert refused(SCOPED, "PUT", "photos")  # CreateBucket
    assert refused(SCOPED, "PUT", "photos", query={"versioning": ""})
    assert not refused(SCOPED, "GET")  # ListBuckets (filtered by the handler)


def test_bucket_scope_without_prefixes_allows_the_whole_bucket():
    bucket_only = replace(SCOPED, prefixes=())
    assert not refused(bucket_only, "PUT", "photos")
    assert not refused(bucket_only, "GET", "photos", query={"list-type": "2"})
    assert not refused(bucket_only, "PUT", "photos", "anything")
    assert refused(bucket_only, "PUT", "other")


def test_principal_checks_copy_sources_and_batch_keys():
    Principal(SCOPED).check_key("photos", "team/x")
    Principal(None).check_key("anything", "at-all")  # anonymous callers are limited by the operation
    with pytest.raises(errors.AccessDenied):
        Principal(SCOPED).check_key("photos", "private/x")


def test_admin_parsers():
    assert parse_permissions("read, write") == {"read", "write"}
    assert parse_permissions("*") == {"*"}
    for bad in ("", "admin", "read,list"):
        with pytest.raises(AdminError):
            parse_permissions(bad)
    assert parse_buckets("a-bucket, b.bucket") == {"a-bucket", "b.bucket"}
    with pytest.raises(AdminError):
        parse_buckets(".wsgi-s3")
    assert parse_prefixes("b/, a/,,a/") == ("a/", "b/")


def test_admin_create_rotate_revoke_on_the_file(tmp_path):
    path = str(tmp_path / "credentials.json")
    admin = CredentialAdmin(CredentialFile(path))
    issued = admin.create("app", frozenset({"read"}), frozenset({"photos"}), ("team/",), token=True)
    assert stat.S_IMODE((tmp_path / "credentials.json").stat().st_mode) == 0o600
    text = (tmp_path / "credentials.json").read_text()
    assert issued.credential.secret_key in text  # SigV4 needs the secret itself
    assert issued.token not in text and bearer.digest(issued.token) in text  # a token does not
    with pytest.raises(AdminError):
        admin.create("app", frozenset({"read"}))
    with pytest.raises(AdminError):
        admin.create("bad name", frozenset({"read"}))
    store = CredentialStore(path)
    assert store.get(issued.credential.access_key) == issued.credential
    assert store.by_token(issued.token) == issued.credential

    rotated = admin.rotate("app")
    assert rotated.credential.access_key == issued.credential.access_key
    assert rotated.credential.secret_key != issued.credential.secret_key and rotated.token != issued.token
    store.reload()
    assert store.get(issued.credential.access_key).secret_key == rotated.credential.secret_key
    assert store.by_token(issued.token) is None and store.by_token(rotated.token) is not None

    assert admin.revoke(issued.credential.access_key).name == "app"  # by access key too
    store.reload()
    assert store.get(issued.credential.access_key) is None and store.by_token(rotated.token) is None
    with pytest.raises(AdminError):
        admin.find("app")


def test_an_unknown_key_is_looked_up_again_at_once(tmp_path):
    path = str(tmp_path / "credentials.json")
    store = CredentialStore(path)
    issued = CredentialAdmin(CredentialFile(path)).create("late", frozenset({"*"}))
    assert store.get(issued.credential.access_key) == issued.credential


def test_static_credentials_win_and_are_not_written(tmp_path):
    path = str(tmp_path / "credentials.json")
    CredentialFile(path).save([Credential("ROOT", "written-down", name="impostor")])
    store = credential_store(path, "ROOT", "configured", auth_token="ws3_token")
    assert store.get("ROOT").secret_key == "configured"
    assert store.by_token("ws3_token").allows("delete")
    assert "configured" not in (tmp_path / "credentials.json").read_text()


def test_shared_credentials_through_a_backend(tmp_path):
    backend = LocalBackend(Store(str(tmp_path / "data")))
    shared = SharedCredentials(backend)
    assert shared.load() == []
    issued = CredentialAdmin(shared).create("everywhere", frozenset({"read"}))
    store = CredentialStore(str(tmp_path / "no-file.json"), shared=shared)
    assert store.get(issued.credential.access_key) == issued.credential
    # The document's bucket is internal: a name no S3 client can use.
    assert [b.name for b in backend.list_buckets()] == [".wsgi-s3"]
    CredentialAdmin(shared).revoke("everywhere")
    store.reload()
    assert store.get(issued.credential.access_key) is None
