"""The README's cluster quick start as written: bin/cluster up, S3 on :9000 through the gateway, status, down."""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path

import boto3
import pytest

from tests.conftest import REGION

ROOT = Path(__file__).resolve().parents[2]
PORTS = (9000, 9001, 9002, 9003)


def cluster(command: str, state: Path) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "WSGI_S3_"))}
    env["CLUSTER_DATA"] = str(state)
    return subprocess.run([str(ROOT / "bin" / "cluster"), command], env=env, capture_output=True, text=True, timeout=120)


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.slow
def test_bin_cluster_up_serves_s3_on_9000_and_down_stops_it(tmp_path):
    if not all(port_free(port) for port in PORTS):
        pytest.fail(f"ports {PORTS} must be free for the bundled cluster (nodes/*.ini)")
    state = tmp_path / "cluster-data"
    try:
        up = cluster("up", state)
        assert up.returncode == 0, up.stdout + up.stderr
        keys = re.search(r"AWS_ACCESS_KEY_ID=(\S+)\s+AWS_SECRET_ACCESS_KEY=(\S+)", up.stdout)
        assert keys, up.stdout
        access_key, secret_key = keys.groups()
        s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:9000", aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=REGION)
        s3.create_bucket(Bucket="demo")
        s3.put_object(Bucket="demo", Key="hello.txt", Body=b"hello, cluster")
        assert s3.get_object(Bucket="demo", Key="hello.txt")["Body"].read() == b"hello, cluster"
        status = cluster("status", state)
        assert status.returncode == 0 and status.stdout.count(": up") == 4, status.stdout
        # Every node holds the object (N=3 of 3 nodes): each data directory has its blob.
        for node in ("node1", "node2", "node3"):
            assert any(path.is_file() for path in (state / node / "blobs").rglob("*")), node
    finally:
        down = cluster("down", state)
    assert down.returncode == 0, down.stderr
    assert cluster("status", state).returncode == 1
    assert all(port_free(port) for port in PORTS)
