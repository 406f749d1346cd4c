"""The `aws` command line (aws-cli v1) against the shared server: s3 and s3api commands as users type them."""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import re
import uuid
from pathlib import Path

import pytest
import urllib3

MIB = 1 << 20


def new_bucket() -> str:
    return "cli-" + uuid.uuid4().hex[:12]


def md5_file(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


def write_generated(path: Path, size: int, seed: bytes) -> None:
    """`size` bytes, each MiB different, written without holding them all."""
    base = hashlib.sha256(seed).digest() * (MIB // 32)
    with open(path, "wb") as handle:
        for index in range((size + MIB - 1) // MIB):
            handle.write((index.to_bytes(8, "big") + base[8:])[: min(MIB, size - index * MIB)])


def listed_objects(output: str) -> dict[str, int]:
    """`aws s3 ls` object lines ("2025-01-01 12:00:00     1234 key") as {key: size}."""
    found = {}
    for line in output.splitlines():
        match = re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +(\d+) (.+)$", line)
        if match:
            found[match.group(2)] = int(match.group(1))
    return found


def lines_starting(output: str, word: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(word)]


@pytest.fixture
def cli_bucket(run_aws, s3):
    """A bucket made with `aws s3 mb`; emptied and removed with boto3 if the test left it."""
    name = new_bucket()
    result = run_aws("s3", "mb", f"s3://{name}")
    assert f"make_bucket: {name}" in result.stdout
    yield name
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for item in page.get("Contents", []):
                s3.delete_object(Bucket=name, Key=item["Key"])
        s3.delete_bucket(Bucket=name)
    except s3.exceptions.NoSuchBucket:
        pass


def test_mb_ls_and_rb(run_aws, s3):
    name = new_bucket()
    assert f"make_bucket: {name}" in run_aws("s3", "mb", f"s3://{name}").stdout
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert re.search(rf"^\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d {re.escape(name)}$", run_aws("s3", "ls").stdout, re.M)
    assert run_aws("s3", "ls", f"s3://{name}").stdout == ""
    # A second mb of the same name fails, as it does on S3 (BucketAlreadyOwnedByYou).
    again = run_aws("s3", "mb", f"s3://{name}", check=False)
    assert again.returncode != 0 and "BucketAlreadyOwnedByYou" in again.stderr
    assert f"remove_bucket: {name}" in run_aws("s3", "rb", f"s3://{name}").stdout
    assert name not in run_aws("s3", "ls").stdout
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_cp_of_100_mib_goes_multipart_and_comes_back_whole(run_aws, s3, cli_bucket, tmp_path):
    source = tmp_path / "big.bin"
    write_generated(source, 100 * MIB, b"cli cp")
    result = run_aws("s3", "cp", str(source), f"s3://{cli_bucket}/dir/big.bin")
    # The CLI names local files by their path relative to its working directory.
    assert lines_starting(result.stdout, "upload:") == [f"upload: {os.path.relpath(source)} to s3://{cli_bucket}/dir/big.bin"]

    head = s3.head_object(Bucket=cli_bucket, Key="dir/big.bin")
    assert head["ContentLength"] == 100 * MIB
    # The CLI's defaults (multipart_threshold and multipart_chunksize of 8 MiB) make 13 parts.
    assert head["ETag"].endswith('-13"'), head["ETag"]

    listing = run_aws("s3", "ls", f"s3://{cli_bucket}/dir/").stdout
    assert listed_objects(listing) == {"big.bin": 100 * MIB}
    assert listed_objects(run_aws("s3", "ls", "--recursive", f"s3://{cli_bucket}").stdout) == {"dir/big.bin": 100 * MIB}
    assert "PRE dir/" in run_aws("s3", "ls", f"s3://{cli_bucket}").stdout

    copy = tmp_path / "copy.bin"
    result = run_aws("s3", "cp", f"s3://{cli_bucket}/dir/big.bin", str(copy))
    assert lines_starting(result.stdout, "download:") == [f"download: s3://{cli_bucket}/dir/big.bin to {os.path.relpath(copy)}"]
    assert copy.stat().st_size == 100 * MIB
    assert md5_file(copy) == md5_file(source)


def make_tree(root: Path) -> dict[str, bytes]:
    """~20 files: nested directories, an empty file, spaces and parentheses in names."""
    files = {
        "empty.txt": b"",
        "a file (1).txt": b"spaces and parentheses",
        "top.bin": os.urandom(70_000),
        "nested/deeper/deepest/leaf.txt": b"leaf",
        "nested/deeper/x (copy) [2].dat": os.urandom(5000),
        "unicode-é/ключ.txt": "ünïcödé".encode(),
        "plus+and=equals&.txt": b"punctuation",
    }
    for n in range(13):
        files[f"nested/file-{n:02d}.txt"] = f"file {n}\n".encode() * (n * 100 + 1)
    for relative, body in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return files


def tree(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in root.rglob("*") if path.is_file()}


def test_sync_up_again_and_down(run_aws, s3, cli_bucket, tmp_path):
    local = tmp_path / "local"
    files = make_tree(local)
    assert len(files) == 20

    first = run_aws("s3", "sync", str(local), f"s3://{cli_bucket}/backup")
    uploads = lines_starting(first.stdout, "upload:")
    assert len(uploads) == len(files), first.stdout
    stored = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=cli_bucket):
        stored.update({item["Key"]: item["Size"] for item in page.get("Contents", [])})
    assert stored == {f"backup/{name}": len(body) for name, body in files.items()}

    # Nothing changed: the second sync compares sizes and times and uploads nothing.
    second = run_aws("s3", "sync", str(local), f"s3://{cli_bucket}/backup")
    assert lines_starting(second.stdout, "upload:") == [], second.stdout

    # One local change is the only upload of a third sync.
    changed = local / "nested" / "file-03.txt"
    changed.write_bytes(b"changed and longer than before" * 100)
    third = run_aws("s3", "sync", str(local), f"s3://{cli_bucket}/backup")
    expected = f"upload: {os.path.relpath(changed)} to s3://{cli_bucket}/backup/nested/file-03.txt"
    assert lines_starting(third.stdout, "upload:") == [expected], third.stdout

    down = tmp_path / "down"
    result = run_aws("s3", "sync", f"s3://{cli_bucket}/backup", str(down))
    assert len(lines_starting(result.stdout, "download:")) == len(files), result.stdout
    assert tree(down) == tree(local)
    comparison = filecmp.dircmp(local, down)
    assert not comparison.left_only and not comparison.right_only and not comparison.diff_files


@pytest.mark.parametrize("signature", ["s3v4", "default"])
def test_presign_url_serves_the_object_to_plain_http(run_aws, s3, cli_bucket, tmp_path, signature):
    # aws-cli v1's `s3 presign` makes a SigV2 URL (AWSAccessKeyId, Expires, Signature) unless the
    # config file sets `s3 = signature_version = s3v4`: one case for each.
    if signature == "s3v4":
        config = tmp_path / "aws-config"
        assert config.exists(), "run_aws no longer writes its config to tmp_path/aws-config"
        config.write_text(config.read_text() + "s3 =\n    signature_version = s3v4\n")
    body = os.urandom(300_000)
    s3.put_object(Bucket=cli_bucket, Key="shared/report (final).pdf", Body=body, ContentType="application/pdf")

    url = run_aws("s3", "presign", f"s3://{cli_bucket}/shared/report (final).pdf", "--expires-in", "300").stdout.strip()
    if signature == "s3v4":
        assert "X-Amz-Signature=" in url and "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url, url
    else:
        assert "AWSAccessKeyId=" in url and "Signature=" in url and "X-Amz-Algorithm" not in url, url

    http = urllib3.PoolManager(retries=False)
    try:
        response = http.request("GET", url)
        assert response.status == 200, response.data[:500]
        assert response.data == body
        assert response.headers["Content-Type"] == "application/pdf"
        # The signature is checked: the same URL for another key is refused.
        other = url.replace("report%20%28final%29.pdf", "other.pdf")
        assert other != url
        forged = http.request("GET", other)
        assert forged.status == 403
        assert b"SignatureDoesNotMatch" in forged.data
    finally:
        http.clear()


def test_rm_recursive_and_rb(run_aws, s3, tmp_path):
    name = new_bucket()
    run_aws("s3", "mb", f"s3://{name}")
    keys = ["a.txt", "dir/b.txt", "dir/sub/c.txt", "dir/sub/d (e).txt", "z"]
    for key in keys:
        s3.put_object(Bucket=name, Key=key, Body=key.encode())
    # rb refuses a bucket that still holds objects.
    refused = run_aws("s3", "rb", f"s3://{name}", check=False)
    assert refused.returncode != 0 and "BucketNotEmpty" in refused.stderr

    partial = run_aws("s3", "rm", "--recursive", f"s3://{name}/dir/sub/")
    assert sorted(lines_starting(partial.stdout, "delete:")) == [f"delete: s3://{name}/dir/sub/c.txt", f"delete: s3://{name}/dir/sub/d (e).txt"]
    assert listed_objects(run_aws("s3", "ls", "--recursive", f"s3://{name}").stdout) == {"a.txt": 5, "dir/b.txt": 9, "z": 1}

    everything = run_aws("s3", "rm", "--recursive", f"s3://{name}")
    assert len(lines_starting(everything.stdout, "delete:")) == 3
    assert s3.list_objects_v2(Bucket=name)["KeyCount"] == 0
    assert f"remove_bucket: {name}" in run_aws("s3", "rb", f"s3://{name}").stdout
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def s3api(run_aws, *args: str) -> tuple[dict, str]:
    """(parsed JSON output, debug log) of an `aws s3api` command run with --debug."""
    result = run_aws("s3api", *args, "--output", "json", "--debug")
    return (json.loads(result.stdout) if result.stdout.strip() else {}), result.stderr


def requests_made(debug_log: str, operation: str) -> int:
    return debug_log.count(f"Making request for OperationModel(name={operation})")


def test_s3api_pagination_head_and_range(run_aws, s3, cli_bucket):
    keys = [f"key-{n:02d}" for n in range(25)]
    for key in keys:
        s3.put_object(Bucket=cli_bucket, Key=key, Body=key.encode() * 10)

    # All 25 keys, fetched 10 to a request: three ListObjectsV2 calls chained by continuation tokens.
    everything, log = s3api(run_aws, "list-objects-v2", "--bucket", cli_bucket, "--page-size", "10")
    assert [item["Key"] for item in everything["Contents"]] == keys
    assert requests_made(log, "ListObjectsV2") == 3

    # --max-items pages the CLI's output: 10, 10 and the last 5, resumed with --starting-token.
    seen: list[str] = []
    token = None
    for expected in (10, 10, 5):
        args = ["list-objects-v2", "--bucket", cli_bucket, "--page-size", "10", "--max-items", "10"]
        page, _ = s3api(run_aws, *args, *(["--starting-token", token] if token else []))
        assert len(page["Contents"]) == expected
        seen += [item["Key"] for item in page["Contents"]]
        token = page.get("NextToken")
        assert (token is None) == (expected == 5)
    assert seen == keys

    # A page size that does not divide the items: tokens resume in the middle of a server page.
    seen, token = [], None
    while True:
        args = ["list-objects-v2", "--bucket", cli_bucket, "--page-size", "7", "--max-items", "10", "--prefix", "key-"]
        page, _ = s3api(run_aws, *args, *(["--starting-token", token] if token else []))
        seen += [item["Key"] for item in page["Contents"]]
        token = page.get("NextToken")
        if token is None:
            break
    assert seen == keys

    head, _ = s3api(run_aws, "head-object", "--bucket", cli_bucket, "--key", "key-07")
    assert head["ContentLength"] == 60
    assert head["ETag"] == f'"{hashlib.md5(b"key-07" * 10).hexdigest()}"'
    missing = run_aws("s3api", "head-object", "--bucket", cli_bucket, "--key", "nope", check=False)
    assert missing.returncode != 0 and "404" in missing.stderr


def test_s3api_get_object_range(run_aws, s3, cli_bucket, tmp_path):
    body = os.urandom(10_000)
    s3.put_object(Bucket=cli_bucket, Key="ranged.bin", Body=body)
    out = tmp_path / "part.bin"
    result, _ = s3api(run_aws, "get-object", "--bucket", cli_bucket, "--key", "ranged.bin", "--range", "bytes=1000-1999", str(out))
    assert out.read_bytes() == body[1000:2000]
    assert result["ContentRange"] == "bytes 1000-1999/10000"
    assert result["ContentLength"] == 1000
    suffix = tmp_path / "suffix.bin"
    result, _ = s3api(run_aws, "get-object", "--bucket", cli_bucket, "--key", "ranged.bin", "--range", "bytes=-100", str(suffix))
    assert suffix.read_bytes() == body[-100:]
    assert result["ContentRange"] == "bytes 9900-9999/10000"
