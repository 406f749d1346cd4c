"""The README's section on the management APIs, run by bash with curl, jq, dd and xargs as written
there (only the endpoint and the bucket name changed), against the embedded server and a cluster,
with a bearer token of a credential made by `wsgi-s3 credentials create ... --token`."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess

from tests.functional.test_credentials import ROOT, credentials_cli, eventually, unique

MOVIE_SIZE = 12 * 1024 * 1024  # two chunks of the example's 10 MiB


def readme_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Management APIs")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def test_the_readme_examples_work_as_written(server, s3, bucket, tmp_path):
    blocks = re.findall(r"```bash\n(.*?)```", readme_section(), re.S)
    assert len(blocks) == 3  # presign, batch, concurrent upload
    for key, body in (("file.txt", b"shared by URL"), ("file1.txt", b"1"), ("file2.txt", b"2")):
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    movie = os.urandom(MOVIE_SIZE)
    (tmp_path / "movie.mp4").write_bytes(movie)
    out = re.search(r"Bearer Token: (\S+)", credentials_cli(server, "create", unique("ops"), "*", "--token").stdout)
    env = {**os.environ, "TOKEN": out.group(1)}
    probe = ["curl", "-sf", "-o", "/dev/null", "-H", f"Authorization: Bearer {env['TOKEN']}", f"{server.endpoint}/{bucket}"]
    assert eventually(lambda: subprocess.run(probe).returncode == 0)

    script = "set -euo pipefail\n" + "\n".join(blocks).replace("http://localhost:9000", server.endpoint).replace("mybucket", bucket)
    run = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    texts, answers = outputs(run.stdout)
    assert answers[0]["url"].startswith(f"{server.endpoint}/{bucket}/file.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&")
    assert texts == ["shared by URL"]  # the presigned URL fetched with plain curl
    assert [answer["totals"] for answer in answers if "totals" in answer] == [
        {"requested": 2, "succeeded": 2, "failed": 0}, {"requested": 1, "succeeded": 1, "failed": 0}
    ]
    assert answers[-2] == {"chunks_done": 2, "bytes_done": MOVIE_SIZE, "missing": []}  # the progress, jq's summary of it
    assert answers[-1]["size"] == MOVIE_SIZE
    keys = [entry["Key"] for entry in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(keys) == ["backup/file.txt", "file.txt", "movie.mp4"]
    assert hashlib.sha256(s3.get_object(Bucket=bucket, Key="movie.mp4")["Body"].read()).digest() == hashlib.sha256(movie).digest()


def outputs(stdout: str) -> tuple[list[str], list[dict]]:
    """The JSON documents the script printed, and the text between them."""
    decoder, texts, answers, at = json.JSONDecoder(), [], [], 0
    while at < len(stdout):
        start = stdout.find("{", at)
        if start < 0:
            start = len(stdout)
        if stdout[at:start].strip():
            texts.append(stdout[at:start].strip())
        if start < len(stdout):
            answer, at = decoder.raw_decode(stdout, start)
            answers.append(answer)
        else:
            at = start
    return texts, answers
