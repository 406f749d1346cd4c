"""`wsgi-s3 node`: the seed's flag form, where the token may come from, and the packaged gunicorn hooks."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import Server, free_port
from tests.node.conftest import TOKEN
from wsgi_s3.cli import build_parser, translate_seed_flags
from wsgi_s3.cluster.node_client import NodeClient


def test_seed_flags_name_the_node_command_and_its_token():
    argv = translate_seed_flags(["-mode=node", "-listen=:9001", "-data=./data1", "-auth_token=T"])
    assert argv == ["node", "--listen=:9001", "--data-dir=./data1", "--auth-token=T"]
    args = build_parser().parse_args(argv)
    assert (args.command, args.listen, args.data_dir, args.auth_token) == ("node", ":9001", "./data1", "T")


def test_a_node_without_a_token_does_not_start(tmp_path):
    env = {"PATH": "/usr/bin:/bin"}  # no WSGI_S3_AUTH_TOKEN
    result = subprocess.run(
        [sys.executable, "-m", "wsgi_s3", "node", "--data-dir", str(tmp_path / "data")], env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "WSGI_S3_AUTH_TOKEN" in result.stderr


def test_seed_form_with_the_token_in_an_ini_file_and_one_node_per_data_directory(tmp_path):
    port = free_port()
    data = tmp_path / "data1"
    ini = tmp_path / "node.ini"
    ini.write_text(f"[cluster]\nauth_token = {TOKEN}\n[server]\nworkers = 1\n")
    server = Server(data, port, root_key=False, ready_path="/v1/buckets", ready_headers={"Authorization": "Bearer " + TOKEN})
    server.log_path = tmp_path / "seed.log"
    env = {"PATH": "/usr/bin:/bin"}
    with open(server.log_path, "wb") as log:
        server.process = subprocess.Popen(
            [sys.executable, "-m", "wsgi_s3", "-mode=node", f"-listen=127.0.0.1:{port}", f"-data={data}", f"-config={ini}"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    client = NodeClient(server.endpoint, TOKEN)
    try:
        server.wait_ready()
        client.create_bucket("from-ini", "us-east-1", "")
        assert [bucket.name for bucket in client.list_buckets()] == ["from-ini"]
        assert (data / "meta.db").exists()
        # The packaged on_starting hook locks the data directory for a node as for `serve`.
        second = subprocess.run(
            [sys.executable, "-m", "wsgi_s3", "node", "--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(data)],
            env={**env, "WSGI_S3_AUTH_TOKEN": TOKEN},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode != 0
        assert "in use by another wsgi-s3 service" in second.stderr
    finally:
        client.close()
        server.stop()
