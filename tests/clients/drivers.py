"""The S3 clients people use, driven as they type them: one driver per client, one interface.

Each driver runs the real tool (aws-cli v1 and v2, rclone, s3cmd, the JavaScript SDK v3 through
js/s3client.mjs) or boto3 with its default settings, except for the endpoint, the CA to trust over
https and a multipart threshold low enough for a 21 MiB file where the default would not split it.
What a tool printed is parsed back into keys and sizes, so that a test can compare it with what the
server holds."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ACCESS_KEY, REGION, SECRET_KEY, Server, make_client

JS_DIR = Path(__file__).parent / "js"
AWS_V2 = "/usr/bin/aws"  # Debian's awscli package; the `aws` on PATH may be pip's v1


@dataclass(frozen=True)
class Endpoint:
    """A server as clients are pointed at it: its URL and, over https, the CA bundle to trust."""

    server: Server
    ca: Path | None

    @property
    def url(self) -> str:
        return self.server.endpoint

    @property
    def https(self) -> bool:
        return self.server.scheme == "https"

    @property
    def hostport(self) -> str:
        return f"127.0.0.1:{self.server.port}"


class Shell:
    """Runs one client's commands in an environment of its own: a fresh HOME (so no ~/.aws,
    ~/.s3cfg or rclone.conf of the machine is read), no AWS_* or RCLONE_* variables but the ones
    a test sets, and a UTF-8 locale as a user's terminal has."""

    def __init__(self, endpoint: Endpoint, home: Path, env: dict[str, str] | None = None) -> None:
        self.endpoint = endpoint
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        base = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "RCLONE_"))}
        self.env = {**base, "HOME": str(home), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", **(env or {})}

    def run(self, *argv: str | Path, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        command = [str(arg) for arg in argv]
        if shutil.which(command[0]) is None:
            raise AssertionError(f"{command[0]} is not installed; bin/test installs the clients these tests drive")
        result = subprocess.run(command, env=self.env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} exited {result.returncode}\n--- stdout\n{result.stdout[-6000:]}\n"
                f"--- stderr\n{result.stderr[-6000:]}\n--- server log (tail)\n{self.endpoint.server.log()[-4000:]}"
            )
        return result


def output_lines(result: subprocess.CompletedProcess) -> list[str]:
    """stdout and stderr as lines; progress meters overwrite themselves with carriage returns."""
    return [line.strip() for line in re.split(r"[\r\n]+", result.stdout + "\n" + result.stderr) if line.strip()]


class Driver:
    """One client. `syncs`: it has a sync command that skips unchanged files; `presigns`: it makes
    presigned GET URLs."""

    name = ""
    syncs = True
    presigns = True

    def make_bucket(self, bucket: str) -> None:
        raise NotImplementedError

    def put(self, path: Path, bucket: str, key: str) -> None:
        raise NotImplementedError

    def put_big(self, path: Path, bucket: str, key: str) -> None:
        """Upload a file large enough for a multipart upload with the client's (lowered) threshold."""
        self.put(path, bucket, key)

    def list(self, bucket: str) -> dict[str, int]:
        """key -> size of the objects at the top of the bucket, as the client printed them."""
        raise NotImplementedError

    def sync_up(self, folder: Path, bucket: str, prefix: str) -> list[str]:
        """Upload a folder under `prefix`; the keys the client says it uploaded."""
        raise NotImplementedError

    def download_all(self, bucket: str, dest: Path) -> None:
        raise NotImplementedError

    def copy(self, bucket: str, key: str, target: str) -> None:
        """A copy inside the bucket, done by the server (CopyObject, or UploadPartCopy for big objects)."""
        raise NotImplementedError

    def presign(self, bucket: str, key: str) -> str:
        raise NotImplementedError

    def delete_all(self, bucket: str) -> None:
        raise NotImplementedError

    def remove_bucket(self, bucket: str) -> None:
        raise NotImplementedError


class AwsCli(Driver):
    """aws-cli v1 (`python -m awscli`) or v2 (/usr/bin/aws), configured as `aws configure` would."""

    def __init__(self, endpoint: Endpoint, home: Path, version: int) -> None:
        self.name = f"aws-cli-v{version}"
        self.version = version
        config = home / ".aws" / "config"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(
            f"[default]\nregion = {REGION}\ns3 =\n    multipart_threshold = 8MB\n    multipart_chunksize = 5MB\n"
        )
        self.shell = Shell(
            endpoint,
            home,
            {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_CONFIG_FILE": str(config)},
        )
        self.prefix = [sys.executable, "-m", "awscli"] if version == 1 else [AWS_V2]
        self.prefix += ["--endpoint-url", endpoint.url]
        if endpoint.ca:
            self.prefix += ["--ca-bundle", str(endpoint.ca)]

    def aws(self, *args: str | Path) -> subprocess.CompletedProcess:
        return self.shell.run(*self.prefix, *args)

    def make_bucket(self, bucket: str) -> None:
        self.aws("s3", "mb", f"s3://{bucket}")

    def put(self, path: Path, bucket: str, key: str) -> None:
        self.aws("s3", "cp", path, f"s3://{bucket}/{key}")

    def list(self, bucket: str) -> dict[str, int]:
        found = {}
        for line in output_lines(self.aws("s3", "ls", f"s3://{bucket}")):
            match = re.fullmatch(r"\S+ \S+\s+(\d+) (.+)", line)
            if match:
                found[match[2]] = int(match[1])
        return found

    def sync_up(self, folder: Path, bucket: str, prefix: str) -> list[str]:
        result = self.aws("s3", "sync", folder, f"s3://{bucket}/{prefix}")
        return [match[1] for line in output_lines(result) if (match := re.search(rf"upload: .+ to s3://{bucket}/(.+)$", line))]

    def download_all(self, bucket: str, dest: Path) -> None:
        self.aws("s3", "sync", f"s3://{bucket}", dest)

    def copy(self, bucket: str, key: str, target: str) -> None:
        self.aws("s3", "cp", f"s3://{bucket}/{key}", f"s3://{bucket}/{target}")

    def presign(self, bucket: str, key: str) -> str:
        return self.aws("s3", "presign", f"s3://{bucket}/{key}").stdout.strip()

    def delete_all(self, bucket: str) -> None:
        self.aws("s3", "rm", "--recursive", f"s3://{bucket}")

    def remove_bucket(self, bucket: str) -> None:
        self.aws("s3", "rb", f"s3://{bucket}")


class Rclone(Driver):
    """rclone with a remote named ws3 configured through RCLONE_CONFIG_WS3_* variables."""

    name = "rclone"
    UPLOAD_FLAGS = ("--s3-upload-cutoff", "8M", "--s3-chunk-size", "5M")

    def __init__(self, endpoint: Endpoint, home: Path) -> None:
        self.shell = Shell(
            endpoint,
            home,
            {
                "RCLONE_CONFIG": str(home / "rclone.conf"),  # absent: the remote is all in the environment
                "RCLONE_CONFIG_WS3_TYPE": "s3",
                "RCLONE_CONFIG_WS3_PROVIDER": "Other",
                "RCLONE_CONFIG_WS3_ENDPOINT": endpoint.url,
                "RCLONE_CONFIG_WS3_ACCESS_KEY_ID": ACCESS_KEY,
                "RCLONE_CONFIG_WS3_SECRET_ACCESS_KEY": SECRET_KEY,
            },
        )
        self.prefix = ["rclone"] + (["--ca-cert", str(endpoint.ca)] if endpoint.ca else [])

    def rclone(self, *args: str | Path) -> subprocess.CompletedProcess:
        return self.shell.run(*self.prefix, *args)

    def make_bucket(self, bucket: str) -> None:
        self.rclone("mkdir", f"ws3:{bucket}")

    def put(self, path: Path, bucket: str, key: str) -> None:
        self.rclone("copyto", *self.UPLOAD_FLAGS, path, f"ws3:{bucket}/{key}")

    def list(self, bucket: str) -> dict[str, int]:
        found = {}
        for line in output_lines(self.rclone("ls", "--max-depth", "1", f"ws3:{bucket}")):
            match = re.fullmatch(r"(\d+) (.+)", line)
            if match:
                found[match[2]] = int(match[1])
        return found

    def sync_up(self, folder: Path, bucket: str, prefix: str) -> list[str]:
        result = self.rclone("sync", *self.UPLOAD_FLAGS, "-v", "--stats-one-line", folder, f"ws3:{bucket}/{prefix}")
        copied = [match[1] for line in output_lines(result) if (match := re.search(r"INFO  : (.+): Copied \(", line))]
        return [prefix + name for name in copied]

    def download_all(self, bucket: str, dest: Path) -> None:
        self.rclone("copy", f"ws3:{bucket}", dest)

    def copy(self, bucket: str, key: str, target: str) -> None:
        self.rclone("copyto", f"ws3:{bucket}/{key}", f"ws3:{bucket}/{target}")

    def presign(self, bucket: str, key: str) -> str:
        return self.rclone("link", f"ws3:{bucket}/{key}").stdout.strip()

    def check(self, folder: Path, bucket: str) -> subprocess.CompletedProcess:
        """`rclone check`: exits non-zero on any missing or differing file."""
        return self.rclone("check", folder, f"ws3:{bucket}")

    def delete_all(self, bucket: str) -> None:
        self.rclone("delete", f"ws3:{bucket}")

    def remove_bucket(self, bucket: str) -> None:
        self.rclone("rmdir", f"ws3:{bucket}")


class S3cmd(Driver):
    """s3cmd with a config file of its own, signing with SigV4 or (`signature_v2`) SigV2."""

    def __init__(self, endpoint: Endpoint, home: Path, signature_v2: bool) -> None:
        self.name = "s3cmd-sigv2" if signature_v2 else "s3cmd"
        self.config = home / "s3cfg"
        home.mkdir(parents=True, exist_ok=True)
        lines = [
            "[default]",
            f"access_key = {ACCESS_KEY}",
            f"secret_key = {SECRET_KEY}",
            f"host_base = {endpoint.hostport}",
            f"host_bucket = {endpoint.hostport}",  # no %(bucket)s: path-style requests
            f"bucket_location = {REGION}",
            f"use_https = {endpoint.https}",
            f"signature_v2 = {signature_v2}",
        ]
        if endpoint.ca:
            # signurl_use_https: s3cmd's `signurl` makes http:// URLs unless told otherwise.
            lines += [f"ca_certs_file = {endpoint.ca}", "check_ssl_certificate = True", "signurl_use_https = True"]
        self.config.write_text("\n".join(lines) + "\n")
        self.shell = Shell(endpoint, home)

    def s3cmd(self, *args: str | Path) -> subprocess.CompletedProcess:
        return self.shell.run("s3cmd", "-c", self.config, *args)

    def make_bucket(self, bucket: str) -> None:
        self.s3cmd("mb", f"s3://{bucket}")

    def put(self, path: Path, bucket: str, key: str) -> None:
        self.s3cmd("put", "--multipart-chunk-size-mb=5", path, f"s3://{bucket}/{key}")

    def list(self, bucket: str) -> dict[str, int]:
        found = {}
        for line in output_lines(self.s3cmd("ls", f"s3://{bucket}")):
            match = re.fullmatch(rf"\S+ \S+\s+(\d+)\s+s3://{bucket}/(.+)", line)
            if match:
                found[match[2]] = int(match[1])
        return found

    def sync_up(self, folder: Path, bucket: str, prefix: str) -> list[str]:
        result = self.s3cmd("sync", "--multipart-chunk-size-mb=5", f"{folder}/", f"s3://{bucket}/{prefix}")
        return [match[1] for line in output_lines(result) if (match := re.search(rf"upload: '.+' -> 's3://{bucket}/(.+)'", line))]

    def download_all(self, bucket: str, dest: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        self.s3cmd("get", "--recursive", f"s3://{bucket}/", f"{dest}/")

    def copy(self, bucket: str, key: str, target: str) -> None:
        self.s3cmd("cp", f"s3://{bucket}/{key}", f"s3://{bucket}/{target}")

    def presign(self, bucket: str, key: str) -> str:
        return self.s3cmd("signurl", f"s3://{bucket}/{key}", "+600").stdout.strip()

    def delete_all(self, bucket: str) -> None:
        self.s3cmd("del", "--recursive", "--force", f"s3://{bucket}")

    def remove_bucket(self, bucket: str) -> None:
        self.s3cmd("rb", f"s3://{bucket}")


def files_under(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


class Boto3(Driver):
    """boto3 with its defaults: upload_file/download_file (s3transfer: multipart from 8 MiB)."""

    name = "boto3"
    syncs = False

    def __init__(self, endpoint: Endpoint, home: Path) -> None:
        self.s3 = make_client(endpoint.url, verify=str(endpoint.ca) if endpoint.ca else True)

    def make_bucket(self, bucket: str) -> None:
        self.s3.create_bucket(Bucket=bucket)

    def put(self, path: Path, bucket: str, key: str) -> None:
        self.s3.upload_file(str(path), bucket, key)

    def keys(self, bucket: str, delimiter: str = "") -> dict[str, int]:
        found = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Delimiter=delimiter):
            found.update({entry["Key"]: entry["Size"] for entry in page.get("Contents", [])})
        return found

    def list(self, bucket: str) -> dict[str, int]:
        return self.keys(bucket, delimiter="/")

    def sync_up(self, folder: Path, bucket: str, prefix: str) -> list[str]:
        keys = [prefix + path.relative_to(folder).as_posix() for path in files_under(folder)]
        for path, key in zip(files_under(folder), keys):
            self.s3.upload_file(str(path), bucket, key)
        return keys

    def download_all(self, bucket: str, dest: Path) -> None:
        for key in self.keys(bucket):
            target = dest.joinpath(*key.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            self.s3.download_file(bucket, key, str(target))

    def copy(self, bucket: str, key: str, target: str) -> None:
        self.s3.copy({"Bucket": bucket, "Key": key}, bucket, target)

    def presign(self, bucket: str, key: str) -> str:
        return self.s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=600)

    def delete_all(self, bucket: str) -> None:
        keys = list(self.keys(bucket))
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            result = self.s3.delete_objects(Bucket=bucket, Delete={"Objects": batch})
            assert not result.get("Errors"), result["Errors"]

    def remove_bucket(self, bucket: str) -> None:
        self.s3.delete_bucket(Bucket=bucket)


class JsSdk(Driver):
    """The AWS SDK for JavaScript v3 (@aws-sdk/client-s3, lib-storage's Upload) via js/s3client.mjs."""

    name = "js-sdk-v3"
    syncs = False
    presigns = False  # presigning is another package (@aws-sdk/s3-request-presigner)

    def __init__(self, endpoint: Endpoint, home: Path) -> None:
        if not (JS_DIR / "node_modules" / "@aws-sdk" / "client-s3").is_dir():
            raise AssertionError(f"the JavaScript SDK is not installed: run `npm install` in {JS_DIR} (bin/test does)")
        self.shell = Shell(
            endpoint, home, {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_REGION": REGION}
        )
        self.prefix = ["node", str(JS_DIR / "s3client.mjs"), "--endpoint", endpoint.url]
        if endpoint.ca:
            self.prefix += ["--ca", str(endpoint.ca)]

    def node(self, command: str, bucket: str, *args: str | Path) -> dict:
        result = self.shell.run(*self.prefix, command, "--bucket", bucket, *args, cwd=JS_DIR)
        return json.loads(result.stdout)

    def make_bucket(self, bucket: str) -> None:
        self.node("mb", bucket)

    def put(self, path: Path, bucket: str, key: str) -> None:
        self.node("put", bucket, "--key", key, "--file", path)

    def put_big(self, path: Path, bucket: str, key: str) -> None:
        self.node("put-multipart", bucket, "--key", key, "--file", path)

    def list(self, bucket: str) -> dict[str, int]:
        return {entry["Key"]: entry["Size"] for entry in self.node("ls", bucket)["objects"] if "/" not in entry["Key"]}

    def sync_up(self, folder: Path, bucket: str, prefix: str) -> list[str]:
        return [entry["Key"] for entry in self.node("put-dir", bucket, "--key", prefix, "--dir", folder)["uploaded"]]

    def download_all(self, bucket: str, dest: Path) -> None:
        self.node("get-dir", bucket, "--dir", dest)

    def copy(self, bucket: str, key: str, target: str) -> None:
        self.node("cp", bucket, "--key", key, "--to", target)

    def delete_all(self, bucket: str) -> None:
        self.node("rm", bucket)

    def remove_bucket(self, bucket: str) -> None:
        self.node("rb", bucket)


CLIENTS = ("aws-cli-v1", "aws-cli-v2", "rclone", "s3cmd", "s3cmd-sigv2", "boto3", "js-sdk-v3")


def make_driver(name: str, endpoint: Endpoint, home: Path) -> Driver:
    if name.startswith("aws-cli-v"):
        return AwsCli(endpoint, home, int(name[-1]))
    if name == "rclone":
        return Rclone(endpoint, home)
    if name.startswith("s3cmd"):
        return S3cmd(endpoint, home, signature_v2=name == "s3cmd-sigv2")
    if name == "boto3":
        return Boto3(endpoint, home)
    if name == "js-sdk-v3":
        return JsSdk(endpoint, home)
    raise ValueError(name)
