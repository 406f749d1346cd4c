"""`wsgi-s3 credentials` against real servers: scoped keys, rotation and revocation seen by a running
server within seconds, the seed's script, and credentials shared by every gateway of a cluster."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import CLUSTER_TOKEN, REGION, Server, free_port, make_cluster
from tests.functional import signed_http

ROOT = Path(__file__).resolve().parents[2]


def credentials_cli(server: Server, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`wsgi-s3 credentials ...` where `server` reads them: its data directory, or for a gateway its cluster."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "WSGI_S3_"))}
    if server.command == "gateway":
        target = ["--nodes", server.extra_args[server.extra_args.index("--nodes") + 1]]
        env["WSGI_S3_BACKEND_AUTH_TOKEN"] = CLUSTER_TOKEN
    else:
        target = ["--data-dir", str(server.data_dir)]
    return subprocess.run(
        [sys.executable, "-m", "wsgi_s3", "credentials", *args, *target], env=env, cwd=ROOT, capture_output=True, text=True, check=check
    )


def issued(output: str) -> tuple[str, str]:
    return re.search(r"Access Key: (\S+)", output).group(1), re.search(r"Secret Key: (\S+)", output).group(1)


def client(server: Server, access_key: str, secret_key: str):
    return boto3.client(
        "s3", endpoint_url=server.endpoint, aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        region_name=REGION, config=Config(retries={"max_attempts": 1}),
    )


def code_of(call: Callable[[], object]) -> str:
    """The S3 error code of a call, "" if it succeeded."""
    try:
        call()
    except ClientError as exc:
        return exc.response["Error"]["Code"]
    return ""


def eventually(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Whether `check` held within `timeout` seconds (servers re-read credentials every few seconds)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_a_new_key_works_and_a_revoked_one_is_refused(server, bucket):
    name = unique("app")
    access_key, secret_key = issued(credentials_cli(server, "create", name, "read,write").stdout)
    app = client(server, access_key, secret_key)
    assert eventually(lambda: code_of(lambda: app.put_object(Bucket=bucket, Key="k", Body=b"v")) == "")
    assert app.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    assert code_of(lambda: app.delete_object(Bucket=bucket, Key="k")) == "AccessDenied"  # no delete permission
    shown = credentials_cli(server, "show", name).stdout
    assert access_key in shown and secret_key not in shown
    assert secret_key not in credentials_cli(server, "list").stdout

    assert credentials_cli(server, "revoke", name).stdout.strip() == f"revoked {name}"
    assert eventually(lambda: code_of(lambda: app.get_object(Bucket=bucket, Key="k")) == "InvalidAccessKeyId")
    with pytest.raises(ClientError) as exc:
        app.list_objects_v2(Bucket=bucket)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert credentials_cli(server, "show", name, check=False).returncode == 2


def test_rotate_replaces_the_secret(server, bucket):
    name = unique("rotating")
    access_key, old_secret = issued(credentials_cli(server, "create", name, "*").stdout)
    old = client(server, access_key, old_secret)
    assert eventually(lambda: code_of(lambda: old.list_objects_v2(Bucket=bucket)) == "")
    same_key, new_secret = issued(credentials_cli(server, "rotate", name).stdout)
    assert same_key == access_key and new_secret != old_secret
    new = client(server, access_key, new_secret)
    assert eventually(lambda: code_of(lambda: new.list_objects_v2(Bucket=bucket)) == "")
    assert eventually(lambda: code_of(lambda: old.list_objects_v2(Bucket=bucket)) == "SignatureDoesNotMatch")
    credentials_cli(server, "revoke", name)


def test_a_key_scoped_to_buckets_sees_only_them(server, s3, bucket):
    other = unique("other")
    s3.create_bucket(Bucket=other)
    s3.put_object(Bucket=bucket, Key="mine", Body=b"m")
    s3.put_object(Bucket=other, Key="theirs", Body=b"t")
    name = unique("scoped")
    scoped = client(server, *issued(credentials_cli(server, "create", name, "read", "--buckets", bucket).stdout))
    assert eventually(lambda: code_of(scoped.list_buckets) == "")
    assert [b["Name"] for b in scoped.list_buckets()["Buckets"]] == [bucket]
    assert scoped.get_object(Bucket=bucket, Key="mine")["Body"].read() == b"m"
    assert code_of(lambda: scoped.get_object(Bucket=other, Key="theirs")) == "AccessDenied"
    assert code_of(lambda: scoped.list_objects_v2(Bucket=other)) == "AccessDenied"
    assert code_of(lambda: scoped.put_object(Bucket=bucket, Key="new", Body=b"x")) == "AccessDenied"
    # The root key still sees every bucket, and no internal one.
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert {bucket, other} <= set(names) and not [n for n in names if n.startswith(".")]
    credentials_cli(server, "revoke", name)


def test_a_key_scoped_to_prefixes_stays_within_them(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="private/secret", Body=b"s")
    name = unique("team")
    team = client(server, *issued(credentials_cli(server, "create", name, "*", "--buckets", bucket, "--prefixes", "team/,shared/").stdout))
    assert eventually(lambda: code_of(lambda: team.put_object(Bucket=bucket, Key="team/a", Body=b"a")) == "")
    assert code_of(lambda: team.put_object(Bucket=bucket, Key="private/b", Body=b"b")) == "AccessDenied"
    assert code_of(lambda: team.get_object(Bucket=bucket, Key="private/secret")) == "AccessDenied"
    assert [o["Key"] for o in team.list_objects_v2(Bucket=bucket, Prefix="team/")["Contents"]] == ["team/a"]
    assert code_of(lambda: team.list_objects_v2(Bucket=bucket)) == "AccessDenied"
    assert code_of(lambda: team.copy_object(Bucket=bucket, Key="team/stolen", CopySource=f"{bucket}/private/secret")) == "AccessDenied"
    team.copy_object(Bucket=bucket, Key="shared/a", CopySource=f"{bucket}/team/a")
    result = team.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "team/a"}, {"Key": "private/secret"}]})
    assert [d["Key"] for d in result["Deleted"]] == ["team/a"]
    assert [(e["Key"], e["Code"]) for e in result["Errors"]] == [("private/secret", "AccessDenied")]
    assert s3.get_object(Bucket=bucket, Key="private/secret")["Body"].read() == b"s"
    assert code_of(lambda: team.delete_bucket(Bucket=bucket)) == "AccessDenied"
    credentials_cli(server, "revoke", name)


def test_the_internal_bucket_is_out_of_reach(server):
    name = unique("internal")
    credentials_cli(server, "create", name, "read")  # in a cluster, this makes the internal bucket
    for method in ("GET", "HEAD", "PUT", "DELETE"):
        status, _, body = signed_http.request(server, method, "/.wsgi-s3")
        assert status in (400, 404), (method, status)
        if method == "PUT":
            assert signed_http.error_code(status, body) == "InvalidBucketName"
        elif method != "HEAD":
            assert signed_http.error_code(status, body) == "NoSuchBucket"
    credentials_cli(server, "revoke", name)


def test_the_seed_script_creates_a_key_in_a_private_file(start_server):
    server = start_server()
    out = subprocess.run(
        [str(ROOT / "bin" / "manage-credentials.sh"), "create", "my-app", "read,write", "--data-dir", str(server.data_dir)],
        capture_output=True, text=True, check=True, env={k: v for k, v in os.environ.items() if not k.startswith("WSGI_S3_")},
    ).stdout
    access_key, secret_key = issued(out)
    assert stat.S_IMODE((server.data_dir / "credentials.json").stat().st_mode) == 0o600
    app = client(server, access_key, secret_key)
    app.create_bucket(Bucket="from-the-script")
    assert [b["Name"] for b in app.list_buckets()["Buckets"]] == ["from-the-script"]


def test_every_gateway_of_a_cluster_sees_a_credential_and_its_revocation(tmp_path):
    cluster = make_cluster(tmp_path)
    second = Server(
        tmp_path / "gateway2", free_port(), list(cluster.gateway.extra_args), command="gateway", env={"WSGI_S3_BACKEND_AUTH_TOKEN": CLUSTER_TOKEN}
    )
    cluster.start()
    try:
        second.start()
        access_key, secret_key = issued(credentials_cli(cluster.gateway, "create", "shared-app", "*").stdout)
        # No file was copied: the second gateway's data directory knows nothing of it.
        local = second.data_dir / "credentials.json"
        assert not local.exists() or access_key not in local.read_text()
        on_second, on_first = client(second, access_key, secret_key), client(cluster.gateway, access_key, secret_key)
        assert eventually(lambda: code_of(lambda: on_second.create_bucket(Bucket="made-on-two")) == "")
        on_second.put_object(Bucket="made-on-two", Key="k", Body=b"v")
        assert eventually(lambda: code_of(lambda: on_first.get_object(Bucket="made-on-two", Key="k")) == "")
        credentials_cli(cluster.gateway, "revoke", "shared-app")
        for gateway_client in (on_first, on_second):
            assert eventually(lambda: code_of(lambda: gateway_client.get_object(Bucket="made-on-two", Key="k")) == "InvalidAccessKeyId")
    finally:
        second.stop()
        cluster.stop()
