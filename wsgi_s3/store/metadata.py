"""SQLite (WAL) metadata of one store: buckets, versions, multipart uploads and parts.

One connection per process (opened lazily, so a gunicorn worker opens its own after fork). Every
write is one short BEGIN IMMEDIATE transaction with no I/O in between, so under gevent no other
greenlet can interleave with it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace

from wsgi_s3.model import errors
from wsgi_s3.model.types import BucketInfo, ObjectMeta, ObjectVersion, Part, Segment, Upload

_VERSION_COLUMNS = "bucket, key, version_id, timestamp_ns, is_latest, delete_marker, size, meta, segments"


class Metadata:
    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            from wsgi_s3.store.schema import migrate

            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit acknowledged to a client survives power loss, not only a process crash.
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            migrate(conn)
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    # buckets

    def create_bucket(self, name: str, region: str, owner: str, created_ns: int) -> BucketInfo:
        with self.write() as conn:
            if conn.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone():
                raise errors.AlreadyExists("bucket", name)
            conn.execute(
                "INSERT INTO buckets (name, created_ns, region, owner) VALUES (?, ?, ?, ?)", (name, created_ns, region, owner)
            )
        return BucketInfo(name, created_ns, region, owner)

    def get_bucket(self, name: str) -> BucketInfo:
        row = self.conn.execute("SELECT name, created_ns, region, owner, versioning FROM buckets WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise errors.NotFound("bucket", name)
        return BucketInfo(*row)

    def list_buckets(self) -> list[BucketInfo]:
        rows = self.conn.execute("SELECT name, created_ns, region, owner, versioning FROM buckets ORDER BY name")
        return [BucketInfo(*row) for row in rows]

    def delete_bucket(self, name: str) -> list[str]:
        """Delete an empty bucket and its unfinished uploads; returns the part blobs to remove."""
        with self.write() as conn:
            _require_bucket(conn, name)
            if conn.execute("SELECT 1 FROM versions WHERE bucket = ? LIMIT 1", (name,)).fetchone():
                raise errors.NotEmpty(name)
            blobs = [
                row[0]
                for row in conn.execute(
                    "SELECT blob_id FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket = ?)", (name,)
                )
            ]
            conn.execute("DELETE FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket = ?)", (name,))
            conn.execute("DELETE FROM uploads WHERE bucket = ?", (name,))
            conn.execute("DELETE FROM buckets WHERE name = ?", (name,))
        return blobs

    # versions

    def insert_version(
        self, version: ObjectVersion, *, replace_null: bool, if_none_match: bool = False, if_match: str | None = None
    ) -> tuple[ObjectVersion, list[str]]:
        """Insert a version (see `_insert_version`); returns it and the blob ids no longer referenced."""
        with self.write() as conn:
            return _insert_version(conn, version, replace_null, if_none_match, if_match)

    def complete_upload(self, upload_id: str, version: ObjectVersion, *, replace_null: bool) -> tuple[ObjectVersion, list[str]]:
        """Make a multipart object visible and drop its upload in one transaction."""
        with self.write() as conn:
            if not conn.execute("SELECT 1 FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone():
                raise errors.NotFound("upload", upload_id)
            stored, freed = _insert_version(conn, version, replace_null, False, None)
            used = {s.blob_id for s in version.segments}
            freed += [blob for blob in self.finish_upload(upload_id) if blob not in used]
        return stored, freed

    def get_version(self, bucket: str, key: str, version_id: str | None) -> ObjectVersion:
        conn = self.conn
        if version_id is None:
            found = _latest_row(conn, bucket, key)
        else:
            found = _version_row(conn, bucket, key, version_id)
        if found is None:
            _require_bucket(conn, bucket)
            raise errors.NotFound("version" if version_id else "key", key)
        return found

    def delete_version(self, bucket: str, key: str, version_id: str) -> tuple[ObjectVersion | None, list[str]]:
        """Remove one version row; the next newest becomes latest. Returns it and its blobs."""
        with self.write() as conn:
            _require_bucket(conn, bucket)
            old = _version_row(conn, bucket, key, version_id)
            if old is None:
                return None, []
            conn.execute("DELETE FROM versions WHERE bucket = ? AND key = ? AND version_id = ?", (bucket, key, version_id))
            _relink_latest(conn, bucket, key)
        return old, [s.blob_id for s in old.segments]

    def latest_after(self, bucket: str, after: str, inclusive: bool, limit: int) -> list[ObjectVersion]:
        """Current, non-deleted versions with key > after (or >=), in key order."""
        op = ">=" if inclusive else ">"
        rows = self.conn.execute(
            f"""SELECT {_VERSION_COLUMNS} FROM versions INDEXED BY versions_latest
                WHERE bucket = ? AND key {op} ? AND is_latest = 1 AND delete_marker = 0
                ORDER BY key LIMIT ?""",
            (bucket, after, limit),
        )
        return [_from_row(row) for row in rows]

    def referenced_blobs(self) -> set[str]:
        referenced: set[str] = set()
        for (segments,) in self.conn.execute("SELECT segments FROM versions"):
            referenced.update(blob for blob, _ in json.loads(segments))
        referenced.update(row[0] for row in self.conn.execute("SELECT blob_id FROM parts"))
        return referenced

    # multipart uploads

    def create_upload(self, upload: Upload) -> None:
        with self.write() as conn:
            _require_bucket(conn, upload.bucket)
            conn.execute(
                "INSERT INTO uploads (upload_id, bucket, key, initiated_ns, meta, checksum_algorithm) VALUES (?, ?, ?, ?, ?, ?)",
                (upload.upload_id, upload.bucket, upload.key, upload.initiated_ns, _meta_json(upload.meta), upload.checksum_algorithm),
            )

    def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        row = self.conn.execute(
            "SELECT upload_id, bucket, key, initiated_ns, meta, checksum_algorithm FROM uploads WHERE upload_id = ?", (upload_id,)
        ).fetchone()
        if row is None or row[1] != bucket or row[2] != key:
            raise errors.NotFound("upload", upload_id)
        return _upload(row)

    def list_uploads(self, bucket: str, after_key: str, after_upload_id: str, limit: int) -> list[Upload]:
        rows = self.conn.execute(
            """SELECT upload_id, bucket, key, initiated_ns, meta, checksum_algorithm FROM uploads
               WHERE bucket = ? AND (key > ? OR (key = ? AND upload_id > ?))
               ORDER BY key, upload_id LIMIT ?""",
            (bucket, after_key, after_key, after_upload_id, limit),
        )
        return [_upload(row) for row in rows]

    def put_part(self, upload_id: str, part: Part) -> list[str]:
        """Record a part, replacing an earlier upload of the same number; returns freed blobs."""
        with self.write() as conn:
            if not conn.execute("SELECT 1 FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone():
                raise errors.NotFound("upload", upload_id)
            old = conn.execute(
                "SELECT blob_id FROM parts WHERE upload_id = ? AND part_number = ?", (upload_id, part.part_number)
            ).fetchone()
            conn.execute(
                """INSERT OR REPLACE INTO parts (upload_id, part_number, etag, size, timestamp_ns, blob_id, checksums)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (upload_id, part.part_number, part.etag, part.size, part.timestamp_ns, part.blob_id, json.dumps(part.checksums)),
            )
        return [old[0]] if old else []

    def list_parts(self, upload_id: str, after_part: int = 0, limit: int = 10000) -> list[Part]:
        rows = self.conn.execute(
            """SELECT part_number, etag, size, timestamp_ns, blob_id, checksums FROM parts
               WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?""",
            (upload_id, after_part, limit),
        )
        return [Part(*row[:5], checksums=json.loads(row[5])) for row in rows]

    def finish_upload(self, upload_id: str) -> list[str]:
        """Drop an upload and its part rows inside the caller's transaction; returns part blobs."""
        conn = self.conn
        blobs = [row[0] for row in conn.execute("SELECT blob_id FROM parts WHERE upload_id = ?", (upload_id,))]
        conn.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
        conn.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
        return blobs

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> list[str]:
        with self.write():
            self.get_upload(bucket, key, upload_id)
            return self.finish_upload(upload_id)


def _insert_version(
    conn: sqlite3.Connection, version: ObjectVersion, replace_null: bool, if_none_match: bool, if_match: str | None
) -> tuple[ObjectVersion, list[str]]:
    """The new version becomes the latest unless a newer one is already there (replicas may see
    writes out of order). With `replace_null`, an existing version of the same id is replaced (an
    unversioned bucket keeps one "null" version per key). Conditions are checked here, inside the
    transaction, so two racing conditional writes cannot both win."""
    _require_bucket(conn, version.bucket)
    latest = _latest_row(conn, version.bucket, version.key)
    live = latest is not None and not latest.delete_marker
    if if_none_match and live:
        raise errors.PreconditionFailed(version.key)
    if if_match is not None and (not live or latest.etag != if_match):
        raise errors.PreconditionFailed(version.key)
    freed: list[str] = []
    if replace_null:
        old = _version_row(conn, version.bucket, version.key, version.version_id)
        if old is not None:
            freed = [s.blob_id for s in old.segments]
            conn.execute(
                "DELETE FROM versions WHERE bucket = ? AND key = ? AND version_id = ?",
                (version.bucket, version.key, version.version_id),
            )
    conn.execute(f"INSERT INTO versions ({_VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", _to_row(version))
    stored = replace(version, is_latest=_relink_latest(conn, version.bucket, version.key) == version.version_id)
    return stored, freed


def _require_bucket(conn: sqlite3.Connection, bucket: str) -> None:
    if not conn.execute("SELECT 1 FROM buckets WHERE name = ?", (bucket,)).fetchone():
        raise errors.NotFound("bucket", bucket)


def _latest_row(conn: sqlite3.Connection, bucket: str, key: str) -> ObjectVersion | None:
    row = conn.execute(f"SELECT {_VERSION_COLUMNS} FROM versions WHERE bucket = ? AND key = ? AND is_latest = 1", (bucket, key)).fetchone()
    return _from_row(row) if row else None


def _relink_latest(conn: sqlite3.Connection, bucket: str, key: str) -> str | None:
    """Flag the newest version of a key (by timestamp, then id) as latest; returns its id."""
    row = conn.execute(
        "SELECT version_id FROM versions WHERE bucket = ? AND key = ? ORDER BY timestamp_ns DESC, version_id DESC LIMIT 1",
        (bucket, key),
    ).fetchone()
    newest = row[0] if row else None
    conn.execute(
        "UPDATE versions SET is_latest = (version_id = ?) WHERE bucket = ? AND key = ? AND is_latest != (version_id = ?)",
        (newest, bucket, key, newest),
    )
    return newest


def _version_row(conn: sqlite3.Connection, bucket: str, key: str, version_id: str) -> ObjectVersion | None:
    row = conn.execute(
        f"SELECT {_VERSION_COLUMNS} FROM versions WHERE bucket = ? AND key = ? AND version_id = ?", (bucket, key, version_id)
    ).fetchone()
    return _from_row(row) if row else None


def _meta_json(meta: ObjectMeta) -> str:
    return json.dumps(asdict(meta), separators=(",", ":"))


def _meta_from_json(text: str) -> ObjectMeta:
    data = json.loads(text)
    data["part_sizes"] = tuple(data.get("part_sizes", ()))
    return ObjectMeta(**data)


def _to_row(v: ObjectVersion) -> tuple:
    segments = json.dumps([[s.blob_id, s.size] for s in v.segments], separators=(",", ":"))
    return (v.bucket, v.key, v.version_id, v.timestamp_ns, int(v.is_latest), int(v.delete_marker), v.size, _meta_json(v.meta), segments)


def _from_row(row: tuple) -> ObjectVersion:
    bucket, key, version_id, ts, is_latest, delete_marker, size, meta, segments = row
    return ObjectVersion(
        bucket=bucket,
        key=key,
        version_id=version_id,
        timestamp_ns=ts,
        size=size,
        meta=_meta_from_json(meta),
        segments=tuple(Segment(blob, n) for blob, n in json.loads(segments)),
        delete_marker=bool(delete_marker),
        is_latest=bool(is_latest),
    )


def _upload(row: tuple) -> Upload:
    upload_id, bucket, key, initiated_ns, meta, algorithm = row
    return Upload(upload_id, bucket, key, initiated_ns, _meta_from_json(meta), algorithm)
