"""Configuration of real services: start-up refuses bad files, `config show`, secrets kept out of the
environment and command lines of every process, and reload (SIGHUP) without dropping requests."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import urllib3
from botocore.exceptions import ClientError

from tests.conftest import ACCESS_KEY, CLUSTER_TOKEN, SECRET_KEY, Server, free_port, make_cluster
from tests.polling import wait_until

NODES = "http://127.0.0.1:9101,http://127.0.0.1:9102,http://127.0.0.1:9103"


def wsgi_s3(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "WSGI_S3_", "S3_"))}
    return subprocess.run([sys.executable, "-m", "wsgi_s3", *args], env={**clean, **(env or {})}, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("command", ["serve", "gateway", "node"])
@pytest.mark.parametrize(
    ("line", "problem"),
    [("listen_adress = :9000", "unknown setting 'listen_adress'"), ("sweep_grace = often", "sweep_grace: expected seconds or a duration")],
)
def test_a_bad_file_stops_start_up_naming_the_key_the_file_and_the_line(command, line, problem, tmp_path):
    ini = tmp_path / "bad.ini"
    ini.write_text(f"; {command}\n[server]\nworkers = 1\n{line}\n")
    token = {"WSGI_S3_AUTH_TOKEN": "t", "WSGI_S3_BACKEND_AUTH_TOKEN": "t"}
    result = wsgi_s3(command, "--nodes", NODES, "--config", str(ini), "--data-dir", str(tmp_path / "data"), env=token) if command == "gateway" \
        else wsgi_s3(command, "--config", str(ini), "--data-dir", str(tmp_path / "data"), env=token)
    assert result.returncode == 2, result.stderr
    assert f"{ini}:4: {problem}" in result.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was made


def test_a_bad_environment_value_stops_start_up(tmp_path):
    result = wsgi_s3("serve", "--data-dir", str(tmp_path / "data"), env={"WSGI_S3_WORKERS": "many"})
    assert result.returncode == 2
    assert "env WSGI_S3_WORKERS: workers: expected an integer, got 'many'" in result.stderr


def test_config_show_prints_each_value_and_its_source_with_secrets_masked(tmp_path):
    ini = tmp_path / "gateway.ini"
    ini.write_text("[cluster]\nreplicas = 3\nbackend_auth_token = ini-token-value\n[maintenance]\nrepair_interval = 10m\n")
    result = wsgi_s3(
        "config", "show", "-config=" + str(ini), "--workers", "4",
        env={"S3_MODE": "gateway", "S3_NODES": NODES, "AWS_SECRET_ACCESS_KEY": "env-secret-value", "WSGI_S3_REGION": "eu-west-1"},
    )
    assert result.returncode == 0, result.stderr
    shown = {line.split(" = ")[0]: line for line in result.stdout.splitlines() if " = " in line}
    assert "(mode: env S3_MODE)" in result.stdout
    assert shown["workers"].split(" ;")[0].rstrip() == "workers = 4" and shown["workers"].endswith("; flag --workers")
    assert shown["nodes"].endswith("; env S3_NODES") and NODES in shown["nodes"]
    assert shown["region"].endswith("; env WSGI_S3_REGION")
    assert shown["repair_interval"].startswith("repair_interval = 600 ") and shown["repair_interval"].endswith(f"; file {ini}:5")
    assert shown["backend_auth_token"].startswith("backend_auth_token = ******** ") and shown["backend_auth_token"].endswith(f"{ini}:3")
    assert shown["secret_key"].endswith("; env AWS_SECRET_ACCESS_KEY")
    assert shown["listen"].endswith("; default")
    assert "ini-token-value" not in result.stdout and "env-secret-value" not in result.stdout
    assert "sweep_grace" not in shown  # a gateway has no store to sweep: only what it reads is shown


def _proc(pid: int, name: str) -> bytes:
    return Path(f"/proc/{pid}/{name}").read_bytes()


def test_secrets_are_in_no_process_environment_or_command_line(tmp_path):
    """Tokens and the root secret given in ini files reach the workers (requests work) without
    passing through any process's environment or argv: /proc/PID/environ and cmdline of every
    master, worker and sweeper of a serve, three nodes and a gateway, and os.environ as the master
    and each worker see it (what anything they started would inherit; /proc shows only the
    environment a process was started with)."""
    secret, token = "ini-root-secret-7f3a9c", CLUSTER_TOKEN + "-from-ini"
    probe = tmp_path / "probe.conf.py"
    probe.write_text(
        "import json, os\n"
        "from wsgi_s3.gunicorn_conf import *  # noqa: F401,F403\n"
        f"def _dump(): open(os.path.join({str(tmp_path)!r}, f'environ-{{os.getpid()}}.json'), 'w').write(json.dumps(dict(os.environ)))\n"
        "def when_ready(server): _dump()\n"
        "def post_worker_init(worker): _dump()\n"
    )
    probed = ["--gunicorn-config", str(probe)]
    node_ini = tmp_path / "node.ini"
    node_ini.write_text(f"[cluster]\nauth_token = {token}\n[server]\nworkers = 1\n")
    nodes = [
        Server(tmp_path / f"node{i}", free_port(), ["--config", str(node_ini), *probed], root_key=False, command="node",
               ready_path="/v1/buckets", ready_headers={"Authorization": "Bearer " + token})
        for i in range(3)
    ]
    s3_ini = tmp_path / "s3.ini"
    s3_ini.write_text(f"[auth]\naccess_key = INIROOTKEY0000000001\nsecret_key = {secret}\n[cluster]\nbackend_auth_token = {token}\n")
    nodes_flag = ",".join(node.endpoint for node in nodes)
    gateway = Server(tmp_path / "gw", free_port(), ["--config", str(s3_ini), "--nodes", nodes_flag, *probed], root_key=False, command="gateway")
    serve = Server(tmp_path / "serve", free_port(), ["--config", str(s3_ini), *probed], root_key=False)
    services = [*nodes, gateway, serve]
    try:
        for service in services:
            service.start()
        for service in (gateway, serve):
            client = boto3.client("s3", endpoint_url=service.endpoint, aws_access_key_id="INIROOTKEY0000000001",
                                  aws_secret_access_key=secret, region_name="us-east-1")
            client.create_bucket(Bucket="secret-free")
            client.put_object(Bucket="secret-free", Key="k", Body=b"v")
            assert client.get_object(Bucket="secret-free", Key="k")["Body"].read() == b"v"
        pids = [pid for service in services for pid in service.pids()]
        assert len(pids) >= 2 * len(services)  # each master and at least one worker
        for pid in pids:
            for name in ("environ", "cmdline"):
                seen = _proc(pid, name)
                assert secret.encode() not in seen and token.encode() not in seen, (pid, name)
        dumps = list(tmp_path.glob("environ-*.json"))
        assert len(dumps) >= 2 * len(services)  # each master and each worker dumped its os.environ
        for dump in dumps:
            text = dump.read_text()
            assert secret not in text and token not in text and "WSGI_S3_SETTINGS" not in text, dump
    finally:
        for service in services:
            service.stop()


def _reloadable(kind: str, tmp_path: Path, ini: Path) -> tuple[Server, list[Server]]:
    """An embedded server or a cluster's gateway reading `ini`, its root key only from there."""
    if kind == "embedded":
        server = Server(tmp_path / "data", free_port(), ["--config", str(ini), "--workers", "1"], root_key=False)
        return server, [server]
    cluster = make_cluster(tmp_path)
    cluster.gateway.extra_args += ["--config", str(ini), "--workers", "1"]
    cluster.gateway.root_key = False
    return cluster.gateway, [*cluster.nodes, cluster.gateway]


def _client(server: Server, access_key: str, secret_key: str) -> object:
    return boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name="us-east-1")


def _answer(server: Server, access_key: str, secret_key: str) -> str:
    """"ok", or the error code of a ListObjectsV2 signed with this key, on a connection of its own."""
    client = _client(server, access_key, secret_key)
    try:
        client.list_objects_v2(Bucket="reload")
        return "ok"
    except ClientError as exc:
        return exc.response["Error"]["Code"]
    finally:
        client.close()


@pytest.mark.parametrize("kind", ["embedded", "cluster"])
def test_reload_applies_a_changed_file_without_dropping_requests_in_flight(kind, tmp_path, raw_s3):
    """SIGHUP (systemctl reload): the file and the root key are re-read and workers replaced, while
    a slow download and a slow upload that began before it finish intact."""
    ini = tmp_path / "service.ini"
    ini.write_text(f"[auth]\naccess_key = {ACCESS_KEY}\nsecret_key = {SECRET_KEY}\nallow_anonymous = false\n")
    server, services = _reloadable(kind, tmp_path, ini)
    for service in services:
        service.start()
    http = urllib3.PoolManager(retries=False)
    try:
        old = _client(server, ACCESS_KEY, SECRET_KEY)
        old.create_bucket(Bucket="reload")
        big = os.urandom(1 << 20) * 48
        old.put_object(Bucket="reload", Key="big", Body=big)
        old.put_object(Bucket="reload", Key="small", Body=b"public now")
        download = old.get_object(Bucket="reload", Key="big")["Body"]
        received = hashlib.sha256(download.read(1 << 20))
        upload_size = 8 << 20
        upload_body = os.urandom(upload_size)
        upload = raw_s3(server).start("PUT", "/reload/slow-upload", upload_size)
        upload.send(upload_body[: upload_size // 2])
        assert http.request("GET", f"{server.endpoint}/reload/small").status == 403
        workers_before = set(server.pids())

        ini.write_text("[auth]\naccess_key = ROTATEDROOTKEY000001\nsecret_key = rotated-secret\nallow_anonymous = true\n")
        os.kill(server.process.pid, signal.SIGHUP)

        def reloaded() -> bool:
            """Five times in a row, on fresh connections: a retiring worker keeps accepting for up to a
            second after its TERM, and keeps serving its open keep-alive connections with the old settings."""
            for _ in range(5):
                with urllib3.PoolManager(retries=False) as fresh:
                    if fresh.request("GET", f"{server.endpoint}/reload/small").status != 200:
                        return False
                if _answer(server, "ROTATEDROOTKEY000001", "rotated-secret") != "ok" or _answer(server, ACCESS_KEY, SECRET_KEY) != "InvalidAccessKeyId":
                    return False
            return True

        wait_until(reloaded, lambda: f"anonymous reads and the rotated root key:\n{server.log()}", pause=0.2)
        assert set(server.pids()) - workers_before  # fresh workers serve now
        new = _client(server, "ROTATEDROOTKEY000001", "rotated-secret")
        # The requests that began before the reload finish on the old worker, whole.
        upload.send(upload_body[upload_size // 2 :])
        assert upload.getresponse().status == 200
        for chunk in iter(lambda: download.read(1 << 20), b""):
            received.update(chunk)
        assert received.digest() == hashlib.sha256(big).digest()
        assert new.get_object(Bucket="reload", Key="slow-upload")["Body"].read() == upload_body
        assert server.process.poll() is None
    finally:
        http.clear()
        for service in reversed(services):
            service.stop()


def test_a_reload_with_a_broken_file_keeps_the_running_configuration(tmp_path):
    """A typo in a file at reload must not stop a running service; it is logged with its file and line."""
    ini = tmp_path / "service.ini"
    ini.write_text(f"[auth]\naccess_key = {ACCESS_KEY}\nsecret_key = {SECRET_KEY}\n")
    server, _ = _reloadable("embedded", tmp_path, ini)
    server.start()
    try:
        ini.write_text(ini.read_text() + "[server]\nworkers = lots\n")
        os.kill(server.process.pid, signal.SIGHUP)
        wait_until(lambda: "keeping the running configuration" in server.log(), lambda: f"the reload's refusal:\n{server.log()}", pause=0.2)
        assert f"{ini}:5: workers: expected an integer, got 'lots'" in server.log()
        # What only a restart applies is said so, and the rest of the file is applied.
        ini.write_text(ini.read_text().replace("workers = lots", "workers = 1") + "[store]\nsweep_interval = 1h\n")
        os.kill(server.process.pid, signal.SIGHUP)
        wait_until(lambda: "sweep_interval take effect at the next restart" in server.log(), lambda: f"the reload's warning:\n{server.log()}", pause=0.2)
        client = _client(server, ACCESS_KEY, SECRET_KEY)
        client.create_bucket(Bucket="still-serving")
        assert [b["Name"] for b in client.list_buckets()["Buckets"]] == ["still-serving"]
        assert server.process.poll() is None
    finally:
        server.stop()


def test_the_seeds_environment_runs_a_gateway_as_its_readme_writes_it(tmp_path):
    """S3_MODE, S3_LISTEN, S3_NODES, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then `./s3_server`
    with no command: here `wsgi-s3 -data=DIR`."""
    cluster = make_cluster(tmp_path)
    gateway = Server(tmp_path / "gateway", free_port(), root_key=False, command="gateway")
    clean = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "WSGI_S3_", "S3_"))}
    env = {
        **clean, "S3_MODE": "gateway", "S3_LISTEN": f"127.0.0.1:{gateway.port}", "S3_NODES": ",".join(n.endpoint for n in cluster.nodes),
        "AWS_ACCESS_KEY_ID": "SEEDENVKEY0000000001", "AWS_SECRET_ACCESS_KEY": "seed-env-secret", "WSGI_S3_BACKEND_AUTH_TOKEN": CLUSTER_TOKEN,
    }
    gateway.log_path = tmp_path / "gateway.log"
    try:
        for node in cluster.nodes:
            node.start()
        with open(gateway.log_path, "wb") as log:
            gateway.process = subprocess.Popen([sys.executable, "-m", "wsgi_s3", f"-data={gateway.data_dir}"], env=env,
                                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        gateway.wait_ready()
        client = _client(gateway, "SEEDENVKEY0000000001", "seed-env-secret")
        client.create_bucket(Bucket="seed-env")
        client.put_object(Bucket="seed-env", Key="k", Body=b"replicated")
        # It is a gateway: the object went to the nodes, and its own directory holds no store.
        assert sum((node.data_dir / "meta.db").exists() for node in cluster.nodes) == 3
        assert not (gateway.data_dir / "meta.db").exists()
    finally:
        gateway.stop()
        for node in cluster.nodes:
            node.stop()
