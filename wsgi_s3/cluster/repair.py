"""Healing: making a key's owners hold the same records again, whichever of them missed a write or a
delete.

Every form of repair ends in `Healer.repair_key`: read the key's records (tombstones included) from
each owner, keep the newest record of each version id (`model.versions.newer`, the order every
commit applies), and copy to each owner what it lacks or holds older. Copies go through the node
API like any write (a version's bytes stream from a holder into a staged blob on the target, then
commit), so the target's own commit rules decide, and a copy racing a newer write loses to it.
An update of a version's tags makes no new version: each version's newest tag update (its own
stamp, `ObjectTags.order`) is put on the owners holding an older one, and travels with hints and
anti-entropy like a write (a version's digest and Holding include the stamp of its last tag update).

What calls it:
- read repair: a read whose owners disagreed (backend/cluster.py) repairs that key in the background;
- hints: a write that missed an owner leaves a hint on the owners that took it, handed over here
  once the missing owner answers again (`hand_over_hints`);
- anti-entropy (`repair_pass`): for each stretch of the ring, the owners' record counts and digest
  sums are compared, and only stretches that differ are halved and compared again, down to a batch
  of record identities, whose differing keys are repaired.

Bucket records live on every node; their configuration documents are stamped (newest wins, a
removal is a stamped tombstone), and `repair_buckets` copies each kind's newest to the nodes that
hold an older one or none (`repair_configs`).

Tombstones are kept `tombstone_grace` and then reclaimed by each node on its own schedule, so repair
neither compares nor copies tombstones older than the grace less a margin: a tombstone one owner has
already reclaimed must not travel back to it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from wsgi_s3.cluster.fanout import fanout
from wsgi_s3.cluster.node_client import NodeClient
from wsgi_s3.cluster.ring import Ring
from wsgi_s3.model import errors
from wsgi_s3.model.types import ByteStream, Holding, ObjectTags, ObjectVersion, Segment, StoredVersion
from wsgi_s3.model.versions import newer, newest_configs, now_ns, order_key

log = logging.getLogger(__name__)

HISTORY_LIMIT = 1000  # records of one key compared at a time (newest first)
# Tombstones this close to the end of their grace are left alone: the owners' clocks and sweep
# schedules differ, and one may reclaim its tombstone while another still has it.
GRACE_MARGIN_NS = 3600 * 10**9


def newest_per_version(histories: Iterable[list[ObjectVersion]]) -> dict[str, ObjectVersion]:
    """Each version id's newest record among several owners' histories."""
    merged: dict[str, ObjectVersion] = {}
    for history in histories:
        for record in history:
            known = merged.get(record.version_id)
            if known is None or newer(record, known):
                merged[record.version_id] = record
    return merged


def latest_of(merged: Mapping[str, ObjectVersion]) -> ObjectVersion | None:
    """The key's latest version (possibly a delete marker) once the records are merged: the newest
    one that is not a tombstone."""
    live = [record for record in merged.values() if not record.tombstone]
    return max(live, key=order_key) if live else None


@dataclass
class PassReport:
    """What one anti-entropy pass did, for the logs and `wsgi-s3 cluster status`."""

    started_ns: int = field(default_factory=now_ns)
    finished_ns: int = 0
    stretches: int = 0  # ring stretches compared (halves included)
    differing: int = 0  # stretches whose owners disagreed
    keys: int = 0  # keys repaired
    copies: int = 0  # records copied, bucket records and configuration documents included
    unreachable: list[str] = field(default_factory=list)


class Healer:
    def __init__(self, ring: Ring, clients: Mapping[str, NodeClient], replicas: int, tombstone_grace_days: float) -> None:
        self.ring = ring
        self.clients = clients
        self.replicas = replicas
        self.grace_ns = int(tombstone_grace_days * 86400 * 10**9)

    def _since(self) -> int:
        """Tombstones stamped before this are neither compared nor copied."""
        return max(0, now_ns() - self.grace_ns + GRACE_MARGIN_NS)

    def owners(self, bucket: str, key: str) -> list[str]:
        return [node.url for node in self.ring.primaries(f"{bucket}/{key}", self.replicas)]

    # one key

    def repair_key(self, bucket: str, key: str) -> int:
        """Copy the key's newest records to the owners that lack them; the number of copies. Owners
        that cannot be reached (or lack the bucket) are left for a later pass."""
        return self._reconcile(bucket, key, [])[0]

    def _reconcile(self, bucket: str, key: str, stand_ins: list[str]) -> tuple[int, bool]:
        """Copy the newest records of the key, found on its owners and `stand_ins`, to the owners
        that lack them: (copies made, whether every owner now holds them all)."""
        owners = self.owners(bucket, key)
        found = fanout(owners + stand_ins, lambda url: self._key_records(url, bucket, key)).results
        histories = {url: history for url, (history, _) in found.items()}
        if not any(url in histories for url in owners):
            return 0, False
        merged = newest_per_version(histories.values())
        since = self._since()
        copies, complete = 0, all(url in histories for url in owners)
        for target, history in histories.items():
            if target not in owners:
                continue
            held = {record.version_id: record for record in history}
            oldest_seen = order_key(history[-1]) if len(history) == HISTORY_LIMIT else None
            for version_id, best in merged.items():
                mine = held.get(version_id)
                if mine is not None and not newer(best, mine):
                    continue
                if best.tombstone and best.timestamp_ns < since:
                    continue
                if mine is None and oldest_seen is not None and order_key(best) < oldest_seen:
                    continue  # older than this owner's window: it may well hold it
                source = next(url for url, records in histories.items() if any(order_key(r) == order_key(best) for r in records))
                try:
                    self.copy(best, source, target)
                    copies += 1
                except errors.StorageError as exc:
                    complete = False
                    log.warning("repair of %s/%s version %s to %s failed: %s", bucket, key, version_id, target, exc)
        tagged, tags_complete = self._reconcile_tags(bucket, key, merged, {url: updates for url, (_, updates) in found.items()}, owners)
        return copies + tagged, complete and tags_complete

    def copy(self, record: ObjectVersion, source: str, target: str) -> None:
        """Make `target` hold `record` as `source` does: a tombstone is a delete, a delete marker a
        commit, a version its bytes streamed from the source into a blob staged on the target."""
        node = self.clients[target]
        if record.tombstone:
            node.delete_version(record.bucket, record.key, record.version_id, record.timestamp_ns, record.origin)
            return
        if record.delete_marker or not record.size:
            node.commit_version(StoredVersion.of(record))
            return
        write_bytes(node, record, self.clients[source].read(record, 0, record.size))

    # hints

    def add_hints(self, holders: Iterable[str], missed: Iterable[str], record: ObjectVersion, tags: ObjectTags | None = None) -> None:
        """A write (`record`), or an update of its tags (`tags`), that owners in `missed` did not
        take: for each, a copy of it goes to a stand-in node (the next distinct node of the ring that
        is not an owner) with a hint naming the owner; without a stand-in (a cluster of N nodes) the
        hint stays on the owners that took it. Best effort: what cannot be hinted is made up for by
        the next anti-entropy pass."""
        holders = list(holders)
        stand_ins = [node.url for node in self.ring.handoffs(f"{record.bucket}/{record.key}", self.replicas)]
        keys = [(record.bucket, record.key)]
        for target in missed:
            for stand_in in stand_ins:
                try:
                    if tags is None:
                        self.copy(record, holders[0], stand_in)
                    else:  # kept by the stand-in without the version, for hand-over to find
                        self.clients[stand_in].put_object_tags(record.bucket, record.key, tags)
                    self.clients[stand_in].add_hints(target, keys)
                    stand_ins.remove(stand_in)
                    break
                except errors.StorageError as exc:
                    log.warning("stand-in %s for %s did not take %s/%s: %s", stand_in, target, record.bucket, record.key, exc)
            else:
                fanout(holders, lambda url: self.clients[url].add_hints(target, keys))

    def hand_over_hints(self, batch: int) -> int:
        """Repair the keys of up to `batch` hints per node whose target answers again, and drop
        those hints (and a stand-in's copy of the key, once every owner holds it); the number of
        keys handed over."""
        repaired = 0
        pending = fanout(self.clients, lambda url: self.clients[url].hints(batch)).results
        for holder, hints in pending.items():
            done = []
            for hint in hints:
                target, bucket, key, _ = hint
                try:
                    self.clients[target].get_bucket(bucket)
                except errors.NotFound:
                    self._repair_bucket_on(bucket, target)
                    self.repair_configs(bucket)
                except (errors.StorageError, KeyError):
                    continue  # still down (or no longer in the ring: anti-entropy's business)
                standing_in = holder not in self.owners(bucket, key)
                _, complete = self._reconcile(bucket, key, [holder] if standing_in else [])
                if not complete:
                    continue
                if standing_in:
                    try:
                        self.clients[holder].purge_key(bucket, key)
                    except errors.StorageError:
                        continue
                done.append(hint)
                repaired += 1
            if done:
                try:
                    self.clients[holder].drop_hints(done)
                except errors.StorageError:
                    pass  # handed over again next time: repair is idempotent
        return repaired

    # buckets

    def _repair_bucket_on(self, bucket: str, target: str) -> None:
        """Make the bucket record on `target` as another node has it (its configuration: repair_configs)."""
        for url, node in self.clients.items():
            if url == target:
                continue
            try:
                info = node.get_bucket(bucket)
            except errors.StorageError:
                continue
            try:
                self.clients[target].create_bucket(bucket, info.region, info.owner)
            except errors.AlreadyExists:
                pass
            except errors.StorageError as exc:
                log.warning("making bucket %s again on %s failed: %s", bucket, target, exc)
            return

    def repair_configs(self, bucket: str) -> int:
        """Copy the newest configuration document of each kind (removals included) to the nodes that
        hold the bucket and an older one or none; the number of copies. A node's own stamp check
        decides, so a copy racing a newer write loses to it."""
        held = fanout(self.clients, lambda url: self.clients[url].bucket_configs(bucket)).results
        newest = newest_configs(held.values())
        copies = 0
        for url, configs in held.items():
            for kind, best in newest.items():
                mine = configs.get(kind)
                if mine is not None and not newer(best.stamp, mine.stamp):
                    continue
                try:
                    self.clients[url].put_bucket_config(bucket, kind, best.document, best.stamp)
                    copies += 1
                except errors.StorageError as exc:
                    log.warning("repair of the %s configuration of bucket %s on %s failed: %s", kind, bucket, url, exc)
        return copies

    def repair_buckets(self) -> int:
        """With every node answering, a bucket record on a majority of nodes is made on the others
        (they missed its creation) and one on a minority is removed with all it holds (they missed
        its deletion: a deleted bucket was empty, and its tombstones went with it). Then every kept
        bucket's configuration documents are made the newest on every node. Returns changes.
        With a node silent, records are left as they are (its answer could change the majority),
        but the configuration of a bucket most nodes hold is still repaired on those that answer."""
        outcome = fanout(self.clients, lambda url: self.clients[url].list_buckets())
        complete = not outcome.errors
        holders: dict[str, list[str]] = {}
        for url, buckets in outcome.results.items():
            for bucket in buckets:
                holders.setdefault(bucket.name, []).append(url)
        changes = 0
        for name, urls in holders.items():
            if 2 * len(urls) > len(self.clients):
                for target in self.clients:
                    if complete and target not in urls:
                        self._repair_bucket_on(name, target)
                        changes += 1
                changes += self.repair_configs(name)
            elif complete:
                for url in urls:
                    try:
                        self.clients[url].purge_bucket(name)
                        changes += 1
                    except errors.StorageError as exc:
                        log.warning("removing bucket %s left on %s failed: %s", name, url, exc)
        return changes

    # anti-entropy

    def repair_pass(self, batch: int, between: Callable[[], None] = lambda: None) -> PassReport:
        """Compare every stretch of the ring between its owners and repair what differs; `between`
        is called after each stretch (the repairer renews its lease there, and may raise to stop)."""
        report = PassReport()
        report.copies += self.repair_buckets()
        since = self._since()
        for first, last, owners in self.ring.arcs(self.replicas):
            self._compare(first, last, [node.url for node in owners], since, batch, report)
            between()
        report.finished_ns = now_ns()
        return report

    def _compare(self, first: int, last: int, owners: list[str], since: int, batch: int, report: PassReport) -> None:
        report.stretches += 1
        outcome = fanout(owners, lambda url: self.clients[url].ring_digest(first, last, since))
        report.unreachable.extend(url for url in outcome.errors if url not in report.unreachable)
        digests = outcome.results
        if len(digests) < 2 or len(set(digests.values())) == 1:
            return
        report.differing += 1
        if first == last or max(count for count, _ in digests.values()) <= batch:
            self._repair_stretch(first, last, list(digests), since, batch, report)
            return
        middle = (first + last) // 2
        self._compare(first, middle, owners, since, batch, report)
        self._compare(middle + 1, last, owners, since, batch, report)

    def _repair_stretch(self, first: int, last: int, owners: list[str], since: int, batch: int, report: PassReport) -> None:
        """Repair the keys of a stretch whose records differ between owners."""
        held: dict[tuple[str, str], dict[str, set[tuple]]] = {}
        answered = []
        for url in owners:
            try:
                holdings = list(self._holdings(url, first, last, since, batch))
            except errors.StorageError as exc:
                log.warning("repair: node %s did not list its records: %s", url, exc)
                continue
            answered.append(url)
            for holding in holdings:
                identity = (holding.version_id, holding.timestamp_ns, holding.origin, holding.tombstone, holding.tags_ns, holding.tags_origin)
                held.setdefault((holding.bucket, holding.key), {}).setdefault(url, set()).add(identity)
        owners = answered
        for (bucket, key), by_owner in held.items():
            sets = [by_owner.get(url, set()) for url in owners]
            if any(records != sets[0] for records in sets):
                report.keys += 1
                report.copies += self.repair_key(bucket, key)

    def _holdings(self, url: str, first: int, last: int, since: int, batch: int) -> Iterable[Holding]:
        after: Holding | None = None
        while True:
            page = self.clients[url].ring_holdings(first, last, since, after, batch)
            yield from page
            if len(page) < batch:
                return
            after = page[-1]

    # object tags: an update of a version's tags makes no new version, so its own stamp is compared

    def _key_records(self, url: str, bucket: str, key: str) -> tuple[list[ObjectVersion], list[ObjectTags]]:
        """What an owner holds of a key: its records (newest first) and the tag updates of its versions."""
        node = self.clients[url]
        return node.key_history(bucket, key, HISTORY_LIMIT), node.tag_updates(bucket, key, HISTORY_LIMIT)

    def _reconcile_tags(
        self, bucket: str, key: str, merged: Mapping[str, ObjectVersion], updates: Mapping[str, list[ObjectTags]], owners: list[str]
    ) -> tuple[int, bool]:
        """Put each live version's newest tag update (ObjectTags.order) among `updates` (by node,
        stand-ins included) on the owners that answered and hold an older one or none (a node keeps
        the newest it is given, even for a version it has not received yet): (updates put, whether
        all of them were taken)."""
        newest: dict[str, ObjectTags] = {}
        for found in updates.values():
            for update in found:
                record = merged.get(update.version_id)
                if record is None or record.tombstone or record.timestamp_ns != update.version_ns:
                    continue  # the tags of a version deleted or written again since: no longer anyone's
                if update.version_id not in newest or update.order() > newest[update.version_id].order():
                    newest[update.version_id] = update
        copies, complete = 0, True
        for target in owners:
            if target not in updates:
                continue
            held = {update.version_id: update.order() for update in updates[target]}
            for version_id, best in newest.items():
                if version_id in held and held[version_id] >= best.order():
                    continue
                try:
                    self.clients[target].put_object_tags(bucket, key, best)
                    copies += 1
                except errors.StorageError as exc:
                    complete = False
                    log.warning("repair of the tags of %s/%s version %s on %s failed: %s", bucket, key, version_id, target, exc)
        return copies, complete


def write_bytes(node: NodeClient, record: ObjectVersion, stream: ByteStream) -> StoredVersion:
    """Stage `stream` (the record's bytes) on `node` and commit `record` over the blob: a copy
    made through the node API like any write. Closes the stream."""
    segments: tuple[Segment, ...] = ()
    try:
        if record.size:  # an empty object is made of no blob
            staged = node.stage(stream, record.size)
            segments = (Segment(staged.blob_id, staged.size),)
    finally:
        stream.close()
    return node.commit_version(StoredVersion.of(record, segments=segments))


def report_document(report: PassReport, origin: str) -> dict[str, object]:
    return {
        "gateway": origin,
        "started_ns": report.started_ns,
        "finished_ns": report.finished_ns,
        "stretches": report.stretches,
        "differing": report.differing,
        "keys": report.keys,
        "copies": report.copies,
        "unreachable": report.unreachable,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(report.finished_ns / 1e9)),
    }
