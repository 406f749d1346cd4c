"""`wsgi-s3 gateway` refuses at start a configuration that cannot work, saying why (real processes)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

NODES = "http://127.0.0.1:9101,http://127.0.0.1:9102,http://127.0.0.1:9103"


def gateway(*args: str, token: str | None = "cluster-token") -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "WSGI_S3_"))}
    if token is not None:
        env["WSGI_S3_BACKEND_AUTH_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "wsgi_s3", *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["gateway", "--nodes", NODES, "-w", "4"], "write quorum W=4 must be between 1 and the number of replicas N=3"),
        (["gateway", "--nodes", NODES, "-r", "0"], "read quorum R=0 must be between 1 and the number of replicas N=3"),
        (["gateway", "--nodes", NODES, "--replicas", "4", "-w", "2"], "4 replicas need 4 distinct nodes, but the node list has 3"),
        (["gateway", "--nodes", "http://127.0.0.1:9101,http://127.0.0.1:9101"], "listed twice"),
        (["gateway"], "a gateway needs its storage nodes"),
        # The seed's forms, as written: -mode=gateway -nodes=... -replicas=3 -w=2 -r=1
        (["-mode=gateway", f"-nodes={NODES}", "-replicas=3", "-w=5", "-r=1"], "write quorum W=5"),
        (["-mode=gateway", f"-nodes={NODES}", "-replicas=3", "-w=2", "-r=9"], "read quorum R=9"),
    ],
)
def test_an_impossible_configuration_is_refused_with_the_reason(args, reason, tmp_path):
    result = gateway(*args, "--data-dir", str(tmp_path / "gw"))
    assert result.returncode == 2, result.stderr
    assert reason in result.stderr
    assert not (tmp_path / "gw").exists()  # refused before anything was made


def test_a_gateway_without_the_cluster_token_is_refused(tmp_path):
    result = gateway("gateway", "--nodes", NODES, "--data-dir", str(tmp_path / "gw"), token=None)
    assert result.returncode == 2 and "cluster token" in result.stderr
