"""NodeClient: one storage node's API as typed calls, over a urllib3 keep-alive pool.

Its methods mirror the Store's (node/resources.py calls the same ones on the node), so a gateway
reads like code over a local store. Bodies stream both ways: `stage` sends a readable in blocks,
`read` returns the response unread. A storage error comes back as the same `model.errors` class
the node's Store raised; a node that cannot be reached, times out or breaks a stream off is
`errors.Unavailable`, quickly (connect and read timeouts, no retries: the caller picks another node),
and is then marked down for a while (cluster/health.py): calls to it fail at once until it is probed again.
"""

from __future__ import annotations

import json
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import urllib3

from wsgi_s3.cluster.health import NodeHealth
from wsgi_s3.model import errors
from wsgi_s3.model.types import BucketInfo, Holding, Lease, ListEntry, ObjectTags, ObjectVersion, Part, StagedBlob, StoredPart, StoredVersion, Upload, VersionEntry
from wsgi_s3.model.versions import StampedBucket, StampedDocument, VersionStamp
from wsgi_s3.node import protocol

BLOCK = 256 * 1024  # bytes per send of a streamed body


class Readable(Protocol):
    def read(self, size: int = -1) -> bytes: ...


class _Source:
    """Remembers an error raised by the body being sent, so that it is not taken for the node's."""

    def __init__(self, source: Readable) -> None:
        self.source = source
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            return self.source.read(size)
        except BaseException as exc:
            self.error = exc
            raise


class NodeStream:
    """A range of a version's bytes as the node sends it: read to b"", then close (the connection
    goes back to the pool when the range was read whole; a half-read one is closed)."""

    def __init__(self, response: urllib3.BaseHTTPResponse, length: int, health: NodeHealth) -> None:
        self.response = response
        self.remaining = length
        self.health = health

    def read(self, size: int = -1) -> bytes:
        try:
            data = self.response.read(None if size < 0 else size)
        except urllib3.exceptions.HTTPError as exc:
            raise self._broken(f"the stream broke off: {exc}") from None
        self.remaining -= len(data)
        if not data and self.remaining:
            raise self._broken(f"the stream ended {self.remaining} bytes short")
        return data

    def _broken(self, reason: str) -> errors.Unavailable:
        self.health.failed(reason)
        return errors.Unavailable(f"node {self.health.url}: {reason}")

    def close(self) -> None:
        if self.remaining:
            self.response.close()  # unread bytes would be taken for the next response
        self.response.release_conn()


class NodeClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        pool_size: int = 10,
        connect_timeout: float = 2.0,
        read_timeout: float = 30.0,
        down_interval: float = 0.0,
    ) -> None:
        """`down_interval`: seconds a node that failed is left alone (0, for tools and tests that
        restart nodes under a client: never)."""
        self.url = base_url.rstrip("/")
        self.health = NodeHealth(self.url, down_interval)
        self.headers = {protocol.AUTH_HEADER: protocol.BEARER + token}
        # block=False: a burst beyond pool_size opens extra connections rather than waiting for one.
        self.pool = urllib3.connection_from_url(
            self.url,
            maxsize=pool_size,
            block=False,
            retries=False,
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            blocksize=BLOCK,
        )

    def close(self) -> None:
        self.pool.close()

    def _request(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        *,
        document: Any = None,
        body: _Source | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> urllib3.BaseHTTPResponse:
        """The node's answer; a storage error it reports is raised as that error."""
        target = path + ("?" + urlencode(query, quote_via=quote, safe="") if query else "")
        all_headers = {**self.headers, **(headers or {})}
        payload: Any = body
        if document is not None:
            payload = json.dumps(document, separators=(",", ":")).encode()
            all_headers["Content-Type"] = protocol.JSON_TYPE
        self.health.check()
        try:
            response = self.pool.urlopen(method, target, body=payload, headers=all_headers, preload_content=not stream, redirect=False)
        except urllib3.exceptions.HTTPError as exc:
            if body is not None and body.error is not None:
                raise body.error from None
            self.health.failed(str(exc))
            raise errors.Unavailable(f"node {self.url}: {exc}") from None
        self.health.succeeded()
        if response.status >= 300:
            try:
                data = response.data
                answer = json.loads(data) if data else None
            except (urllib3.exceptions.HTTPError, ValueError):
                answer = None
            finally:
                response.release_conn()
            raise protocol.error_from(response.status, answer)
        return response

    def _json(self, method: str, path: str, query: dict[str, str] | None = None, **options: Any) -> Any:
        response = self._request(method, path, query, **options)
        return json.loads(response.data) if response.data else None

    # buckets

    def create_bucket(self, name: str, region: str, owner: str) -> BucketInfo:
        doc = self._json("PUT", protocol.path(protocol.BUCKET, bucket=name), document={"region": region, "owner": owner})
        return protocol.bucket_from(doc)

    def get_bucket(self, name: str) -> BucketInfo:
        return self.bucket_state(name).info

    def list_buckets(self) -> list[BucketInfo]:
        return protocol.records(self._json("GET", protocol.BUCKETS), protocol.bucket_from)

    def delete_bucket(self, name: str) -> None:
        self._request("DELETE", protocol.path(protocol.BUCKET, bucket=name))

    def purge_bucket(self, name: str) -> None:
        """Delete the bucket with everything it holds (repair of a deletion this node missed)."""
        self._request("DELETE", protocol.path(protocol.BUCKET, bucket=name), {"purge": "1"})

    def close_bucket(self, name: str, seconds: int) -> None:
        self._request("PUT", protocol.path(protocol.BUCKET_CLOSING, bucket=name), document={"seconds": seconds})

    def reopen_bucket(self, name: str) -> None:
        self._request("DELETE", protocol.path(protocol.BUCKET_CLOSING, bucket=name))

    def bucket_configs(self, bucket: str) -> dict[str, StampedDocument]:
        """Every stamped configuration document of the bucket (removals included), by kind."""
        return protocol.configs_from(self._json("GET", protocol.path(protocol.BUCKET_CONFIGS, bucket=bucket)))

    def get_bucket_config(self, bucket: str, kind: str) -> StampedDocument | None:
        """The document with its stamp (a removal: no document); None if it was never set."""
        return protocol.config_from(self._json("GET", protocol.path(protocol.BUCKET_CONFIG, bucket=bucket, kind=kind)))

    def put_bucket_config(self, bucket: str, kind: str, document: str | None, stamp: VersionStamp) -> None:
        """Applied by the node only if `stamp` is newer than the stamp of the document it holds."""
        config = protocol.config_json(StampedDocument(document, stamp))
        self._request("PUT", protocol.path(protocol.BUCKET_CONFIG, bucket=bucket, kind=kind), document=config)

    # objects

    def stage(self, source: Readable, length: int | None = None) -> StagedBlob:
        """Stream `source` (read until b"") into an invisible blob on the node; chunked unless
        `length` is known. An error raised by `source` itself propagates unchanged."""
        headers = {"Content-Type": "application/octet-stream"}
        if length is not None:
            headers["Content-Length"] = str(length)
        doc = self._json("POST", protocol.BLOBS, body=_Source(source), headers=headers)
        return protocol.staged_from(doc)

    def discard(self, staged: list[StagedBlob]) -> None:
        self._request("POST", protocol.DISCARD, document=[protocol.staged_json(blob) for blob in staged])

    def commit_version(self, version: StoredVersion, *, if_none_match: bool = False, if_match: str | None = None) -> StoredVersion:
        document = {"version": protocol.version_json(version), "if_none_match": if_none_match, "if_match": if_match}
        return protocol.version_from(self._json("POST", protocol.VERSIONS, document=document))

    def get_version(self, bucket: str, key: str, version_id: str | None = None, *, tombstones: bool = False) -> StoredVersion:
        query = {"version_id": version_id, "tombstones": "1" if tombstones else "0"} if version_id is not None else None
        return protocol.version_from(self._json("GET", protocol.path(protocol.OBJECT, bucket=bucket, key=key), query))

    def read(self, version: ObjectVersion, start: int, length: int) -> NodeStream:
        """Bytes [start, start+length) of exactly `version` (NotFound("version") if the node holds
        another one under its id now), as a stream to read and close."""
        query = {"version_id": version.version_id, "timestamp_ns": str(version.timestamp_ns), "start": str(start), "length": str(length)}
        response = self._request("GET", protocol.path(protocol.DATA, bucket=version.bucket, key=version.key), query, stream=True)
        return NodeStream(response, length, self.health)

    def delete_version(self, bucket: str, key: str, version_id: str, stamp: int, origin: str) -> StoredVersion | None:
        """Leave a tombstone of one version stamped (stamp, origin); the live record it replaced,
        or None when the node had none (or has a newer write of it)."""
        path = protocol.path(protocol.OBJECT, bucket=bucket, key=key)
        doc = self._json("DELETE", path, {"version_id": version_id, "timestamp_ns": str(stamp), "origin": origin})
        return None if doc is None else protocol.version_from(doc)

    def entries_after(self, bucket: str, after: str, inclusive: bool, before: str | None, limit: int) -> list[ListEntry]:
        query = {"after": after, "inclusive": "1" if inclusive else "0", "limit": str(limit)}
        if before is not None:
            query["before"] = before
        return protocol.records(self._json("GET", protocol.path(protocol.ENTRIES, bucket=bucket), query), protocol.entry_from)

    # multipart uploads

    def create_upload(self, upload: Upload) -> None:
        self._request("POST", protocol.UPLOADS, document=protocol.upload_json(upload))

    def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        doc = self._json("GET", protocol.path(protocol.UPLOAD, upload_id=upload_id), {"bucket": bucket, "key": key})
        return protocol.upload_from(doc)

    def list_uploads(self, bucket: str, key_marker: str, upload_id_marker: str, limit: int) -> list[Upload]:
        query = {"key_marker": key_marker, "upload_id_marker": upload_id_marker, "limit": str(limit)}
        return protocol.records(self._json("GET", protocol.path(protocol.BUCKET_UPLOADS, bucket=bucket), query), protocol.upload_from)

    def put_part(self, upload_id: str, part: StoredPart) -> None:
        path = protocol.path(protocol.PART, upload_id=upload_id, part_number=part.part_number)
        self._request("PUT", path, document=protocol.stored_part_json(part))

    def list_parts(self, upload_id: str, after_part: int = 0, limit: int = 10000) -> list[StoredPart]:
        query = {"after": str(after_part), "limit": str(limit)}
        return protocol.records(self._json("GET", protocol.path(protocol.PARTS, upload_id=upload_id), query), protocol.stored_part_from)

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self._request("DELETE", protocol.path(protocol.UPLOAD, upload_id=upload_id), {"bucket": bucket, "key": key})

    def complete_upload(self, upload_id: str, version: ObjectVersion, parts: list[Part]) -> StoredVersion:
        # The record goes with no segments: the node makes them of its own blobs of the parts.
        document = {"version": protocol.version_json(StoredVersion.of(version)), "parts": [protocol.part_json(part) for part in parts]}
        return protocol.version_from(self._json("POST", protocol.path(protocol.COMPLETE, upload_id=upload_id), document=document))

    # what repair needs (cluster/repair.py)

    def key_history(self, bucket: str, key: str, limit: int) -> list[StoredVersion]:
        doc = self._json("GET", protocol.path(protocol.HISTORY, bucket=bucket, key=key), {"limit": str(limit)})
        return protocol.records(doc, protocol.version_from)

    def purge_key(self, bucket: str, key: str) -> None:
        self._request("DELETE", protocol.path(protocol.HISTORY, bucket=bucket, key=key))

    def ring_digest(self, first: int, last: int, since_ns: int) -> tuple[int, int]:
        doc = self._json("GET", protocol.RING_DIGEST, {"first": str(first), "last": str(last), "since": str(since_ns)})
        return protocol.field(doc, "count", int), protocol.field(doc, "digest", int)

    def ring_holdings(self, first: int, last: int, since_ns: int, after: Holding | None, limit: int) -> list[Holding]:
        query = {"first": str(first), "last": str(last), "since": str(since_ns), "limit": str(limit)}
        if after is not None:
            query["after"] = protocol.cursor_text(after)
        return protocol.records(self._json("GET", protocol.RING_HOLDINGS, query), protocol.holding_from)

    def add_hints(self, target: str, keys: list[tuple[str, str]]) -> None:
        self._request("POST", protocol.HINTS, document={"target": target, "keys": [list(key) for key in keys]})

    def hints(self, limit: int) -> list[tuple[str, str, str, int]]:
        return protocol.records(self._json("GET", protocol.HINTS, {"limit": str(limit)}), protocol.hint_from)

    def drop_hints(self, hints: list[tuple[str, str, str, int]]) -> None:
        self._request("POST", protocol.HINTS_DROP, document=[protocol.hint_json(hint) for hint in hints])

    def status(self) -> dict[str, Any]:
        doc = self._json("GET", protocol.STATUS)
        if not isinstance(doc, dict):
            raise errors.Unavailable(f"node {self.url}: a status is a JSON object")
        return doc

    def put_state(self, name: str, document: str) -> None:
        self._request("PUT", protocol.path(protocol.STATE, name=name), document={"document": document})
    # object tags

    def put_object_tags(self, bucket: str, key: str, update: ObjectTags) -> None:
        self._request("PUT", protocol.path(protocol.TAGS, bucket=bucket, key=key), document=protocol.tags_json(update))

    def get_object_tags(self, bucket: str, key: str, version_id: str | None = None) -> ObjectTags:
        query = {"version_id": version_id} if version_id is not None else None
        return protocol.tags_from(self._json("GET", protocol.path(protocol.TAGS, bucket=bucket, key=key), query))

    def ready(self) -> None:
        """Raise Unavailable unless the node answers that it is ready (its store writable, not draining).
        Asked with short timeouts: a readiness probe must not hang on a dead node."""
        try:
            response = self.pool.urlopen("GET", protocol.READY, headers=self.headers, timeout=urllib3.Timeout(connect=1.0, read=2.0))
        except urllib3.exceptions.HTTPError as exc:
            raise errors.Unavailable(f"node {self.url}: {exc}") from None
        if response.status != 200:
            raise errors.Unavailable(f"node {self.url}: not ready ({response.status})")

    # version listing

    def versions_after(
        self, bucket: str, after: str, inclusive: bool, position: tuple[int, str, str] | None, before: str | None, limit: int
    ) -> list[VersionEntry]:
        """The node's versions from a cursor, tombstones included (see Store.versions_after)."""
        query = {"after": after, "inclusive": "1" if inclusive else "0", "limit": str(limit), **protocol.position_query(position)}
        if before is not None:
            query["before"] = before
        doc = self._json("GET", protocol.path(protocol.VERSION_ENTRIES, bucket=bucket), query)
        return protocol.records(doc, protocol.version_entry_from)

    def version_records(self, bucket: str, key: str, version_ids: list[str]) -> list[VersionEntry]:
        doc = self._json("POST", protocol.path(protocol.VERSION_RECORDS, bucket=bucket), document={"key": key, "version_ids": version_ids})
        return protocol.records(doc, protocol.version_entry_from)

    # leases of background work

    def claim_lease(self, name: str, holder: str, ttl_ns: int, state: str | None) -> Lease | None:
        doc = self._json("POST", protocol.path(protocol.LEASE, name=name), document=protocol.claim_json(holder, ttl_ns, state))
        return protocol.lease_from(doc)

    def share_version(self, source: ObjectVersion, version: ObjectVersion) -> StoredVersion:
        """Commit `version` over this node's blobs of `source` (see Store.share_version)."""
        return protocol.version_from(self._json("POST", protocol.SHARE, document=protocol.share_json(source, version)))

    # what repair needs of object tags

    def tag_updates(self, bucket: str, key: str, limit: int) -> list[ObjectTags]:
        doc = self._json("GET", protocol.path(protocol.TAG_UPDATES, bucket=bucket, key=key), {"limit": str(limit)})
        return protocol.records(doc, protocol.tags_from)

    # a bucket read

    def bucket_state(self, name: str) -> StampedBucket:
        """The bucket's record with its stamped configuration documents, in one request."""
        return protocol.bucket_state_from(self._json("GET", protocol.path(protocol.BUCKET, bucket=name)))
