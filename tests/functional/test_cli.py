"""The `wsgi-s3` command: first-start credentials, seed-style flags, ini files, credential management."""

from __future__ import annotations

import re
import stat
import subprocess
import sys

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import ACCESS_KEY, SECRET_KEY, Server, free_port


def client_for(server: Server, access_key: str, secret_key: str):
    return boto3.client(
        "s3", endpoint_url=server.endpoint, aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name="us-east-1"
    )


def test_first_start_generates_a_root_key_printed_once(start_server):
    server = start_server(root_key=False)
    printed = re.findall(r"AWS_ACCESS_KEY_ID=(\S+)\s+AWS_SECRET_ACCESS_KEY=(\S+)", server.log())
    assert len(printed) == 1
    access_key, secret_key = printed[0]
    credentials = server.data_dir / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    client = client_for(server, access_key, secret_key)
    client.create_bucket(Bucket="first-start")
    server.stop()
    server.start()
    assert len(re.findall(r"AWS_ACCESS_KEY_ID=", server.log())) == 1  # not printed again
    assert [b["Name"] for b in client.list_buckets()["Buckets"]] == ["first-start"]


def test_anonymous_requests_are_refused(server):
    anonymous = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1", config=Config(signature_version=UNSIGNED))
    with pytest.raises(ClientError) as exc:
        anonymous.list_buckets()
    assert exc.value.response["Error"]["Code"] == "AccessDenied"


def test_seed_style_flags_and_ini_file(tmp_path):
    port = free_port()
    ini = tmp_path / "wsgi-s3.ini"
    ini.write_text("[auth]\naccess_key = INIKEY00000000000001\nsecret_key = ini-secret\n[server]\nworkers = 1\n")
    data = tmp_path / "seed-data"
    server = Server(data, port, root_key=False)
    log = open(tmp_path / "seed.log", "wb")
    server.process = subprocess.Popen(
        [sys.executable, "-m", "wsgi_s3", "-mode=serve", f"-listen=127.0.0.1:{port}", f"-data={data}", f"-config={ini}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server.log_path = tmp_path / "seed.log"
    try:
        server.wait_ready()
        client = client_for(server, "INIKEY00000000000001", "ini-secret")
        client.create_bucket(Bucket="seed-flags")
        assert (data / "meta.db").exists()
    finally:
        server.stop()


def test_credentials_create_with_permissions(start_server):
    server = start_server()
    out = subprocess.run(
        [sys.executable, "-m", "wsgi_s3", "credentials", "create", "reader", "read", "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    access_key = re.search(r"Access Key: (\S+)", out).group(1)
    secret_key = re.search(r"Secret Key: (\S+)", out).group(1)
    reader = client_for(server, access_key, secret_key)
    assert reader.list_buckets()["Buckets"] == []
    with pytest.raises(ClientError) as exc:
        reader.create_bucket(Bucket="not-allowed")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    listed = subprocess.run(
        [sys.executable, "-m", "wsgi_s3", "credentials", "list", "--data-dir", str(server.data_dir)], capture_output=True, text=True, check=True
    ).stdout
    assert f"reader\t{access_key}\tread\t*\t*" in listed


def test_allow_anonymous_reads_objects_only(start_server, tmp_path):
    ini = tmp_path / "anonymous.ini"
    ini.write_text("[auth]\nallow_anonymous = true\n")
    server = start_server("--config", str(ini))
    owner = boto3.client(
        "s3", endpoint_url=server.endpoint, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name="us-east-1"
    )
    owner.create_bucket(Bucket="public")
    owner.put_object(Bucket="public", Key="readme.txt", Body=b"open")
    anonymous = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1", config=Config(signature_version=UNSIGNED))
    assert anonymous.get_object(Bucket="public", Key="readme.txt")["Body"].read() == b"open"
    assert [o["Key"] for o in anonymous.list_objects_v2(Bucket="public")["Contents"]] == ["readme.txt"]
    for call in (lambda: anonymous.put_object(Bucket="public", Key="x", Body=b"x"), lambda: anonymous.delete_object(Bucket="public", Key="readme.txt"), anonymous.list_buckets):
        with pytest.raises(ClientError) as exc:
            call()
        assert exc.value.response["Error"]["Code"] == "AccessDenied"


def test_configured_root_key_is_not_written_down(start_server):
    server = start_server()  # the fixture passes AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
    make = boto3.client(
        "s3", endpoint_url=server.endpoint, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name="us-east-1"
    )
    make.create_bucket(Bucket="root-from-env")
    credentials = server.data_dir / "credentials.json"
    assert not credentials.exists() or ACCESS_KEY not in credentials.read_text()
    assert "AWS_SECRET_ACCESS_KEY=" not in server.log()  # nothing generated, nothing printed


def test_a_second_service_on_the_same_data_dir_refuses_to_start(start_server):
    first = start_server()
    second = Server(first.data_dir, free_port())
    with pytest.raises(RuntimeError, match="in use by another wsgi-s3 service"):
        second.start()
    make = boto3.client(
        "s3", endpoint_url=first.endpoint, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name="us-east-1"
    )
    make.create_bucket(Bucket="still-served")
