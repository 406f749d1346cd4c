"""ClusterBackend: the Backend over storage nodes, each object replicated on its N owners.

Placement is the ring's (an object's owners are the first N distinct nodes from hash(bucket/key));
writes succeed at W acknowledgements, reads ask the owners and answer the newest version any of them
has (one order everywhere: model/versions.py); bucket records live on every node. Every call to
several nodes goes through `fanout`, so they overlap in a gevent worker.

Owners that differ (one missed a write or a delete) are healed by cluster/repair.py: a write that
missed an owner leaves hints for it on the owners that took it, a read that finds its owners
disagreeing answers from their merged records (tombstones included, so nothing deleted comes back)
and repairs the key in the background, and the gateway's anti-entropy pass finds the rest.
"""

from __future__ import annotations

import heapq
import logging
import uuid
from itertools import islice
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import TypeVar

import gevent

from wsgi_s3.backend.base import SHARED_BUCKET
from wsgi_s3.backend.listing import Cursor, list_page, list_versions_page
from wsgi_s3.cluster.fanout import Outcome, fanout
from wsgi_s3.cluster.node_client import NodeClient
from wsgi_s3.cluster.repair import HISTORY_LIMIT, Healer, latest_of, newest_per_version, write_bytes
from wsgi_s3.cluster.replicated import ClusterVersion, discard, stage_verified
from wsgi_s3.cluster.ring import Ring
from wsgi_s3.model import errors
from wsgi_s3.model.types import (
    BodySource,
    BucketInfo,
    ByteStream,
    ListEntry,
    ListPage,
    ObjectMeta,
    ObjectTags,
    ObjectVersion,
    Part,
    Segment,
    StoredPart,
    StoredVersion,
    Upload,
    VersionEntry,
    VersionPage,
)
from wsgi_s3.model.versions import HybridClock, StampedBucket, StampedDocument, VersionStamp, newest_configs, now_ns, order_key, stamped_version

log = logging.getLogger(__name__)
T = TypeVar("T")
# Once W owners acknowledged a write, the others get this long too before the client is answered
# (Swift's post_quorum_timeout): in a healthy cluster every owner then has it, and a read right
# after sees it on all of them; a dead or slow owner delays a write by this much at most.
SETTLE = 0.5
CLOSE_SECONDS = 30  # how long a bucket being deleted refuses new objects if its deleter dies midway


class ClusterBackend:
    def __init__(
        self,
        ring: Ring,
        clients: Mapping[str, NodeClient],
        replicas: int,
        write_quorum: int,
        read_quorum: int,
        tombstone_grace_days: float = 7,
    ) -> None:
        ring.check_replicas(replicas)
        if not 1 <= write_quorum <= replicas or not 1 <= read_quorum <= replicas:
            raise ValueError(f"W ({write_quorum}) and R ({read_quorum}) must be between 1 and the number of replicas ({replicas})")
        missing = [node.url for node in ring.nodes if node.url not in clients]
        if missing:
            raise ValueError(f"no client for node(s) {', '.join(missing)}")
        self.ring = ring
        self.clients = clients
        self.nodes = [node.url for node in ring.nodes]
        self.replicas = replicas
        self.write_quorum = write_quorum
        self.read_quorum = read_quorum
        self.healer = Healer(ring, clients, replicas, tombstone_grace_days)
        self.clock = HybridClock()  # stamps the shared documents

    def _owners(self, bucket: str, key: str) -> list[str]:
        return [node.url for node in self.ring.primaries(f"{bucket}/{key}", self.replicas)]

    def _on(self, urls: list[str], call: Callable[[NodeClient], T], need: int | None = None, settle: float = 0.0) -> Outcome[str, T]:
        return fanout(urls, lambda url: call(self.clients[url]), need, settle)

    def _acked(self, outcome: Outcome[str, T], quorum: int) -> list[T]:
        """The answers of a write, if at least `quorum` nodes acknowledged it."""
        if len(outcome.results) < quorum:
            raise outcome.failure()
        return list(outcome.results.values())

    def _answered(self, outcome: Outcome[str, T]) -> list[T]:
        """The answers of a read of every node: each key lives on `replicas` nodes, so with fewer
        nodes silent, every key had an owner that answered."""
        unreachable = sum(isinstance(error, errors.Unavailable) for error in outcome.errors.values())
        if unreachable >= self.replicas or len(outcome.errors) > unreachable:
            raise outcome.failure()
        return list(outcome.results.values())

    def _first(self, urls: list[str], call: Callable[[NodeClient], T]) -> T:
        """The first answer of any node (one that lacks the record does not hide it)."""
        outcome = self._on(urls, call, need=1)
        if not outcome.results:
            raise outcome.failure()
        return next(iter(outcome.results.values()))

    def _read_records(self, call: Callable[[NodeClient], T]) -> list[T]:
        """The answers of a read of a bucket record (or its configuration) from enough nodes that at
        least one of them acknowledged the last write (W of all nodes); a node that lacks the
        bucket counts as an answer. NotFound if every answer is one. With nodes down, R answers
        do, as for an object read: reads stay up as long as object reads can (the answer may then
        miss a change that only the down nodes took, until repair brings it)."""
        need = len(self.nodes) - self.write_quorum + 1
        outcome = self._on(self.nodes, call, need=need)
        absent = [error for error in outcome.errors.values() if isinstance(error, errors.NotFound)]
        if len(outcome.results) + len(absent) < min(need, self.read_quorum):
            raise errors.Unavailable(f"{len(outcome.results) + len(absent)} of the {need} nodes a bucket read needs answered")
        if not outcome.results:
            raise absent[0]
        return list(outcome.results.values())

    def _newest_config(self, bucket: str, kind: str) -> StampedDocument | None:
        found = [config for config in self._read_records(lambda node: node.get_bucket_config(bucket, kind)) if config is not None]
        return max(found, key=lambda config: order_key(config.stamp), default=None)

    # buckets: a bucket record (and its configuration) lives on every node

    def create_bucket(self, name: str, region: str, owner: str) -> BucketInfo:
        return self._acked(self._on(self.nodes, lambda node: node.create_bucket(name, region, owner)), self.write_quorum)[0]

    def get_bucket(self, name: str) -> BucketInfo:
        """The record with the newest document of each configuration kind among the nodes' (see
        _read_records): one request to each node asked, whatever the request needs of its bucket."""
        found = self._read_records(lambda node: node.bucket_state(name))
        return StampedBucket.of(found[0].info, newest_configs(state.configs for state in found)).info

    def list_buckets(self) -> list[BucketInfo]:
        outcome = self._on(self.nodes, lambda node: node.list_buckets())
        if not outcome.results:
            raise outcome.failure()
        merged: dict[str, BucketInfo] = {}
        for buckets in outcome.results.values():
            for bucket in buckets:
                merged.setdefault(bucket.name, bucket)
        return [merged[name] for name in sorted(merged)]

    def delete_bucket(self, name: str) -> None:
        """Close the bucket on the nodes (they refuse new objects in it), check that no node holds an
        object of it, then delete its record on a majority. Closed on all nodes but W-1 at most, no
        write can gather W commits between the check and the deletion: a PUT racing the delete
        either landed before the check (the bucket is not empty) or fails (503 SlowDown)."""
        self.get_bucket(name)
        majority = len(self.nodes) // 2 + 1
        closing = max(majority, len(self.nodes) - self.write_quorum + 1)
        try:
            self._acked(self._on(self.nodes, lambda node: node.close_bucket(name, CLOSE_SECONDS)), closing)
            # Objects live on their owners only, so every node is asked whether it holds a current version.
            if any(self._answered(self._on(self.nodes, lambda node: node.entries_after(name, "", True, None, 1)))):
                raise errors.NotEmpty(name)
            self._acked(self._on(self.nodes, lambda node: node.delete_bucket(name)), majority)
        except errors.StorageError:
            self._on(self.nodes, lambda node: node.reopen_bucket(name))  # best effort: closing also expires
            raise

    def get_bucket_config(self, bucket: str, kind: str) -> str | None:
        newest = self._newest_config(bucket, kind)
        return None if newest is None else newest.document

    def put_bucket_config(self, bucket: str, kind: str, document: str | None, stamp: VersionStamp) -> None:
        self._acked(self._on(self.nodes, lambda node: node.put_bucket_config(bucket, kind, document, stamp)), self.write_quorum)

    # objects

    def _held(self, found: Mapping[str, ObjectVersion], owners: list[str]) -> ClusterVersion:
        """The newest of the versions found, with the owners that hold exactly it."""
        best = max(found.values(), key=order_key)
        holders = tuple(url for url in owners if url in found and order_key(found[url]) == order_key(best))
        return ClusterVersion.of(best, holders=holders)

    def _commit(self, record: ObjectVersion, owners: list[str], commit: Callable[[str], T], tags: ObjectTags | None = None) -> dict[str, T]:
        """Run a write (of `record`, or of an update of its `tags`) on the owners; its answers by
        owner once W acknowledged it. Owners that had not acknowledged it by then are hinted
        (cluster/repair.py: add_hints)."""
        outcome = fanout(owners, commit, need=self.write_quorum, settle=SETTLE)
        self._acked(outcome, self.write_quorum)
        missed = [url for url in owners if url not in outcome.results]
        if missed:
            gevent.spawn(self._hint, list(outcome.results), missed, record, tags)
        return outcome.results

    def _hint(self, holders: list[str], missed: list[str], record: ObjectVersion, tags: ObjectTags | None) -> None:
        try:
            self.healer.add_hints(holders, missed, record, tags)
        except errors.StorageError as exc:
            log.warning("hints for %s/%s failed: %s", record.bucket, record.key, exc)

    def _repair(self, bucket: str, key: str) -> None:
        """Repair a key whose owners disagreed, in the background (the reader is not kept waiting)."""

        def run() -> None:
            try:
                self.healer.repair_key(bucket, key)
            except errors.StorageError as exc:
                log.warning("read repair of %s/%s failed: %s", bucket, key, exc)

        gevent.spawn(run)

    def put_object(
        self, bucket: str, key: str, body: BodySource, stamp: VersionStamp, *, if_none_match: bool = False, if_match: str | None = None
    ) -> ObjectVersion:
        owners = self._owners(bucket, key)
        clients = {url: self.clients[url] for url in owners}
        staged, meta = stage_verified(clients, body, self.write_quorum)
        size = next(iter(staged.values())).size
        if not size:
            discard(clients, staged)  # an empty object is made of no blob

        written = stamped_version(bucket, key, stamp, size, meta)

        def commit(url: str) -> ObjectVersion:
            if url not in staged:
                raise errors.Unavailable(f"node {url} did not stage the body")
            # Each owner's record names the blob it staged: blob ids are per node.
            version = StoredVersion.of(written, segments=(Segment(staged[url].blob_id, size),) if size else ())
            return self.clients[url].commit_version(version, if_none_match=if_none_match, if_match=if_match)

        return self._held(self._commit(written, owners, commit), owners)

    def put_delete_marker(self, bucket: str, key: str, stamp: VersionStamp) -> ObjectVersion:
        marker = stamped_version(bucket, key, stamp, 0, ObjectMeta(etag=""), delete_marker=True)
        owners = self._owners(bucket, key)
        return self._held(self._commit(marker, owners, lambda url: self.clients[url].commit_version(StoredVersion.of(marker))), owners)

    def delete_version(self, bucket: str, key: str, stamp: VersionStamp) -> ObjectVersion | None:
        def delete(url: str) -> ObjectVersion | None:
            return self.clients[url].delete_version(bucket, key, stamp.version_id, stamp.timestamp_ns, stamp.origin)

        tombstone = replace(stamped_version(bucket, key, stamp, 0, ObjectMeta(etag="")), is_latest=False, tombstone=True)
        removed = [version for version in self._commit(tombstone, self._owners(bucket, key), delete).values() if version is not None]
        return ObjectVersion.of(max(removed, key=order_key)) if removed else None

    def head_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectVersion:
        """The newest record the owners have, once R of them found one (the others get SETTLE
        longer): an owner that lacks it (down when it was written) does not hide it, and one that
        missed its delete does not bring it back. Owners that disagree are repaired."""
        owners = self._owners(bucket, key)
        outcome = self._on(
            owners, lambda node: node.get_version(bucket, key, version_id, tombstones=True), need=self.read_quorum, settle=SETTLE
        )
        absent = [url for url, error in outcome.errors.items() if isinstance(error, errors.NotFound) and error.what != "bucket"]
        answers = len(outcome.results) + len(absent)
        if answers < self.read_quorum:
            if any(isinstance(error, errors.NotFound) and error.what == "bucket" for error in outcome.errors.values()):
                raise outcome.failure()
            raise errors.Unavailable(f"{answers} of the {self.read_quorum} owners a read needs answered")
        if (absent and outcome.results) or len({order_key(found) for found in outcome.results.values()}) > 1:
            self._repair(bucket, key)
            if version_id is None:
                return self._resolved_latest(bucket, key, owners)
        if not outcome.results:
            raise outcome.failure()  # every owner that answered lacks it
        found = self._held(outcome.results, owners)
        if found.tombstone:
            raise errors.NotFound("version", key)
        return found

    def _resolved_latest(self, bucket: str, key: str, owners: list[str]) -> ClusterVersion:
        """The latest version when owners named different ones: from their merged records, where a
        tombstone on one owner outranks the version it deleted on another."""
        histories = self._on(owners, lambda node: node.key_history(bucket, key, HISTORY_LIMIT))
        if not histories.results:
            raise histories.failure()
        latest = latest_of(newest_per_version(histories.results.values()))
        if latest is None:
            raise errors.NotFound("key", key)
        found = {url: latest for url, history in histories.results.items() if any(order_key(r) == order_key(latest) and not r.tombstone for r in history)}
        return self._held(found, owners)

    def open_object(self, version: ObjectVersion, start: int, length: int) -> ByteStream:
        """From the first holder of exactly this version that can send it, nodes marked down last; a
        holder that fails mid-stream is replaced by the next one (see _FailoverStream). Raises here
        if none can start, so that the client gets an error status rather than a cut body."""
        holders = version.holders if isinstance(version, ClusterVersion) else tuple(self._owners(version.bucket, version.key))
        stream = _FailoverStream(self.clients, sorted(holders, key=lambda url: self.clients[url].health.down), version, start, length)
        stream.switch()
        return stream

    def list_objects(self, bucket: str, prefix: str, delimiter: str, marker: str, max_keys: int) -> ListPage:
        page = list_page(lambda *window: self._entries(bucket, *window), prefix, delimiter, marker, max_keys)
        if not page.objects and not page.common_prefixes:
            self.get_bucket(bucket)  # nodes list no objects of a bucket they lack: is it empty, or missing?
        return page

    def _entries(self, bucket: str, after: str, inclusive: bool, before: str | None, limit: int) -> list[ListEntry]:
        """Each key's newest record across the nodes, in key order: exactly `limit` unless no node
        has more. One batch of `limit` from each node is enough: a key among the first `limit` of
        the merge has fewer than `limit` keys before it on every node, so every node that holds it
        sent its record of it."""
        outcome = self._on(self.nodes, lambda node: node.entries_after(bucket, after, inclusive, before, limit))
        self._answered(outcome)
        batches = outcome.results
        merged = list(islice(_newest_per_key(heapq.merge(*batches.values(), key=lambda entry: entry.key)), limit))
        return [self._checked_entry(bucket, entry, batches, limit) for entry in merged]

    def _checked_entry(self, bucket: str, entry: ListEntry, batches: Mapping[str, list[ListEntry]], limit: int) -> ListEntry:
        """The entry, unless the key's owners disagree about it (one lacks it, or lists another
        version): then the key's latest as a read resolves it (a deleted key comes back as a delete
        marker, which a listing skips), so a listing never shows what a GET would not."""
        for url in self._owners(bucket, entry.key):
            batch = batches.get(url)
            if batch is None or (len(batch) == limit and batch[-1].key < entry.key):
                continue  # unreachable, or its batch ended before this key: it says nothing of it
            mine = next((candidate for candidate in batch if candidate.key == entry.key), None)
            if mine is None or (mine.version_id, mine.timestamp_ns) != (entry.version_id, entry.timestamp_ns):
                break
        else:
            return entry
        try:
            return _entry_of(self.head_object(bucket, entry.key))
        except errors.NotFound:
            return replace(entry, delete_marker=True)

    # multipart uploads: an upload and its parts live on the object's owners

    def create_upload(self, bucket: str, key: str, meta: ObjectMeta, checksum_algorithm: str) -> Upload:
        upload = Upload(uuid.uuid4().hex, bucket, key, now_ns(), meta, checksum_algorithm)
        self._acked(self._on(self._owners(bucket, key), lambda node: node.create_upload(upload), need=self.write_quorum, settle=SETTLE), self.write_quorum)
        return upload

    def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        return self._first(self._owners(bucket, key), lambda node: node.get_upload(bucket, key, upload_id))

    def upload_part(self, upload: Upload, part_number: int, body: BodySource) -> Part:
        self.get_upload(upload.bucket, upload.key, upload.upload_id)
        owners = self._owners(upload.bucket, upload.key)
        staged, meta = stage_verified({url: self.clients[url] for url in owners}, body, self.write_quorum)
        timestamp = now_ns()
        part = Part(part_number, meta.etag, next(iter(staged.values())).size, timestamp, meta.checksums)

        def record(url: str) -> None:
            # Each owner records the blob it staged: blob ids are per node.
            self.clients[url].put_part(upload.upload_id, StoredPart.of(part, blob_id=staged[url].blob_id))

        self._acked(fanout(staged, record, need=self.write_quorum, settle=SETTLE), self.write_quorum)
        return part

    def list_parts(self, upload: Upload, after_part: int = 0, limit: int = 10000) -> list[Part]:
        """The parts any owner recorded (an owner that missed one does not hide it), the newest
        upload of each number."""
        outcome = self._on(self._owners(upload.bucket, upload.key), lambda node: node.list_parts(upload.upload_id, after_part, limit))
        if not outcome.results:
            raise outcome.failure()
        merged: dict[int, Part] = {}
        for parts in outcome.results.values():
            for part in parts:
                if part.part_number not in merged or part.timestamp_ns > merged[part.part_number].timestamp_ns:
                    merged[part.part_number] = part
        # Without the answering owner's blob id: it names nothing on the others.
        return [Part.of(merged[number]) for number in sorted(merged)][:limit]

    def complete_upload(self, upload: Upload, parts: list[Part], meta: ObjectMeta, stamp: VersionStamp) -> ObjectVersion:
        # No bucket read here: the caller read the bucket for `stamp` (its versioning state).
        version = stamped_version(upload.bucket, upload.key, stamp, sum(part.size for part in parts), meta)
        owners = self._owners(upload.bucket, upload.key)

        def complete(url: str) -> ObjectVersion:
            # Each owner finds the parts (by number, ETag and size) among its own blobs.
            return self.clients[url].complete_upload(upload.upload_id, version, parts)

        return self._held(self._commit(version, owners, complete), owners)

    def abort_upload(self, upload: Upload) -> None:
        outcome = self._on(self._owners(upload.bucket, upload.key), lambda node: node.abort_upload(upload.bucket, upload.key, upload.upload_id))
        self._acked(outcome, self.write_quorum)

    def list_uploads(self, bucket: str, key_marker: str, upload_id_marker: str, limit: int) -> list[Upload]:
        batches = self._answered(self._on(self.nodes, lambda node: node.list_uploads(bucket, key_marker, upload_id_marker, limit)))
        merged: list[Upload] = []
        for upload in heapq.merge(*batches, key=lambda upload: (upload.key, upload.upload_id)):
            if len(merged) == limit:
                break
            if not merged or merged[-1].upload_id != upload.upload_id:
                merged.append(upload)
        return merged

    # object tags: on the object's owners; an update goes to W of them like a write, and a read
    # answers the newest tag set of the newest version any owner has

    def put_object_tags(self, version: ObjectVersion, tags: dict[str, str], stamp: VersionStamp) -> None:
        update = ObjectTags(version.version_id, version.timestamp_ns, tags, stamp.timestamp_ns, stamp.origin)
        owners = self._owners(version.bucket, version.key)
        self._commit(version, owners, lambda url: self.clients[url].put_object_tags(version.bucket, version.key, update), tags=update)

    def get_object_tags(self, bucket: str, key: str, version_id: str | None = None) -> dict[str, str]:
        # Read like head_object: at least R owners answer, found or not, and one that lacks the version does not hide it.
        outcome = self._on(self._owners(bucket, key), lambda node: node.get_object_tags(bucket, key, version_id))
        answers = len(outcome.results) + sum(isinstance(error, errors.NotFound) for error in outcome.errors.values())
        if answers < self.read_quorum:
            raise errors.Unavailable(f"{answers} of the {self.read_quorum} owners a read needs answered")
        if not outcome.results:
            raise outcome.failure()
        if len({found.order() for found in outcome.results.values()}) > 1:
            self._repair(bucket, key)  # an owner missed an update of the tags (or a write): heal it in the background
        return max(outcome.results.values(), key=ObjectTags.order).tags

    # shared documents: on every node, as bucket configuration of SHARED_BUCKET, stamped and read
    # like every configuration document (a node that missed a revoke must not bring a credential back)

    def _shared(self, name: str) -> StampedDocument | None:
        try:
            return self._newest_config(SHARED_BUCKET, name)
        except errors.NotFound:  # no node has any shared document yet
            return None

    def get_shared_document(self, name: str) -> str | None:
        newest = self._shared(name)
        return None if newest is None else newest.document

    def put_shared_document(self, name: str, document: str) -> None:
        newest = self._shared(name)
        if newest is not None:
            self.clock.observe(newest.stamp.timestamp_ns)
        stamp = self.clock.config_stamp()

        def write(node: NodeClient) -> None:
            try:
                node.create_bucket(SHARED_BUCKET, "", "wsgi-s3")
            except errors.AlreadyExists:
                pass
            node.put_bucket_config(SHARED_BUCKET, name, document, stamp)

        self._acked(self._on(self.nodes, write), self.write_quorum)

    def ready(self) -> None:
        """Enough nodes answer that they are ready for a write to reach its quorum."""
        self._acked(self._on(self.nodes, lambda node: node.ready(), self.write_quorum), self.write_quorum)

    # version listing: each version's records live on its key's owners

    def list_versions(
        self, bucket: str, prefix: str, delimiter: str, key_marker: str, version_id_marker: str | None, max_keys: int
    ) -> VersionPage:
        merge = VersionMerge()
        # A page resumed inside a key's history (at the client's version marker) starts the nodes'
        # streams there, so the newest record of a version they bring may lie before them (a
        # tombstone or a later null version, stamped after the marker): each version of that key
        # is checked with its owners, by id (so the check costs what the page holds).
        unsure = key_marker if version_id_marker is not None else None

        def fetch(cursor: Cursor, before: str | None, limit: int) -> list[VersionEntry]:
            winners = merge.winners(self._version_streams(bucket, cursor, before, limit))
            if unsure is not None:
                winners = self._confirmed(bucket, unsure, winners, limit)
            return list(islice(winners, limit))

        locate = lambda key, version_id: self.head_object(bucket, key, version_id)  # noqa: E731
        page = list_versions_page(fetch, locate, prefix, delimiter, key_marker, version_id_marker, max_keys)
        if not page.versions and not page.common_prefixes:
            self.get_bucket(bucket)  # as in list_objects: only an empty page asks whether the bucket exists
        return page

    def _version_streams(self, bucket: str, cursor: Cursor, before: str | None, limit: int) -> list[Iterator[VersionEntry]]:
        """Every node's versions from the cursor on, tombstones included, each a stream that asks
        its node for more only when the merge has used up a batch (all first batches at once)."""

        def batch(url: str, at: Cursor) -> list[VersionEntry]:
            return self.clients[url].versions_after(bucket, at.key, at.inclusive, at.position, before, limit)

        outcome = fanout(self.nodes, lambda url: batch(url, cursor))
        self._answered(outcome)
        return [_paged(first, lambda at, url=url: batch(url, at), limit) for url, first in outcome.results.items()]

    def _confirmed(self, bucket: str, key: str, winners: Iterator[VersionEntry], limit: int) -> Iterator[VersionEntry]:
        """`winners`, less those versions of `key` whose owners hold a newer record of them."""
        pending: list[VersionEntry] = []
        for version in winners:
            if version.key == key:
                pending.append(version)
                if len(pending) < limit:
                    continue
            yield from self._newest_of(bucket, key, pending)
            pending = []
            if version.key != key:
                yield version
        yield from self._newest_of(bucket, key, pending)

    def _newest_of(self, bucket: str, key: str, versions: list[VersionEntry]) -> list[VersionEntry]:
        if not versions:
            return []
        owners = self._owners(bucket, key)
        outcome = self._on(owners, lambda node: node.version_records(bucket, key, [v.version_id for v in versions]))
        if not outcome.results:
            raise outcome.failure()
        newest: dict[str, tuple[int, str, str]] = {}
        for records in outcome.results.values():
            for record in records:
                newest[record.version_id] = max(newest.get(record.version_id, record.position), record.position)
        return [v for v in versions if newest.get(v.version_id, v.position) <= v.position]

    # leases of background work

    def claim_lease(self, name: str, holder: str, ttl_ns: int, state: str | None = None) -> str | None:
        """Granted only by a majority of ALL nodes, so two claimants never both hold it: any two
        majorities share a node, and a node grants an unexpired lease to one holder only (each
        judges expiry by its own clock, from when the claim reached it, which is after the
        claimant started counting its ttl). Every state write also went to a majority, so the
        newest one is among the grants of any later claim (stamps from different node clocks may
        pick an older one: then work is redone, which the lease's users must tolerate)."""
        outcome = self._on(self.nodes, lambda node: node.claim_lease(name, holder, ttl_ns, state))
        granted = {url: lease for url, lease in outcome.results.items() if lease is not None}
        if len(granted) <= len(self.nodes) // 2:
            if granted and ttl_ns:
                # Give back what a failed claim took: other claimants need not wait for it to expire.
                self._on(list(granted), lambda node: node.claim_lease(name, holder, 0, None))
            return None
        return max(granted.values(), key=lambda lease: lease.state_ns).state

    # versions that share bytes

    def share_version(self, source: ObjectVersion, stamp: VersionStamp, meta: ObjectMeta) -> ObjectVersion:
        """Each owner commits the new version over its own blobs of `source`, so no bytes move; an
        owner that lacks `source` (it missed it, and repair has not caught up yet) gets the bytes
        streamed from a holder instead, so a restore works whenever a read of the source would."""
        version = stamped_version(source.bucket, source.key, stamp, source.size, meta)
        owners = self._owners(source.bucket, source.key)

        def commit(url: str) -> StoredVersion:
            try:
                return self.clients[url].share_version(source, version)
            except errors.NotFound:
                return write_bytes(self.clients[url], version, self.open_object(source, 0, source.size))

        return self._held(self._commit(version, owners, commit), owners)


class _FailoverStream:
    """A range of a version's bytes read from its holders in turn: when one fails (before or after
    bytes flowed), the rest of the range comes from the next, which holds the same bytes (the same
    version id and stamp; a node that holds another version under that id answers NotFound). Only
    when every holder failed does read() raise: the reader gets all the right bytes or an error."""

    def __init__(self, clients: Mapping[str, NodeClient], holders: list[str], version: ObjectVersion, start: int, length: int) -> None:
        self.clients = clients
        self.untried = holders
        self.version = version
        self.offset = start
        self.remaining = length
        self.current: tuple[str, ByteStream] | None = None
        self.failures: dict[str, errors.StorageError] = {}

    def switch(self) -> None:
        """Go on from the next holder that can send the rest of the range."""
        while self.untried:
            url = self.untried.pop(0)
            try:
                self.current = url, self.clients[url].read(self.version, self.offset, self.remaining)
                return
            except (errors.Unavailable, errors.NotFound) as exc:
                self.failures[url] = exc
        raise Outcome(errors=self.failures).failure()

    def read(self, size: int = -1) -> bytes:
        while True:
            assert self.current is not None  # set by switch(), which open_object calls first
            url, stream = self.current
            try:
                data = stream.read(size)
            except errors.Unavailable as exc:
                where = f"{self.version.bucket}/{self.version.key} from {url} at byte {self.offset}"
                log.warning("reading %s failed (%s); going on from another holder", where, exc)
                stream.close()
                self.current = None
                self.failures[url] = exc
                self.switch()
                continue
            self.offset += len(data)
            self.remaining -= len(data)
            return data

    def close(self) -> None:
        if self.current is not None:
            self.current[1].close()


class VersionMerge:
    """Several nodes' version streams as one history: one record per (key, version id), the newest
    (which comes first in the merge); a tombstone hides its version. A listing page keeps one merge
    across its fetches, so a version seen in one batch is not taken again from an older record in
    the next."""

    def __init__(self) -> None:
        self.key: str | None = None
        self.seen: set[str] = set()  # version ids of `key` decided already

    def winners(self, streams: Iterable[Iterable[VersionEntry]]) -> Iterator[VersionEntry]:
        for record in heapq.merge(*streams, key=history_order):
            if record.key != self.key:
                self.key, self.seen = record.key, set()
            if record.version_id in self.seen:
                continue
            self.seen.add(record.version_id)
            if not record.tombstone:
                yield record


def history_order(record: VersionEntry) -> tuple[str, _Newest]:
    """Key order, then each key's newest first (model/versions.py order, descending)."""
    return (record.key, _Newest(record.position))


class _Newest:
    __slots__ = ("position",)

    def __init__(self, position: tuple[int, str, str]) -> None:
        self.position = position

    def __lt__(self, other: _Newest) -> bool:
        return self.position > other.position

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Newest) and self.position == other.position


def _paged(first: list[VersionEntry], more: Callable[[Cursor], list[VersionEntry]], limit: int) -> Iterator[VersionEntry]:
    """A node's versions batch by batch: the next is asked for after the last record of a full one."""
    batch = first
    while True:
        yield from batch
        if len(batch) < limit:
            return
        batch = more(Cursor(batch[-1].key, False, batch[-1].position))


def _newest_per_key(entries: Iterable[ListEntry]) -> Iterator[ListEntry]:
    """Key-ordered entries, one per key: the newest (a listing entry carries no origin, so equal
    stamps fall back to the rest of the record, the same choice on every gateway)."""
    current: ListEntry | None = None
    for entry in entries:
        if current is not None and entry.key != current.key:
            yield current
            current = None
        if current is None or _entry_order(entry) > _entry_order(current):
            current = entry
    if current is not None:
        yield current


def _entry_order(entry: ListEntry) -> tuple[int, str, bool, str, int]:
    return (entry.timestamp_ns, entry.version_id, entry.delete_marker, entry.etag, entry.size)


def _entry_of(version: ObjectVersion) -> ListEntry:
    meta = version.meta
    return ListEntry(
        version.key, version.timestamp_ns, meta.etag, version.size, tuple(meta.checksums), meta.checksum_type, version.delete_marker,
        version.version_id,
    )
