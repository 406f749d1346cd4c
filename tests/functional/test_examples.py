"""docs/examples run as written (only their documented environment set) against real servers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCESS_KEY, SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
JS_MODULES = ROOT / "tests" / "clients" / "js" / "node_modules"
BIG = 12 * 1024 * 1024


def run_example(command: list[str], server, bucket: str, home: Path, cwd: Path) -> list[str]:
    """The example's output lines, run as a user would after `export AWS_ACCESS_KEY_ID=...` (a fresh HOME:
    no ~/.aws of this machine)."""
    home.mkdir(exist_ok=True)
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "S3_"))}
    env.update(HOME=str(home), AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, S3_ENDPOINT=server.endpoint, S3_BUCKET=bucket)
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{server.log()[-3000:]}"
    return result.stdout.splitlines()


def check_cleaned_up(s3, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket=bucket)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_boto3_example(server, s3, tmp_path):
    bucket = "example-py-" + uuid.uuid4().hex[:12]
    lines = run_example([sys.executable, str(EXAMPLES / "boto3_example.py")], server, bucket, tmp_path / "home", tmp_path)
    assert lines[0] == "got: hello from boto3"
    assert lines[1].startswith('multipart ETag: "') and lines[1].endswith('-3"')  # 5 + 5 + 2 MiB parts
    assert lines[2:4] == [f"listed: big.bin {BIG}", "listed: hello.txt 16"]
    assert lines[4:] == ["presigned: hello from boto3", f"cleaned up {bucket}"]
    check_cleaned_up(s3, bucket)


def test_js_sdk_example(server, s3, tmp_path):
    if not (JS_MODULES / "@aws-sdk" / "client-s3").is_dir():
        pytest.fail(f"the JavaScript SDK is not installed in {JS_MODULES}: bin/test installs it")
    # As a user runs it: the file beside the node_modules that `npm install` made.
    shutil.copy(EXAMPLES / "js_example.mjs", tmp_path / "js_example.mjs")
    (tmp_path / "node_modules").symlink_to(JS_MODULES.resolve())
    bucket = "example-js-" + uuid.uuid4().hex[:12]
    lines = run_example(["node", "js_example.mjs"], server, bucket, tmp_path / "home", tmp_path)
    assert lines[0] == "got: hello from the JS SDK"
    assert lines[1].startswith('multipart ETag: "') and lines[1].endswith('-3"')
    assert lines[2:] == [f"listed: big.bin {BIG}", "listed: hello.txt 21", f"cleaned up {bucket}"]
    check_cleaned_up(s3, bucket)
