"""conf/nginx/wsgi-s3.conf, rendered for free ports and the suite's certificate, run by a real nginx over
https in front of a real embedded server, with the clients users point at it.

nginx runs in the foreground, one process (`master_process off`), as a child of the test, with every
path inside the test's temp directory. Its temp directories for request and response bodies are
replaced by plain files once it has started: an nginx that spooled a body instead of streaming it
would fail the request, so every transfer here also proves the streaming settings.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
import uuid
import zlib
from base64 import b64encode
from collections.abc import Iterator
from dataclasses import dataclass
from http.client import HTTPResponse
from pathlib import Path

import pytest
import urllib3
from boto3.s3.transfer import TransferConfig

from tests.conftest import TlsFiles, aws_env, free_port, make_client

SITE = Path(__file__).resolve().parents[2] / "conf" / "nginx" / "wsgi-s3.conf"
MIB = 1 << 20


def nginx_binary() -> str:
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(path, os.X_OK):
        pytest.fail("nginx is not installed; bin/test installs the Debian package")
    return path


def render_site(site: str, upstream_port: int, port: int, tls: TlsFiles, metrics_port: int) -> str:
    """The site with the test's upstream, listen address and certificate; each placeholder must be found
    exactly once, so that a changed site file fails here instead of silently running something else."""
    replacements = [
        (r"server 127\.0\.0\.1:9000;", f"server 127.0.0.1:{upstream_port};"),
        (r"listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"),
        (r"listen \[::\]:443 ssl;", ""),  # the test listens on IPv4 loopback only
        (r"ssl_certificate \S+;", f"ssl_certificate {tls.cert};"),
        (r"ssl_certificate_key \S+;", f"ssl_certificate_key {tls.key};"),
        (r"proxy_pass http://127\.0\.0\.1:9091;", f"proxy_pass http://127.0.0.1:{metrics_port};"),
    ]
    for pattern, replacement in replacements:
        site, count = re.subn(pattern, replacement, site)
        assert count == 1, f"{pattern!r} found {count} times in {SITE}"
    return site


@dataclass
class Nginx:
    port: int
    prefix: Path
    process: subprocess.Popen

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"


def start_nginx(prefix: Path, upstream_port: int, tls: TlsFiles, metrics_port: int) -> Nginx:
    prefix.mkdir()
    port = free_port()
    (prefix / "site.conf").write_text(render_site(SITE.read_text(), upstream_port, port, tls, metrics_port))
    temp = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    (prefix / "nginx.conf").write_text(
        "master_process off;\n"  # one process: stopping it leaves no worker behind
        "error_log error.log info;\n"
        "pid nginx.pid;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        "    access_log access.log;\n"
        + "".join(f"    {name}_temp_path temp-{name};\n" for name in temp)
        + "    include site.conf;\n"
        "}\n"
    )
    with open(prefix / "stderr.log", "wb") as stderr:
        command = [nginx_binary(), "-p", str(prefix), "-c", "nginx.conf", "-g", "daemon off;"]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited:\n{(prefix / 'stderr.log').read_text()}\n{(prefix / 'error.log').read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    # nginx made its temp directories at start; from now on writing a body to one fails.
    for name in ("client_body", "proxy"):
        (prefix / f"temp-{name}").rmdir()
        (prefix / f"temp-{name}").write_text("bodies must stream, not spool here\n")
    return Nginx(port, prefix, process)


@pytest.fixture
def nginx(start_server, tls_files: TlsFiles, tmp_path: Path) -> Iterator[Nginx]:
    """nginx with the project's site in front of a fresh embedded server (and its metrics port)."""
    metrics_port = free_port()
    server = start_server("--metrics-listen", f"127.0.0.1:{metrics_port}")
    proxy = start_nginx(tmp_path / "nginx", server.port, tls_files, metrics_port)
    yield proxy
    proxy.process.terminate()
    proxy.process.wait(timeout=10)


@pytest.fixture
def s3(nginx: Nginx, tls_files: TlsFiles) -> Iterator:
    """boto3 through nginx, verifying nginx's certificate, with the SDK's default checksum behaviour."""
    client = make_client(nginx.endpoint, verify=str(tls_files.cert))
    yield client
    client.close()


@pytest.fixture
def bucket(s3) -> str:
    name = "nginx-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=name)
    return name


def sent_headers(client, event: str) -> list[dict[str, str]]:
    """Records the headers of every request `client` sends for `event` (e.g. "PutObject")."""
    seen: list[dict[str, str]] = []

    def record(request, **_) -> None:
        # botocore keeps some header values as bytes.
        headers = request.headers.items()
        seen.append({name.lower(): value.decode() if isinstance(value, bytes) else value for name, value in headers})

    client.meta.events.register(f"before-send.s3.{event}", record)
    return seen


def crc32_b64(data: bytes) -> str:
    return b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_boto3_aws_chunked_put_with_trailing_checksum(s3, bucket):
    body = os.urandom(3 * MIB + 17)
    seen = sent_headers(s3, "PutObject")
    put = s3.put_object(Bucket=bucket, Key="trailer", Body=body)
    # boto3 sends an aws-chunked body with the CRC32 in a trailer over https: nginx passed it whole.
    assert "aws-chunked" in seen[0]["content-encoding"] and seen[0]["x-amz-trailer"] == "x-amz-checksum-crc32"
    assert put["ChecksumCRC32"] == crc32_b64(body)
    got = s3.get_object(Bucket=bucket, Key="trailer", ChecksumMode="ENABLED")
    assert got["Body"].read() == body and got["ChecksumCRC32"] == crc32_b64(body)


def test_signed_names_pass_unchanged(s3, bucket):
    # What SigV4 signs, through nginx: the Host with its port, and a key that needs percent-encoding and
    # has a double slash (nginx would merge the slashes of a URI it normalized).
    key = "dir//a b+c%d~ü.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"signed", Metadata={"note": "x y"})
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["Metadata"] == {"note": "x y"}
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]


class Generated:
    """A file-like reader of `size` pseudo-random bytes, never all in memory; hashes what it hands out."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.block = hashlib.sha256(b"nginx").digest() * (MIB // 32)
        self.count = 0
        self.sha = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        out = bytearray()
        while len(out) < size:
            self.count += 1
            out += self.count.to_bytes(8, "big") + self.block[8 : min(MIB, size - len(out))]
        data = bytes(out[:size])
        self.left -= size
        self.sha.update(data)
        return data


@pytest.mark.slow
def test_one_gib_multipart_upload_and_download_stream(s3, bucket):
    size = 1 << 30
    source = Generated(size)
    config = TransferConfig(multipart_threshold=64 * MIB, multipart_chunksize=16 * MIB, max_concurrency=4)
    s3.upload_fileobj(source, bucket, "big", Config=config)
    assert source.left == 0
    head = s3.head_object(Bucket=bucket, Key="big")
    assert head["ContentLength"] == size and head["ETag"].endswith('-64"')
    sha = hashlib.sha256()
    received = 0
    for chunk in s3.get_object(Bucket=bucket, Key="big")["Body"].iter_chunks(MIB):
        sha.update(chunk)
        received += len(chunk)
    assert received == size and sha.hexdigest() == source.sha.hexdigest()


def tls_socket(nginx: Nginx, tls: TlsFiles, source: str = "127.0.0.1") -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(tls.cert))
    raw = socket.create_connection(("127.0.0.1", nginx.port), timeout=60, source_address=(source, 0))
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def read_head(sock: ssl.SSLSocket) -> tuple[int, dict[str, str]]:
    """A response head (status, lower-case headers), read byte by byte so that nothing after it is consumed."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        assert byte, f"connection closed after {head!r}"
        head += byte
    status_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
    return int(status_line.split()[1]), {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}


def expect_continue_put(
    nginx: Nginx, tls: TlsFiles, raw_s3, target: str, body: bytes, tamper: bool = False
) -> tuple[int, int, dict[str, str]]:
    """(interim status, final status, final headers) of a PUT that waits for 100 Continue before its body."""
    headers = raw_s3(nginx).signed_headers("PUT", target, {"Content-Length": str(len(body)), "Expect": "100-continue"})
    if tamper:
        headers["Authorization"] = headers["Authorization"][:-4] + "0000"
    sock = tls_socket(nginx, tls)
    lines = [f"PUT {target} HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items()), "", ""]
    sock.sendall("\r\n".join(lines).encode())
    interim, _ = read_head(sock)  # before a single body byte is sent
    sock.sendall(body)
    # Read by hand, not with http.client, which skips any number of 100s: a second 100 here (the
    # gateway's own, relayed as if final) would leave the client without a real answer.
    status, final = read_head(sock)
    sock.close()
    return interim, status, final


def test_expect_100_continue_put(nginx, tls_files, raw_s3, s3, bucket):
    body = os.urandom(256 * 1024)
    assert expect_continue_put(nginx, tls_files, raw_s3, f"/{bucket}/continued", body)[:2] == (100, 200)
    assert s3.get_object(Bucket=bucket, Key="continued")["Body"].read() == body
    # nginx, not the gateway, answers the 100 (the config says so): a request the gateway refuses is
    # invited too, and still gets its final answer from the gateway once the body is through.
    interim, status, final = expect_continue_put(nginx, tls_files, raw_s3, f"/{bucket}/refused", body, tamper=True)
    assert (interim, status) == (100, 403) and final["x-amz-request-id"]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1


def test_range_get(s3, bucket):
    body = os.urandom(2 * MIB)
    s3.put_object(Bucket=bucket, Key="ranged", Body=body)
    got = s3.get_object(Bucket=bucket, Key="ranged", Range="bytes=1000000-1999999")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == f"bytes 1000000-1999999/{len(body)}" and got["Body"].read() == body[1000000:2000000]
    assert s3.get_object(Bucket=bucket, Key="ranged", Range="bytes=-10")["Body"].read() == body[-10:]


def test_aws_cli_cp_up_and_down(aws_cli, nginx, tls_files, s3, bucket, tmp_path):
    env = aws_env(tmp_path)

    def aws(*args: str) -> None:
        command = [aws_cli, "--endpoint-url", nginx.endpoint, "--ca-bundle", str(tls_files.cert), *args]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"aws {' '.join(args)}:\n{result.stdout}\n{result.stderr}"

    upload, download = tmp_path / "up.bin", tmp_path / "down.bin"
    upload.write_bytes(os.urandom(20 * MIB + 5))  # above the CLI's 8 MiB threshold: a multipart upload
    aws("s3", "cp", str(upload), f"s3://{bucket}/cli.bin")
    assert s3.head_object(Bucket=bucket, Key="cli.bin")["ETag"].endswith('-3"')
    aws("s3", "cp", f"s3://{bucket}/cli.bin", str(download))
    assert download.read_bytes() == upload.read_bytes()


def test_presigned_url_through_nginx(s3, bucket, tls_files):
    s3.put_object(Bucket=bucket, Key="shared file", Body=b"presigned through nginx")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared file"}, ExpiresIn=300)
    with urllib3.PoolManager(ca_certs=str(tls_files.cert), retries=False) as http:
        response = http.request("GET", url)
        assert response.status == 200 and response.data == b"presigned through nginx"
        assert http.request("GET", url.replace("Signature=", "Signature=0")).status == 403


def get_metrics(nginx: Nginx, tls: TlsFiles, source: str) -> tuple[HTTPResponse, bytes]:
    sock = tls_socket(nginx, tls, source)
    sock.sendall(f"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{nginx.port}\r\nConnection: close\r\n\r\n".encode())
    response = HTTPResponse(sock)
    response.begin()
    body = response.read()
    sock.close()
    return response, body


def test_metrics_only_from_local_addresses(nginx, tls_files, bucket):
    # 127.0.0.2 is loopback to the kernel but not one of the site's allowed addresses: it stands in for a
    # remote scraper. nginx itself refuses it (no x-amz-request-id: the gateway never saw it).
    refused, _ = get_metrics(nginx, tls_files, "127.0.0.2")
    assert refused.status == 403 and refused.getheader("x-amz-request-id") is None
    allowed, body = get_metrics(nginx, tls_files, "127.0.0.1")
    # The metrics port's exposition (the S3 port serves none by default: status_access = off), which
    # counted the CreateBucket of `bucket` through nginx.
    assert allowed.status == 200 and allowed.getheader("Content-Type").startswith("text/plain")
    assert allowed.getheader("x-amz-request-id") is None
    assert re.search(rb'^s3_requests_total\{[^}]*operation="CreateBucket"', body, re.M), body[:2000]
