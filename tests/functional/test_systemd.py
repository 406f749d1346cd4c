"""The systemd units in systemd/: `systemd-analyze verify` accepts them without a warning, they are
hardened and reload gracefully, and their command lines start working services."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import boto3
import pytest
import urllib3

from tests.conftest import CLUSTER_TOKEN, free_port

UNITS = Path(__file__).resolve().parents[2] / "systemd"
NAMES = ("wsgi-s3.service", "wsgi-s3-gateway.service", "wsgi-s3-node@.service")


def installed(tmp_path: Path, name: str, instance: str = "disk1") -> Path:
    """A copy of the unit whose ExecStart runs the installed console script (a template as one of its instances)."""
    script = shutil.which("wsgi-s3")
    assert script, "the wsgi-s3 console script is not installed (pip install -e .)"
    text = (UNITS / name).read_text().replace("/usr/local/bin/wsgi-s3", script)
    copy = tmp_path / name.replace("@.", f"@{instance}.")
    copy.write_text(text)
    return copy


def verify(*units: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["systemd-analyze", "verify", *map(str, units)], capture_output=True, text=True, timeout=120)


def test_systemd_analyze_verify_accepts_the_units_without_warnings(tmp_path):
    result = verify(*(installed(tmp_path, name) for name in NAMES))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    # The check can fail: a misspelt directive is only a warning to systemd, and the test sees it.
    broken = tmp_path / "broken.service"
    broken.write_text((tmp_path / "wsgi-s3.service").read_text().replace("ProtectSystem=strict", "ProtectSystem=strictly"))
    assert "protect system" in verify(broken).stderr


def service_section(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read_string((UNITS / name).read_text())
    return parser["Service"]


@pytest.mark.parametrize("name", NAMES)
def test_units_are_hardened_and_reload_gracefully(name):
    service = service_section(name)
    assert service["Type"] == "notify" and service["NotifyAccess"] == "main"  # gunicorn reports READY=1
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["NoNewPrivileges"] == "true" and service["PrivateTmp"] == "true"
    assert service["ProtectSystem"] == "strict" and service["LimitNOFILE"] == "65535"
    data_dir = re.search(r"--data-dir (\S+)", service["ExecStart"]).group(1)
    assert service["ReadWritePaths"] == data_dir == "/var/lib/" + service["StateDirectory"]
    assert service["User"] == "wsgi-s3"
    assert not re.search(r"--(secret-key|auth-token|backend-auth-token)", service["ExecStart"])  # `ps` shows it


def command_line(name: str, etc: Path, var: Path, instance: str = "") -> list[str]:
    """The unit's ExecStart as it would run, with /etc/wsgi-s3 and /var/lib/wsgi-s3 moved under the test's folder."""
    line = service_section(name)["ExecStart"].replace("%i", instance)
    line = line.replace("/etc/wsgi-s3", str(etc)).replace("/var/lib/wsgi-s3", str(var))
    return [shutil.which("wsgi-s3"), *line.split()[1:]]


def wait_ready(url: str, process: subprocess.Popen, log_path: Path, headers: dict[str, str] | None = None) -> None:
    with urllib3.PoolManager(retries=False, timeout=2) as http:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, f"{url}: the service exited:\n{log_path.read_text()}"
            try:
                if http.request("GET", url, headers=headers).status == 200:
                    return
            except urllib3.exceptions.HTTPError:
                pass
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def test_the_units_command_lines_run_a_cluster_and_reload_it(tmp_path):
    """/etc/wsgi-s3 laid out as README describes (cluster.ini, gateway.ini, nodes/*.ini): the node
    template's and the gateway unit's ExecStart start a working cluster, and their ExecReload (HUP) keeps it serving."""
    etc, var = tmp_path / "etc", tmp_path / "var"
    (etc / "nodes").mkdir(parents=True)
    ports = {f"disk{i}": free_port() for i in (1, 2, 3)}
    nodes = ",".join(f"http://127.0.0.1:{port}" for port in ports.values())
    (etc / "cluster.ini").write_text(
        f"[cluster]\nnodes = {nodes}\nauth_token = {CLUSTER_TOKEN}\nbackend_auth_token = {CLUSTER_TOKEN}\n"
    )
    for instance, port in ports.items():
        (etc / "nodes" / f"{instance}.ini").write_text(f"[server]\nlisten = 127.0.0.1:{port}\nworkers = 1\n")
    gateway_port = free_port()
    (etc / "gateway.ini").write_text(
        f"[server]\nlisten = 127.0.0.1:{gateway_port}\nworkers = 1\n[auth]\naccess_key = UNITROOTKEY000000001\nsecret_key = unit-secret\n"
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "WSGI_S3_", "S3_"))}
    env["PYTHONPATH"] = str(UNITS.parent)  # the console script runs this checkout's code, installed or not
    processes = []
    log_path = tmp_path / "services.log"
    log = open(log_path, "ab")
    try:
        for instance, port in ports.items():
            process = subprocess.Popen(command_line("wsgi-s3-node@.service", etc, var, instance), env=env, start_new_session=True,
                                       stdout=log, stderr=subprocess.STDOUT)
            processes.append(process)
            wait_ready(f"http://127.0.0.1:{port}/v1/buckets", process, log_path, {"Authorization": "Bearer " + CLUSTER_TOKEN})
        gateway = subprocess.Popen(command_line("wsgi-s3-gateway.service", etc, var), env=env, start_new_session=True,
                                   stdout=log, stderr=subprocess.STDOUT)
        processes.append(gateway)
        endpoint = f"http://127.0.0.1:{gateway_port}"
        wait_ready(endpoint + "/health", gateway, log_path)
        client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="UNITROOTKEY000000001",
                              aws_secret_access_key="unit-secret", region_name="us-east-1")
        client.create_bucket(Bucket="units")
        client.put_object(Bucket="units", Key="k", Body=b"placed")
        assert all((var / f"node-{instance}" / "meta.db").exists() for instance in ports)
        for process in processes:
            os.kill(process.pid, signal.SIGHUP)  # ExecReload=/bin/kill -HUP $MAINPID
        assert client.get_object(Bucket="units", Key="k")["Body"].read() == b"placed"
        assert all(process.poll() is None for process in processes)
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
        log.close()
        for process in processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
