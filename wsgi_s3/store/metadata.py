"""SQLite (WAL) metadata of one store: buckets, versions, multipart uploads, parts and blobs.

One connection per process (opened lazily, so a gunicorn worker opens its own after fork). Every
write is one short BEGIN IMMEDIATE transaction with no network I/O in between, so under gevent no
other greenlet can interleave with it; waiting for the lock is cooperative (see busy.py).

A blob enters the `blobs` table when a commit makes it part of a version or a part, inside that
commit's transaction, after checking that its file still exists (a commit that arrives after the
sweeper took its staged file as an orphan fails instead of referencing a missing file). A blob may
have several holders (a restore shares the blobs of the version it restores: `share_version`), so
the table counts them; the commit that drops the last one marks it freed, and the sweeper reclaims
it after a grace period.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace

from wsgi_s3.model import errors
from wsgi_s3.model.placement import object_position, stable_hash
from wsgi_s3.model.types import BucketInfo, Holding, Lease, ListEntry, ObjectMeta, ObjectTags, ObjectVersion, Part, Segment, StoredPart, StoredVersion, Upload, VersionEntry
from wsgi_s3.model.versions import StampedBucket, StampedDocument, VersionStamp, newer
from wsgi_s3.store.busy import when_unlocked

_VERSION_COLUMNS = "bucket, key, version_id, timestamp_ns, is_latest, delete_marker, size, meta, segments, origin, tombstone"
_INSERT_COLUMNS = _VERSION_COLUMNS + ", position, digest"
_HOLDING_COLUMNS = "position, bucket, key, version_id, timestamp_ns, origin, tombstone, delete_marker"
# The stamp (timestamp_ns or origin) of the last tag update of a live `versions` row, NULL without
# one: folded into the row's digest (_fold_tags) and shown in its Holding, so that repair sees owners
# that differ only in a version's tags. The same expression is in schema.py's migration 11.
_TAGS_STAMP = """(SELECT t.{column} FROM object_tags AS t WHERE t.bucket = versions.bucket AND t.key = versions.key
    AND t.version_id = versions.version_id AND t.version_ns = versions.timestamp_ns AND versions.tombstone = 0)"""
_SIGN = 1 << 63  # SQLite integers are signed: positions are stored shifted down by 2**63
# A listing shows the ETag and checksum algorithms of a version, not its content headers or user metadata.
_ENTRY_COLUMNS = """key, timestamp_ns, json_extract(meta, '$.etag'), size,
    (SELECT group_concat(checksum.key) FROM json_each(meta, '$.checksums') AS checksum),
    json_extract(meta, '$.checksum_type'), delete_marker, version_id"""
# A bucket's versioning state ("", "Enabled" or "Suspended") is its "versioning" configuration document.
_BUCKET_SELECT = """SELECT name, created_ns, region, owner, COALESCE(config.document, ''), config.timestamp_ns, config.origin
    FROM buckets LEFT JOIN bucket_configs AS config ON config.bucket = name AND config.kind = 'versioning'"""
# A version listing shows the same, plus each version's id and place in history (model/versions.py order).
_VERSION_ENTRY_COLUMNS = f"{_ENTRY_COLUMNS}, origin, tombstone, is_latest"  # _ENTRY_COLUMNS ends with version_id
_HISTORY_ORDER = "timestamp_ns DESC, origin DESC, version_id DESC"
_UPLOAD_COLUMNS = "upload_id, bucket, key, initiated_ns, meta, checksum_algorithm"
_PART_COLUMNS = "part_number, etag, size, timestamp_ns, blob_id, checksums"
_MAX_PARTS = 10000
_CLOSING = ".closing"  # a node's own mark on a bucket being deleted (see close_bucket); "." names no S3 configuration

_IDS_PER_QUERY = 500  # well under SQLite's bound on parameters per statement


class Metadata:
    def __init__(self, path: str, blob_exists: Callable[[str], bool], lock_timeout: float = 10.0) -> None:
        self.path = path
        self.blob_exists = blob_exists
        self.lock_timeout = lock_timeout
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            from wsgi_s3.store.schema import migrate

            # Created private to the service before SQLite opens it (its -wal and -shm files copy the mode).
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            # timeout=0: SQLite must not wait for locks in C (see busy.py).
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=0)
            when_unlocked(lambda: conn.execute("PRAGMA journal_mode=WAL"), self.lock_timeout)
            # FULL: a commit acknowledged to a client survives power loss, not only a process crash.
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.create_function("ring_position", 2, _position, deterministic=True)
            conn.create_function("record_digest", 7, _digest, deterministic=True)
            conn.create_function("record_digest", 9, _digest, deterministic=True)
            migrate(conn, lambda: self._begin(conn))
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def _begin(self, conn: sqlite3.Connection) -> None:
        when_unlocked(lambda: conn.execute("BEGIN IMMEDIATE"), self.lock_timeout)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        conn = self.conn
        self._begin(conn)
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """All rows of a read, waiting cooperatively if the database is locked."""
        conn = self.conn
        return when_unlocked(lambda: conn.execute(sql, params).fetchall(), self.lock_timeout)

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
        rows = self.query(f"{_BUCKET_SELECT} WHERE name = ?", (name,))
        if not rows:
            raise errors.NotFound("bucket", name)
        return _bucket(rows[0])

    def list_buckets(self) -> list[BucketInfo]:
        return [_bucket(row) for row in self.query(f"{_BUCKET_SELECT} ORDER BY name")]

    def get_bucket_config(self, bucket: str, kind: str) -> StampedDocument | None:
        """The bucket's document of one kind with its stamp (a removal: no document); None if never set."""
        rows = self.query("SELECT document, timestamp_ns, origin FROM bucket_configs WHERE bucket = ? AND kind = ?", (bucket, kind))
        if not rows:
            self.get_bucket(bucket)
            return None
        return _stamped(*rows[0])

    def put_bucket_config(self, bucket: str, kind: str, document: str | None, stamp: VersionStamp) -> bool:
        """Set (or with None, remove) the bucket's configuration document of one kind, if `stamp` is
        newer than the stamp of the one held (model/versions.py order): replicas that receive the
        writes in any order keep the same one. A removal is a stamped tombstone. Returns whether it applied."""
        with self.write() as conn:
            _require_bucket(conn, bucket)
            row = conn.execute("SELECT document, timestamp_ns, origin FROM bucket_configs WHERE bucket = ? AND kind = ?", (bucket, kind)).fetchone()
            if row is not None and not newer(stamp, _stamped(*row).stamp):
                return False
            conn.execute(
                "INSERT OR REPLACE INTO bucket_configs (bucket, kind, document, timestamp_ns, origin) VALUES (?, ?, ?, ?, ?)",
                (bucket, kind, document, stamp.timestamp_ns, stamp.origin),
            )
            return True

    def bucket_configs(self, bucket: str) -> dict[str, StampedDocument]:
        """Every configuration document of the bucket (removals included), by kind, not the node's
        own marks (like _CLOSING)."""
        return dict(self.bucket_state(bucket).configs)

    def close_bucket(self, name: str, until_ns: int) -> None:
        """Refuse new objects in the bucket until `until_ns` (or `reopen_bucket`): a cluster's
        DeleteBucket closes it on the nodes before it checks that the bucket is empty, so that no
        write can land between the check and the deletion. The deadline frees a bucket whose deleter died."""
        with self.write() as conn:
            _require_bucket(conn, name)
            conn.execute("INSERT OR REPLACE INTO bucket_configs (bucket, kind, document) VALUES (?, ?, ?)", (name, _CLOSING, str(until_ns)))

    def reopen_bucket(self, name: str) -> None:
        with self.write() as conn:
            conn.execute("DELETE FROM bucket_configs WHERE bucket = ? AND kind = ?", (name, _CLOSING))

    def delete_bucket(self, name: str, *, purge: bool = False) -> None:
        """Delete an empty bucket and its unfinished uploads (their part blobs are freed). With
        `purge`, a bucket that is not empty goes too, with everything it holds: repair removes so a
        bucket that the other nodes deleted while this one was away."""
        with self.write() as conn:
            _require_bucket(conn, name)
            if conn.execute("SELECT 1 FROM versions WHERE bucket = ? AND tombstone = 0 LIMIT 1", (name,)).fetchone():
                if not purge:
                    raise errors.NotEmpty(name)
                for (segments,) in conn.execute("SELECT segments FROM versions WHERE bucket = ?", (name,)).fetchall():
                    _free(conn, [blob for blob, _ in json.loads(segments)])
            # Its tombstones and configuration go with it: a bucket made again under the name starts afresh.
            conn.execute("DELETE FROM versions WHERE bucket = ?", (name,))
            conn.execute("DELETE FROM bucket_configs WHERE bucket = ?", (name,))
            conn.execute("DELETE FROM object_tags WHERE bucket = ?", (name,))
            for (upload_id,) in conn.execute("SELECT upload_id FROM uploads WHERE bucket = ?", (name,)).fetchall():
                _drop_upload(conn, upload_id, keep=())
            conn.execute("DELETE FROM buckets WHERE name = ?", (name,))

    # versions

    def insert_version(
        self, version: StoredVersion, *, if_none_match: bool = False, if_match: str | None = None
    ) -> tuple[StoredVersion, bool]:
        """Make a version (and its staged blobs) visible; see `_insert_version`. Returns it and
        whether it was applied (False: a newer version of the same id is kept)."""
        with self.write() as conn:
            stored, applied = _insert_version(conn, version, if_none_match, if_match)
            if applied:
                self._adopt(conn, [segment.blob_id for segment in version.segments])
            return stored, applied

    def complete_upload(self, upload_id: str, version: ObjectVersion, parts: list[Part]) -> StoredVersion:
        """Make a multipart object visible and drop its upload in one transaction.

        `parts` are what the caller validated; each is looked up again here, so that a part
        uploaded again meanwhile (its old blob freed) is used only if it is the same part (number,
        ETag, size). The version's segments are the blobs found here."""
        with self.write() as conn:
            if not conn.execute("SELECT 1 FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone():
                raise errors.NotFound("upload", upload_id)
            stored = {part.part_number: part for part in _parts(conn, upload_id, 0, _MAX_PARTS)}
            segments = []
            for wanted in parts:
                found = stored.get(wanted.part_number)
                if found is None or (found.etag, found.size) != (wanted.etag, wanted.size):
                    raise errors.NotFound("part", str(wanted.part_number))
                if found.size:
                    segments.append(Segment(found.blob_id, found.size))
            result, applied = _insert_version(conn, StoredVersion.of(version, segments=tuple(segments)), False, None)
            _drop_upload(conn, upload_id, keep={segment.blob_id for segment in segments} if applied else ())
        return result

    def get_version(self, bucket: str, key: str, version_id: str | None, *, tombstones: bool = False) -> StoredVersion:
        """The latest live version, or the one named (its tombstone too, when asked: a replica
        comparing answers must see that a version was deleted, not only that it is absent)."""
        if version_id is None:
            rows = self.query(f"SELECT {_VERSION_COLUMNS} FROM versions WHERE bucket = ? AND key = ? AND is_latest = 1", (bucket, key))
        else:
            rows = self.query(
                f"SELECT {_VERSION_COLUMNS} FROM versions WHERE bucket = ? AND key = ? AND version_id = ? AND tombstone <= ?",
                (bucket, key, version_id, int(tombstones)),
            )
        if not rows:
            self.get_bucket(bucket)
            raise errors.NotFound("version" if version_id else "key", key)
        return _from_row(rows[0])

    def delete_version(self, bucket: str, key: str, version_id: str, stamp: int, origin: str) -> StoredVersion | None:
        """Replace a version by a tombstone stamped `stamp` (its blobs are freed, the next newest
        becomes latest), unless the version there is newer than the delete: a write that came after
        it. A tombstone is kept even for a version never seen here, which may still arrive. Returns
        the live version the tombstone replaced, if any."""
        tombstone = StoredVersion(bucket, key, version_id, stamp, 0, ObjectMeta(etag=""), origin=origin, is_latest=False, tombstone=True)
        with self.write() as conn:
            old = _version_row(conn, bucket, key, version_id)
            _, applied = _insert_version(conn, tombstone, False, None)
            if applied:  # its tags go with it
                conn.execute(
                    "DELETE FROM object_tags WHERE bucket = ? AND key = ? AND version_id = ? AND version_ns <= ?", (bucket, key, version_id, stamp)
                )
        return old if applied and old is not None and not old.tombstone else None

    def reclaim_tombstones(self, stamped_before_ns: int, limit: int) -> int:
        """Forget up to `limit` tombstones older than the tombstone grace; returns how many."""
        with self.write() as conn:
            return conn.execute(
                """DELETE FROM versions WHERE (bucket, key, version_id) IN (
                       SELECT bucket, key, version_id FROM versions INDEXED BY versions_tombstones
                       WHERE tombstone = 1 AND timestamp_ns <= ? LIMIT ?)""",
                (stamped_before_ns, limit),
            ).rowcount

    def entries_after(self, bucket: str, after: str, inclusive: bool, before: str | None, limit: int) -> list[ListEntry]:
        """Each key's current version (delete markers included) with after < key (<= when
        inclusive) and key < before, in key order: an index range scan of the rows a page uses."""
        bounds = f"key {'>=' if inclusive else '>'} ?" + (" AND key < ?" if before is not None else "")
        rows = self.query(
            f"""SELECT {_ENTRY_COLUMNS} FROM versions INDEXED BY versions_latest
                WHERE bucket = ? AND is_latest = 1 AND {bounds} ORDER BY key LIMIT ?""",
            (bucket, after, *((before,) if before is not None else ()), limit),
        )
        return [
            ListEntry(key, ts, etag or "", size, tuple(algorithms.split(",")) if algorithms else (), checksum_type or "", bool(marker), version_id)
            for key, ts, etag, size, algorithms, checksum_type, marker, version_id in rows
        ]

    def key_history(self, bucket: str, key: str, limit: int) -> list[StoredVersion]:
        """The key's records, tombstones included, newest first: what replicas compare when their
        latest versions disagree."""
        rows = self.query(
            f"""SELECT {_VERSION_COLUMNS} FROM versions WHERE bucket = ? AND key = ?
                ORDER BY timestamp_ns DESC, origin DESC, version_id DESC LIMIT ?""",
            (bucket, key, limit),
        )
        if not rows:
            self.get_bucket(bucket)
        return [_from_row(row) for row in rows]

    def purge_key(self, bucket: str, key: str) -> None:
        """Forget every record of the key, leaving no tombstone (their blobs are freed): a stand-in
        node's copy of a write, once the owner it stood in for has it (cluster/repair.py)."""
        with self.write() as conn:
            for (segments,) in conn.execute("SELECT segments FROM versions WHERE bucket = ? AND key = ?", (bucket, key)).fetchall():
                _free(conn, [blob for blob, _ in json.loads(segments)])
            conn.execute("DELETE FROM versions WHERE bucket = ? AND key = ?", (bucket, key))
            conn.execute("DELETE FROM object_tags WHERE bucket = ? AND key = ?", (bucket, key))

    def ring_digest(self, first: int, last: int, since_ns: int) -> tuple[int, int]:
        """(count, digest sum) of the records whose position is in [first, last], leaving out
        tombstones stamped before `since_ns` (owners reclaim those each on its own schedule)."""
        (count, total), = self.query(
            """SELECT count(*), coalesce(sum(digest), 0) FROM versions INDEXED BY versions_by_position
               WHERE position BETWEEN ? AND ? AND (tombstone = 0 OR timestamp_ns >= ?)""",
            (first - _SIGN, last - _SIGN, since_ns),
        )
        return count, total

    def ring_holdings(self, first: int, last: int, since_ns: int, after: tuple[int, str, str, str] | None, limit: int) -> list[Holding]:
        """The identities of the records counted by `ring_digest`, in (position, bucket, key,
        version id) order, after `after`."""
        # The smallest real cursor is (first - 2**63, "", "", ""): every key is longer than "".
        cursor = (after[0] - _SIGN, *after[1:]) if after else (first - _SIGN, "", "", "")
        rows = self.query(
            f"""SELECT {_HOLDING_COLUMNS}, {_TAGS_STAMP.format(column="timestamp_ns")}, {_TAGS_STAMP.format(column="origin")} FROM versions
                WHERE position BETWEEN ? AND ? AND (tombstone = 0 OR timestamp_ns >= ?)
                  AND (position, bucket, key, version_id) > (?, ?, ?, ?)
                ORDER BY position, bucket, key, version_id LIMIT ?""",
            (first - _SIGN, last - _SIGN, since_ns, *cursor, limit),
        )
        return [Holding(row[0] + _SIGN, *row[1:6], bool(row[6]), bool(row[7]), row[8] or 0, row[9] or "") for row in rows]

    # hints: keys whose records an owner missed

    def add_hints(self, target: str, keys: list[tuple[str, str]], created_ns: int) -> None:
        with self.write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO hints (target, bucket, key, created_ns) VALUES (?, ?, ?, ?)",
                [(target, bucket, key, created_ns) for bucket, key in keys],
            )

    def hints(self, limit: int) -> list[tuple[str, str, str, int]]:
        """(target, bucket, key, created_ns) of the oldest hints."""
        return self.query("SELECT target, bucket, key, created_ns FROM hints ORDER BY created_ns LIMIT ?", (limit,))

    def count_hints(self) -> int:
        return self.query("SELECT count(*) FROM hints")[0][0]

    def drop_hints(self, hints: list[tuple[str, str, str, int]]) -> None:
        """Forget hints handed over, unless a newer write of the key made them again meanwhile."""
        with self.write() as conn:
            conn.executemany("DELETE FROM hints WHERE target = ? AND bucket = ? AND key = ? AND created_ns = ?", hints)

    # the node's own small documents

    def get_state(self, name: str) -> str | None:
        rows = self.query("SELECT document FROM node_state WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def put_state(self, name: str, document: str) -> None:
        with self.write() as conn:
            conn.execute("INSERT OR REPLACE INTO node_state (name, document) VALUES (?, ?)", (name, document))

    # blobs

    def _adopt(self, conn: sqlite3.Connection, blob_ids: list[str]) -> None:
        """Record staged blobs as live, inside the commit that makes them visible."""
        for blob_id in blob_ids:
            if not self.blob_exists(blob_id):
                raise errors.Unavailable(f"staged blob {blob_id} was removed before its commit")
        conn.executemany("INSERT INTO blobs (blob_id, refs) VALUES (?, 1)", [(blob_id,) for blob_id in blob_ids])

    def freed_blobs(self, freed_before_ns: int, limit: int) -> list[str]:
        rows = self.query("SELECT blob_id FROM blobs WHERE freed_ns IS NOT NULL AND freed_ns <= ? LIMIT ?", (freed_before_ns, limit))
        return [row[0] for row in rows]

    def forget_blobs(self, blob_ids: list[str]) -> None:
        """Drop the rows of freed blobs whose files are gone."""
        with self.write() as conn:
            conn.executemany("DELETE FROM blobs WHERE blob_id = ? AND freed_ns IS NOT NULL", [(b,) for b in blob_ids])

    @contextmanager
    def unknown_blobs(self, blob_ids: list[str]) -> Iterator[list[str]]:
        """Those of `blob_ids` that no commit recorded, with the write lock held meanwhile: a commit
        of one of them can only come after the caller has removed its file, and then fails."""
        with self.write() as conn:
            known = {
                row[0]
                for row in conn.execute(
                    f"SELECT blob_id FROM blobs WHERE blob_id IN ({','.join('?' * len(blob_ids))})", blob_ids
                )
            } if blob_ids else set()
            yield [blob_id for blob_id in blob_ids if blob_id not in known]

    # multipart uploads

    def create_upload(self, upload: Upload) -> None:
        with self.write() as conn:
            _require_open_bucket(conn, upload.bucket)
            conn.execute(
                f"INSERT INTO uploads ({_UPLOAD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (upload.upload_id, upload.bucket, upload.key, upload.initiated_ns, _meta_json(upload.meta), upload.checksum_algorithm),
            )

    def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        rows = self.query(f"SELECT {_UPLOAD_COLUMNS} FROM uploads WHERE upload_id = ?", (upload_id,))
        if not rows or rows[0][1] != bucket or rows[0][2] != key:
            raise errors.NotFound("upload", upload_id)
        return _upload(rows[0])

    def list_uploads(self, bucket: str, after_key: str, after_upload_id: str, limit: int) -> list[Upload]:
        rows = self.query(
            f"""SELECT {_UPLOAD_COLUMNS} FROM uploads
               WHERE bucket = ? AND (key > ? OR (key = ? AND upload_id > ?))
               ORDER BY key, upload_id LIMIT ?""",
            (bucket, after_key, after_key, after_upload_id, limit),
        )
        return [_upload(row) for row in rows]

    def put_part(self, upload_id: str, part: StoredPart) -> None:
        """Record a part, replacing (and freeing) an earlier upload of the same number."""
        with self.write() as conn:
            if not conn.execute("SELECT 1 FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone():
                raise errors.NotFound("upload", upload_id)
            self._adopt(conn, [part.blob_id])
            old = conn.execute(
                "SELECT blob_id FROM parts WHERE upload_id = ? AND part_number = ?", (upload_id, part.part_number)
            ).fetchone()
            if old:
                _free(conn, [old[0]])
            conn.execute(
                f"INSERT OR REPLACE INTO parts (upload_id, {_PART_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (upload_id, part.part_number, part.etag, part.size, part.timestamp_ns, part.blob_id, json.dumps(part.checksums)),
            )

    def list_parts(self, upload_id: str, after_part: int = 0, limit: int = 10000) -> list[StoredPart]:
        conn = self.conn
        return when_unlocked(lambda: _parts(conn, upload_id, after_part, limit), self.lock_timeout)

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        with self.write() as conn:
            row = conn.execute("SELECT bucket, key FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone()
            if row is None or tuple(row) != (bucket, key):
                raise errors.NotFound("upload", upload_id)
            _drop_upload(conn, upload_id, keep=())

    # object tags

    def put_object_tags(self, bucket: str, key: str, update: ObjectTags) -> None:
        """Replace the tags of the version `update` names (its id, as written at version_ns), unless
        this store has a newer write under that id or a newer update of its tags. Kept for a version
        not seen here yet, which may still arrive; NotFound if the version was deleted."""
        with self.write() as conn:
            _require_bucket(conn, bucket)
            version = _version_row(conn, bucket, key, update.version_id)
            if version is not None and version.tombstone and version.timestamp_ns >= update.version_ns:
                raise errors.NotFound("version", key)
            if version is not None and not version.tombstone and version.timestamp_ns > update.version_ns:
                return  # the version was written again under its id since: these tags were its predecessor's
            row = conn.execute(
                "SELECT version_ns, timestamp_ns, origin FROM object_tags WHERE bucket = ? AND key = ? AND version_id = ?",
                (bucket, key, update.version_id),
            ).fetchone()
            if row is not None and tuple(row) >= update.order():
                return
            conn.execute(
                """INSERT OR REPLACE INTO object_tags (bucket, key, version_id, version_ns, tags, timestamp_ns, origin)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (bucket, key, update.version_id, update.version_ns, json.dumps(update.tags), update.timestamp_ns, update.origin),
            )
            _fold_tags(conn, bucket, key, update.version_id)

    def current_tags(self, version: ObjectVersion) -> ObjectTags:
        """The tags of `version`: the last update of them, or those it was written with."""
        rows = self.query(
            "SELECT version_ns, tags, timestamp_ns, origin FROM object_tags WHERE bucket = ? AND key = ? AND version_id = ?",
            (version.bucket, version.key, version.version_id),
        )
        if rows and rows[0][0] == version.timestamp_ns:
            version_ns, tags, timestamp_ns, origin = rows[0]
            return ObjectTags(version.version_id, version_ns, json.loads(tags), timestamp_ns, origin)
        return ObjectTags(version.version_id, version.timestamp_ns, version.meta.tags)

    # observability

    def stats(self) -> tuple[int, int, int]:
        """(live object versions, their bytes, uploads in progress); one scan of each table."""
        [(objects, size)] = self.query("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM versions WHERE delete_marker = 0 AND tombstone = 0")
        [(uploads,)] = self.query("SELECT COUNT(*) FROM uploads")
        return objects, size, uploads

    def check_writable(self) -> None:
        conn = self.conn
        self._begin(conn)
        conn.execute("ROLLBACK")

    # version listing

    def versions_after(
        self, bucket: str, after: str, inclusive: bool, position: tuple[int, str, str] | None, before: str | None, limit: int,
        *, tombstones: bool = False,
    ) -> list[VersionEntry]:
        """Up to `limit` versions (delete markers included, tombstones only when asked) in key
        order, each key's newest first, with key < before: with `position`, the versions of key
        `after` older than that one and then the keys after it; else the keys after `after` (from
        it when inclusive). Index range scans of the rows a page uses, the columns a listing shows."""
        live = "" if tombstones else " AND tombstone = 0"
        end, ends = (" AND key < ?", (before,)) if before is not None else ("", ())
        select = f"SELECT {_VERSION_ENTRY_COLUMNS} FROM versions INDEXED BY versions_history WHERE bucket = ?"
        rows: list[tuple] = []
        if position is not None:
            rows = self.query(
                f"{select} AND key = ? AND (timestamp_ns, origin, version_id) < (?, ?, ?){end}{live} ORDER BY {_HISTORY_ORDER} LIMIT ?",
                (bucket, after, *position, *ends, limit),
            )
            inclusive = False
        if len(rows) < limit:
            rows += self.query(
                f"{select} AND key {'>=' if inclusive else '>'} ?{end}{live} ORDER BY key, {_HISTORY_ORDER} LIMIT ?",
                (bucket, after, *ends, limit - len(rows)),
            )
        return [_version_entry(row) for row in rows]

    def version_records(self, bucket: str, key: str, version_ids: list[str]) -> list[VersionEntry]:
        """The rows of these versions of `key`, tombstones included, looked up by primary key."""
        rows: list[tuple] = []
        for start in range(0, len(version_ids), _IDS_PER_QUERY):
            chunk = version_ids[start : start + _IDS_PER_QUERY]
            rows += self.query(
                f"SELECT {_VERSION_ENTRY_COLUMNS} FROM versions WHERE bucket = ? AND key = ? AND version_id IN ({','.join('?' * len(chunk))})",
                (bucket, key, *chunk),
            )
        return [_version_entry(row) for row in rows]

    # leases

    def claim_lease(self, name: str, holder: str, now_ns: int, ttl_ns: int, state: str | None) -> Lease | None:
        """Grant the lease `name` to `holder` until now + ttl if it is free, expired or already
        theirs, storing `state` (stamped `now_ns`) when given; None when another holder has it. A
        claim with ttl 0 gives the lease back."""
        with self.write() as conn:
            row = conn.execute("SELECT holder, until_ns, state, state_ns FROM leases WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] != holder and row[1] > now_ns:
                return None
            kept = Lease(row[2], row[3]) if row is not None else Lease("", 0)
            lease = Lease(state, now_ns) if state is not None else kept
            conn.execute(
                "INSERT OR REPLACE INTO leases (name, holder, until_ns, state, state_ns) VALUES (?, ?, ?, ?, ?)",
                (name, holder, now_ns + ttl_ns, lease.state, lease.state_ns),
            )
            return lease

    # versions that share blobs

    def share_version(self, source: ObjectVersion, version: ObjectVersion) -> StoredVersion:
        """Commit `version`, a new version of `source`'s key made of exactly `source`'s blobs (each
        gets one more holder): a restore that copies no bytes. `source` is looked up by its id and
        must be here live, as the caller saw it (same stamp and writer), else NotFound. Returns the
        version as stored, like `insert_version` (not latest if a newer one of its id is kept)."""
        with self.write() as conn:
            found = _version_row(conn, source.bucket, source.key, source.version_id)
            if found is None or found.tombstone or found.delete_marker or (found.timestamp_ns, found.origin) != (source.timestamp_ns, source.origin):
                _require_bucket(conn, source.bucket)
                raise errors.NotFound("version", source.key)
            blob_ids = [segment.blob_id for segment in found.segments]
            # Held before the write can drop the source (the null version restored over itself).
            _hold(conn, blob_ids)
            shared = StoredVersion.of(replace(version, bucket=found.bucket, key=found.key, size=found.size), segments=found.segments)
            stored, applied = _insert_version(conn, shared, False, None)
            if not applied:
                _free(conn, blob_ids)
            return stored


    # what repair needs of object tags (cluster/repair.py)

    def tag_updates(self, bucket: str, key: str, limit: int) -> list[ObjectTags]:
        """The tag updates kept of the key's versions (deleted ones have none), newest versions first."""
        rows = self.query(
            """SELECT version_id, version_ns, tags, timestamp_ns, origin FROM object_tags WHERE bucket = ? AND key = ?
               ORDER BY version_ns DESC, version_id DESC LIMIT ?""",
            (bucket, key, limit),
        )
        return [ObjectTags(version_id, version_ns, json.loads(tags), timestamp_ns, origin) for version_id, version_ns, tags, timestamp_ns, origin in rows]

    # a bucket with its configuration, in one read

    def bucket_state(self, name: str) -> StampedBucket:
        """The bucket's record with every configuration document (removals included, not the
        node's own marks) in one query: what a request reads of its bucket (Backend.get_bucket)."""
        rows = self.query(
            """SELECT name, created_ns, region, owner, kind, document, timestamp_ns, origin FROM buckets
               LEFT JOIN bucket_configs ON bucket = name AND kind NOT LIKE '.%' WHERE name = ?""",
            (name,),
        )
        if not rows:
            raise errors.NotFound("bucket", name)
        configs = {row[4]: _stamped(*row[5:]) for row in rows if row[4] is not None}  # a bucket without any: one row of NULLs
        return StampedBucket.of(BucketInfo(*rows[0][:4]), configs)


def _hold(conn: sqlite3.Connection, blob_ids: list[str]) -> None:
    """One more holder of each of these blobs, which a live version holds already."""
    for blob_id in blob_ids:
        if conn.execute("UPDATE blobs SET refs = refs + 1 WHERE blob_id = ? AND refs > 0", (blob_id,)).rowcount != 1:
            raise errors.Unavailable(f"blob {blob_id} of a live version is not recorded as held")


def _version_entry(row: tuple) -> VersionEntry:
    key, ts, etag, size, algorithms, checksum_type, marker, version_id, origin, tombstone, is_latest = row
    return VersionEntry(
        key, version_id, ts, origin, etag or "", size, tuple(algorithms.split(",")) if algorithms else (), checksum_type or "",
        bool(marker), bool(tombstone), bool(is_latest),
    )


def _parts(conn: sqlite3.Connection, upload_id: str, after_part: int, limit: int) -> list[StoredPart]:
    rows = conn.execute(
        f"SELECT {_PART_COLUMNS} FROM parts WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?",
        (upload_id, after_part, limit),
    )
    return [StoredPart(*row[:4], blob_id=row[4], checksums=json.loads(row[5])) for row in rows]


def _drop_upload(conn: sqlite3.Connection, upload_id: str, keep: Iterable[str]) -> None:
    """Delete an upload and its part rows; part blobs not in `keep` (now an object's) are freed."""
    kept = set(keep)
    blobs = [row[0] for row in conn.execute("SELECT blob_id FROM parts WHERE upload_id = ?", (upload_id,))]
    _free(conn, [blob for blob in blobs if blob not in kept])
    conn.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
    conn.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))


def _free(conn: sqlite3.Connection, blob_ids: list[str]) -> None:
    """Drop one holder of each blob (once per occurrence); a blob whose last holder went is marked
    freed by this commit, and the sweeper removes its file after the reclaim grace."""
    now = time.time_ns()
    conn.executemany(
        "UPDATE blobs SET refs = refs - 1, freed_ns = CASE WHEN refs = 1 THEN ? ELSE freed_ns END WHERE blob_id = ? AND refs > 0",
        [(now, blob_id) for blob_id in blob_ids],
    )


def _insert_version(
    conn: sqlite3.Connection, version: StoredVersion, if_none_match: bool, if_match: str | None
) -> tuple[StoredVersion, bool]:
    """Insert a version unless a newer one of the same id is there (`model.versions.newer`): the
    null version of an unversioned bucket, or the same write replayed to a replica. An older one is
    replaced and its blobs freed. Whichever arrives last, every replica keeps the same one, and the
    newest version of the key is its latest. Conditions are checked here, inside the transaction,
    so two racing conditional writes cannot both win. Returns the version and whether it was applied."""
    if version.tombstone:
        _require_bucket(conn, version.bucket)
    else:
        _require_open_bucket(conn, version.bucket)
    latest = _latest_row(conn, version.bucket, version.key)
    live = latest is not None and not latest.delete_marker
    if if_none_match and live:
        raise errors.PreconditionFailed(version.key)
    if if_match is not None and (not live or latest.etag != if_match):
        raise errors.PreconditionFailed(version.key)
    old = _version_row(conn, version.bucket, version.key, version.version_id)
    if old is not None:
        if not newer(version, old):
            return replace(version, is_latest=False), False
        _free(conn, [s.blob_id for s in old.segments])
        conn.execute(
            "DELETE FROM versions WHERE bucket = ? AND key = ? AND version_id = ?", (version.bucket, version.key, version.version_id)
        )
    conn.execute(f"INSERT INTO versions ({_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _to_row(version))
    _fold_tags(conn, version.bucket, version.key, version.version_id)  # an update of its tags may have come first
    return replace(version, is_latest=_relink_latest(conn, version.bucket, version.key) == version.version_id), True


def _bucket(row: tuple) -> BucketInfo:
    name, created_ns, region, owner, versioning, timestamp_ns, origin = row
    stamp = None if timestamp_ns is None else VersionStamp("", timestamp_ns, origin)
    return BucketInfo(name, created_ns, region, owner, versioning, stamp)


def _stamped(document: str | None, timestamp_ns: int, origin: str) -> StampedDocument:
    # A configuration write stamps no version: its id is empty in every stored stamp.
    return StampedDocument(document, VersionStamp("", timestamp_ns, origin))


def _require_bucket(conn: sqlite3.Connection, bucket: str) -> None:
    if not conn.execute("SELECT 1 FROM buckets WHERE name = ?", (bucket,)).fetchone():
        raise errors.NotFound("bucket", bucket)


def _require_open_bucket(conn: sqlite3.Connection, bucket: str) -> None:
    """The bucket exists and takes new objects (it is not being deleted: see Metadata.close_bucket)."""
    _require_bucket(conn, bucket)
    row = conn.execute("SELECT document FROM bucket_configs WHERE bucket = ? AND kind = ?", (bucket, _CLOSING)).fetchone()
    if row is not None and int(row[0]) > time.time_ns():
        raise errors.Busy(f"bucket {bucket} is being deleted")


def _latest_row(conn: sqlite3.Connection, bucket: str, key: str) -> StoredVersion | None:
    row = conn.execute(f"SELECT {_VERSION_COLUMNS} FROM versions WHERE bucket = ? AND key = ? AND is_latest = 1", (bucket, key)).fetchone()
    return _from_row(row) if row else None


def _relink_latest(conn: sqlite3.Connection, bucket: str, key: str) -> str | None:
    """Flag the newest live version of a key (`model.versions.order_key`) as latest; returns its id."""
    row = conn.execute(
        """SELECT version_id FROM versions WHERE bucket = ? AND key = ? AND tombstone = 0
           ORDER BY timestamp_ns DESC, origin DESC, version_id DESC LIMIT 1""",
        (bucket, key),
    ).fetchone()
    newest = row[0] if row else None
    conn.execute(
        "UPDATE versions SET is_latest = (version_id = ?) WHERE bucket = ? AND key = ? AND is_latest != (version_id = ?)",
        (newest, bucket, key, newest),
    )
    return newest


def _version_row(conn: sqlite3.Connection, bucket: str, key: str, version_id: str) -> StoredVersion | None:
    row = conn.execute(
        f"SELECT {_VERSION_COLUMNS} FROM versions WHERE bucket = ? AND key = ? AND version_id = ?", (bucket, key, version_id)
    ).fetchone()
    return _from_row(row) if row else None


def _meta_json(meta: ObjectMeta) -> str:
    return json.dumps(asdict(meta), separators=(",", ":"))


def _meta_from_json(text: str) -> ObjectMeta:
    data = json.loads(text)
    data["part_sizes"] = tuple(data.get("part_sizes", ()))
    data["part_checksums"] = tuple(data.get("part_checksums", ()))
    return ObjectMeta(**data)


def _to_row(v: StoredVersion) -> tuple:
    segments = json.dumps([[s.blob_id, s.size] for s in v.segments], separators=(",", ":"))
    return (
        v.bucket, v.key, v.version_id, v.timestamp_ns, int(v.is_latest), int(v.delete_marker), v.size, _meta_json(v.meta), segments,
        v.origin, int(v.tombstone),
        _position(v.bucket, v.key), _digest(v.bucket, v.key, v.version_id, v.timestamp_ns, v.origin, v.tombstone, v.delete_marker),
    )


def _position(bucket: str, key: str) -> int:
    return object_position(bucket, key) - _SIGN


def _digest(
    bucket: str, key: str, version_id: str, timestamp_ns: int, origin: str, tombstone: int, delete_marker: int,
    tags_ns: int | None = None, tags_origin: str | None = None,
) -> int:
    """32 bits of a record's identity: a stretch's digest is their sum, which two owners holding the
    same records agree on whatever order they came in (and which cannot overflow 64 bits). The stamp
    of the last update of its tags, if any, is part of it (a record without one keeps its digest)."""
    identity = "\0".join((bucket, key, version_id, str(timestamp_ns), origin, str(int(tombstone)), str(int(delete_marker))))
    if tags_ns:
        identity += f"\0tags\0{tags_ns}\0{tags_origin or ''}"
    return stable_hash(identity.encode("utf-8")) & 0xFFFFFFFF


def _from_row(row: tuple) -> StoredVersion:
    bucket, key, version_id, ts, is_latest, delete_marker, size, meta, segments, origin, tombstone = row
    return StoredVersion(
        bucket=bucket,
        key=key,
        version_id=version_id,
        timestamp_ns=ts,
        size=size,
        meta=_meta_from_json(meta),
        segments=tuple(Segment(blob, n) for blob, n in json.loads(segments)),
        delete_marker=bool(delete_marker),
        is_latest=bool(is_latest),
        origin=origin,
        tombstone=bool(tombstone),
    )


def _upload(row: tuple) -> Upload:
    upload_id, bucket, key, initiated_ns, meta, algorithm = row
    return Upload(upload_id, bucket, key, initiated_ns, _meta_from_json(meta), algorithm)


def _fold_tags(conn: sqlite3.Connection, bucket: str, key: str, version_id: str) -> None:
    """Make the version's digest cover the stamp of the last update of its tags (see _TAGS_STAMP),
    whichever of the version and the update arrived first. A version whose id has no tag update
    (most commits) keeps the digest its row was inserted with, and is not written again."""
    conn.execute(
        f"""UPDATE versions SET digest = record_digest(bucket, key, version_id, timestamp_ns, origin, tombstone, delete_marker,
                {_TAGS_STAMP.format(column="timestamp_ns")}, {_TAGS_STAMP.format(column="origin")})
            WHERE bucket = ? AND key = ? AND version_id = ?
              AND EXISTS (SELECT 1 FROM object_tags WHERE bucket = ? AND key = ? AND version_id = ?)""",
        (bucket, key, version_id) * 2,
    )
