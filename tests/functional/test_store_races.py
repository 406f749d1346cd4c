"""Races against a real server's store: reads against deletes, uploads against the sweeper, writes
against another process's lock. Each server gets an ini file of its own with short intervals."""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import urllib3
from botocore.exceptions import ClientError

from tests.functional.test_crash_safety import MIB, PART, blob_files, data, hold_store_lock, tmp_files, wait_for_log, wait_for_staged_bytes
from tests.polling import wait_until


def config(tmp_path: Path, **store: object) -> str:
    path = tmp_path / "store.ini"
    path.write_text("[store]\n" + "".join(f"{name} = {value}\n" for name, value in store.items()))
    return str(path)


def test_a_get_of_a_multipart_object_is_never_cut_short_by_its_delete(start_server, client_for, tmp_path):
    # Freed blobs are reclaimed at once and the sweeper runs every second: only the reader's own
    # open files keep the object's bytes while it streams.
    server = start_server("--config", config(tmp_path, reclaim_grace=0, sweep_interval=1))
    s3 = client_for(server)
    s3.create_bucket(Bucket="race")
    parts = [data(PART, f"part-{n}".encode()) for n in range(6)]  # 30 MiB: more than loopback buffers hold
    upload_id = s3.create_multipart_upload(Bucket="race", Key="obj")["UploadId"]
    etags = [s3.upload_part(Bucket="race", Key="obj", UploadId=upload_id, PartNumber=n, Body=p)["ETag"] for n, p in enumerate(parts, 1)]
    s3.complete_multipart_upload(
        Bucket="race", Key="obj", UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in enumerate(etags, 1)]},
    )
    body = s3.get_object(Bucket="race", Key="obj")["Body"]
    first = body.read(MIB)
    s3.delete_object(Bucket="race", Key="obj")
    wait_until(lambda: blob_files(server.data_dir) == [], "the sweeper reclaimed the deleted object's blobs", pause=0.05)
    rest = body.read()
    assert hashlib.md5(first + rest).hexdigest() == hashlib.md5(b"".join(parts)).hexdigest()


def test_a_stalled_upload_keeps_its_temp_file(start_server, client_for, raw_s3, tmp_path):
    server = start_server("--config", config(tmp_path, sweep_grace=1, sweep_interval=1))
    s3 = client_for(server)
    s3.create_bucket(Bucket="race")
    body = data(4 * MIB, b"slow")
    conn = raw_s3(server).start("PUT", "/race/slow", len(body))
    conn.send(body[: 2 * MIB])
    wait_for_staged_bytes(server, conn, 2 * MIB)
    time.sleep(1.5)  # the upload now looks abandoned by age alone (sweep_grace = 1 s)
    # A dead writer's temp file, planted as old: once it is gone the sweeper has passed over both.
    dead = server.data_dir / "tmp" / "dead.tmp"
    dead.write_bytes(b"partial")
    os.utime(dead, (time.time() - 60, time.time() - 60))
    wait_until(lambda: not dead.exists(), "the sweeper removed the dead writer's temp file", pause=0.05)
    conn.send(body[2 * MIB :])
    response = conn.getresponse()
    assert response.status == 200, response.read()
    assert s3.get_object(Bucket="race", Key="slow")["Body"].read() == body


def test_a_locked_store_keeps_the_worker_serving_then_answers_slowdown(start_server, client_for, tmp_path):
    server = start_server("--workers", "1", "--config", config(tmp_path, lock_timeout=5))
    s3 = client_for(server)
    s3.create_bucket(Bucket="race")
    before = blob_files(server.data_dir)
    holder = hold_store_lock(server.data_dir)
    try:
        with ThreadPoolExecutor(1) as pool:
            put = pool.submit(s3.put_object, Bucket="race", Key="k", Body=b"x" * 100_000)
            wait_for_log(server, "waiting for the lock")
            # The one worker is waiting for SQLite, yet answers other requests meanwhile.
            with urllib3.PoolManager(retries=False, timeout=30) as http:
                assert http.request("GET", server.endpoint + "/health").status == 200
                assert http.request("GET", server.endpoint + "/race").status == 403  # unsigned, but served
            assert not put.done()
            with pytest.raises(ClientError) as exc:
                put.result()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert exc.value.response["Error"]["Code"] == "SlowDown"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert blob_files(server.data_dir) == before and tmp_files(server.data_dir) == []
    s3.put_object(Bucket="race", Key="k", Body=b"after")
    assert s3.get_object(Bucket="race", Key="k")["Body"].read() == b"after"


def test_the_data_directory_is_private_to_the_service(start_server, client_for):
    server = start_server()
    s3 = client_for(server)
    s3.create_bucket(Bucket="private")
    s3.put_object(Bucket="private", Key="k", Body=b"secret")
    for root, dirs, files in os.walk(server.data_dir):
        assert all(os.stat(os.path.join(root, d)).st_mode & 0o077 == 0 for d in dirs), root
        assert all(os.stat(os.path.join(root, f)).st_mode & 0o077 == 0 for f in files), root
    assert os.stat(server.data_dir).st_mode & 0o077 == 0
