"""What reaches the logs: presigned URIs without their signatures, credentials.json written durably."""

from __future__ import annotations

import json
import os
import stat
from unittest import mock

import pytest

from wsgi_s3.gateway.auth import Credential, CredentialStore
from wsgi_s3.s3.redact import redact_uri

V4 = (
    "/bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261130%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20261130T000000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=0123abcd"
)


def test_sigv4_signature_is_redacted_and_the_rest_kept() -> None:
    assert redact_uri(V4) == V4.replace("X-Amz-Signature=0123abcd", "X-Amz-Signature=REDACTED")


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("/b/k?AWSAccessKeyId=AKID&Expires=1700000000&Signature=abc%2Bdef%3D", "/b/k?AWSAccessKeyId=AKID&Expires=1700000000&Signature=REDACTED"),
        ("/b/k?x-amz-signature=abc&X-Amz-Security-Token=tok", "/b/k?x-amz-signature=REDACTED&X-Amz-Security-Token=REDACTED"),
        # Encoded names are what the server decodes them to.
        ("/b/k?X-Amz-Signatur%65=abc", "/b/k?X-Amz-Signatur%65=REDACTED"),
        ("/b/k?Signature=a&Signature=b", "/b/k?Signature=REDACTED&Signature=REDACTED"),
        ("/b/k?versionId=3&signature-like=x&uploads", "/b/k?versionId=3&signature-like=x&uploads"),
        ("/b/Signature=x", "/b/Signature=x"),
    ],
)
def test_signature_parameters_are_redacted(uri: str, expected: str) -> None:
    assert redact_uri(uri) == expected


def test_credentials_file_and_its_directory_are_fsynced(tmp_path) -> None:
    path = tmp_path / "credentials.json"
    synced: list[tuple[bool, bool]] = []  # (a directory?, the new file already in place?)

    def record(fd: int) -> None:
        synced.append((stat.S_ISDIR(os.fstat(fd).st_mode), path.exists()))

    with mock.patch("wsgi_s3.durable.os.fsync", side_effect=record):
        CredentialStore(str(path)).add(Credential("AKID", "secret", frozenset({"read"})))
    # The temp file before the rename, then the directory after it.
    assert synced == [(False, False), (True, True)]
    assert json.loads(path.read_text())[0]["access_key"] == "AKID"
