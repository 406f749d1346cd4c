"""The seed's versioning extensions against real servers (embedded and a three-node cluster's
gateway): the JSON policy on PUT ?versioning with pruning at write time, POST ?restore&versionId=,
and GET ?version-stats."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCESS_KEY, SECRET_KEY


def put_policy(raw, bucket: str, policy: object) -> tuple[int, bytes]:
    body = json.dumps(policy).encode()
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    status, _, answer = raw.request("PUT", f"/{bucket}?versioning", body, {"Content-Type": "application/json", "Content-MD5": md5})
    return status, answer


def stats(raw, bucket: str) -> dict:
    status, headers, body = raw.request("GET", f"/{bucket}?version-stats")
    assert status == 200 and headers["content-type"] == "application/json", body
    return json.loads(body)


def history(s3, bucket: str, key: str) -> list[str]:
    return [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", []) if v["Key"] == key]


def test_a_json_policy_enables_versioning_and_keeps_max_versions_per_key(s3, bucket, raw_s3, server):
    raw = raw_s3(server)
    assert put_policy(raw, bucket, {"enabled": True, "max_versions": 3, "retention_days": 0})[0] == 200
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    written = [s3.put_object(Bucket=bucket, Key="k", Body=f"v{n}".encode())["VersionId"] for n in range(6)]
    s3.put_object(Bucket=bucket, Key="other", Body=b"x")
    assert history(s3, bucket, "k") == written[:2:-1]  # the three newest, newest first
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", VersionId=written[0])
    assert exc.value.response["Error"]["Code"] == "NoSuchVersion"
    copied = s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "other"})["VersionId"]
    assert history(s3, bucket, "k") == [copied, written[5], written[4]]  # a copy prunes too
    assert stats(raw, bucket)["policy"] == {"max_versions": 3, "retention_days": 0}


def test_retention_days_keep_versions_younger_than_them_beyond_max_versions(s3, bucket, raw_s3, server):
    put_policy(raw_s3(server), bucket, {"enabled": True, "max_versions": 2, "retention_days": 90})
    written = [s3.put_object(Bucket=bucket, Key="k", Body=f"v{n}".encode())["VersionId"] for n in range(5)]
    assert history(s3, bucket, "k") == written[::-1]


def test_a_policy_without_limits_removes_pruning_and_disabled_suspends(s3, bucket, raw_s3, server):
    raw = raw_s3(server)
    put_policy(raw, bucket, {"enabled": True, "max_versions": 1, "retention_days": 0})
    put_policy(raw, bucket, {"enabled": True})
    written = [s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"] for _ in range(3)]
    assert history(s3, bucket, "k") == written[::-1] and stats(raw, bucket)["policy"] is None
    put_policy(raw, bucket, {"enabled": False})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"


def test_a_never_versioned_bucket_stays_so_when_a_policy_disables_it(s3, bucket, raw_s3, server):
    put_policy(raw_s3(server), bucket, {"enabled": False})
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)


@pytest.mark.parametrize(
    "policy",
    [
        [],
        {"max_versions": 3},
        {"enabled": "yes"},
        {"enabled": True, "max_versions": 0},
        {"enabled": True, "max_versions": True},
        {"enabled": True, "max_versions": 10**40},
        {"enabled": True, "retention_days": -1},
        {"enabled": True, "other": 1},
    ],
)
def test_a_policy_that_is_not_one_is_invalid_argument_and_changes_nothing(s3, bucket, raw_s3, server, policy):
    status, body = put_policy(raw_s3(server), bucket, policy)
    assert status == 400 and b"<Code>InvalidArgument</Code>" in body, body
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)


def test_restore_makes_an_old_version_current_again_as_a_new_version(s3, bucket, raw_s3, server):
    raw = raw_s3(server)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="doc", Body=b"first draft", ContentType="text/plain", Metadata={"a": "b"})["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="doc", Body=b"second draft")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="doc")  # a delete marker: the restore undoes a delete too
    status, headers, body = raw.request("POST", f"/{bucket}/doc?restore&versionId={first}")
    assert status == 200, body
    answer = json.loads(body)
    assert answer["restored_version_id"] == first and headers["x-amz-version-id"] == answer["version_id"] not in (first, second)
    current = s3.get_object(Bucket=bucket, Key="doc")
    assert current["Body"].read() == b"first draft" and current["VersionId"] == answer["version_id"]
    assert (current["ContentType"], current["Metadata"]) == ("text/plain", {"a": "b"})
    assert history(s3, bucket, "doc") == [answer["version_id"], second, first]


def test_restore_refuses_a_marker_a_missing_version_and_no_version(s3, bucket, raw_s3, server):
    raw = raw_s3(server)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="doc", Body=b"x")
    marker = s3.delete_object(Bucket=bucket, Key="doc")["VersionId"]
    for target, code in [
        (f"/{bucket}/doc?restore&versionId={marker}", b"MethodNotAllowed"),
        (f"/{bucket}/doc?restore&versionId=00000000000000000001aaaaaaaaaaaaaaaa", b"NoSuchVersion"),
        (f"/{bucket}/doc?restore&versionId=v123", b"InvalidArgument"),
        (f"/{bucket}/doc?restore", b"NotImplemented"),
    ]:
        _, _, body = raw.request("POST", target)
        assert b"<Code>" + code + b"</Code>" in body, (target, body)


def test_version_stats_count_versions_markers_and_bytes(s3, bucket, raw_s3, server):
    raw = raw_s3(server)
    empty = stats(raw, bucket)
    assert (empty["versions"], empty["bytes"], empty["oldest"], empty["versioning"]) == (0, 0, None, "Disabled")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="a", Body=b"12345")
    s3.put_object(Bucket=bucket, Key="a", Body=b"123")
    s3.put_object(Bucket=bucket, Key="b", Body=b"1")
    s3.delete_object(Bucket=bucket, Key="b")
    found = stats(raw, bucket)
    assert {k: found[k] for k in ("versions", "delete_markers", "bytes", "noncurrent_versions", "noncurrent_bytes")} == {
        "versions": 3, "delete_markers": 1, "bytes": 9, "noncurrent_versions": 2, "noncurrent_bytes": 6,
    }
    oldest = s3.list_object_versions(Bucket=bucket, Prefix="a")["Versions"][-1]["LastModified"]
    assert found["oldest"] == oldest.strftime("%Y-%m-%dT%H:%M:%S.") + f"{oldest.microsecond // 1000:03d}Z"


def test_the_readmes_curl_examples_work_as_written(s3, bucket, server):
    """The README's three curl commands, with its S3=(...) signing arguments, against this server."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("## Versioning extensions", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    script = block.replace("http://127.0.0.1:9000", server.endpoint).replace("/documents", f"/{bucket}")
    curl = shutil.which("curl")
    assert curl, "curl is needed for this test"
    env = {"PATH": str(Path(curl).parent), "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    lines = [line for line in script.splitlines() if not line.startswith("#")]
    setup, policy, restore, stats_line = lines[0], "\n".join(lines[1:3]), lines[3], lines[4]

    def run(*commands: str, **extra: str) -> str:
        result = subprocess.run(["bash", "-c", "\n".join(commands)], env={**env, **extra}, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert run(setup, policy) == ""
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    first = s3.put_object(Bucket=bucket, Key="report.pdf", Body=b"first")["VersionId"]
    s3.put_object(Bucket=bucket, Key="report.pdf", Body=b"second")
    restored = json.loads(run(setup, restore, VERSION_ID=first))
    assert restored["restored_version_id"] == first
    assert s3.get_object(Bucket=bucket, Key="report.pdf")["Body"].read() == b"first"
    found = json.loads(run(setup, stats_line))
    assert (found["versions"], found["policy"]) == (3, {"max_versions": 10, "retention_days": 90})
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", found["oldest"])
