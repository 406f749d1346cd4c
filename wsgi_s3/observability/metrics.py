"""Every Prometheus metric of wsgi-s3, defined once, and how they are exposed across gunicorn workers.

Workers are separate processes, so counters live in prometheus-client's multiprocess mode: each
process writes its values to files in PROMETHEUS_MULTIPROC_DIR, and a scrape sums the files of all
processes, live and dead. The gunicorn master sets and empties that directory before any worker
exists (prepare_multiprocess_dir), tells the library when a worker died (mark_dead), and forks
one small process that serves the metrics port (serve_metrics_port), so that port keeps answering
while workers restart (gunicorn_conf.py sets the directory up, before prometheus-client is imported). Metrics that describe what a store holds are not counted but read from it
at scrape time (StoreCollector).

Nothing here may be imported by the gunicorn master before on_starting has set the directory:
prometheus-client picks its value class (in memory, or files) when it is first imported.
"""

from __future__ import annotations

import json
import os
import select
import shutil
from collections.abc import Callable, Iterable, Iterator
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Request metrics (the spec's names). Labels take only values from closed sets (a client must not be
# able to make series without end): the method among METHODS, an operation name from
# s3/operations.py, the status code, an S3 error code.
METHODS = frozenset({"GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH"})
REQUESTS = Counter("s3_requests", "S3 requests answered", ["method", "operation", "status"])
DURATION = Histogram(
    "s3_request_duration_seconds",
    "Time from the request's arrival to the last byte of its answer",
    ["method", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
IN_FLIGHT = Gauge("s3_requests_in_flight", "Requests being served now", multiprocess_mode="livesum")
ERRORS = Counter("s3_errors", "Requests answered with an S3 error, by its code", ["error_type", "operation"])
UPLOAD_BYTES = Counter("s3_upload_bytes", "Request body bytes received")
DOWNLOAD_BYTES = Counter("s3_download_bytes", "Response body bytes sent")
AUTH_SUCCESS = Counter("s3_auth_success", "Requests whose signature (or token) was verified")
AUTH_FAILURE = Counter("s3_auth_failure", "Requests refused because they could not be authenticated", ["reason"])
OBJECTS_STORED = Counter("s3_objects_stored", "Objects written (PutObject, CopyObject, CompleteMultipartUpload)")
BYTES_STORED = Counter("s3_bytes_stored", "Bytes of the objects written")

# The spec's per-operation counters: s3_put_object_total and its siblings, each counting the requests
# of its operations.
_OPERATION_FAMILIES = {
    "s3_put_object": ("PutObject", "CopyObject", "CompleteMultipartUpload"),
    "s3_get_object": ("GetObject",),
    "s3_delete_object": ("DeleteObject", "DeleteObjects"),
    "s3_list_objects": ("ListObjects", "ListObjectsV2", "ListObjectVersions"),
    "s3_head_object": ("HeadObject",),
}
_FAMILY_COUNTERS = {family: Counter(family, f"Requests of {', '.join(names)}") for family, names in _OPERATION_FAMILIES.items()}
_OPERATION_COUNTERS = {operation: _FAMILY_COUNTERS[family] for family, names in _OPERATION_FAMILIES.items() for operation in names}


def record_request(
    method: str, operation: str, status: int, seconds: float, bytes_in: int, bytes_out: int, error_code: str | None
) -> None:
    """Count one answered request."""
    method = method if method in METHODS else "OTHER"
    REQUESTS.labels(method, operation, str(status)).inc()
    DURATION.labels(method, operation).observe(seconds)
    UPLOAD_BYTES.inc(bytes_in)
    DOWNLOAD_BYTES.inc(bytes_out)
    if error_code:
        ERRORS.labels(error_code, operation).inc()
    if operation in _OPERATION_COUNTERS:
        _OPERATION_COUNTERS[operation].inc()


def record_stored(size: int) -> None:
    OBJECTS_STORED.inc()
    BYTES_STORED.inc(size)


class StoreCollector:
    """What one store holds, read at scrape time: `stats` returns Store.stats()'s dict."""

    def __init__(self, stats: Callable[[], dict[str, int]]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self.stats()
        yield GaugeMetricFamily("s3_store_objects", "Object versions this store holds (delete markers excluded)", stats["objects"])
        yield GaugeMetricFamily("s3_store_bytes", "Bytes of the object versions this store holds", stats["bytes"])
        yield GaugeMetricFamily("s3_multipart_uploads_active", "Multipart uploads started and neither completed nor aborted", stats["uploads"])
        yield GaugeMetricFamily("s3_store_disk_free_bytes", "Free bytes on the data directory's file system", stats["disk_free"])
        yield GaugeMetricFamily("s3_store_disk_total_bytes", "Size of the data directory's file system", stats["disk_total"])
        yield GaugeMetricFamily("s3_node_hints_pending", "Hints this store keeps for nodes that missed writes (cluster/repair.py)", stats["hints"])


def counted() -> object:
    """The metrics defined above, as a collector for one scrape: every worker's files summed (dead
    workers' counters included), or this process's own values when not under gunicorn. A storage
    node counts none of them and does not export them."""
    if os.environ.get(MULTIPROC_ENV):
        return MultiProcessCollector(None)
    from prometheus_client import REGISTRY

    return _Forward(REGISTRY)


def registry(collectors: Iterable[object]) -> CollectorRegistry:
    """A fresh registry per scrape, of `collectors` (counted() and StoreCollector)."""
    fresh = CollectorRegistry()
    for collector in collectors:
        fresh.register(collector)
    return fresh


class _Forward:
    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        return iter(self.source.collect())


def exposition(collectors: Iterable[object]) -> tuple[bytes, str]:
    """(body, content type) of a /metrics answer."""
    return generate_latest(registry(collectors)), CONTENT_TYPE_LATEST


def _samples(collectors: Iterable[object]) -> list:
    return [sample for metric in registry(collectors).collect() for sample in metric.samples]


def debug_vars(collectors: Iterable[object], about: dict[str, object]) -> dict[str, object]:
    """/debug/vars: `about` (version, role) and every metric sample, as Go's expvar lists its variables."""
    values: dict[str, float] = {}
    for sample in _samples(collectors):
        if sample.name.endswith("_created"):
            continue  # creation times of counters, per process: noise here
        labels = ",".join(f'{name}="{value}"' for name, value in sorted(sample.labels.items()))
        values[sample.name + ("{" + labels + "}" if labels else "")] = sample.value
    return {**about, "metrics": values}


def performance(collectors: Iterable[object]) -> dict[str, object]:
    """/debug/performance: per operation its request and error counts and latency (mean and
    quantiles estimated from the histogram), plus the totals."""
    operations: dict[str, dict] = {}
    totals = {"requests_in_flight": 0.0, "upload_bytes": 0.0, "download_bytes": 0.0}
    for sample in _samples(collectors):
        operation = sample.labels.get("operation")
        if sample.name == "s3_request_duration_seconds_bucket":
            entry = operations.setdefault(operation, _new_entry())
            bound = float(sample.labels["le"])
            entry["_buckets"][bound] = entry["_buckets"].get(bound, 0.0) + sample.value
        elif sample.name == "s3_request_duration_seconds_sum":
            operations.setdefault(operation, _new_entry())["_sum"] += sample.value
        elif sample.name == "s3_requests_total":
            entry = operations.setdefault(operation, _new_entry())
            entry["requests"] += sample.value
            if int(sample.labels["status"]) >= 500:
                entry["server_errors"] += sample.value
            elif int(sample.labels["status"]) >= 400:
                entry["client_errors"] += sample.value
        elif sample.name == "s3_requests_in_flight":
            totals["requests_in_flight"] += sample.value
        elif sample.name in ("s3_upload_bytes_total", "s3_download_bytes_total"):
            totals[sample.name[3:-6]] += sample.value
    for entry in operations.values():
        buckets = sorted(entry.pop("_buckets").items())
        observed = buckets[-1][1] if buckets else 0.0
        total_seconds = entry.pop("_sum")
        entry["mean_ms"] = round(1000 * total_seconds / observed, 3) if observed else None
        for name, quantile in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)):
            entry[name] = _quantile_ms(buckets, quantile)
    return {"operations": operations, **totals}


def _new_entry() -> dict:
    return {"requests": 0.0, "client_errors": 0.0, "server_errors": 0.0, "_buckets": {}, "_sum": 0.0}


def _quantile_ms(buckets: list[tuple[float, float]], quantile: float) -> float | None:
    """Prometheus's histogram_quantile: linear interpolation inside the bucket the rank falls in."""
    if not buckets or not buckets[-1][1]:
        return None
    rank = quantile * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return round(1000 * lower_bound, 3)  # beyond the last finite bucket: its bound is all we know
            share = (rank - lower_count) / (count - lower_count) if count > lower_count else 1.0
            return round(1000 * (lower_bound + (bound - lower_bound) * share), 3)
        lower_bound, lower_count = bound, count
    return None


# --- the gunicorn master's side -------------------------------------------------------------------


def mark_dead(pid: int) -> None:
    """A worker exited: its live gauges (in-flight requests) stop counting; its counters stay."""
    if os.environ.get(MULTIPROC_ENV):
        mark_process_dead(pid)


def remove_multiprocess_dir(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - wsgiref's signature
        return None  # scrapes every few seconds would drown the log


def serve_metrics_port(host: str, port: int, app: Callable) -> tuple[int, int]:
    """Fork a process that serves `app` (the metrics port's WSGI app) on host:port, one request at a
    time. Returns (its pid, the pipe end whose closing stops it); it also stops when this process
    and every process forked after it are gone. Binding happens in the parent, so that a taken port
    is reported at start-up (OSError)."""
    server = make_server(host, port, app, WSGIServer, _QuietHandler)
    stop_read, stop_write = os.pipe()
    pid = os.fork()
    if pid:
        os.close(stop_read)
        server.socket.close()
        return pid, stop_write
    os.close(stop_write)
    try:
        while True:
            ready, _, _ = select.select([server.socket, stop_read], [], [])
            if stop_read in ready:
                break
            server.handle_request()
    finally:
        os._exit(0)


def metrics_port_app(collectors: Callable[[], list[object]], about: dict[str, object]) -> Callable:
    """The metrics port's WSGI app: /metrics, /debug/vars, /debug/performance and /health. The port
    is for the monitoring network (bound to 127.0.0.1 by default): no authentication."""

    def app(environ: dict, start_response: Callable) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Content-Type", "text/plain")])
            return [b"GET only\n"]
        try:
            if path == "/metrics":
                body, content_type = exposition(collectors())
            elif path == "/debug/vars":
                body, content_type = json.dumps(debug_vars(collectors(), about)).encode(), "application/json"
            elif path == "/debug/performance":
                body, content_type = json.dumps(performance(collectors())).encode(), "application/json"
            elif path == "/health":
                body, content_type = b"OK", "text/plain"
            else:
                start_response("404 Not Found", [("Content-Type", "text/plain")])
                return [b"not found\n"]
        except Exception:  # noqa: BLE001 - the reason goes to the service's log, never to the caller
            import logging

            logging.getLogger(__name__).exception("metrics port: %s failed", path)
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [b"internal error\n"]
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    return app


# The spec's rate-limit counter; `reason` says which limit refused (max_inflight: a worker's cap on requests at once).
RATE_LIMIT_REJECTED = Counter("s3_rate_limit_rejected", "Requests refused with 503 SlowDown by a limit", ["reason"])


# the lifecycle daemon (daemons/lifecycle.py), counted in its own process
LIFECYCLE_EXPIRED_OBJECTS = Counter(
    "s3_lifecycle_expired_objects", "Versions expired by lifecycle rules (current ones deleted or hidden by a delete marker, "
    "noncurrent ones and lone delete markers removed)"
)
LIFECYCLE_EXPIRED_BYTES = Counter("s3_lifecycle_expired_bytes", "Bytes of the versions expired by lifecycle rules")
LIFECYCLE_ABORTED_UPLOADS = Counter(
    "s3_lifecycle_aborted_uploads", "Multipart uploads aborted by AbortIncompleteMultipartUpload rules or mp_ttl"
)

# the gateway's repairer (daemons/repair.py), counted in its own process
REPAIR_PASSES = Counter("s3_repair_passes", "Anti-entropy passes finished")
REPAIR_KEYS = Counter("s3_repair_keys", "Keys whose owners differed in an anti-entropy pass")
REPAIR_COPIES = Counter("s3_repair_copies", "Records copied to owners that lacked them by anti-entropy passes")
REPAIR_HINTS = Counter("s3_repair_hints_handed_over", "Hinted keys handed over to the owner that missed them")
REPAIR_LAST_PASS = Gauge("s3_repair_last_pass_timestamp_seconds", "When the last anti-entropy pass finished", multiprocess_mode="max")
