"""Every S3 client people use, as they type it, over http and https, and through a cluster's gateway.

One workflow per (client, scheme): make a bucket, upload a small file and a multipart-sized one, list,
sync a folder (twice: the second time must upload nothing), download everything and compare bytes,
fetch presigned URLs with curl, let `rclone check` compare the bucket with the source, copy the big
object inside the bucket, delete everything and remove the bucket. A boto3 client checks the server's side of each step."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.clients.drivers import CLIENTS, Driver, Endpoint, Rclone, Shell, make_driver
from tests.conftest import make_client

SCHEMES = ("http", "https", "cluster")  # cluster: http through the gateway of three real nodes
BIG_SIZE = 21 * 1024 * 1024  # above every lowered multipart threshold (8 MiB), 5 parts of 5 MiB
SPACES = "with spaces (1).txt"
UNICODE = "ünïcødé-日本.txt"
# Which signature each client's presigned URLs carry by default: aws-cli v1, boto3 and s3cmd still make SigV2 ones.
PRESIGN_MARK = {
    "aws-cli-v1": "AWSAccessKeyId=",
    "aws-cli-v2": "X-Amz-Signature=",
    "rclone": "X-Amz-Signature=",
    "s3cmd": "AWSAccessKeyId=",
    "s3cmd-sigv2": "AWSAccessKeyId=",
    "boto3": "AWSAccessKeyId=",  # botocore presigns S3 with SigV2 unless s3v4 is configured
}


def endpoint_for(request: pytest.FixtureRequest, scheme: str) -> Endpoint:
    if scheme == "https":
        return Endpoint(request.getfixturevalue("https_server"), request.getfixturevalue("tls_files").cert)
    if scheme == "cluster":
        return Endpoint(request.getfixturevalue("cluster").gateway, None)
    return Endpoint(request.getfixturevalue("embedded_server"), None)


@pytest.fixture(scope="session")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """small.txt, big.bin (21 MiB) and tree/: 20 files, one empty, one with spaces and parentheses
    in its name, one nested two levels down, one with a non-ASCII name."""
    root = tmp_path_factory.mktemp("source")
    (root / "small.txt").write_bytes(b"a small file\n")
    (root / "big.bin").write_bytes(os.urandom(BIG_SIZE))  # random, so that misplaced parts show
    tree = root / "tree"
    (tree / "nested" / "deep").mkdir(parents=True)
    (tree / "empty.txt").write_bytes(b"")
    (tree / SPACES).write_bytes(b"spaces and parentheses\n")
    (tree / "nested" / "deep" / "file.bin").write_bytes(bytes(range(256)) * 40)
    (tree / UNICODE).write_text("unicode name\n", encoding="utf-8")
    for number in range(16):
        (tree / f"file-{number:02d}.dat").write_bytes(os.urandom(number * 1531 + 1))
    return root


def read_tree(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def server_keys(truth, bucket: str) -> dict[str, int]:
    found = {}
    for page in truth.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        found.update({entry["Key"]: entry["Size"] for entry in page.get("Contents", [])})
    return found


def curl(shell: Shell, url: str, out: Path) -> bytes:
    argv = ["curl", "--silent", "--show-error", "--fail", "--globoff", "--output", str(out)]
    if shell.endpoint.ca:
        argv += ["--cacert", str(shell.endpoint.ca)]
    shell.run(*argv, url)
    return out.read_bytes()


@pytest.mark.parametrize(("client", "scheme"), [pytest.param(c, s, id=f"{c}-{s}") for c in CLIENTS for s in SCHEMES])
def test_client_workflow(client: str, scheme: str, request: pytest.FixtureRequest, source: Path, tmp_path: Path) -> None:
    endpoint = endpoint_for(request, scheme)
    driver: Driver = make_driver(client, endpoint, tmp_path / "home")
    truth = make_client(endpoint.url, verify=str(endpoint.ca) if endpoint.ca else False)
    bucket = f"{client}-{scheme}-{uuid.uuid4().hex[:8]}"
    expected = read_tree(source)

    driver.make_bucket(bucket)
    truth.head_bucket(Bucket=bucket)

    driver.put(source / "small.txt", bucket, "small.txt")
    driver.put_big(source / "big.bin", bucket, "big.bin")
    etag = truth.head_object(Bucket=bucket, Key="big.bin")["ETag"]
    parts = re.fullmatch(r'"[0-9a-f]{32}-(\d+)"', etag)
    assert parts and int(parts[1]) >= 2, f"big.bin was not uploaded in parts: ETag {etag}"
    assert driver.list(bucket) == {"small.txt": len(expected["small.txt"]), "big.bin": BIG_SIZE}

    tree_keys = {"tree/" + name for name in read_tree(source / "tree")}
    uploaded = driver.sync_up(source / "tree", bucket, "tree/")
    assert sorted(uploaded) == sorted(tree_keys)
    assert server_keys(truth, bucket) == {key: len(data) for key, data in expected.items()}
    if driver.syncs:
        assert driver.sync_up(source / "tree", bucket, "tree/") == [], "the second sync uploaded again"

    download = tmp_path / "download"
    driver.download_all(bucket, download)
    assert read_tree(download).keys() == expected.keys()
    assert read_tree(download) == expected

    if driver.presigns:
        shell = Shell(endpoint, tmp_path / "curl")
        for number, key in enumerate(("small.txt", f"tree/{SPACES}", f"tree/{UNICODE}")):
            url = driver.presign(bucket, key)
            assert url.startswith(endpoint.url + "/") and PRESIGN_MARK[client] in url, url
            assert curl(shell, url, tmp_path / f"presigned-{number}") == expected[key], key

    checked = Rclone(endpoint, tmp_path / "rclone-check").check(source, bucket)
    assert "0 differences found" in checked.stderr and f"{len(expected)} matching files" in checked.stderr, checked.stderr

    driver.copy(bucket, "big.bin", "copies/big (copy).bin")
    assert truth.get_object(Bucket=bucket, Key="copies/big (copy).bin")["Body"].read() == expected["big.bin"]

    driver.delete_all(bucket)
    assert server_keys(truth, bucket) == {}
    driver.remove_bucket(bucket)
    with pytest.raises(ClientError) as missing:
        truth.head_bucket(Bucket=bucket)
    assert missing.value.response["Error"]["Code"] == "404"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_rclone_without_version_ids(scheme: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """A bucket that never had versioning answers HEAD without x-amz-version-id (rclone would follow
    a "null" one), and still answers HEAD/GET ?versionId=null for clients that send it."""
    endpoint = endpoint_for(request, scheme)
    truth = make_client(endpoint.url, verify=str(endpoint.ca) if endpoint.ca else False)
    rclone = Rclone(endpoint, tmp_path / "home")
    bucket = f"rclone-versions-{uuid.uuid4().hex[:8]}"
    truth.create_bucket(Bucket=bucket)
    truth.put_object(Bucket=bucket, Key="plain.txt", Body=b"written by boto3\n")
    head = truth.head_object(Bucket=bucket, Key="plain.txt")
    assert "x-amz-version-id" not in head["ResponseMetadata"]["HTTPHeaders"]

    local = tmp_path / "local"
    local.mkdir()
    for name in ("up.txt", "copied.txt"):
        (local / name).write_bytes(b"written by rclone\n")
    rclone.rclone("copyto", local / "up.txt", f"ws3:{bucket}/up.txt")
    rclone.rclone("copyto", f"ws3:{bucket}/up.txt", f"ws3:{bucket}/copied.txt")  # a server-side copy
    assert rclone.rclone("cat", f"ws3:{bucket}/plain.txt").stdout == "written by boto3\n"
    assert rclone.rclone("cat", f"ws3:{bucket}/copied.txt").stdout == "written by rclone\n"
    listing = rclone.rclone("lsf", f"ws3:{bucket}").stdout.split()
    assert sorted(listing) == ["copied.txt", "plain.txt", "up.txt"]
    rclone.rclone("check", "--one-way", local, f"ws3:{bucket}")  # sizes and MD5s of up.txt and copied.txt
    rclone.rclone("copyto", f"ws3:{bucket}/plain.txt", tmp_path / "plain.txt")
    assert (tmp_path / "plain.txt").read_bytes() == b"written by boto3\n"

    for key in ("plain.txt", "up.txt", "copied.txt"):
        head = truth.head_object(Bucket=bucket, Key=key, VersionId="null")
        assert head["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert "x-amz-version-id" not in head["ResponseMetadata"]["HTTPHeaders"]
    assert truth.get_object(Bucket=bucket, Key="plain.txt", VersionId="null")["Body"].read() == b"written by boto3\n"

    rclone.rclone("purge", f"ws3:{bucket}")
    with pytest.raises(ClientError):
        truth.head_bucket(Bucket=bucket)
