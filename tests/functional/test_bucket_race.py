"""DeleteBucket racing PUTs through a real gateway over three nodes: whichever wins, no acknowledged
object is left in a bucket that no longer exists, and the nodes agree on whether the bucket exists."""

from __future__ import annotations

import threading

import botocore.exceptions
import pytest

from tests.conftest import CLUSTER_TOKEN, Cluster
from wsgi_s3.cluster.node_client import NodeClient

pytestmark = pytest.mark.slow


def test_delete_bucket_racing_puts_never_drops_an_acknowledged_object(cluster: Cluster, client_for):
    clients = [NodeClient(node.endpoint, CLUSTER_TOKEN, connect_timeout=2, read_timeout=30) for node in cluster.nodes]
    try:
        for round_ in range(4):
            name = f"race-{round_}"
            client_for(cluster.gateway).create_bucket(Bucket=name)
            state: dict[str, str] = {}  # key -> the last acknowledged operation on it
            deleted = threading.Event()

            def writer(prefix: str) -> None:
                s3 = client_for(cluster.gateway)
                for index in range(400):
                    key = f"{prefix}{index}"
                    try:
                        s3.put_object(Bucket=name, Key=key, Body=b"racing")
                        state[key] = "put"
                        s3.delete_object(Bucket=name, Key=key)
                        state[key] = "deleted"
                    except botocore.exceptions.ClientError as exc:
                        if exc.response["Error"]["Code"] == "NoSuchBucket":
                            return
                        assert exc.response["Error"]["Code"] in ("SlowDown", "ServiceUnavailable", "BucketNotEmpty"), exc.response
                    if deleted.is_set():
                        return

            def deleter() -> None:
                s3 = client_for(cluster.gateway)
                for _ in range(200):
                    try:
                        s3.delete_bucket(Bucket=name)
                        deleted.set()
                        return
                    except botocore.exceptions.ClientError as exc:
                        assert exc.response["Error"]["Code"] in ("BucketNotEmpty", "SlowDown", "ServiceUnavailable"), exc.response

            threads = [threading.Thread(target=writer, args=(f"w{n}-",)) for n in range(2)] + [threading.Thread(target=deleter)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=300)
            holders = [name in {info.name for info in client.list_buckets()} for client in clients]
            if deleted.is_set():
                assert [key for key, last in state.items() if last == "put"] == []
                assert holders == [False, False, False]
            else:
                assert holders == [True, True, True]
                s3 = client_for(cluster.gateway)
                for key, last in state.items():
                    if last == "put":
                        assert s3.get_object(Bucket=name, Key=key)["Body"].read() == b"racing"
    finally:
        for client in clients:
            client.close()
