"""The README's quick start, as a new user runs it: a clean virtualenv, the project installed without
the test extras, `wsgi-s3 serve` from an empty directory, then a PUT and a GET with the printed key."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from tests.conftest import REGION, Server, free_port

REPO = Path(__file__).resolve().parents[2]


def _printed_key(server: Server, timeout: float = 30) -> tuple[str, str]:
    """The root key pair `wsgi-s3 serve` prints on its first start."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = dict(re.findall(r"^\s*(AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY)=(\S+)$", server.log(), re.MULTILINE))
        if len(found) == 2:
            return found["AWS_ACCESS_KEY_ID"], found["AWS_SECRET_ACCESS_KEY"]
        time.sleep(0.1)
    raise AssertionError(f"no root key printed:\n{server.log()}")


@pytest.mark.slow
def test_quick_start_in_a_clean_virtualenv(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    # The machine's pip configuration (index, mirrors) applies inside the venv as it would for a user.
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "-e", "."], cwd=REPO, capture_output=True, text=True)
    assert install.returncode == 0, install.stderr

    workdir = tmp_path / "empty"
    workdir.mkdir()
    server = Server(workdir / "data", free_port())
    server.log_path = tmp_path / "serve.log"
    # No key in the environment: the server must make one and print it, as on a new machine.
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "WSGI_S3_", "PYTHON"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    with open(server.log_path, "ab") as log:
        server.process = subprocess.Popen(
            ["wsgi-s3", "serve", "--listen", f"127.0.0.1:{server.port}"],
            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        server.wait_ready()
        access_key, secret_key = _printed_key(server)
        client = boto3.client(
            "s3", endpoint_url=server.endpoint, aws_access_key_id=access_key, aws_secret_access_key=secret_key,
            region_name=REGION, config=Config(retries={"max_attempts": 1}),
        )
        client.create_bucket(Bucket="photos")
        client.put_object(Bucket="photos", Key="cat.jpg", Body=b"meow")
        assert client.get_object(Bucket="photos", Key="cat.jpg")["Body"].read() == b"meow"
        client.close()
    finally:
        server.stop()
    assert (workdir / "data" / "credentials.json").exists()  # ./data of the directory it was started in
