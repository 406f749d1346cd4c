"""Fixtures that start real wsgi-s3 processes on free loopback ports and real clients for them."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
import urllib3
from botocore.config import Config
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis keeps state in ./.hypothesis even without an example database: not in the checkout.
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="wsgi-s3-hypothesis-"))

ACCESS_KEY = "WS3TESTACCESSKEY0001"
SECRET_KEY = "test/secret/key/for/the/wsgi-s3/suite0001"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A `wsgi-s3 serve` (or `node`) process; restartable on the same data directory and port."""

    data_dir: Path
    port: int
    extra_args: list[str] = field(default_factory=list)
    scheme: str = "http"
    root_key: bool = True  # pass ACCESS_KEY/SECRET_KEY in the environment
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    command: str = "serve"
    env: dict[str, str] = field(default_factory=dict)  # added to the process's environment
    ready_path: str = "/health"
    ready_headers: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "WSGI_S3_"))}
        if self.root_key:
            env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
        # Many servers share this host (and other checkouts' test runs): none takes the default metrics
        # port 9091; a test that scrapes one gives its server a free port of its own.
        env["WSGI_S3_METRICS_LISTEN"] = "off"
        env.update(self.env)
        command = [sys.executable, "-m", "wsgi_s3", self.command, "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir)]
        log = open(self.log_path, "ab")
        # A session of its own, so that kill -9 reaches the gunicorn master and its workers.
        self.process = subprocess.Popen(command + self.extra_args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> None:
        # Closed on return: an idle keep-alive connection would hold a gevent worker at shutdown.
        with urllib3.PoolManager(cert_reqs="CERT_NONE", retries=False, timeout=2) as http:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited early:\n{self.log()}")
                try:
                    if http.request("GET", self.endpoint + self.ready_path, headers=self.ready_headers).status == 200:
                        return
                except urllib3.exceptions.HTTPError:
                    pass
                time.sleep(0.1)
        raise RuntimeError(f"server did not become ready:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def pids(self) -> list[int]:
        """The gunicorn master and its workers."""
        out = subprocess.run(["pgrep", "-s", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def stop(self) -> None:
        # A gevent worker waits out idle keep-alive connections (up to graceful_timeout) even on
        # gunicorn's quick-shutdown SIGINT; nothing is in flight when a test stops its server, so
        # after a short grace the rest is a kill, which the crash-safety tests show to be harmless.
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """kill -9 every process of the server at once, as a crash would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator:
    """Factory for servers of a test's own: start_server(*extra_args) -> Server."""
    started: list[Server] = []

    def start(*extra_args: str, scheme: str = "http", root_key: bool = True) -> Server:
        server = Server(tmp_path / f"data-{len(started)}", free_port(), list(extra_args), scheme, root_key)
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()


CLUSTER_TOKEN = "cluster-test-token-0001"


def node_server(data_dir: Path, token: str = CLUSTER_TOKEN) -> Server:
    """A `wsgi-s3 node`, given its token in the environment as the docs advise (flags show in `ps`)."""
    return Server(
        data_dir,
        free_port(),
        root_key=False,
        command="node",
        env={"WSGI_S3_AUTH_TOKEN": token},
        ready_path="/v1/buckets",
        ready_headers={"Authorization": "Bearer " + token},
    )


@dataclass
class Cluster:
    """Three `wsgi-s3 node` processes and a `wsgi-s3 gateway` over them (N=3, W=2, R=1)."""

    nodes: list[Server]
    gateway: Server

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        self.gateway.start()

    def stop(self) -> None:
        for server in (self.gateway, *self.nodes):
            server.stop()


def make_cluster(
    base: Path,
    replicas: int = 3,
    write_quorum: int = 2,
    read_quorum: int = 1,
    gateway_flags: tuple[str, ...] = (),
    via: Callable[[Server], str] = lambda node: node.endpoint,
) -> Cluster:
    """`via`: the URL the gateway is given for a node (a test puts a proxy in front of it)."""
    nodes = [node_server(base / f"node{index}") for index in range(1, 4)]
    flags = ["--nodes", ",".join(via(node) for node in nodes), "--replicas", str(replicas), "-w", str(write_quorum), "-r", str(read_quorum)]
    flags += gateway_flags
    gateway = Server(base / "gateway", free_port(), flags, command="gateway", env={"WSGI_S3_BACKEND_AUTH_TOKEN": CLUSTER_TOKEN})
    return Cluster(nodes, gateway)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster shared by the tests that run against a gateway."""
    instance = make_cluster(tmp_path_factory.mktemp("cluster"))
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One embedded server (`wsgi-s3 serve`) shared by the session."""
    instance = Server(tmp_path_factory.mktemp("shared") / "data", free_port())
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture(scope="session", params=["embedded", "cluster"])
def server(request: pytest.FixtureRequest) -> Server:
    """The S3 endpoint of the tests that only need a working one: each runs against the embedded
    server and against a cluster's gateway (three nodes, N=3, W=2, R=1)."""
    if request.param == "cluster":
        return request.getfixturevalue("cluster").gateway
    return request.getfixturevalue("embedded_server")


@dataclass(frozen=True)
class TlsFiles:
    cert: Path  # self-signed, so it is also the CA bundle clients trust
    key: Path


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A self-signed certificate for 127.0.0.1 and localhost, made with openssl."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return TlsFiles(cert, key)


@pytest.fixture(scope="session")
def https_server(tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles) -> Iterator[Server]:
    """One embedded server serving https itself (gunicorn's TLS), shared like `server`."""
    instance = Server(
        tmp_path_factory.mktemp("shared-tls") / "data",
        free_port(),
        ["--certfile", str(tls_files.cert), "--keyfile", str(tls_files.key)],
        scheme="https",
    )
    instance.start()
    yield instance
    instance.stop()


def make_client(endpoint: str, verify: str | bool = False, **config: object) -> object:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
        verify=verify,
        config=Config(retries={"max_attempts": 1}, **config),
    )


@pytest.fixture(scope="session")
def s3(server: Server) -> object:
    return make_client(server.endpoint)


@pytest.fixture
def bucket(s3: object) -> str:
    name = "test-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def aws_cli() -> str:
    path = shutil.which("aws")
    if path is None:
        pytest.fail("the aws command line is not installed; `pip install -e '.[test]'` installs it")
    return path


def aws_env(folder: Path) -> dict[str, str]:
    """The environment of an `aws` command with the suite's key and no other configuration."""
    config = folder / "aws-config"
    config.write_text(f"[default]\nregion = {REGION}\n")
    return {
        **os.environ,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(folder / "no-credentials"),
    }


@pytest.fixture
def run_aws(aws_cli: str, server: Server, tmp_path: Path):
    """Run `aws ...` against the shared server; returns the CompletedProcess (checked)."""
    env = aws_env(tmp_path)

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([aws_cli, "--endpoint-url", server.endpoint, *args], env=env, capture_output=True, text=True, timeout=600)
        if check and result.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    return run


class RawS3:
    """SigV4-signed requests (UNSIGNED-PAYLOAD) on plain http.client connections, so that a test
    decides exactly when body bytes go out: streamed from a generator, or cut off by a kill -9."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.connections: list = []

    def signed_headers(self, method: str, target: str, headers: dict[str, str] | None = None) -> dict[str, str]:
        """Headers (Host, X-Amz-Date, X-Amz-Content-SHA256, Authorization) for `target` ("/bucket/key?query")."""
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        request = AWSRequest(method=method, url=self.server.endpoint + target, headers=dict(headers or {}))
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
        S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION).add_auth(request)
        return {"Host": f"127.0.0.1:{self.server.port}", **dict(request.headers.items())}

    def start(self, method: str, target: str, length: int, headers: dict[str, str] | None = None):
        """Send a signed request's line and headers (Content-Length: `length`) and return the open
        http.client connection: the caller sends the body with .send() and reads .getresponse()."""
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=120)
        self.connections.append(conn)
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in self.signed_headers(method, target, {**(headers or {}), "Content-Length": str(length)}).items():
            conn.putheader(name, value)
        conn.endheaders()
        return conn

    def request(self, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """A whole signed request: (status, lower-case headers, body)."""
        conn = self.start(method, target, len(body), headers)
        if body:
            conn.send(body)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, {name.lower(): value for name, value in response.getheaders()}, data

    def close(self) -> None:
        for conn in self.connections:
            conn.close()


@pytest.fixture
def raw_s3() -> Iterator:
    """Factory: raw_s3(server) -> RawS3 for that server; its connections are closed after the test."""
    made: list[RawS3] = []

    def make(server: Server) -> RawS3:
        made.append(RawS3(server))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client_for() -> Iterator:
    """Factory: client_for(server, **botocore_config) -> a boto3 S3 client of that server, closed after the test."""
    made: list = []

    def make(server: Server, **config: object) -> object:
        made.append(make_client(server.endpoint, **config))
        return made[-1]

    yield make
    for client in made:
        client.close()
