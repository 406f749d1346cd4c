"""kill -9 of the whole server (master and workers) in the middle of writes, then a restart on the
same data directory: the old object or the whole new one is visible, never a torn one, and the
start-up sweep leaves no temp file and no blob that metadata does not reference."""

from __future__ import annotations

import gc
import hashlib
import http.client
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

MIB = 1 << 20
PART = 5 * MIB  # S3's smallest part but the last


def blocks(total: int, seed: bytes) -> Iterator[bytes]:
    """`total` bytes in 1 MiB blocks, each one different, without holding them all."""
    base = hashlib.sha256(seed).digest() * (MIB // 32)
    for index in range((total + MIB - 1) // MIB):
        block = index.to_bytes(8, "big") + base[8:]
        yield block[: min(MIB, total - index * MIB)]


def data(total: int, seed: bytes) -> bytes:
    return b"".join(blocks(total, seed))


def md5(body: bytes) -> str:
    return hashlib.md5(body).hexdigest()


def multipart_etag(parts: list[bytes]) -> str:
    return hashlib.md5(b"".join(hashlib.md5(part).digest() for part in parts)).hexdigest() + f"-{len(parts)}"


def tmp_files(data_dir: Path) -> list[Path]:
    return [path for path in (data_dir / "tmp").iterdir() if path.is_file()]


def blob_files(data_dir: Path) -> list[Path]:
    return [path for path in (data_dir / "blobs").rglob("*") if path.is_file()]


def live_blob_files(data_dir: Path) -> list[Path]:
    """Blob files minus those freed by a commit and waiting for the sweeper's reclaim grace."""
    with sqlite3.connect(data_dir / "meta.db") as db:
        freed = {row[0] for row in db.execute("SELECT blob_id FROM blobs WHERE freed_ns IS NOT NULL")}
    return [path for path in blob_files(data_dir) if path.name not in freed]


def hold_store_lock(data_dir: Path) -> sqlite3.Connection:
    """Take the store's write lock from this process, as another writer would; ROLLBACK releases it."""
    holder = sqlite3.connect(data_dir / "meta.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def wait_for_log(server, text: str, timeout: float = 60) -> None:
    """Until the server's log shows `text` (a wait for a state, not an assertion on time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in server.log():
            return
        time.sleep(0.05)
    raise AssertionError(f"the server never logged {text!r}:\n{server.log()[-5000:]}")


def wait_for_staged_bytes(server, conn: http.client.HTTPConnection, at_least: int, timeout: float = 60) -> None:
    """Until the server has streamed `at_least` bytes of the body it is receiving on `conn` into a
    temp file (a wait, not an assertion on time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(path.stat().st_size >= at_least for path in tmp_files(server.data_dir) if path.exists()):
            return
        time.sleep(0.02)
    found = {path.name: path.stat().st_size for path in tmp_files(server.data_dir)}
    try:
        conn.sock.settimeout(5)
        response = conn.getresponse()
        answer = f"{response.status} {response.read()[:2000]!r}"
    except (OSError, http.client.HTTPException) as exc:
        answer = repr(exc)
    raise AssertionError(f"the server never staged {at_least} bytes in {server.data_dir / 'tmp'} ({found}); it answered {answer}\n{server.log()[-5000:]}")


def finish_or_fail(conn: http.client.HTTPConnection, rest: Iterator[bytes]) -> None:
    """Send what is left of a body to a killed server: that must fail, not succeed."""
    with pytest.raises((OSError, http.client.HTTPException)):
        for block in rest:
            conn.send(block)
        conn.getresponse().read()


def error_code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


@pytest.fixture
def crash_server(start_server, client_for):
    server = start_server()
    yield server, client_for(server)
    # Server.wait_ready leaves an idle keep-alive connection to the garbage collector, and a worker
    # holding one takes its graceful timeout to stop: close such connections before stop().
    gc.collect()



def kill_mid_write(server, raw_s3, target: str, size: int, filler: bytes, staged: int) -> None:
    """PUT `size` bytes to `target`, send half, and kill -9 the server once it has streamed at least
    `staged` bytes into its temp file: the kill lands mid-write."""
    conn = raw_s3(server).start("PUT", target, size)
    body = blocks(size, filler)
    for _ in range(size // 2 // MIB):
        conn.send(next(body))
    wait_for_staged_bytes(server, conn, staged)
    server.kill()
    finish_or_fail(conn, body)

def test_kill_during_large_put_keeps_the_old_object(crash_server, raw_s3):
    server, s3 = crash_server
    s3.create_bucket(Bucket="crash")
    old = data(3 * MIB, b"old")
    s3.put_object(Bucket="crash", Key="obj", Body=old)

    kill_mid_write(server, raw_s3, "/crash/obj", 200 * MIB, b"new", staged=80 * MIB)

    assert tmp_files(server.data_dir), "the interrupted PUT left no temp file: the kill did not land mid-write"
    # A crash between the rename into blobs/ and the SQLite commit leaves exactly this: a finished
    # blob that no metadata references (too short a window to hit with a kill, so it is planted).
    orphan_id = uuid.uuid4().hex
    orphan = server.data_dir / "blobs" / orphan_id[:2] / orphan_id[2:4] / orphan_id
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"never committed")

    server.start()

    got = s3.get_object(Bucket="crash", Key="obj")
    assert got["Body"].read() == old
    assert got["ETag"] == f'"{md5(old)}"'
    listing = s3.list_objects_v2(Bucket="crash")
    assert [(o["Key"], o["Size"], o["ETag"]) for o in listing["Contents"]] == [("obj", len(old), f'"{md5(old)}"')]
    assert tmp_files(server.data_dir) == []
    assert not orphan.exists()
    assert len(blob_files(server.data_dir)) == 1  # the old object's blob, nothing else

    # The store still takes writes to that key after the crash.
    fresh = data(2 * MIB, b"after")
    s3.put_object(Bucket="crash", Key="obj", Body=fresh)
    assert s3.get_object(Bucket="crash", Key="obj")["Body"].read() == fresh
    assert len(live_blob_files(server.data_dir)) == 1  # the old one is freed, reclaimed after its grace


def _complete_xml(etags: list[str]) -> bytes:
    parts = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>\"{etag}\"</ETag></Part>" for n, etag in enumerate(etags, 1))
    return f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()


def _multipart_upload(s3, seed: str) -> tuple[str, list[bytes], list[str]]:
    parts = [data(PART, f"{seed}-1".encode()), data(MIB // 3, f"{seed}-2".encode())]
    upload_id = s3.create_multipart_upload(Bucket="crash", Key="obj")["UploadId"]
    etags = [
        s3.upload_part(Bucket="crash", Key="obj", UploadId=upload_id, PartNumber=n, Body=part)["ETag"].strip('"')
        for n, part in enumerate(parts, 1)
    ]
    return upload_id, parts, etags


def _complete_while_locked(server, raw_s3, upload_id: str, etags: list[str]) -> tuple[sqlite3.Connection, http.client.HTTPConnection]:
    """Send CompleteMultipartUpload while this process holds the store's write lock; returns (the
    lock's connection, the request's) once the server has checked the parts and waits to commit."""
    holder = hold_store_lock(server.data_dir)
    body = _complete_xml(etags)
    conn = raw_s3(server).start("POST", f"/crash/obj?uploadId={upload_id}", len(body))
    conn.send(body)
    wait_for_log(server, "waiting for the lock")
    return holder, conn


def test_kill_during_complete_multipart_upload_is_all_or_nothing(crash_server, raw_s3):
    """The kill is made to land inside CompleteMultipartUpload's window deterministically: another
    process holds the store's write lock, so the request has read and checked the parts and waits
    to commit (the server logs that it waits) when the server dies."""
    server, s3 = crash_server
    s3.create_bucket(Bucket="crash")
    old = data(MIB, b"original")
    s3.put_object(Bucket="crash", Key="obj", Body=old)
    upload_id, parts, etags = _multipart_upload(s3, "killed")

    holder, conn = _complete_while_locked(server, raw_s3, upload_id, etags)
    server.kill()
    holder.execute("ROLLBACK")
    holder.close()
    conn.close()
    server.start()

    # Nothing of the interrupted commit is visible: the old object, the upload and its parts intact.
    got = s3.get_object(Bucket="crash", Key="obj")
    assert got["Body"].read() == old and got["ETag"] == f'"{md5(old)}"'
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="crash")["Uploads"]] == [upload_id]
    listed = s3.list_parts(Bucket="crash", Key="obj", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"].strip('"'), p["Size"]) for p in listed] == [
        (n, etag, len(part)) for n, (etag, part) in enumerate(zip(etags, parts), 1)
    ]
    assert tmp_files(server.data_dir) == []
    assert len(blob_files(server.data_dir)) == 1 + len(parts)  # the old object's and the upload's

    # The upload survived whole: completing it now works.
    s3.complete_multipart_upload(
        Bucket="crash",
        Key="obj",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": f'"{etag}"'} for n, etag in enumerate(etags, 1)]},
    )
    got = s3.get_object(Bucket="crash", Key="obj")
    assert got["Body"].read() == b"".join(parts) and got["ETag"] == f'"{multipart_etag(parts)}"'
    assert s3.list_multipart_uploads(Bucket="crash").get("Uploads", []) == []


def test_kill_right_after_complete_multipart_upload_answered_keeps_the_object(crash_server, raw_s3):
    """The other side of the window: once Complete has answered 200, a kill -9 loses nothing."""
    server, s3 = crash_server
    s3.create_bucket(Bucket="crash")
    s3.put_object(Bucket="crash", Key="obj", Body=data(MIB, b"original"))
    upload_id, parts, etags = _multipart_upload(s3, "acknowledged")

    holder, conn = _complete_while_locked(server, raw_s3, upload_id, etags)
    holder.execute("ROLLBACK")
    holder.close()
    response = conn.getresponse()
    assert response.status == 200, response.read()
    server.kill()
    conn.close()
    server.start()

    got = s3.get_object(Bucket="crash", Key="obj")
    assert got["Body"].read() == b"".join(parts) and got["ETag"] == f'"{multipart_etag(parts)}"'
    assert s3.list_multipart_uploads(Bucket="crash").get("Uploads", []) == []
    assert tmp_files(server.data_dir) == []
    assert len(blob_files(server.data_dir)) == len(parts)  # the start-up sweep reclaimed the old object's blob


def test_kill_during_upload_part_keeps_the_finished_parts(crash_server, raw_s3):
    server, s3 = crash_server
    s3.create_bucket(Bucket="crash")
    upload_id = s3.create_multipart_upload(Bucket="crash", Key="obj")["UploadId"]
    parts = {n: data(PART, f"part-{n}".encode()) for n in (1, 2, 3)}
    for n, part in parts.items():
        s3.upload_part(Bucket="crash", Key="obj", UploadId=upload_id, PartNumber=n, Body=part)

    # Part 4, 100 MiB, is half-way into its temp file when the server dies.
    kill_mid_write(server, raw_s3, f"/crash/obj?uploadId={upload_id}&partNumber=4", 100 * MIB, b"interrupted", staged=30 * MIB)
    assert tmp_files(server.data_dir)
    server.start()

    def listed() -> list[tuple[int, str, int]]:
        found = s3.list_parts(Bucket="crash", Key="obj", UploadId=upload_id)["Parts"]
        return [(p["PartNumber"], p["ETag"].strip('"'), p["Size"]) for p in found]

    assert listed() == [(n, md5(part), len(part)) for n, part in parts.items()]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="crash")["Uploads"]] == [upload_id]
    assert tmp_files(server.data_dir) == []
    assert len(blob_files(server.data_dir)) == 3

    # Part 4 again, sent whole, and the server killed before it answers: part 4 is absent or whole.
    parts[4] = data(PART, b"part-4")
    conn = raw_s3(server).start("PUT", f"/crash/obj?uploadId={upload_id}&partNumber=4", PART)
    conn.send(parts[4])
    server.kill()
    conn.close()
    server.start()
    found = listed()
    assert found in ([(n, md5(parts[n]), PART) for n in (1, 2, 3)], [(n, md5(parts[n]), PART) for n in (1, 2, 3, 4)])
    assert tmp_files(server.data_dir) == []
    assert len(blob_files(server.data_dir)) == len(found)

    # The upload finishes normally after two crashes.
    parts[5] = data(MIB, b"part-5")
    for n in (4, 5) if len(found) == 3 else (5,):
        s3.upload_part(Bucket="crash", Key="obj", UploadId=upload_id, PartNumber=n, Body=parts[n])
    s3.complete_multipart_upload(
        Bucket="crash",
        Key="obj",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": f'"{md5(parts[n])}"'} for n in sorted(parts)]},
    )
    got = s3.get_object(Bucket="crash", Key="obj")
    assert got["Body"].read() == b"".join(parts[n] for n in sorted(parts))
    assert got["ETag"] == f'"{multipart_etag([parts[n] for n in sorted(parts)])}"'
    assert len(live_blob_files(server.data_dir)) == 5
