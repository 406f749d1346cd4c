"""The lifecycle daemon: applies every bucket's lifecycle rules (s3/lifecycle.py), and the seed's
`mp_ttl`, through the Backend, so the same code serves the embedded store and a cluster.

Three passes over every bucket, each under a lease of its own (Backend.claim_lease):
  - "lifecycle-objects", every `lifecycle_interval`: current versions an enabled Expiration rule
    (Days or Date) has expired are removed, or hidden by a delete marker (gateway/versioning.py's
    `expire`, as S3 does it);
  - "lifecycle-versions", every `lifecycle_interval`, over ListObjectVersions: noncurrent versions
    past a NoncurrentVersionExpiration (beyond its NewerNoncurrentVersions), and delete markers
    left as their key's only version (ExpiredObjectDeleteMarker), are removed for good;
  - "lifecycle-uploads", every `mp_sweep_interval`: multipart uploads older than an enabled
    AbortIncompleteMultipartUpload rule allows, or than `mp_ttl`, are aborted.

One place does the work: the lease is one process's per data directory (embedded) or per cluster
(granted by a majority of the nodes, whichever gateway claims it first). The holder renews it
with every batch, writing its progress (bucket and marker) into it, and stops when a renewal is
refused; a successor (the same service restarted, or another gateway once the lease expired
after `lifecycle_lease` seconds) resumes from that progress. A finished pass is recorded in the
lease too, so the next one starts an interval later wherever it runs. Every action is safe to
repeat (an expiration re-checks the version it removes; an abort of a gone upload is a no-op), so
work done twice after a lease was lost late, or resumed from an older marker, changes nothing.

Throttled: `lifecycle_batch` keys (or uploads) per batch and a `lifecycle_pause_ms` pause between
batches, in a process of its own (daemons/forked.py) at a lower CPU priority than the request workers.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import cached_property

from wsgi_s3.backend.base import Backend
from wsgi_s3.config import Settings
from wsgi_s3.gateway import versioning
from wsgi_s3.model import errors
from wsgi_s3.model.types import BucketInfo, ListEntry, Upload, VersionEntry
from wsgi_s3.model.versions import NULL_VERSION, HybridClock, VersionStamp
from wsgi_s3.observability import metrics
from wsgi_s3.s3 import lifecycle
from wsgi_s3.s3.lifecycle import DAY_NS, Rule

log = logging.getLogger(__name__)

CONFIG_KIND = "lifecycle"


@dataclass
class Counters:
    """What this process's daemon did since it started (for its log lines); each count also goes
    to its Prometheus counter (observability/metrics.py), summed over processes on /metrics."""

    objects_expired: int = 0
    bytes_expired: int = 0
    uploads_aborted: int = 0
    passes: int = 0

    def expired(self, size: int) -> None:
        self.objects_expired += 1
        self.bytes_expired += size
        metrics.LIFECYCLE_EXPIRED_OBJECTS.inc()
        metrics.LIFECYCLE_EXPIRED_BYTES.inc(size)

    def aborted(self) -> None:
        self.uploads_aborted += 1
        metrics.LIFECYCLE_ABORTED_UPLOADS.inc()


COUNTERS = Counters()


@dataclass
class Progress:
    """A pass's place, kept in its lease: the bucket it is in and the last key (and upload id) done."""

    started_ns: int = 0  # 0: no pass under way
    bucket: str = ""
    marker: str = ""
    upload_marker: str = ""  # the upload id (uploads pass) or version id (versions pass) after `marker`
    finished_ns: int = 0  # when the last pass ended
    # the versions pass, within the key it is in: when the version after the next became noncurrent
    # (the newer one's stamp), how many noncurrent versions came before, and a delete marker that
    # is the key's latest version and, so far, its only one
    key: str = ""
    newer_ns: int = 0
    noncurrent: int = 0
    lone_marker: str = ""

    @classmethod
    def parse(cls, state: str) -> Progress:
        return cls(**json.loads(state)) if state else cls()

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


@dataclass
class Schedule:
    interval: float = 3600.0  # seconds between object passes
    upload_interval: float = 600.0  # seconds between upload passes (the seed's mp_sweep_interval)
    mp_ttl: float = 86400.0  # seconds an upload may stay unfinished (0: no limit but the rules')
    batch: int = 100
    pause: float = 0.1  # seconds between batches
    clock_offset: float = 0.0  # seconds added to "now" when judging age: for tests only
    lease: float = 300.0  # seconds a pass's lease lasts unrenewed: a dead holder's successor waits this long


class LeaseLost(Exception):
    """Another holder has the pass now: stop without writing anything more."""


class Stopping(Exception):
    """The service is stopping: leave the pass where it is (its progress is kept)."""


def pause_unless_orphaned(parent: int) -> Callable[[float], bool]:
    """The pause of a daemon forked by the process `parent`: True (stop) once that one is gone, so
    that a pass never outlives its service by more than a batch."""

    def pause(wait: float) -> bool:
        time.sleep(wait)
        return os.getppid() != parent

    return pause


@dataclass
class _Pass:
    """One pass's lease and progress; `save` renews the lease with the progress."""

    backend: Backend
    name: str
    holder: str
    ttl_ns: int
    progress: Progress = field(default_factory=Progress)

    def save(self) -> None:
        if self.backend.claim_lease(self.name, self.holder, self.ttl_ns, self.progress.dumps()) is None:
            raise LeaseLost(self.name)


class LifecycleDaemon:
    def __init__(self, make_backend: Callable[[], Backend], holder: str, schedule: Schedule, stop: Callable[[float], bool]) -> None:
        self.make_backend = make_backend
        self.holder = holder  # stable across restarts of one service, so it takes its own lease back at once
        self.schedule = schedule
        self.stop = stop  # the pause between batches; True when the daemon must stop
        self.clock = HybridClock(f"lifecycle/{holder}")
        self.started = False

    @cached_property
    def backend(self) -> Backend:
        """Made on first use, in the daemon's own process: the gunicorn master must open no store
        and load no HTTP client before its workers (and gevent's patching) exist."""
        return self.make_backend()

    def now_ns(self) -> int:
        return time.time_ns() + int(self.schedule.clock_offset * 1e9)

    # the loop

    @property
    def tick(self) -> float:
        """Seconds between looks at whether a pass is due."""
        return min(self.schedule.interval, self.schedule.upload_interval, 60.0)

    def run_once(self) -> None:
        """Both passes, each if it is due and no other process holds it: what the forked loop
        (daemons/forked.py) calls every `tick`."""
        if not self.started:
            os.nice(10)  # in the forked process: serving comes first
            log.info("lifecycle: running as %s", self.holder)
            self.started = True
        for run in (self.run_objects, self.run_versions, self.run_uploads):
            try:
                run()
            except LeaseLost as exc:
                log.info("lifecycle: another process holds the lease of %s now", exc)
            except Stopping:
                raise SystemExit(0) from None  # the service is gone: so is this process

    def run_objects(self) -> bool:
        """The object pass if due and not held elsewhere; whether one ran to its end."""
        return self._run("lifecycle-objects", self.schedule.interval, self._expire_bucket)

    def run_uploads(self) -> bool:
        return self._run("lifecycle-uploads", self.schedule.upload_interval, self._abort_bucket)

    def run_versions(self) -> bool:
        """NoncurrentVersionExpiration and ExpiredObjectDeleteMarker, over every key's versions."""
        return self._run("lifecycle-versions", self.schedule.interval, self._prune_bucket)

    def _run(self, name: str, interval: float, work: Callable[[_Pass, BucketInfo], Iterator[None]]) -> bool:
        ttl_ns = int(self.schedule.lease * 1e9)
        state = self.backend.claim_lease(name, self.holder, ttl_ns)
        if state is None:
            return False  # another process is on it
        run = _Pass(self.backend, name, self.holder, ttl_ns, Progress.parse(state))
        progress = run.progress
        if not progress.started_ns:
            if time.time_ns() < progress.finished_ns + int(interval * 1e9):
                self.backend.claim_lease(name, self.holder, 0)  # not due: let whoever is due next take it
                return False
            run.progress = progress = Progress(started_ns=time.time_ns(), finished_ns=progress.finished_ns)
            run.save()
        else:
            log.info("lifecycle: %s resumes in bucket %r after %r", name, progress.bucket, progress.marker)
        for bucket in self.backend.list_buckets():
            if bucket.name < progress.bucket:
                continue  # done before a restart
            if bucket.name != progress.bucket:
                run.progress = progress = Progress(started_ns=progress.started_ns, bucket=bucket.name, finished_ns=progress.finished_ns)
            try:
                for _ in work(run, bucket):
                    run.save()
                    if self.stop(self.schedule.pause):
                        raise Stopping()
            except errors.NotFound:
                continue  # the bucket was deleted meanwhile
        run.progress = Progress(finished_ns=time.time_ns())
        self.backend.claim_lease(name, self.holder, 0, run.progress.dumps())
        COUNTERS.passes += 1
        log.info(
            "lifecycle: %s done: %d objects (%d bytes) expired, %d uploads aborted since start",
            name, COUNTERS.objects_expired, COUNTERS.bytes_expired, COUNTERS.uploads_aborted,
        )
        return True

    def _rules(self, bucket: str) -> list[Rule]:
        document = self.backend.get_bucket_config(bucket, CONFIG_KIND)
        return [rule for rule in lifecycle.loads(document) if rule.enabled] if document else []

    # expiration of current versions

    def _expire_bucket(self, run: _Pass, bucket: BucketInfo) -> Iterator[None]:
        rules = [rule for rule in self._rules(bucket.name) if rule.expiration_days is not None or rule.expiration_date is not None]
        if not rules:
            return
        progress = run.progress
        while True:
            page = self.backend.list_objects(bucket.name, "", "", progress.marker, self.schedule.batch)
            for entry in page.objects:
                self._expire(bucket, rules, entry)
            if not page.is_truncated or page.next_marker is None:
                return
            progress.marker = page.next_marker
            yield

    def _expire(self, bucket: BucketInfo, rules: list[Rule], entry: ListEntry) -> None:
        now = self.now_ns()
        found = lifecycle.current_expiration(rules, entry.key, entry.size, entry.timestamp_ns, None)
        if (found is None or found[0] > now) and lifecycle.uses_tags(rules):
            # Only now is it worth reading its tags; they are the latest version's, and the check
            # below makes sure that is still the version listed.
            tags = self.backend.get_object_tags(bucket.name, entry.key)
            found = lifecycle.current_expiration(rules, entry.key, entry.size, entry.timestamp_ns, tags)
        if found is None or found[0] > now:
            return
        try:
            current = self.backend.head_object(bucket.name, entry.key)
        except errors.NotFound:
            return
        if current.delete_marker or current.timestamp_ns != entry.timestamp_ns:
            return  # deleted or overwritten since it was listed: judged again at the next pass
        if versioning.expire(self.backend, bucket, current, self.clock):
            COUNTERS.expired(current.size)
            log.info("lifecycle: expired %s/%s (%d bytes) by rule %r", bucket.name, current.key, current.size, found[1].id)

    # noncurrent versions and lone delete markers

    def _prune_bucket(self, run: _Pass, bucket: BucketInfo) -> Iterator[None]:
        rules = [rule for rule in self._rules(bucket.name) if rule.noncurrent_days is not None or rule.expired_object_delete_marker]
        if not rules:
            return
        progress = run.progress
        while True:
            page = self.backend.list_versions(bucket.name, "", "", progress.marker, progress.upload_marker or None, self.schedule.batch)
            for entry in page.versions:
                if entry.key != progress.key:
                    self._settle_marker(bucket, rules, progress)
                    progress.key, progress.noncurrent = entry.key, 0
                    progress.lone_marker = entry.version_id if entry.delete_marker else ""
                else:
                    progress.lone_marker = ""
                    progress.noncurrent += 1
                    self._prune(bucket, rules, progress, entry)
                progress.newer_ns = entry.timestamp_ns
            if not page.is_truncated or page.next_key_marker is None:
                self._settle_marker(bucket, rules, progress)
                progress.key = ""
                return
            progress.marker, progress.upload_marker = page.next_key_marker, page.next_version_id_marker or ""
            yield

    def _prune(self, bucket: BucketInfo, rules: list[Rule], progress: Progress, entry: VersionEntry) -> None:
        """A noncurrent version (the progress's `noncurrent`-th of its key, noncurrent since
        `newer_ns`): removed once a matching rule's NoncurrentDays have passed since then, unless
        it is among the NewerNoncurrentVersions the rule keeps."""
        now = self.now_ns()
        tags = None
        for rule in rules:
            if rule.noncurrent_days is None or progress.noncurrent <= (rule.newer_noncurrent_versions or 0):
                continue
            if lifecycle.midnight_after(progress.newer_ns + rule.noncurrent_days * DAY_NS) > now:
                continue
            if rule.filter.tags and tags is None:
                tags = self.backend.get_object_tags(bucket.name, entry.key, entry.version_id)
            if rule.filter.matches(entry.key, entry.size, tags):
                self._remove(bucket, entry.key, entry.version_id, entry.timestamp_ns, entry.size, rule)
                return

    def _settle_marker(self, bucket: BucketInfo, rules: list[Rule], progress: Progress) -> None:
        """A delete marker that is its key's only version is removed by ExpiredObjectDeleteMarker
        (no Tag condition is allowed with it), if it is still the latest version."""
        if not progress.lone_marker:
            return
        for rule in rules:
            if rule.expired_object_delete_marker and rule.filter.matches(progress.key, 0, {}):
                try:
                    latest = self.backend.head_object(bucket.name, progress.key)
                except errors.NotFound:
                    return
                if latest.version_id == progress.lone_marker and latest.delete_marker:
                    self._remove(bucket, latest.key, latest.version_id, latest.timestamp_ns, 0, rule)
                return

    def _remove(self, bucket: BucketInfo, key: str, version_id: str, timestamp_ns: int, size: int, rule: Rule) -> None:
        """Delete one version for good. The null version is rewritten under its id, so its removal
        is stamped just after the write judged (a newer write of it is kept); any other id names
        one write, whose removal is stamped now, as a client's DELETE ?versionId would be."""
        stamp_ns = timestamp_ns + 1 if version_id == NULL_VERSION else self.clock.stamp()
        if self.backend.delete_version(bucket.name, key, VersionStamp(version_id, stamp_ns, self.clock.origin)) is not None:
            COUNTERS.expired(size)
            log.info("lifecycle: removed version %s of %s/%s (%d bytes) by rule %r", version_id, bucket.name, key, size, rule.id)

    # abandoned multipart uploads

    def _abort_bucket(self, run: _Pass, bucket: BucketInfo) -> Iterator[None]:
        rules = [rule for rule in self._rules(bucket.name) if rule.abort_days is not None]
        if not rules and not self.schedule.mp_ttl:
            return
        progress = run.progress
        while True:
            uploads = self.backend.list_uploads(bucket.name, progress.marker, progress.upload_marker, self.schedule.batch)
            for upload in uploads:
                self._abort(rules, upload)
            if len(uploads) < self.schedule.batch:
                return
            progress.marker, progress.upload_marker = uploads[-1].key, uploads[-1].upload_id
            yield

    def _abort(self, rules: list[Rule], upload: Upload) -> None:
        deadlines = [
            lifecycle.midnight_after(upload.initiated_ns + rule.abort_days * DAY_NS)
            for rule in rules
            if rule.filter.matches(upload.key, 0, {})  # abort rules have a prefix only (s3/lifecycle.py)
        ]
        if self.schedule.mp_ttl:
            deadlines.append(upload.initiated_ns + int(self.schedule.mp_ttl * 1e9))
        if not deadlines or min(deadlines) > self.now_ns():
            return
        try:
            self.backend.abort_upload(upload)
        except errors.NotFound:
            return  # completed or aborted meanwhile
        COUNTERS.aborted()
        log.info("lifecycle: aborted upload %s of %s/%s", upload.upload_id, upload.bucket, upload.key)


def daemon_for(settings: Settings) -> LifecycleDaemon:
    """This service's lifecycle daemon, made by the gunicorn master to be forked."""
    schedule = Schedule(
        interval=settings.lifecycle_interval,
        upload_interval=settings.mp_sweep_interval,
        mp_ttl=settings.mp_ttl,
        batch=settings.lifecycle_batch,
        pause=settings.lifecycle_pause_ms / 1000,
        clock_offset=settings.lifecycle_clock_offset,
        lease=settings.lifecycle_lease,
    )

    def make_backend() -> Backend:
        if settings.mode == "gateway":
            from wsgi_s3.wsgi import cluster_backend

            return cluster_backend(settings)
        from wsgi_s3.backend.local import LocalBackend
        from wsgi_s3.store.store import Store

        return LocalBackend(Store(settings.data_dir, lock_timeout=settings.lock_timeout))

    # A holder name that stays the same across restarts of the service, so a restarted one takes
    # its lease back at once: a data directory has one service (store/dirlock.py), and two
    # gateways cannot listen on the same address of one host.
    holder = f"gateway {socket.gethostname()} {settings.listen}" if settings.mode == "gateway" else f"serve {settings.data_dir}"
    return LifecycleDaemon(make_backend, holder, schedule, pause_unless_orphaned(os.getpid()))
