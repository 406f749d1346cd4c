"""The SQLite schema of a store and its numbered migrations, keyed on PRAGMA user_version."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

# Each entry moves the schema from version i to i+1; never edit a released entry, append a new one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE buckets (
        name        TEXT PRIMARY KEY,
        created_ns  INTEGER NOT NULL,
        region      TEXT NOT NULL,
        owner       TEXT NOT NULL DEFAULT '',
        versioning  TEXT NOT NULL DEFAULT ''
    );
    -- One row per version (delete markers included). Text compares as UTF-8 bytes (BINARY),
    -- which is S3's key order.
    CREATE TABLE versions (
        bucket        TEXT NOT NULL,
        key           TEXT NOT NULL,
        version_id    TEXT NOT NULL,
        timestamp_ns  INTEGER NOT NULL,
        is_latest     INTEGER NOT NULL,
        delete_marker INTEGER NOT NULL DEFAULT 0,
        size          INTEGER NOT NULL DEFAULT 0,
        meta          TEXT NOT NULL,          -- JSON of ObjectMeta
        segments      TEXT NOT NULL,          -- JSON list of [blob_id, size]
        PRIMARY KEY (bucket, key, version_id)
    ) WITHOUT ROWID;
    -- Listing walks only current versions in key order, so a page costs the same in any bucket size.
    CREATE INDEX versions_latest ON versions (bucket, key) WHERE is_latest = 1;
    CREATE TABLE uploads (
        upload_id     TEXT PRIMARY KEY,
        bucket        TEXT NOT NULL,
        key           TEXT NOT NULL,
        initiated_ns  INTEGER NOT NULL,
        meta          TEXT NOT NULL,
        checksum_algorithm TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX uploads_by_key ON uploads (bucket, key, upload_id);
    CREATE TABLE parts (
        upload_id     TEXT NOT NULL,
        part_number   INTEGER NOT NULL,
        etag          TEXT NOT NULL,
        size          INTEGER NOT NULL,
        timestamp_ns  INTEGER NOT NULL,
        blob_id       TEXT NOT NULL,
        checksums     TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (upload_id, part_number)
    ) WITHOUT ROWID;
    """,
    """
    -- Every blob metadata knows of: live while a version or part holds it (freed_ns NULL), then
    -- freed by the commit that dropped it and reclaimed by the sweeper after a grace period, so
    -- that a reader who found it just before that commit can still open it. A blob file with no
    -- row is staged (not committed yet) or an orphan of a crash.
    CREATE TABLE blobs (
        blob_id   TEXT PRIMARY KEY,
        freed_ns  INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX blobs_freed ON blobs (freed_ns) WHERE freed_ns IS NOT NULL;
    INSERT OR IGNORE INTO blobs (blob_id)
        SELECT json_extract(segment.value, '$[0]') FROM versions, json_each(versions.segments) AS segment;
    INSERT OR IGNORE INTO blobs (blob_id) SELECT blob_id FROM parts
    """,
    """
    -- The writer that stamped a version, which breaks ties between equal stamps (model/versions.py).
    ALTER TABLE versions ADD COLUMN origin TEXT NOT NULL DEFAULT '';
    -- A deleted version stays as a tombstone stamped by its delete (never latest, never read), so
    -- that an older write of it arriving later (a replica, a repair) cannot bring it back.
    ALTER TABLE versions ADD COLUMN tombstone INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX versions_tombstones ON versions (timestamp_ns) WHERE tombstone = 1
    """,
    """
    -- A bucket's configuration, one document per kind (versioning, and later lifecycle rules, tags,
    -- the version policy), all kept and replicated the same way.
    CREATE TABLE bucket_configs (
        bucket    TEXT NOT NULL,
        kind      TEXT NOT NULL,
        document  TEXT NOT NULL,
        PRIMARY KEY (bucket, kind)
    ) WITHOUT ROWID;
    INSERT INTO bucket_configs (bucket, kind, document) SELECT name, 'versioning', versioning FROM buckets WHERE versioning != '';
    ALTER TABLE buckets DROP COLUMN versioning
    """,
    """
    -- Repair compares the records of one stretch of the ring between its owners: each record keeps
    -- its key's ring position (model/placement.py, as a signed 64-bit integer) and a digest of its
    -- identity, so that a stretch's count and digest sum come from one index range scan.
    ALTER TABLE versions ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE versions ADD COLUMN digest INTEGER NOT NULL DEFAULT 0;
    UPDATE versions SET position = ring_position(bucket, key),
        digest = record_digest(bucket, key, version_id, timestamp_ns, origin, tombstone, delete_marker);
    CREATE INDEX versions_by_position ON versions (position, tombstone, timestamp_ns, digest);
    -- Writes that missed an owner: a hint names the owner and the key, and repair hands the key's
    -- records over once the owner answers again (cluster/repair.py).
    CREATE TABLE hints (
        target      TEXT NOT NULL,
        bucket      TEXT NOT NULL,
        key         TEXT NOT NULL,
        created_ns  INTEGER NOT NULL,
        PRIMARY KEY (target, bucket, key)
    ) WITHOUT ROWID;
    -- Small documents about the node kept by the cluster, e.g. the last repair pass ("repair").
    CREATE TABLE node_state (
        name      TEXT PRIMARY KEY,
        document  TEXT NOT NULL
    ) WITHOUT ROWID
    """,
    """
    -- Object tags set after their version was written (PutObjectTagging, DeleteObjectTagging: the
    -- tags a version is written with are in its meta). One row per version id, for the version
    -- written at version_ns (a null version is rewritten under the same id), with the update's own
    -- stamp (timestamp_ns, origin), so that stores keep the newest update whatever the arrival order.
    CREATE TABLE object_tags (
        bucket        TEXT NOT NULL,
        key           TEXT NOT NULL,
        version_id    TEXT NOT NULL,
        version_ns    INTEGER NOT NULL,
        tags          TEXT NOT NULL,          -- JSON object, in the order given
        timestamp_ns  INTEGER NOT NULL,
        origin        TEXT NOT NULL,
        PRIMARY KEY (bucket, key, version_id)
    ) WITHOUT ROWID
    """,
    """
    -- ListObjectVersions walks every version in key order, each key's newest first (model/versions.py
    -- order), from a marker: one range scan of this index, whatever the bucket's size. Tombstones
    -- are in it (a cluster node sends them, so the gateway can hide what they delete), the flag is
    -- in the index so the embedded listing skips them without reading their rows.
    CREATE INDEX versions_history ON versions (bucket, key, timestamp_ns DESC, origin DESC, version_id DESC, tombstone)
    """,
    """
    -- Leases of background work (daemons/lifecycle.py): who does it until when, and how far it
    -- got, so that one process per cluster does it and a successor resumes where it stopped.
    CREATE TABLE leases (
        name      TEXT PRIMARY KEY,
        holder    TEXT NOT NULL,
        until_ns  INTEGER NOT NULL,
        state     TEXT NOT NULL,
        state_ns  INTEGER NOT NULL
    ) WITHOUT ROWID
    """,
    """
    -- A configuration document carries the stamp of the write that set it (model/versions.py order,
    -- with an empty version id), and a removal leaves a stamped tombstone (document NULL), so that
    -- an older write arriving later (a replica, a repair) cannot bring it back. Rows from before
    -- are stamped 0, which any write beats, except the shared documents a cluster stamped inside
    -- them as JSON {"stamp_ns", "document"}, which are unwrapped to their stamp.
    CREATE TABLE bucket_configs_stamped (
        bucket        TEXT NOT NULL,
        kind          TEXT NOT NULL,
        document      TEXT,
        timestamp_ns  INTEGER NOT NULL DEFAULT 0,
        origin        TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (bucket, kind)
    ) WITHOUT ROWID;
    INSERT INTO bucket_configs_stamped (bucket, kind, document) SELECT bucket, kind, document FROM bucket_configs;
    UPDATE bucket_configs_stamped SET timestamp_ns = json_extract(document, '$.stamp_ns'), document = json_extract(document, '$.document')
        WHERE bucket = '.wsgi-s3' AND CASE WHEN json_valid(document) AND json_type(document) = 'object'
            THEN json_type(document, '$.stamp_ns') = 'integer' AND json_type(document, '$.document') = 'text' END;
    DROP TABLE bucket_configs;
    ALTER TABLE bucket_configs_stamped RENAME TO bucket_configs
    """,
    """
    -- A blob may be held by several versions (a restore shares the bytes of the version it
    -- restores): `refs` counts its holders (versions' segments and parts), and the commit that
    -- drops the last one frees it. Existing blobs are counted from what holds them now, and a live
    -- blob that nothing holds (a leak) is freed, so that the sweeper reclaims it.
    ALTER TABLE blobs ADD COLUMN refs INTEGER NOT NULL DEFAULT 0;
    UPDATE blobs SET refs = held.holders FROM (
        SELECT blob_id, count(*) AS holders FROM (
            SELECT json_extract(segment.value, '$[0]') AS blob_id FROM versions, json_each(versions.segments) AS segment
            UNION ALL SELECT blob_id FROM parts)
        GROUP BY blob_id) AS held
    WHERE held.blob_id = blobs.blob_id AND blobs.freed_ns IS NULL;
    UPDATE blobs SET freed_ns = CAST(strftime('%s', 'now') AS INTEGER) * 1000000000 WHERE refs = 0 AND freed_ns IS NULL
    """,
    """
    -- A live version's digest also covers the stamp of the last update of its tags
    -- (store/metadata.py _fold_tags), so that anti-entropy sees owners that differ only in tags.
    UPDATE versions SET digest = record_digest(bucket, key, version_id, timestamp_ns, origin, tombstone, delete_marker,
        (SELECT t.timestamp_ns FROM object_tags AS t WHERE t.bucket = versions.bucket AND t.key = versions.key
            AND t.version_id = versions.version_id AND t.version_ns = versions.timestamp_ns AND versions.tombstone = 0),
        (SELECT t.origin FROM object_tags AS t WHERE t.bucket = versions.bucket AND t.key = versions.key
            AND t.version_id = versions.version_id AND t.version_ns = versions.timestamp_ns AND versions.tombstone = 0))
    WHERE tombstone = 0 AND EXISTS (SELECT 1 FROM object_tags AS t WHERE t.bucket = versions.bucket AND t.key = versions.key
        AND t.version_id = versions.version_id AND t.version_ns = versions.timestamp_ns)
    """,
]


def migrate(conn: sqlite3.Connection, begin: Callable[[], None]) -> None:
    """Bring the database up to the newest schema, one migration per transaction (`begin` starts
    one, waiting for the write lock)."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    for number in range(version, len(MIGRATIONS)):
        begin()
        try:
            # Another process may have migrated while we waited for the lock.
            (current,) = conn.execute("PRAGMA user_version").fetchone()
            if current > number:
                conn.execute("COMMIT")
                continue
            for statement in MIGRATIONS[number].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
