"""Graceful shutdown (SIGTERM) of a real server: in-flight uploads finish and stay, idle clients do not hold it up."""

from __future__ import annotations

import hashlib
import http.client
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import Server, make_client, make_cluster
from tests.functional import signed_http

GRACEFUL_TIMEOUT = 30  # wsgi_s3/gunicorn_conf.py


@pytest.fixture(params=["embedded", "cluster"])
def target(request: pytest.FixtureRequest, start_server, tmp_path) -> Iterator[Server]:
    """A server of the test's own (it is stopped by the test): `serve`, or a cluster's gateway."""
    if request.param == "embedded":
        yield start_server()
        return
    cluster = make_cluster(tmp_path)
    cluster.start()
    yield cluster.gateway
    cluster.stop()


def _wait_refused(server: Server, within: float = 20) -> None:
    """Until a new connection to the server's port is refused: it has stopped accepting."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1):
                pass
        except ConnectionRefusedError:
            return
        time.sleep(0.05)
    raise AssertionError("the server still accepts connections after SIGTERM")


def test_an_upload_in_flight_at_sigterm_completes_and_survives_the_restart(target):
    s3 = make_client(target.endpoint)
    bucket = "shutdown-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(3 * 1024 * 1024)
    conn = signed_http.start(target, "PUT", f"/{bucket}/inflight", {"Content-Length": str(len(body)), "Expect": "100-continue"})
    # 100 Continue comes with the application's first read of the body: the upload is being served.
    assert conn.sock.recv(len(b"HTTP/1.1 100 Continue\r\n\r\n")).startswith(b"HTTP/1.1 100")
    conn.send(body[: len(body) // 2])
    os.kill(target.process.pid, signal.SIGTERM)
    _wait_refused(target)
    conn.send(body[len(body) // 2 :])
    response = conn.getresponse()
    assert response.status == 200, response.read()
    etag = response.getheader("ETag")
    response.read()
    conn.close()
    assert target.process.wait(timeout=GRACEFUL_TIMEOUT + 10) == 0
    assert "graceful timeout" not in target.log()
    assert '"level": "error"' not in target.log()
    target.start()  # the same data directory and port
    got = make_client(target.endpoint).get_object(Bucket=bucket, Key="inflight")
    assert got["ETag"] == etag == f'"{hashlib.md5(body).hexdigest()}"'
    assert got["Body"].read() == body


def test_idle_keep_alive_connections_do_not_hold_shutdown(start_server):
    """Without closing them, a gevent worker would wait graceful_timeout (30 s) for these clients."""
    server = start_server()
    idle = []
    for _ in range(3):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=GRACEFUL_TIMEOUT * 2)
        conn.request("GET", "/health")
        response = conn.getresponse()
        response.read()
        assert response.status == 200 and not response.will_close  # kept alive, now idle
        idle.append(conn)
    os.kill(server.process.pid, signal.SIGTERM)
    # Well before graceful_timeout: the wait would raise TimeoutExpired if the idle connections held it.
    try:
        assert server.process.wait(timeout=GRACEFUL_TIMEOUT / 2) == 0
    except subprocess.TimeoutExpired:
        pytest.fail("idle keep-alive connections held the shutdown")
    for conn in idle:
        assert conn.sock.recv(1) == b""  # the server closed it
        conn.close()
    assert "graceful timeout" not in server.log()
    assert '"level": "error"' not in server.log()  # closing them is routine, not a socket error
