"""A real cluster heals itself: three `wsgi-s3 node` processes and a `wsgi-s3 gateway` (N=3, W=2,
R=1, a short repair interval), one node killed with kill -9 under concurrent writers and brought
back. What each node holds afterwards is checked through the nodes' own API."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import urllib3

from tests.conftest import CLUSTER_TOKEN, Cluster, Server, free_port, make_cluster
from tests.polling import wait_until
from wsgi_s3.cluster.node_client import NodeClient
from wsgi_s3.model import errors

pytestmark = pytest.mark.slow


def body(key: str, round_: int) -> bytes:
    return hashlib.sha256(f"{key}/{round_}".encode()).digest() * 300


def holds(client: NodeClient, bucket: str, key: str, data: bytes | None) -> bool:
    """Whether the node's latest version of the key has exactly `data` (None: it has none)."""
    try:
        version = client.get_version(bucket, key)
    except errors.NotFound:
        return data is None
    if data is None or version.size != len(data):
        return False
    stream = client.read(version, 0, version.size)
    try:
        return b"".join(iter(lambda: stream.read(65536), b"")) == data
    finally:
        stream.close()


def status(cluster: Cluster) -> subprocess.CompletedProcess:
    env = {**os.environ, "WSGI_S3_BACKEND_AUTH_TOKEN": CLUSTER_TOKEN}
    nodes = ",".join(node.endpoint for node in cluster.nodes)
    return subprocess.run(
        [sys.executable, "-m", "wsgi_s3", "cluster", "status", "--nodes", nodes], env=env, capture_output=True, text=True, timeout=60
    )


def test_a_node_killed_under_concurrent_writers_is_healed(tmp_path: Path, client_for):
    metrics_port = free_port()
    cluster = make_cluster(tmp_path, gateway_flags=("--repair-interval", "2", "--metrics-listen", f"127.0.0.1:{metrics_port}"))
    cluster.start()
    try:
        s3 = client_for(cluster.gateway)
        s3.create_bucket(Bucket="heal")
        acknowledged: dict[str, bytes | None] = {}  # key -> what the last acknowledged write left
        lock = threading.Lock()
        stop = threading.Event()
        failures: list[BaseException] = []

        def writer(name: str) -> None:
            client = client_for(cluster.gateway)
            round_ = 0
            while not stop.is_set():
                key = f"{name}/{round_ % 7}"
                try:
                    if round_ % 5 == 4:
                        client.delete_object(Bucket="heal", Key=key)
                        result: bytes | None = None
                    else:
                        result = body(key, round_)
                        client.put_object(Bucket="heal", Key=key, Body=result)
                except BaseException as exc:  # noqa: BLE001 - every request must succeed: collected, then asserted
                    failures.append(exc)
                    return
                with lock:
                    acknowledged[key] = result
                round_ += 1

        threads = [threading.Thread(target=writer, args=(f"w{index}",)) for index in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(1)
        victim = cluster.nodes[0]
        victim.kill()
        # While it is down: reads, listings and a multipart upload keep working.
        time.sleep(1)
        upload = s3.create_multipart_upload(Bucket="heal", Key="multi")["UploadId"]
        parts = [s3.upload_part(Bucket="heal", Key="multi", UploadId=upload, PartNumber=n, Body=bytes([n]) * (5 << 20)) for n in (1, 2)]
        s3.complete_multipart_upload(
            Bucket="heal", Key="multi", UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": part["ETag"]} for n, part in zip((1, 2), parts)]},
        )
        assert s3.get_object(Bucket="heal", Key="multi")["ContentLength"] == 10 << 20
        assert s3.list_objects_v2(Bucket="heal")["KeyCount"] > 0
        time.sleep(1)
        victim.start()
        time.sleep(1)
        stop.set()
        for thread in threads:
            thread.join()
        assert not failures, failures
        acknowledged["multi"] = bytes([1]) * (5 << 20) + bytes([2]) * (5 << 20)

        clients = [NodeClient(node.endpoint, CLUSTER_TOKEN, connect_timeout=2, read_timeout=30) for node in cluster.nodes]
        try:
            def missing() -> list[tuple[str, str]]:
                return [(client.url, key) for client in clients for key, data in acknowledged.items() if not holds(client, "heal", key, data)]

            wait_until(lambda: not missing(), lambda: f"healed, still missing: {missing()[:5]}", 90, pause=1)
            # Nothing deleted is listed, everything acknowledged is.
            listed = {item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="heal") for item in page.get("Contents", [])}
            assert listed == {key for key, data in acknowledged.items() if data is not None}
        finally:
            for client in clients:
                client.close()

        def node_rows(report: subprocess.CompletedProcess) -> list[list[str]]:
            return [line.split() for line in report.stdout.splitlines() if line.startswith("http")]

        # Every node up, no hint left, and a pass recorded since the node came back.
        def settled() -> bool:
            nonlocal report
            report = status(cluster)
            return all(row[1:3] == ["up", "0"] and row[3] != "never" for row in node_rows(report))

        report = status(cluster)
        wait_until(settled, lambda: "settled:\n" + report.stdout + report.stderr, 30, pause=1)
        assert report.returncode == 0 and len(node_rows(report)) == 3 and "last pass:" in report.stdout, report.stdout
        # The repairer's work is counted on the gateway's metrics port.
        scraped = urllib3.request("GET", f"http://127.0.0.1:{metrics_port}/metrics").data.decode()
        counts = {name: float(value) for name, value in re.findall(r"^(s3_repair_[a-z_]+) (\S+)$", scraped, re.M)}
        assert counts["s3_repair_passes_total"] >= 1 and counts["s3_repair_last_pass_timestamp_seconds"] > 0, counts
        assert counts["s3_repair_hints_handed_over_total"] + counts["s3_repair_copies_total"] >= 1, counts
    finally:
        cluster.stop()


def test_cluster_status_names_a_node_that_is_down(tmp_path: Path):
    cluster = make_cluster(tmp_path)
    for node in cluster.nodes[1:]:
        node.start()
    try:
        report = status(cluster)
        assert report.returncode == 1
        down = [line for line in report.stdout.splitlines() if cluster.nodes[0].endpoint in line]
        assert down and " down " in down[0]
        assert sum(" up " in line for line in report.stdout.splitlines()) == 2
    finally:
        cluster.stop()


def skewed(gateway: Server, base: Path, offset: str) -> Server:
    """Another gateway like `gateway`, whose clocks are `offset` off (libfaketime; the monotonic clock
    too, or Python's sleeps, which wait for an absolute monotonic time, would be refused)."""
    (library,) = glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
    env = {**gateway.env, "LD_PRELOAD": library, "FAKETIME": offset}
    return Server(base, free_port(), gateway.extra_args, command="gateway", env=env)


def records(client: NodeClient, bucket: str, key: str) -> list[tuple]:
    return [(r.version_id, r.timestamp_ns, r.origin, r.tombstone, r.delete_marker) for r in client.key_history(bucket, key, 100)]


def test_writes_through_gateways_with_skewed_clocks_end_the_same_on_every_node(tmp_path: Path, client_for):
    cluster = make_cluster(tmp_path, gateway_flags=("--repair-interval", "2"))
    cluster.start()
    behind = skewed(cluster.gateway, tmp_path / "behind", "-30s")
    behind.start()
    try:
        ahead_s3, behind_s3 = client_for(cluster.gateway), client_for(behind)
        ahead_s3.create_bucket(Bucket="skew")
        dates = [parsedate_to_datetime(s3.list_buckets()["ResponseMetadata"]["HTTPHeaders"]["date"]) for s3 in (ahead_s3, behind_s3)]
        assert 20 <= (dates[0] - dates[1]).total_seconds() <= 40  # the second gateway's clock really is behind
        acknowledged: set[bytes] = set()
        victim = cluster.nodes[2]

        def write(s3, who: str) -> None:
            for index in range(15):
                data = f"{who}-{index}".encode()
                s3.put_object(Bucket="skew", Key="same-key", Body=data)
                acknowledged.add(data)
                if index % 3 == 0:
                    s3.delete_object(Bucket="skew", Key="raced")  # a delete racing the other gateway's write
                else:
                    s3.put_object(Bucket="skew", Key="raced", Body=data)

        threads = [threading.Thread(target=write, args=(s3, who)) for s3, who in ((ahead_s3, "ahead"), (behind_s3, "behind"))]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        victim.kill()  # one owner misses part of the race
        for thread in threads:
            thread.join(timeout=120)
        victim.start()

        clients = [NodeClient(node.endpoint, CLUSTER_TOKEN, connect_timeout=2, read_timeout=30) for node in cluster.nodes]
        try:
            def held() -> list[list[list[tuple]]]:
                return [[records(client, "skew", key) for key in ("same-key", "raced")] for client in clients]

            wait_until(lambda: (now := held())[0] == now[1] == now[2], lambda: f"every node holds the same: {held()}", 60, pause=1)
        finally:
            for client in clients:
                client.close()
        # One state, whichever gateway is asked: the newest stamp wins on every node.
        same = {s3.get_object(Bucket="skew", Key="same-key")["Body"].read() for s3 in (ahead_s3, behind_s3)}
        assert len(same) == 1 and same <= acknowledged
        raced = set()
        for s3 in (ahead_s3, behind_s3):
            try:
                raced.add(s3.get_object(Bucket="skew", Key="raced")["Body"].read())
            except s3.exceptions.NoSuchKey:
                raced.add(None)
        assert len(raced) == 1
    finally:
        behind.stop()
        cluster.stop()


def test_one_gateway_repairs_at_a_time_and_another_takes_over_when_it_dies(tmp_path: Path):
    """Two gateways, each with its repairer: only the holder of the cluster's repair lease runs
    passes (every pass is recorded on the nodes with the gateway's name); once it dies, the other
    takes the lease over when it expires and the passes go on under its name."""
    cluster = make_cluster(tmp_path, gateway_flags=("--repair-interval", "1", "--repair-lease", "3"))
    cluster.start()
    second = Server(tmp_path / "second", free_port(), cluster.gateway.extra_args, command="gateway", env=cluster.gateway.env)
    second.start()
    clients = [NodeClient(node.endpoint, CLUSTER_TOKEN, connect_timeout=2, read_timeout=30) for node in cluster.nodes]
    try:
        def passes() -> list[tuple[int, str]]:
            """(finished_ns, gateway) of the last pass each node recorded."""
            found = []
            for client in clients:
                recorded = client.status().get("repair")
                if isinstance(recorded, str):
                    document = json.loads(recorded)
                    found.append((document["finished_ns"], document["gateway"]))
            return found

        seen: dict[int, str] = {}  # finished_ns -> the gateway that ran that pass
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:  # about eight passes' worth: all of them by one gateway
            seen.update(passes())
            time.sleep(0.5)
        assert len(seen) >= 3 and len(set(seen.values())) == 1, seen
        holder = next(iter(seen.values()))
        assert holder.endswith(f":127.0.0.1:{cluster.gateway.port}") or holder.endswith(f":127.0.0.1:{second.port}"), holder
        dying, survivor = (cluster.gateway, second) if holder.endswith(f":{cluster.gateway.port}") else (second, cluster.gateway)
        dying.kill()
        wait_until(
            lambda: any(gateway.endswith(f":{survivor.port}") for _, gateway in passes()), lambda: f"a pass by the survivor: {passes()}", 30, pause=1
        )
    finally:
        for client in clients:
            client.close()
        second.stop()
        cluster.stop()
